//! The PostgreSQL backend of the [`Store`], for any number of server replicas on one database.
//! The schema is in `migrations-postgres/` (embedded, applied by [`PostgresStore::open`]; sqlx
//! serialises concurrent migrations with an advisory lock, so replicas may start together).
//!
//! Guarantees, the same as SQLite's and kept across processes:
//! - **Durable when acknowledged.** Every connection runs with `synchronous_commit=on`; a write
//!   returns OK only after its COMMIT, so it survives `kill -9` of the server and an immediate
//!   stop of PostgreSQL. Ballots are group-committed ([`group_commit`]).
//! - **Serialised writes.** Every write transaction first takes one advisory lock
//!   ([`rows::lock_writes`]), as SQLite's `BEGIN IMMEDIATE` takes its write lock: a check ("the
//!   proposal is open", "no newer ballot") and the write it guards are atomic across replicas,
//!   and audit and ballot sequences follow commit order. Reads take no lock.
//! - **A proposal closes once.** [`Store::close_proposal`] checks, under the lock, that the
//!   proposal is open and that no ballot came after the one its decision saw (the "stale
//!   decision" rule), then updates it only `WHERE state = OPEN`; whichever replica comes second
//!   gets [`StoreError::ProposalClosed`] or [`StoreError::Stale`] and changes nothing — so the
//!   effects of an adoption are applied exactly once.
//! - **Deadlines are claimed**, not just read: [`Store::claim_due_proposals`] leases due
//!   proposals with `FOR UPDATE SKIP LOCKED`, so replicas do not decide the same one at once; a
//!   replica that dies holding a lease leaves nothing half done (closing is one transaction)
//!   and the lease runs out.
//! - **Replicas hear each other** ([`notify`]): each write sends a NOTIFY in its transaction,
//!   and [`Store::changes`] hands the other replicas' changes to the server — among them
//!   [`Change::Members`], [`Change::Partners`] and [`Change::Missions`] when a record of that
//!   kind changes (an operator's write, an adoption's effect), so that every replica's cached
//!   records follow, and [`Change::Credentials`] when a token is issued or revoked or a ballot key registered, so
//!   that every replica honours and refuses the same tokens and checks the same keys.
//! - **One audit chain** ([`chain`]): every audit entry, whichever replica writes it, is linked
//!   to the one before under the write lock, as in SQLite, and [`Store::verify_audit`] checks
//!   the chain, every ballot signature and every stored ballot.
//!
//! The backend-neutral parts are shared with SQLite: statements ([`statements`](crate::statements)),
//! page tokens ([`paging`](crate::paging)), record kinds ([`records`](crate::records)), audit
//! entries ([`audit`](crate::audit)) and the rules of closing ([`closing`](crate::closing)).

pub(crate) mod chain;
mod group_commit;
mod notify;
mod rows;

pub(crate) use self::rows::WRITE_LOCK;

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
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use tokio::sync::broadcast;

use self::group_commit::BallotWriter;
use self::rows::{Rows, arguments, audit, write_row};
use crate::audit::Entry;
use crate::closing::{closed, ensure_closing_state, ensure_fresh, ensure_open};
use crate::db_errors::db_err;
use crate::paging::{Order, PageTokens, scope};
use crate::records::{BALLOTS, PROPOSALS, Record, Write, decode, millis, now, proposal_key};
use crate::statements::{Arg, Listing, dollars};
use crate::{
    AuditEntry, Change, Closing, Effect, Page, PageRequest, PolicyChange, ProposalFilter, Store,
    StoreError, StoreResult, dataset,
};
use crate::{AuditEvent, BallotKeyRecord, ChainBroken, ChainReport, ChainedEntry, TokenRecord};

/// The schema migrations in `services/store/migrations-postgres`, compiled in.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations-postgres");

/// Connections in the pool of one store (one more is the ballot writer's, one the listener's).
const MAX_CONNECTIONS: u32 = 8;

