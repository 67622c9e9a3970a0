//! The SQLite backend of the [`Store`]: one database file, opened with sqlx in WAL mode with
//! `synchronous=FULL`, so that a write that returned OK is on disk and survives `kill -9` and
//! power loss. The schema is in `migrations/` (embedded, applied by [`SqliteStore::open`]).
//!
//! Each record is a row with real columns for what is filtered or sorted and the full
//! prost-encoded message in a `message` BLOB. Every write, together with its audit entry, is one
//! `BEGIN IMMEDIATE` transaction (immediate, so that the "is the proposal still open" check and
//! the write cannot be interleaved with another writer). Ballots are group-committed: concurrent
//! ballots are written by one writer task in one transaction (one fsync) per batch, and each is
//! acknowledged only after its batch's commit (see [`group_commit`]).
//!
//! What every record kind shares — get, keyset listing, row write, write with audit — is written
//! once, in [`rows`]; what every backend shares is outside this module: page tokens
//! ([`paging`](crate::paging): a token this database did not issue, or one issued for another
//! listing or filter, is refused with [`StoreError::BadPageToken`]), record kinds
//! ([`records`](crate::records)), audit entries ([`audit`](crate::audit)) and the rules of
//! closing a proposal ([`closing`](crate::closing)).

pub mod chain;
mod group_commit;
mod rows;

use std::str::FromStr;
use std::time::Duration;

use accord_proto::names;
use accord_proto::v1::{
    Ballot, Member, MemberStatus, Mission, MissionStatus, Partner, Proposal, ProposalKind,
    ProposalState, SummitParticipation,
};
use async_trait::async_trait;
use prost::Message;
use prost_types::Timestamp;
use sqlx::ConnectOptions;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use self::group_commit::GroupCommitStats;
use self::group_commit::{BallotWriter, WriterConnection};
use self::rows::{Arg, Listing, Rows, apply_effect, audit, write_row};

use crate::audit::Entry;
use crate::closing::{closed, ensure_closing_state, ensure_fresh, ensure_open};
use crate::db_errors::db_err;
use crate::paging::{Order, PageTokens, scope};
use crate::records::{BALLOTS, PROPOSALS, Record, Write, decode, millis, now, proposal_key};
use crate::{
    AuditEntry, Closing, Effect, Page, PageRequest, PoolStats, ProposalFilter, Store, StoreError,
    StoreResult, StoreStats, dataset,
};
use crate::{AuditEvent, BallotKeyRecord, ChainBroken, ChainReport, ChainedEntry, TokenRecord};

/// The schema migrations in `services/store/migrations`, compiled in.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How long a write waits for another writer to finish before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections in the pool for a database file (WAL: many readers, one writer at a time).
const MAX_CONNECTIONS: u32 = 4;

/// The SQLite store. Cheap to share: wrap it in an `Arc`; every method takes `&self`.
pub struct SqliteStore {
    /// The pool and page tokens the generic paths ([`rows`]) work with.
    rows: Rows,
    /// The group-commit writer of ballots.
    ballots: BallotWriter,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating it if missing) the database at `url` — "sqlite:///var/lib/accord/db",
    /// "sqlite://accord.db" (relative to the working directory) or "sqlite::memory:" — and
    /// applies the migrations.
    ///
    /// The connections use WAL journaling with `synchronous=FULL` (every commit is fsynced),
    /// foreign keys and a busy timeout. An in-memory database is kept on a single connection that
    /// never closes, since it disappears with its last connection.
    ///
    /// Also starts the ballot writer (group commit) on the current tokio runtime: with a
    /// database file it writes on a connection of its own, outside the pool.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Database(format!("bad database url `{url}`: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool_options = if in_memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(MAX_CONNECTIONS)
        };
        let pool = pool_options
            .connect_with(options.clone())
            .await
            .map_err(|e| StoreError::Database(format!("cannot open `{url}`: {e}")))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Database(format!("migrating `{url}`: {e}")))?;
        chain::seal_if_unsealed(&pool).await?;
        let token_key: String =
            sqlx::query_scalar("SELECT value FROM store_meta WHERE key = 'page_token_key'")
                .fetch_one(&pool)
                .await
                .map_err(db_err)?;
        let writer = if in_memory {
            WriterConnection::Pool(pool.clone())
        } else {
            WriterConnection::Own(
                options
                    .connect()
                    .await
                    .map_err(|e| StoreError::Database(format!("cannot open `{url}`: {e}")))?,
            )
        };
        tracing::debug!(url, "opened SQLite store");
        Ok(SqliteStore {
            rows: Rows {
                pool,
                tokens: PageTokens::new(token_key),
            },
            ballots: BallotWriter::start(writer),
        })
    }

    /// Verifies the database file at `path` without changing it (opened read-only, no
    /// migrations): the audit chain, every ballot signature, every stored ballot against its
    /// audit entry. For `accord audit verify --database FILE`.
    pub async fn verify_file(
        path: &std::path::Path,
    ) -> StoreResult<Result<ChainReport, ChainBroken>> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .create_if_missing(false);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Database(format!("cannot open {}: {e}", path.display())))?;
        let result = chain::verify(&pool).await;
        pool.close().await;
        result
    }

    /// The connection pool, for diagnostics and tests.
    pub fn pool(&self) -> &SqlitePool {
        &self.rows.pool
    }

    /// What the ballot writer (group commit) has done since the store was opened.
    pub fn group_commit_stats(&self) -> GroupCommitStats {
        self.ballots.stats()
    }

    /// The id of an existing proposal, or NotFound.
    async fn existing_proposal(&self, proposal_id: &str) -> StoreResult<i64> {
        let id = proposal_key(proposal_id)?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM proposals WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.rows.pool)
            .await
            .map_err(db_err)?;
        exists.ok_or_else(|| StoreError::not_found("proposal", proposal_id))
    }
}

