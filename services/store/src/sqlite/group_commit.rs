//! Group commit of ballots. [`SqliteStore::cast_ballot`](super::SqliteStore) hands each ballot
//! to one writer task; the writer takes every ballot waiting at that moment (up to
//! [`MAX_BATCH`]) and writes them in ONE `BEGIN IMMEDIATE` transaction, then answers each caller
//! only after that transaction's commit. With `synchronous=FULL` a commit is one fsync of the
//! WAL, so N concurrent ballots cost one fsync instead of N, and durability is unchanged: a
//! ballot is acknowledged only once it is on disk, and a crash loses only ballots not yet
//! acknowledged.
//!
//! No batch waits for company: the writer starts on the first ballot it sees, and the ballots
//! that arrive while a commit is in progress form the next batch. A lone ballot is written at
//! once, as before.
//!
//! Inside the transaction each ballot is checked on its own (check, then insert): a ballot on a
//! proposal that is not open (or does not exist) fails alone with
//! [`StoreError::ProposalClosed`] (or `NotFound`) and is not written; the others are. The
//! writer holds SQLite's write lock for the whole transaction, so no close can fall between a
//! check and its insert, and a close either precedes the batch (its ballots are refused) or
//! follows it (and then sees them, see `Closing::last_ballot`). Should a batch fail for a reason
//! the checks do not foresee, each of its ballots is written again in a transaction of its own,
//! so that one ballot's failure still fails only that ballot.
//!
//! Each ballot keeps its audit entry, in the same transaction. Ballot sequence numbers are
//! assigned in the order the writer received the ballots, one after the other, exactly as the
//! `AUTOINCREMENT` column would (the writer holds the write lock, and an explicit sequence
//! updates `sqlite_sequence` like an automatic one).
//!
//! Since every ballot is written here, the writer also keeps what `Store::last_ballots` returns
//! — each member's last ballot — for the proposals asked about ([`LastBallots`]): loaded once
//! from the database by the writer itself (in order with its commits, so nothing can fall
//! between the load and the updates), then brought up to date after each commit, before the
//! ballots are acknowledged. Deciding a proposal after each ballot then reads no database.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use accord_proto::names;
use accord_proto::v1::Ballot;
use prost::Message as _;
use sqlx::{Connection, QueryBuilder, Sqlite, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use crate::audit::Entry;
use crate::chain_rows::check_signature;
use crate::closing::ensure_open;
use crate::db_errors::db_err;
use crate::records::{decode, millis};
use crate::{StoreError, StoreResult};

/// The most ballots written in one transaction.
pub(super) const MAX_BATCH: usize = 256;

/// Ballots that may wait for the writer before `cast_ballot` waits for room in the queue.
const QUEUE: usize = 4096;
/// Proposals whose last ballots are kept; past this the whole table is dropped and reloaded on
/// demand (open proposals are few; closed ones are dropped when they close).
const MAX_KEPT_PROPOSALS: usize = 256;

/// A ballot to write.
struct Pending {
    /// The proposal's id as the caller gave it (for `NotFound`).
    given_id: String,
    /// The proposal's numeric id.
    proposal_id: i64,
    /// The ballot, without its name.
    ballot: Ballot,
    /// Who cast it (`crate::actor`), for its audit entry.
    actor: String,
}

enum Request {
    // Boxed: a ballot is far larger than the other requests.
    Ballot(Box<Pending>, oneshot::Sender<StoreResult<Ballot>>),
    /// Load the last ballots of a proposal into [`LastBallots`] (`None`: no such proposal).
    Load(i64, oneshot::Sender<StoreResult<Option<Vec<Ballot>>>>),
    Stop(oneshot::Sender<()>),
}

/// Each member's last ballot, by proposal, for the proposals loaded (see the module doc).
#[derive(Debug, Default)]
pub(super) struct LastBallots {
    /// Proposal id → member code → the member's ballot with the highest sequence.
    proposals: HashMap<i64, BTreeMap<String, (i64, Ballot)>>,
}

impl LastBallots {
    fn get(&self, proposal_id: i64) -> Option<Vec<Ballot>> {
        self.proposals
            .get(&proposal_id)
            .map(|m| m.values().map(|(_, b)| b.clone()).collect())
    }

    fn record(&mut self, proposal_id: i64, member: &str, sequence: i64, ballot: &Ballot) {
        if let Some(members) = self.proposals.get_mut(&proposal_id) {
            match members.get(member) {
                Some((kept, _)) if *kept >= sequence => {}
                _ => {
                    members.insert(member.to_owned(), (sequence, ballot.clone()));
                }
            }
        }
    }
}

/// The connection the writer writes with.
pub(super) enum WriterConnection {
    /// A connection of its own (a database file): never waits for the pool.
    Own(SqliteConnection),
    /// A connection from the pool for each batch (an in-memory database, which exists only on
    /// the pool's one connection).
    Pool(SqlitePool),
}

/// What the ballot writer has done since the store was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Transactions committed with at least one ballot.
    pub commits: u64,
    /// Ballots written (acknowledged).
    pub ballots: u64,
    /// The most ballots handed to one transaction (written or refused).
    pub largest_batch: u64,
}