/// How long opening waits for the database.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The PostgreSQL store. Cheap to share: wrap it in an `Arc`; every method takes `&self`.
pub struct PostgresStore {
    rows: Rows,
    ballots: BallotWriter,
    /// This store's id in change notices.
    instance: String,
    changes: broadcast::Sender<Change>,
    listener: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Opens the database at `url` ("postgres://user@host:port/db"), applies the migrations,
    /// starts listening for other replicas' changes and starts the ballot writer on the current
    /// tokio runtime.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Database(format!("bad database url: {e}")))?
            .options([("synchronous_commit", "on")])
            .application_name("accord-server");
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(|e| {
                StoreError::Database(format!("cannot open the PostgreSQL database: {e}"))
            })?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Database(format!("migrating the PostgreSQL database: {e}")))?;
        {
            // Chains the entries of a database written before the chain existed (once).
            let mut tx = pool.begin().await.map_err(db_err)?;
            rows::lock_writes(&mut tx).await?;
            chain::seal_if_unsealed(&mut tx).await?;
            tx.commit().await.map_err(db_err)?;
        }
        let token_key: String =
            sqlx::query_scalar("SELECT value FROM store_meta WHERE key = 'page_token_key'")
                .fetch_one(&pool)
                .await
                .map_err(db_err)?;
        let instance = notify::instance_id();
        let (changes, listener) = notify::listen(&pool, instance.clone()).await?;
        tracing::debug!(%instance, "opened PostgreSQL store");
        Ok(PostgresStore {
            rows: Rows {
                pool,
                tokens: PageTokens::new(token_key),
            },
            ballots: BallotWriter::start(options, instance.clone()),
            instance,
            changes,
            listener,
        })
    }

    /// The connection pool, for diagnostics and tests.
    pub fn pool(&self) -> &PgPool {
        &self.rows.pool
    }

    async fn notify(&self, conn: &mut sqlx::PgConnection, changes: &[Change]) -> StoreResult<()> {
        notify::notify(conn, &self.instance, changes).await
    }

    /// Adds or replaces a member, partner or mission with its audit entry and notice.
    async fn write_record<R: Record>(&self, write: Write, record: &R) -> StoreResult<()> {
        let mut tx = self.rows.write_tx().await?;
        write_row(&mut tx, write, record).await?;
        audit(&mut tx, [Entry::record(write, record)]).await?;
        let change = match R::TABLE.name {
            name if name == Member::TABLE.name => Change::Members,
            name if name == Partner::TABLE.name => Change::Partners,
            _ => Change::Missions,
        };
        self.notify(&mut tx, &[change]).await?;
        tx.commit().await.map_err(db_err)
    }
}

/// The filter of proposal listings: state, kind, and a target among the comma-separated ones.
const PROPOSAL_FILTER: &str = "(?1::BIGINT IS NULL OR state = ?1) \
                               AND (?2::BIGINT IS NULL OR kind = ?2) \
                               AND (?3::TEXT IS NULL OR target = ?3 \
                               OR strpos(',' || target || ',', ',' || ?3 || ',') > 0)";