/// The filter of proposal listings: state, kind, and a target among the comma-separated ones.
const PROPOSAL_FILTER: &str = "(?1 IS NULL OR state = ?1) AND (?2 IS NULL OR kind = ?2) \
                               AND (?3 IS NULL OR target = ?3 \
                               OR instr(',' || target || ',', ',' || ?3 || ',') > 0)";

#[async_trait]
impl Store for SqliteStore {
    async fn seed_if_empty(&self) -> StoreResult<bool> {
        let mut tx = self.rows.write_tx().await?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM members")
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        if count > 0 {
            return Ok(false);
        }
        let (members, partners, missions) =
            (dataset::members(), dataset::partners(), dataset::missions());
        for member in &members {
            write_row(&mut tx, Write::Create, member).await?;
        }
        for partner in &partners {
            write_row(&mut tx, Write::Create, partner).await?;
        }
        for mission in &missions {
            // The dataset has no mission the store already holds unless one was created before
            // any member: keep that one.
            match write_row(&mut tx, Write::Create, mission).await {
                Err(StoreError::AlreadyExists { .. }) => {}
                other => other?,
            }
        }
        let entry = Entry::seed(members.len(), partners.len(), missions.len());
        audit(&mut tx, entry).await?;
        tx.commit().await.map_err(db_err)?;
        tracing::info!(
            members = members.len(),
            "seeded the store with the NATO dataset"
        );
        Ok(true)
    }

    async fn list_members(
        &self,
        status: Option<MemberStatus>,
        page: PageRequest,
    ) -> StoreResult<Page<Member>> {
        self.rows.list_records(status, page).await
    }

    async fn get_member(&self, code: &str) -> StoreResult<Member> {
        self.rows
            .get(Member::TABLE, Arg::Text(Some(code)), code)
            .await
    }

    async fn create_member(&self, member: &Member) -> StoreResult<()> {
        self.rows.write_record(Write::Create, member).await
    }

    async fn update_member(&self, member: &Member) -> StoreResult<()> {
        self.rows.write_record(Write::Update, member).await
    }

    async fn all_members(&self) -> StoreResult<Vec<Member>> {
        self.rows.all(Member::TABLE, None).await
    }

    async fn delete_member(&self, code: &str) -> StoreResult<Member> {
        self.rows.delete_member(code).await
    }

    async fn list_partners(
        &self,
        participation: Option<SummitParticipation>,
        page: PageRequest,
    ) -> StoreResult<Page<Partner>> {
        self.rows.list_records(participation, page).await
    }

    async fn all_partners(&self) -> StoreResult<Vec<Partner>> {
        self.rows.all(Partner::TABLE, None).await
    }

    async fn get_partner(&self, code: &str) -> StoreResult<Partner> {
        self.rows
            .get(Partner::TABLE, Arg::Text(Some(code)), code)
            .await
    }