#[derive(Debug, Default)]
struct Counters {
    commits: AtomicU64,
    ballots: AtomicU64,
    largest_batch: AtomicU64,
}

/// The handle of the writer task. Dropping the last handle stops the task (after the batch in
/// progress).
pub(super) struct BallotWriter {
    sender: mpsc::Sender<Request>,
    counters: Arc<Counters>,
    last: Arc<Mutex<LastBallots>>,
}

fn stopped() -> StoreError {
    StoreError::Database("the store is closed".into())
}

impl BallotWriter {
    /// Starts the writer task on the current tokio runtime.
    pub(super) fn start(connection: WriterConnection) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE);
        let counters = Arc::new(Counters::default());
        let last = Arc::new(Mutex::new(LastBallots::default()));
        let writer = Writer {
            connection,
            counters: counters.clone(),
            last: last.clone(),
            next_sequence: None,
        };
        tokio::spawn(writer.run(receiver));
        Self {
            sender,
            counters,
            last,
        }
    }

    /// Each member's last ballot on proposal `proposal_id`, ordered by member code; `None` if
    /// there is no such proposal.
    pub(super) async fn last_ballots(&self, proposal_id: i64) -> StoreResult<Option<Vec<Ballot>>> {
        if let Some(ballots) = self
            .last
            .lock()
            .expect("last ballots lock")
            .get(proposal_id)
        {
            return Ok(Some(ballots));
        }
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Request::Load(proposal_id, reply))
            .await
            .map_err(|_| stopped())?;
        answer
            .await
            .map_err(|_| StoreError::Database("the ballot writer stopped".into()))?
    }

    /// Forgets the last ballots of a proposal that closed (it takes no more ballots).
    pub(super) fn forget(&self, proposal_id: i64) {
        self.last
            .lock()
            .expect("last ballots lock")
            .proposals
            .remove(&proposal_id);
    }

    /// What the writer has done so far.
    pub(super) fn stats(&self) -> GroupCommitStats {
        GroupCommitStats {
            commits: self.counters.commits.load(Ordering::Relaxed),
            ballots: self.counters.ballots.load(Ordering::Relaxed),
            largest_batch: self.counters.largest_batch.load(Ordering::Relaxed),
        }
    }

    /// Writes a ballot to proposal `proposal_id` (its text as the caller gave it: `given_id`);
    /// returns it with its name once it is committed.
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

    /// Writes the ballots already queued, then stops the writer and closes its connection.
    /// Ballots cast afterwards fail.
    pub(super) async fn stop(&self) {
        let (ack, done) = oneshot::channel();
        if self.sender.send(Request::Stop(ack)).await.is_ok() {
            let _ = done.await;
        }
    }
}

/// The writer task's state.
struct Writer {
    connection: WriterConnection,
    counters: Arc<Counters>,
    last: Arc<Mutex<LastBallots>>,
    /// The last ballot sequence used, once known (the writer is the only one to insert ballots;
    /// forgotten after any failure, and read again from the database).
    next_sequence: Option<i64>,
}

