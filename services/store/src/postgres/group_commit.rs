//! Group commit of ballots on PostgreSQL, with the contract of the SQLite writer
//! (`sqlite/group_commit.rs`): a ballot is acknowledged only after the COMMIT of the transaction
//! that wrote it has returned — with `synchronous_commit=on`, once its WAL is flushed to disk —
//! so an acknowledged ballot survives `kill -9` of the server and an immediate stop (or crash)
//! of PostgreSQL; and concurrent ballots share that one transaction (one WAL flush).
//!
//! One writer task per store takes every ballot waiting (up to [`MAX_BATCH`]) and writes them in
//! ONE transaction that first takes the store's write lock (see [`super::rows::lock_writes`]):
//! so, across every replica, a close can never fall between a ballot's "is the proposal open"
//! check and its insert, and ballot sequences are assigned MAX + 1 under the lock — gapless and
//! in commit order, as in SQLite. A ballot on a proposal that is not open (or does not exist)
//! fails alone, as does a ballot whose signature does not verify with its member's ballot key
//! in the database (see `chain_rows::check_signature`). The same transaction writes the audit entries (linked into the chain, each by
//! the actor captured when its ballot was cast) and sends the change notices.
//!
//! If a batch fails before its COMMIT was sent, its ballots are written again one by one, so
//! that one ballot's failure fails only that ballot. If the COMMIT itself fails (the connection
//! or the database went away), whether it committed is unknown: every ballot of the batch fails
//! and none is written again — a caller that got no acknowledgement may find its ballot stored,
//! never the reverse. The writer then opens a new connection for the next batch.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use accord_proto::names;
use accord_proto::v1::Ballot;
use prost::Message as _;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, Postgres, QueryBuilder};
use tokio::sync::{mpsc, oneshot};

use super::chain;
use super::notify::notify;
use super::rows::lock_writes;
use crate::audit::Entry;
use crate::chain_rows::check_signature;
use crate::closing::ensure_open;
use crate::db_errors::db_err;
use crate::records::millis;
use crate::{Change, GroupCommitStats, StoreError, StoreResult};

/// The most ballots written in one transaction.
const MAX_BATCH: usize = 256;
/// Ballots that may wait for the writer before `cast_ballot` waits for room in the queue.
const QUEUE: usize = 4096;

struct Pending {
    given_id: String,
    proposal_id: i64,
    ballot: Ballot,
    /// Who cast it (`crate::actor`), for its audit entry.
    actor: String,
}

enum Request {
    // Boxed: a ballot is far larger than the other requests.
    Ballot(Box<Pending>, oneshot::Sender<StoreResult<Ballot>>),
    Stop(oneshot::Sender<()>),
}

fn stopped() -> StoreError {
    StoreError::Database("the store is closed".into())
}

/// The handle of the writer task.
pub(super) struct BallotWriter {
    sender: mpsc::Sender<Request>,
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    commits: AtomicU64,
    ballots: AtomicU64,
    largest_batch: AtomicU64,
}

impl BallotWriter {
    /// Starts the writer on the current runtime; it connects with `options` (its own
    /// connection, outside the pool).
    pub(super) fn start(options: PgConnectOptions, instance: String) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE);
        let counters = Arc::new(Counters::default());
        let writer = Writer {
            options,
            instance,
            connection: None,
            counters: counters.clone(),
        };
        tokio::spawn(writer.run(receiver));
        BallotWriter { sender, counters }
    }

    /// What the writer has done so far.
    pub(super) fn stats(&self) -> GroupCommitStats {
        GroupCommitStats {
            commits: self.counters.commits.load(Ordering::Relaxed),
            ballots: self.counters.ballots.load(Ordering::Relaxed),
            largest_batch: self.counters.largest_batch.load(Ordering::Relaxed),
        }
    }

    /// Writes a ballot; returns it with its name once committed.
    pub(super) async fn cast(
        &self,
        given_id: &str,
        proposal_id: i64,
        ballot: &Ballot,
    ) -> StoreResult<Ballot> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            given_id: given_id.to_owned(),
            proposal_id,
            ballot: ballot.clone(),
            actor: crate::actor::current(),
        };
        self.sender
            .send(Request::Ballot(Box::new(pending), reply))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| {
            StoreError::Database("the ballot writer stopped before the commit".into())
        })?
    }

    /// Writes the ballots already queued, then stops the writer.
    pub(super) async fn stop(&self) {
        let (ack, done) = oneshot::channel();
        if self.sender.send(Request::Stop(ack)).await.is_ok() {
            let _ = done.await;
        }
    }
}