    async fn create_partner(&self, partner: &Partner) -> StoreResult<()> {
        self.rows.write_record(Write::Create, partner).await
    }

    async fn update_partner(&self, partner: &Partner) -> StoreResult<()> {
        self.rows.write_record(Write::Update, partner).await
    }

    async fn list_missions(
        &self,
        status: Option<MissionStatus>,
        page: PageRequest,
    ) -> StoreResult<Page<Mission>> {
        self.rows.list_records(status, page).await
    }

    async fn all_missions(&self) -> StoreResult<Vec<Mission>> {
        self.rows.all(Mission::TABLE, None).await
    }

    async fn get_mission(&self, id: &str) -> StoreResult<Mission> {
        self.rows.get(Mission::TABLE, Arg::Text(Some(id)), id).await
    }

    async fn create_mission(&self, mission: &Mission) -> StoreResult<()> {
        self.rows.write_record(Write::Create, mission).await
    }

    async fn update_mission(&self, mission: &Mission) -> StoreResult<()> {
        self.rows.write_record(Write::Update, mission).await
    }

    async fn create_proposal(
        &self,
        proposal: &Proposal,
        kind: ProposalKind,
        target: &str,
    ) -> StoreResult<Proposal> {
        let mut tx = self.rows.write_tx().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO proposals (state, kind, target, sponsor, create_time_ms, deadline_ms, \
             close_time_ms, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, x'') RETURNING id",
        )
        .bind(proposal.state)
        .bind(kind as i32)
        .bind(target)
        .bind(&proposal.sponsor)
        .bind(millis(proposal.create_time.as_ref()))
        .bind(millis(proposal.deadline.as_ref()))
        .bind(millis(proposal.close_time.as_ref()))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let mut proposal = proposal.clone();
        proposal.name = names::name(names::PROPOSALS, &id.to_string());
        sqlx::query("UPDATE proposals SET message = ?2 WHERE id = ?1")
            .bind(id)
            .bind(proposal.encode_to_vec())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        audit(&mut tx, Entry::proposal_created(&proposal, kind, target)).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(proposal)
    }

    async fn get_proposal(&self, id: &str) -> StoreResult<Proposal> {
        self.rows
            .get(PROPOSALS, Arg::Int(Some(proposal_key(id)?)), id)
            .await
    }

    async fn list_proposals(
        &self,
        filter: &ProposalFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Proposal>> {
        let state = filter.state.map(|s| s as i32);
        let kind = filter.kind.map(|k| k as i32);
        let target = filter.target.as_deref();
        let listing = Listing {
            table: PROPOSALS,
            order: Order::Descending,
            start: i64::MAX,
            scope: scope::proposals(state, kind, target),
            filter: PROPOSAL_FILTER,
            args: vec![
                Arg::Int(state.map(i64::from)),
                Arg::Int(kind.map(i64::from)),
                Arg::Text(target),
            ],
        };
        self.rows.list(listing, page).await
    }

    async fn open_proposals(&self) -> StoreResult<Vec<Proposal>> {
        self.rows
            .all(PROPOSALS, Some(("state", ProposalState::Open as i32)))
            .await
    }

    async fn cast_ballot(&self, proposal_id: &str, ballot: &Ballot) -> StoreResult<Ballot> {
        let id = proposal_key(proposal_id)?;
        self.ballots.cast(proposal_id, id, ballot).await
    }

    async fn list_ballots(
        &self,
        proposal_id: &str,
        page: PageRequest,
    ) -> StoreResult<Page<Ballot>> {
        let id = self.existing_proposal(proposal_id).await?;
        let listing = Listing {
            table: BALLOTS,
            order: Order::Ascending,
            start: 0_i64,
            scope: scope::ballots(id),
            filter: "proposal_id = ?1",
            args: vec![Arg::Int(Some(id))],
        };
        self.rows.list(listing, page).await
    }

    async fn last_ballots(&self, proposal_id: &str) -> StoreResult<Vec<Ballot>> {
        let id = proposal_key(proposal_id)?;
        // Kept up to date by the ballot writer (see `group_commit`).
        self.ballots
            .last_ballots(id)
            .await?
            .ok_or_else(|| StoreError::not_found("proposal", proposal_id))
    }

    async fn close_proposal(&self, proposal_id: &str, closing: &Closing) -> StoreResult<Proposal> {
        let id = proposal_key(proposal_id)?;
        ensure_closing_state(id, closing)?;
        let mut tx = self.rows.write_tx().await?;
        let row: Option<(i32, Vec<u8>)> =
            sqlx::query_as("SELECT state, message FROM proposals WHERE id = ?1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
        let (state, message) = row.ok_or_else(|| StoreError::not_found("proposal", proposal_id))?;
        ensure_open(id, state)?;
        if let Some(seen) = closing.last_ballot {
            let (latest,): (Option<i64>,) =
                sqlx::query_as("SELECT MAX(sequence) FROM ballots WHERE proposal_id = ?1")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
            if let Err(stale) = ensure_fresh(id, seen, latest) {
                // Read the last ballots from the database again next time, should the ones
                // kept in memory ever have missed one.
                self.ballots.forget(id);
                return Err(stale);
            }
        }
        let proposal = closed(decode("proposal", &message)?, closing);
        sqlx::query(
            "UPDATE proposals SET state = ?2, close_time_ms = ?3, message = ?4 WHERE id = ?1",
        )
        .bind(id)
        .bind(proposal.state)
        .bind(millis(proposal.close_time.as_ref()))
        .bind(proposal.encode_to_vec())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;

        if let Some(decision) = &closing.decision {
            sqlx::query(
                "INSERT INTO decisions (proposal_id, outcome, settled, policy_id, \
                 close_time_ms, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .bind(id)
            .bind(decision.outcome)
            .bind(decision.settled)
            .bind(
                decision
                    .policy
                    .as_ref()
                    .map_or("", |p| p.policy_id.as_str()),
            )
            .bind(millis(Some(&closing.close_time)))
            .bind(decision.encode_to_vec())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        let entry = Entry::closed(&proposal.name, closing.state, closing.decision.as_ref());
        audit(&mut tx, entry).await?;

        for effect in &closing.effects {
            let name = &proposal.name;
            match effect {
                Effect::UpdateMission(mission) => {
                    apply_effect(&mut tx, Write::Update, mission, name).await?
                }
                Effect::CreateMission(mission) => {
                    apply_effect(&mut tx, Write::Create, mission, name).await?
                }
                Effect::UpdatePartner(partner) => {
                    apply_effect(&mut tx, Write::Update, partner, name).await?
                }
            }
        }
        tx.commit().await.map_err(db_err)?;
        self.ballots.forget(id);
        Ok(proposal)
    }

    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT value FROM settings WHERE key = ?1")
            .bind(key)
            .fetch_optional(&self.rows.pool)
            .await
            .map_err(db_err)
    }

    async fn set_setting(&self, key: &str, value: &str) -> StoreResult<()> {
        let mut tx = self.rows.write_tx().await?;
        sqlx::query(
            "INSERT INTO settings (key, value, update_time_ms) VALUES (?1, ?2, ?3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
             update_time_ms = excluded.update_time_ms",
        )
        .bind(key)
        .bind(value)
        .bind(millis(Some(&now())))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        audit(&mut tx, Entry::setting(key, value)).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn audit_log(&self, after_sequence: i64, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        let rows: Vec<(i64, i64, i32, String, String, String)> = sqlx::query_as(
            "SELECT sequence, time_s, time_ns, kind, subject, detail FROM audit_log \
             WHERE sequence > ?1 ORDER BY sequence LIMIT ?2",
        )
        .bind(after_sequence)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.rows.pool)
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(
                |(sequence, seconds, nanos, kind, subject, detail)| AuditEntry {
                    sequence,
                    time: Timestamp { seconds, nanos },
                    kind,
                    subject,
                    detail,
                },
            )
            .collect())
    }

    fn memory_pages(&self) -> Option<crate::MemoryPages> {
        Some(crate::MemoryPages::new(self.rows.tokens.clone()))
    }

    fn group_commit_stats(&self) -> GroupCommitStats {
        self.ballots.stats()
    }

    async fn issue_token(&self, token: &TokenRecord) -> StoreResult<TokenRecord> {
        let mut tx = self.rows.write_tx().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO tokens (role, member, secret_sha256, label, create_time_ms, \
             expire_time_ms, revoke_time_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL) RETURNING id",
        )
        .bind(token.role)
        .bind(&token.member)
        .bind(&token.secret_sha256)
        .bind(&token.label)
        .bind(token.create_time_ms)
        .bind(token.expire_time_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let stored = TokenRecord {
            id,
            revoke_time_ms: None,
            ..token.clone()
        };
        audit(&mut tx, Entry::token("token_issued", &stored)).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(stored)
    }

    async fn revoke_token(&self, id: i64, at_ms: i64) -> StoreResult<TokenRecord> {
        let mut tx = self.rows.write_tx().await?;
        sqlx::query(
            "UPDATE tokens SET revoke_time_ms = COALESCE(revoke_time_ms, ?2) WHERE id = ?1",
        )
        .bind(id)
        .bind(at_ms)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let token = token_rows(&mut tx, Some(id))
            .await?
            .pop()
            .ok_or_else(|| StoreError::not_found("token", &id.to_string()))?;
        audit(&mut tx, Entry::token("token_revoked", &token)).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(token)
    }

    async fn tokens(&self) -> StoreResult<Vec<TokenRecord>> {
        let mut conn = self.rows.pool.acquire().await.map_err(db_err)?;
        token_rows(&mut conn, None).await
    }

    async fn register_ballot_key(&self, key: &BallotKeyRecord) -> StoreResult<()> {
        let mut tx = self.rows.write_tx().await?;
        sqlx::query(
            "INSERT INTO ballot_keys (member, public_key, create_time_ms) VALUES (?1, ?2, ?3)",
        )
        .bind(&key.member)
        .bind(&key.public_key)
        .bind(key.create_time_ms)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        audit(&mut tx, Entry::ballot_key(key)).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn ballot_keys(&self) -> StoreResult<Vec<BallotKeyRecord>> {
        let rows: Vec<(String, Vec<u8>, i64)> = sqlx::query_as(
            "SELECT member, public_key, create_time_ms FROM ballot_keys k WHERE sequence = \
             (SELECT MAX(sequence) FROM ballot_keys WHERE member = k.member) ORDER BY member",
        )
        .fetch_all(&self.rows.pool)
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(member, public_key, create_time_ms)| BallotKeyRecord {
                member,
                public_key,
                create_time_ms,
            })
            .collect())
    }

    async fn append_audit(&self, event: AuditEvent) -> StoreResult<()> {
        let mut tx = self.rows.write_tx().await?;
        audit(&mut tx, event).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn export_audit(
        &self,
        after_sequence: i64,
        limit: usize,
    ) -> StoreResult<Vec<ChainedEntry>> {
        chain::export(&self.rows.pool, after_sequence, limit).await
    }

    async fn verify_audit(&self) -> StoreResult<Result<ChainReport, ChainBroken>> {
        chain::verify(&self.rows.pool).await
    }

    fn stats(&self) -> StoreStats {
        let pool = &self.rows.pool;
        let batches = self.ballots.stats();
        StoreStats {
            pool: Some(PoolStats {
                size: pool.size(),
                idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                max: pool.options().get_max_connections(),
            }),
            group_commit: Some(batches),
        }
    }

    async fn close(&self) {
        // Ballots already queued are written first; later ones fail.
        self.ballots.stop().await;
        if self.rows.pool.is_closed() {
            return;
        }
        // Fold the WAL back into the database file so that it is complete on its own.
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.rows.pool)
            .await
        {
            tracing::warn!(error = %e, "WAL checkpoint on close failed");
        }
        self.rows.pool.close().await;
    }
}

/// Tokens (one by id, or all), oldest first.
async fn token_rows(
    conn: &mut sqlx::SqliteConnection,
    id: Option<i64>,
) -> StoreResult<Vec<TokenRecord>> {
    type TokenRow = (i64, i32, String, String, String, i64, i64, Option<i64>);
    let rows: Vec<TokenRow> = sqlx::query_as(
        "SELECT id, role, member, secret_sha256, label, create_time_ms, expire_time_ms, \
         revoke_time_ms FROM tokens WHERE ?1 IS NULL OR id = ?1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(conn)
    .await
    .map_err(db_err)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, role, member, secret_sha256, label, create, expire, revoke)| TokenRecord {
                id,
                role,
                member,
                secret_sha256,
                label,
                create_time_ms: create,
                expire_time_ms: expire,
                revoke_time_ms: revoke,
            },
        )
        .collect())
}