impl Writer {
    async fn run(mut self, mut receiver: mpsc::Receiver<Request>) {
        let mut stop = None;
        let mut pending = Vec::new();
        let mut replies = Vec::new();
        while let Some(first) = receiver.recv().await {
            let mut next = Some(first);
            while let Some(request) = next.take() {
                match request {
                    Request::Ballot(ballot, reply) => {
                        pending.push(*ballot);
                        replies.push(reply);
                    }
                    Request::Load(proposal_id, reply) => {
                        // In order: the ballots received before it are written first.
                        if !pending.is_empty() {
                            self.commit(std::mem::take(&mut pending), std::mem::take(&mut replies))
                                .await;
                        }
                        let _ = reply.send(self.load(proposal_id).await);
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
                self.commit(std::mem::take(&mut pending), std::mem::take(&mut replies))
                    .await;
            }
            if stop.is_some() {
                break;
            }
        }
        // Refuse what is still queued, then close.
        receiver.close();
        while let Ok(request) = receiver.try_recv() {
            match request {
                Request::Ballot(_, reply) => {
                    let _ = reply.send(Err(stopped()));
                }
                Request::Load(_, reply) => {
                    let _ = reply.send(Err(stopped()));
                }
                Request::Stop(ack) => {
                    let _ = ack.send(());
                }
            }
        }
        if let WriterConnection::Own(connection) = self.connection {
            if let Err(e) = connection.close().await {
                tracing::warn!(error = %e, "closing the ballot writer's connection failed");
            }
        }
        if let Some(ack) = stop {
            let _ = ack.send(());
        }
    }

    /// Reads each member's last ballot on a proposal and keeps them in [`LastBallots`].
    async fn load(&mut self, proposal_id: i64) -> StoreResult<Option<Vec<Ballot>>> {
        let mut tx = match &mut self.connection {
            WriterConnection::Own(connection) => connection.begin().await,
            WriterConnection::Pool(pool) => pool.begin().await,
        }
        .map_err(db_err)?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM proposals WHERE id = ?1")
            .bind(proposal_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        if exists.is_none() {
            return Ok(None);
        }
        // One index seek per member rather than a scan of every ballot: the recursive part
        // walks the distinct members of the proposal on the index (proposal_id, member,
        // sequence) (a "skip scan"); each member's last ballot is the end of its range there.
        let rows: Vec<(String, i64, Vec<u8>)> = sqlx::query_as(
            "WITH RECURSIVE voters(member) AS ( \
               SELECT (SELECT MIN(member) FROM ballots WHERE proposal_id = ?1) \
               UNION ALL \
               SELECT (SELECT MIN(member) FROM ballots \
                       WHERE proposal_id = ?1 AND member > voters.member) \
               FROM voters WHERE voters.member IS NOT NULL \
             ) \
             SELECT b.member, b.sequence, b.message FROM voters \
             JOIN ballots b ON b.sequence = ( \
               SELECT sequence FROM ballots \
               WHERE proposal_id = ?1 AND member = voters.member \
               ORDER BY sequence DESC LIMIT 1) \
             ORDER BY b.member",
        )
        .bind(proposal_id)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        let mut members = BTreeMap::new();
        for (member, sequence, message) in rows {
            members.insert(member, (sequence, decode::<Ballot>("ballot", &message)?));
        }
        let ballots: Vec<Ballot> = members.values().map(|(_, b)| b.clone()).collect();
        let mut last = self.last.lock().expect("last ballots lock");
        if last.proposals.len() >= MAX_KEPT_PROPOSALS {
            last.proposals.clear();
        }
        last.proposals.insert(proposal_id, members);
        Ok(Some(ballots))
    }

    /// Writes a batch and answers each caller.
    async fn commit(
        &mut self,
        pending: Vec<Pending>,
        replies: Vec<oneshot::Sender<StoreResult<Ballot>>>,
    ) {
        let counters = self.counters.clone();
        counters
            .largest_batch
            .fetch_max(pending.len() as u64, Ordering::Relaxed);
        let count = |results: &[StoreResult<Ballot>]| {
            let written = results.iter().filter(|r| r.is_ok()).count() as u64;
            if written > 0 {
                counters.commits.fetch_add(1, Ordering::Relaxed);
                counters.ballots.fetch_add(written, Ordering::Relaxed);
            }
        };
        match self.write(&pending).await {
            Ok(results) => {
                count(&results);
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(error) if pending.len() == 1 => {
                let reply = replies.into_iter().next().expect("one reply");
                let _ = reply.send(Err(error));
            }
            Err(error) => {
                // Not a closed proposal (those are checked): write each ballot alone, so that
                // the ballot that fails fails alone.
                tracing::warn!(error = %error, ballots = pending.len(),
                    "a batch of ballots failed; writing them one by one");
                for (ballot, reply) in pending.iter().zip(replies) {
                    let result =
                        self.write(std::slice::from_ref(ballot))
                            .await
                            .and_then(|mut results| {
                                count(&results);
                                results.pop().expect("one result")
                            });
                    let _ = reply.send(result);
                }
            }
        }
    }

    /// Writes `pending` in one transaction (see [`write_batch`]); keeps the sequence and the
    /// last ballots up to date.
    async fn write(&mut self, pending: &[Pending]) -> StoreResult<Vec<StoreResult<Ballot>>> {
        let result = write_batch(&mut self.connection, self.next_sequence, pending).await;
        match result {
            Ok((results, rows, sequence)) => {
                self.next_sequence = Some(sequence);
                let mut last = self.last.lock().expect("last ballots lock");
                for row in &rows {
                    last.record(row.proposal_id, &row.member, row.sequence, &row.ballot);
                }
                Ok(results)
            }
            Err(error) => {
                // Whether anything was written is unknown (a failed COMMIT may still have
                // reached the disk): read the sequence and the last ballots again.
                self.next_sequence = None;
                self.last
                    .lock()
                    .expect("last ballots lock")
                    .proposals
                    .clear();
                Err(error)
            }
        }
    }
}

/// One ballot to insert, with its name and sequence.
struct Row {
    sequence: i64,
    proposal_id: i64,
    member: String,
    ballot: Ballot,
    actor: String,
}

/// Writes `pending` in one transaction. The outer error fails the whole batch (nothing was
/// written); otherwise each ballot has its own result, and those that are `Ok` are committed;
/// also returns the rows written and the last sequence used. `last_sequence` is the last
/// sequence used, when the caller knows it.
async fn write_batch(
    connection: &mut WriterConnection,
    last_sequence: Option<i64>,
    pending: &[Pending],
) -> StoreResult<(Vec<StoreResult<Ballot>>, Vec<Row>, i64)> {
    let mut tx = match connection {
        WriterConnection::Own(connection) => connection.begin_with("BEGIN IMMEDIATE").await,
        WriterConnection::Pool(pool) => pool.begin_with("BEGIN IMMEDIATE").await,
    }
    .map_err(db_err)?;

    // The next sequence, as AUTOINCREMENT would choose it: above every sequence ever used.
    let mut sequence = match last_sequence {
        Some(sequence) => sequence,
        None => {
            let (sequence,): (i64,) = sqlx::query_as(
                "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'ballots'), 0), \
                 COALESCE((SELECT MAX(sequence) FROM ballots), 0))",
            )
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
            sequence
        }
    };

    let mut states: HashMap<i64, Option<i32>> = HashMap::new();
    // The current ballot key of each member voting, read under the write lock.
    let mut keys: HashMap<String, Option<Vec<u8>>> = HashMap::new();
    let mut results = Vec::with_capacity(pending.len());
    let mut rows = Vec::with_capacity(pending.len());
    for p in pending {
        let state = match states.get(&p.proposal_id) {
            Some(state) => *state,
            None => {
                let state: Option<i32> =
                    sqlx::query_scalar("SELECT state FROM proposals WHERE id = ?1")
                        .bind(p.proposal_id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?;
                states.insert(p.proposal_id, state);
                state
            }
        };
        let code = names::member_code(&p.ballot.member).unwrap_or(&p.ballot.member);
        let key = match keys.get(code) {
            Some(key) => key.clone(),
            None => {
                let key: Option<Vec<u8>> = sqlx::query_scalar(
                    "SELECT public_key FROM ballot_keys WHERE member = ?1 \
                     ORDER BY sequence DESC LIMIT 1",
                )
                .bind(code)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
                keys.insert(code.to_owned(), key.clone());
                key
            }
        };
        let checked = state.map(|state| {
            ensure_open(p.proposal_id, state).and_then(|()| {
                let proposal = names::name(names::PROPOSALS, &p.proposal_id.to_string());
                check_signature(key.as_deref(), &proposal, &p.ballot)
            })
        });
        match checked {
            None => results.push(Err(StoreError::not_found("proposal", &p.given_id))),
            Some(Err(refused)) => results.push(Err(refused)),
            Some(Ok(())) => {
                sequence += 1;
                let mut ballot = p.ballot.clone();
                ballot.name = format!("{}/{}/ballots/{sequence}", names::PROPOSALS, p.proposal_id);
                let member = names::member_code(&ballot.member)
                    .unwrap_or(&ballot.member)
                    .to_owned();
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
        let mut insert: QueryBuilder<Sqlite> = QueryBuilder::new(
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
        insert.build().execute(&mut *tx).await.map_err(db_err)?;

        // The audit entries, linked into the chain in the same transaction.
        let entries = rows
            .iter()
            .map(|row| {
                (
                    Entry::ballot(row.proposal_id, &row.ballot),
                    row.actor.clone(),
                )
            })
            .collect();
        super::chain::append(&mut tx, entries).await?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok((results, rows, sequence))
}