#[async_trait]
impl Store for PostgresStore {
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
            let exists: Option<String> =
                sqlx::query_scalar("SELECT id FROM missions WHERE id = $1")
                    .bind(&mission.id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
            if exists.is_none() {
                write_row(&mut tx, Write::Create, mission).await?;
            }
        }
        let entry = Entry::seed(members.len(), partners.len(), missions.len());
        audit(&mut tx, [entry]).await?;
        let seeded = [Change::Members, Change::Partners, Change::Missions];
        self.notify(&mut tx, &seeded).await?;
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
        self.write_record(Write::Create, member).await
    }

    async fn update_member(&self, member: &Member) -> StoreResult<()> {
        self.write_record(Write::Update, member).await
    }

    async fn delete_member(&self, code: &str) -> StoreResult<Member> {
        let mut tx = self.rows.write_tx().await?;
        let message: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT message FROM members WHERE code = $1")
                .bind(code)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
        let member: Member = crate::records::decode(
            "member",
            &message.ok_or_else(|| StoreError::not_found("member", code))?,
        )?;
        let ballots: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ballots WHERE member = $1")
            .bind(code)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        let proposals: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM proposals WHERE sponsor = $1")
                .bind(&member.name)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
        if ballots > 0 || proposals > 0 {
            return Err(StoreError::InUse(format!(
                "member `{code}` has cast {ballots} ballot(s) and sponsored {proposals} \
                 proposal(s): the record keeps it; suspend it instead"
            )));
        }
        sqlx::query("DELETE FROM members WHERE code = $1")
            .bind(code)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        audit(&mut tx, [Entry::member_deleted(&member)]).await?;
        self.notify(&mut tx, &[Change::Members]).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(member)
    }

    async fn all_members(&self) -> StoreResult<Vec<Member>> {
        self.rows.all(Member::TABLE, None).await
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
        self.write_record(Write::Create, partner).await
    }

    async fn update_partner(&self, partner: &Partner) -> StoreResult<()> {
        self.write_record(Write::Update, partner).await
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
        self.write_record(Write::Create, mission).await
    }

    async fn update_mission(&self, mission: &Mission) -> StoreResult<()> {
        self.write_record(Write::Update, mission).await
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
             close_time_ms, message) VALUES ($1, $2, $3, $4, $5, $6, $7, '') RETURNING id",
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
        sqlx::query("UPDATE proposals SET message = $2 WHERE id = $1")
            .bind(id)
            .bind(proposal.encode_to_vec())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        audit(&mut tx, [Entry::proposal_created(&proposal, kind, target)]).await?;
        self.notify(&mut tx, &[Change::ProposalCreated { proposal_id: id }])
            .await?;
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
        let id = proposal_key(proposal_id)?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM proposals WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.rows.pool)
            .await
            .map_err(db_err)?;
        if exists.is_none() {
            return Err(StoreError::not_found("proposal", proposal_id));
        }
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
        // Read from the database every time: other replicas write ballots too.
        let id = proposal_key(proposal_id)?;
        let mut tx = self
            .rows
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(db_err)?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM proposals WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        if exists.is_none() {
            return Err(StoreError::not_found("proposal", proposal_id));
        }
        let rows: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT DISTINCT ON (member) message FROM ballots WHERE proposal_id = $1 \
             ORDER BY member, sequence DESC",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        rows.iter().map(|m| decode("ballot", m)).collect()
    }

    async fn close_proposal(&self, proposal_id: &str, closing: &Closing) -> StoreResult<Proposal> {
        let id = proposal_key(proposal_id)?;
        ensure_closing_state(id, closing)?;
        let mut tx = self.rows.write_tx().await?;
        let row: Option<(i32, Vec<u8>)> =
            sqlx::query_as("SELECT state, message FROM proposals WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
        let (state, message) = row.ok_or_else(|| StoreError::not_found("proposal", proposal_id))?;
        ensure_open(id, state)?;
        if let Some(seen) = closing.last_ballot {
            let latest: Option<i64> =
                sqlx::query_scalar("SELECT MAX(sequence) FROM ballots WHERE proposal_id = $1")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
            ensure_fresh(id, seen, latest)?;
        }
        let proposal = closed(decode("proposal", &message)?, closing);
        let updated = sqlx::query(
            "UPDATE proposals SET state = $2, close_time_ms = $3, message = $4, \
             claimed_until_ms = NULL WHERE id = $1 AND state = $5",
        )
        .bind(id)
        .bind(proposal.state)
        .bind(millis(proposal.close_time.as_ref()))
        .bind(proposal.encode_to_vec())
        .bind(ProposalState::Open as i32)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if updated.rows_affected() != 1 {
            return Err(StoreError::ProposalClosed {
                id: id.to_string(),
                state: "closed",
            });
        }

        if let Some(decision) = &closing.decision {
            sqlx::query(
                "INSERT INTO decisions (proposal_id, outcome, settled, policy_id, \
                 close_time_ms, message) VALUES ($1, $2, $3, $4, $5, $6)",
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
        let mut entries = vec![Entry::closed(
            &proposal.name,
            closing.state,
            closing.decision.as_ref(),
        )];
        for effect in &closing.effects {
            let name = &proposal.name;
            match effect {
                Effect::UpdateMission(mission) => {
                    write_row(&mut tx, Write::Update, mission).await?;
                    entries.push(Entry::effect(Write::Update, mission, name));
                }
                Effect::CreateMission(mission) => {
                    write_row(&mut tx, Write::Create, mission).await?;
                    entries.push(Entry::effect(Write::Create, mission, name));
                }
                Effect::UpdatePartner(partner) => {
                    write_row(&mut tx, Write::Update, partner).await?;
                    entries.push(Entry::effect(Write::Update, partner, name));
                }
            }
        }
        audit(&mut tx, entries).await?;
        // The records the effects changed first: a replica has forgotten them by the time it
        // tells its watchers of the close.
        let partners = |e: &Effect| matches!(e, Effect::UpdatePartner(_));
        let mut changes = Vec::new();
        if closing.effects.iter().any(partners) {
            changes.push(Change::Partners);
        }
        if !closing.effects.iter().all(partners) {
            changes.push(Change::Missions);
        }
        changes.push(Change::Closed { proposal_id: id });
        self.notify(&mut tx, &changes).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(proposal)
    }

    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.rows.pool)
            .await
            .map_err(db_err)
    }

    async fn set_setting(&self, key: &str, value: &str) -> StoreResult<()> {
        let mut tx = self.rows.write_tx().await?;
        sqlx::query(
            "INSERT INTO settings (key, value, update_time_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
             update_time_ms = excluded.update_time_ms",
        )
        .bind(key)
        .bind(value)
        .bind(millis(Some(&now())))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        audit(&mut tx, [Entry::setting(key, value)]).await?;
        self.notify(&mut tx, &[Change::Setting { key: key.into() }])
            .await?;
        tx.commit().await.map_err(db_err)
    }

    async fn audit_log(&self, after_sequence: i64, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        let rows: Vec<(i64, i64, i32, String, String, String)> = sqlx::query_as(
            "SELECT sequence, time_s, time_ns, kind, subject, detail FROM audit_log \
             WHERE sequence > $1 ORDER BY sequence LIMIT $2",
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

    async fn close(&self) {
        self.ballots.stop().await;
        self.listener.abort();
        if !self.rows.pool.is_closed() {
            self.rows.pool.close().await;
        }
    }

    fn shared(&self) -> bool {
        true
    }

    fn memory_pages(&self) -> Option<crate::MemoryPages> {
        Some(crate::MemoryPages::new(self.rows.tokens.clone()))
    }

    fn group_commit_stats(&self) -> crate::GroupCommitStats {
        self.ballots.stats()
    }

    fn stats(&self) -> crate::StoreStats {
        let pool = &self.rows.pool;
        crate::StoreStats {
            pool: Some(crate::PoolStats {
                size: pool.size(),
                idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                max: pool.options().get_max_connections(),
            }),
            group_commit: Some(self.group_commit_stats()),
        }
    }

    fn changes(&self) -> Option<broadcast::Receiver<Change>> {
        Some(self.changes.subscribe())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.rows.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn claim_due_proposals(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> StoreResult<Vec<Proposal>> {
        let sql = dollars(
            "UPDATE proposals SET claimed_until_ms = ?1 + ?2 WHERE id IN ( \
               SELECT id FROM proposals WHERE state = ?3 AND deadline_ms <= ?1 \
               AND (claimed_until_ms IS NULL OR claimed_until_ms <= ?1) \
               ORDER BY id LIMIT ?4 FOR UPDATE SKIP LOCKED) \
             RETURNING id, message",
        );
        let args = [
            Arg::Int(Some(now_ms)),
            Arg::Int(Some(lease_ms)),
            Arg::Int(Some(i64::from(ProposalState::Open as i32))),
            Arg::Int(Some(i64::try_from(limit).unwrap_or(i64::MAX))),
        ];
        let mut rows: Vec<(i64, Vec<u8>)> = sqlx::query_as_with(&sql, arguments(args)?)
            .fetch_all(&self.rows.pool)
            .await
            .map_err(db_err)?;
        rows.sort_by_key(|(id, _)| *id);
        rows.iter().map(|(_, m)| decode("proposal", m)).collect()
    }

    async fn get_ballot(&self, proposal_id: &str, sequence: i64) -> StoreResult<Ballot> {
        let id = proposal_key(proposal_id)?;
        let message: Option<Vec<u8>> = sqlx::query_scalar(
            "SELECT message FROM ballots WHERE proposal_id = $1 AND sequence = $2",
        )
        .bind(id)
        .bind(sequence)
        .fetch_optional(&self.rows.pool)
        .await
        .map_err(db_err)?;
        decode(
            "ballot",
            &message.ok_or_else(|| StoreError::not_found("ballot", &sequence.to_string()))?,
        )
    }

    async fn record_policy_change(&self, change: &PolicyChange) -> StoreResult<i64> {
        let mut tx = self.rows.write_tx().await?;
        let sequence: i64 = sqlx::query_scalar(
            "INSERT INTO policy_changes (time_ms, action, policy_id, file_name, sha256) \
             VALUES ($1, $2, $3, $4, $5) RETURNING sequence",
        )
        .bind(millis(Some(&now())))
        .bind(&change.action)
        .bind(&change.policy_id)
        .bind(&change.file_name)
        .bind(&change.sha256)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        self.notify(&mut tx, &[Change::Policy]).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(sequence)
    }

    async fn policy_changes(&self, after_sequence: i64) -> StoreResult<Vec<PolicyChange>> {
        let rows: Vec<(i64, String, String, String, String)> = sqlx::query_as(
            "SELECT sequence, action, policy_id, file_name, sha256 FROM policy_changes \
             WHERE sequence > $1 ORDER BY sequence",
        )
        .bind(after_sequence)
        .fetch_all(&self.rows.pool)
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(
                |(sequence, action, policy_id, file_name, sha256)| PolicyChange {
                    sequence,
                    action,
                    policy_id,
                    file_name,
                    sha256,
                },
            )
            .collect())
    }
    async fn issue_token(&self, token: &TokenRecord) -> StoreResult<TokenRecord> {
        let mut tx = self.rows.write_tx().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO tokens (role, member, secret_sha256, label, create_time_ms, \
             expire_time_ms, revoke_time_ms) VALUES ($1, $2, $3, $4, $5, $6, NULL) RETURNING id",
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
        audit(&mut tx, [Entry::token("token_issued", &stored)]).await?;
        self.notify(&mut tx, &[Change::Credentials]).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(stored)
    }

    async fn revoke_token(&self, id: i64, at_ms: i64) -> StoreResult<TokenRecord> {
        let mut tx = self.rows.write_tx().await?;
        sqlx::query(
            "UPDATE tokens SET revoke_time_ms = COALESCE(revoke_time_ms, $2) WHERE id = $1",
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
        audit(&mut tx, [Entry::token("token_revoked", &token)]).await?;
        self.notify(&mut tx, &[Change::Credentials]).await?;
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
            "INSERT INTO ballot_keys (member, public_key, create_time_ms) VALUES ($1, $2, $3)",
        )
        .bind(&key.member)
        .bind(&key.public_key)
        .bind(key.create_time_ms)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        audit(&mut tx, [Entry::ballot_key(key)]).await?;
        self.notify(&mut tx, &[Change::Credentials]).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn ballot_keys(&self) -> StoreResult<Vec<BallotKeyRecord>> {
        let rows: Vec<(String, Vec<u8>, i64)> = sqlx::query_as(
            "SELECT DISTINCT ON (member) member, public_key, create_time_ms FROM ballot_keys \
             ORDER BY member, sequence DESC",
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
        audit(&mut tx, [event]).await?;
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
}

/// Tokens (one by id, or all), oldest first.
async fn token_rows(
    conn: &mut sqlx::PgConnection,
    id: Option<i64>,
) -> StoreResult<Vec<TokenRecord>> {
    type TokenRow = (i64, i32, String, String, String, i64, i64, Option<i64>);
    let rows: Vec<TokenRow> = sqlx::query_as(
        "SELECT id, role, member, secret_sha256, label, create_time_ms, expire_time_ms, \
         revoke_time_ms FROM tokens WHERE $1::BIGINT IS NULL OR id = $1 ORDER BY id",
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