struct Writer {
    options: PgConnectOptions,
    instance: String,
    connection: Option<PgConnection>,
    counters: Arc<Counters>,
}

/// Why a batch failed.
enum Failure {
    /// Before the COMMIT was sent: nothing was written.
    Before(StoreError),
    /// At the COMMIT: unknown whether it was written.
    AtCommit(StoreError),
}

impl Writer {
    async fn run(mut self, mut receiver: mpsc::Receiver<Request>) {
        let mut stop = None;
        while let Some(first) = receiver.recv().await {
            let mut pending = Vec::new();
            let mut replies = Vec::new();
            let mut next = Some(first);
            while let Some(request) = next.take() {
                match request {
                    Request::Ballot(p, reply) => {
                        pending.push(*p);
                        replies.push(reply);
                    }
                    Request::Stop(ack) => {
                        stop = Some(ack);
                        break;
                    }
                }
                if pending.len() < MAX_BATCH {
                    next = receiver.try_recv().ok();
                }
            }
            if !pending.is_empty() {
                self.commit(pending, replies).await;
            }
            if stop.is_some() {
                break;
            }
        }
        receiver.close();
        while let Ok(request) = receiver.try_recv() {
            match request {
                Request::Ballot(_, reply) => {
                    let _ = reply.send(Err(stopped()));
                }
                Request::Stop(ack) => {
                    let _ = ack.send(());
                }
            }
        }
        if let Some(connection) = self.connection.take() {
            let _ = connection.close().await;
        }
        if let Some(ack) = stop {
            let _ = ack.send(());
        }
    }

    async fn commit(
        &mut self,
        pending: Vec<Pending>,
        replies: Vec<oneshot::Sender<StoreResult<Ballot>>>,
    ) {
        match self.write(&pending).await {
            Ok(results) => {
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(Failure::Before(error)) if pending.len() > 1 => {
                tracing::warn!(%error, ballots = pending.len(),
                    "a batch of ballots failed; writing them one by one");
                for (ballot, reply) in pending.iter().zip(replies) {
                    let result = match self.write(std::slice::from_ref(ballot)).await {
                        Ok(mut results) => results.pop().expect("one result"),
                        Err(Failure::Before(e) | Failure::AtCommit(e)) => Err(e),
                    };
                    let _ = reply.send(result);
                }
            }
            Err(Failure::Before(error) | Failure::AtCommit(error)) => {
                for reply in replies {
                    let _ = reply.send(Err(StoreError::Database(error.to_string())));
                }
            }
        }
    }

    async fn write(&mut self, pending: &[Pending]) -> Result<Vec<StoreResult<Ballot>>, Failure> {
        if self.connection.is_none() {
            let connection = self
                .options
                .connect()
                .await
                .map_err(|e| Failure::Before(db_err(e)))?;
            self.connection = Some(connection);
        }
        let connection = self.connection.as_mut().expect("connected");
        self.counters
            .largest_batch
            .fetch_max(pending.len() as u64, Ordering::Relaxed);
        let result = write_batch(connection, &self.instance, pending).await;
        if let Ok(results) = &result {
            let written = results.iter().filter(|r| r.is_ok()).count() as u64;
            if written > 0 {
                self.counters.commits.fetch_add(1, Ordering::Relaxed);
                self.counters.ballots.fetch_add(written, Ordering::Relaxed);
            }
        }
        if result.is_err() {
            // The connection may be broken (the database restarted): open a new one next time.
            if let Some(connection) = self.connection.take() {
                let _ = connection.close().await;
            }
        }
        result
    }
}

struct Row {
    sequence: i64,
    proposal_id: i64,
    member: String,
    ballot: Ballot,
    actor: String,
}

/// The member code of a ballot ("DEU" for "members/DEU").
fn member_code(ballot: &Ballot) -> &str {
    names::member_code(&ballot.member).unwrap_or(&ballot.member)
}

async fn write_batch(
    connection: &mut PgConnection,
    instance: &str,
    pending: &[Pending],
) -> Result<Vec<StoreResult<Ballot>>, Failure> {
    let before = Failure::Before;
    let mut tx = connection.begin().await.map_err(|e| before(db_err(e)))?;
    lock_writes(&mut tx).await.map_err(before)?;
    let (mut sequence,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(sequence), 0) FROM ballots")
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| before(db_err(e)))?;
    let ids: Vec<i64> = pending.iter().map(|p| p.proposal_id).collect();
    let states: HashMap<i64, i32> =
        sqlx::query_as::<_, (i64, i32)>("SELECT id, state FROM proposals WHERE id = ANY($1)")
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| before(db_err(e)))?
            .into_iter()
            .collect();

    // The current ballot key of each member voting (whichever replica registered it).
    let codes: Vec<String> = pending
        .iter()
        .map(|p| member_code(&p.ballot).to_owned())
        .collect();
    let keys: HashMap<String, Vec<u8>> = sqlx::query_as::<_, (String, Vec<u8>)>(
        "SELECT DISTINCT ON (member) member, public_key FROM ballot_keys \
         WHERE member = ANY($1) ORDER BY member, sequence DESC",
    )
    .bind(&codes)
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| before(db_err(e)))?
    .into_iter()
    .collect();

    let mut results = Vec::with_capacity(pending.len());
    let mut rows = Vec::with_capacity(pending.len());
    for p in pending {
        let checked = states
            .get(&p.proposal_id)
            .map(|s| ensure_open(p.proposal_id, *s))
            .map(|open| {
                open.and_then(|()| {
                    let proposal = names::name(names::PROPOSALS, &p.proposal_id.to_string());
                    let key = keys.get(member_code(&p.ballot)).map(Vec::as_slice);
                    check_signature(key, &proposal, &p.ballot)
                })
            });
        match checked {
            None => results.push(Err(StoreError::not_found("proposal", &p.given_id))),
            Some(Err(refused)) => results.push(Err(refused)),
            Some(Ok(())) => {
                sequence += 1;
                let mut ballot = p.ballot.clone();
                ballot.name = format!("{}/{}/ballots/{sequence}", names::PROPOSALS, p.proposal_id);
                let member = member_code(&ballot).to_owned();
                results.push(Ok(ballot.clone()));
                rows.push(Row {
                    sequence,
                    proposal_id: p.proposal_id,
                    member,
                    ballot,
                    actor: p.actor.clone(),
                });
            }
        }
    }

    if !rows.is_empty() {
        let mut insert: QueryBuilder<Postgres> = QueryBuilder::new(
            "INSERT INTO ballots (sequence, proposal_id, member, choice, cast_time_ms, message) ",
        );
        insert.push_values(&rows, |mut values, row| {
            values
                .push_bind(row.sequence)
                .push_bind(row.proposal_id)
                .push_bind(row.member.clone())
                .push_bind(row.ballot.choice)
                .push_bind(millis(row.ballot.cast_time.as_ref()))
                .push_bind(row.ballot.encode_to_vec());
        });
        insert
            .build()
            .execute(&mut *tx)
            .await
            .map_err(|e| before(db_err(e)))?;
        let entries = rows
            .iter()
            .map(|row| {
                (
                    Entry::ballot(row.proposal_id, &row.ballot),
                    row.actor.clone(),
                )
            })
            .collect();
        chain::append(&mut tx, entries).await.map_err(before)?;
        let changes: Vec<Change> = rows
            .iter()
            .map(|row| Change::Ballot {
                proposal_id: row.proposal_id,
                sequence: row.sequence,
            })
            .collect();
        notify(&mut tx, instance, &changes).await.map_err(before)?;
    }
    tx.commit()
        .await
        .map_err(|e| Failure::AtCommit(db_err(e)))?;
    Ok(results)
}
