//! The SQLite backend of the [`Store`]: one database file, opened with sqlx in WAL mode with
//! `synchronous=FULL`, so that a write that returned OK is on disk and survives `kill -9` and
//! power loss. The schema is in `migrations/` (embedded, applied by [`SqliteStore::open`]).
//!
//! Each record is a row with real columns for what is filtered or sorted and the full
//! prost-encoded message in a `message` BLOB. Every write, together with its audit entry, is one
//! `BEGIN IMMEDIATE` transaction (immediate, so that the "is the proposal still open" check and
//! the write cannot be interleaved with another writer). Ballots are group-committed: concurrent
//! ballots are written by one writer task in one transaction (one fsync) per batch, and each is
//! acknowledged only after its batch's commit (see [`group_commit`]). Page tokens carry the last key of the
//! previous page and a check computed with a random key kept in the database, so a token this
//! database did not issue (or one issued for a different filter) is refused with
//! [`StoreError::BadPageToken`].

mod group_commit;

use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use accord_proto::names;
use accord_proto::v1::{
    Ballot, Choice, Decision, Member, MemberStatus, Mission, MissionStatus, Partner, Proposal,
    ProposalKind, ProposalState, SummitParticipation,
};
use async_trait::async_trait;
use prost::Message;
use prost_types::Timestamp;
use sha2::{Digest, Sha256};
use sqlx::ConnectOptions;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};

pub use self::group_commit::GroupCommitStats;
use self::group_commit::{BallotWriter, WriterConnection};

use crate::{
    AuditEntry, Closing, Effect, Page, PageRequest, ProposalFilter, Store, StoreError, StoreResult,
    dataset,
};

/// The schema migrations in `services/store/migrations`, compiled in.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How long a write waits for another writer to finish before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections in the pool for a database file (WAL: many readers, one writer at a time).
const MAX_CONNECTIONS: u32 = 4;

/// The SQLite store. Cheap to share: wrap it in an `Arc`; every method takes `&self`.
pub struct SqliteStore {
    pool: SqlitePool,
    /// Key for page-token checks (random per database, from `store_meta`).
    token_key: Vec<u8>,
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
            pool,
            token_key: token_key.into_bytes(),
            ballots: BallotWriter::start(writer),
        })
    }

    /// The connection pool, for diagnostics and tests.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// What the ballot writer (group commit) has done since the store was opened.
    pub fn group_commit_stats(&self) -> GroupCommitStats {
        self.ballots.stats()
    }

    /// Starts a write transaction that holds the write lock from its first statement.
    async fn write_tx(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_err)
    }

    /// The check part of a page token for `key` in the listing `scope`.
    fn token_check(&self, scope: &str, key: &str) -> String {
        let mut hash = Sha256::new();
        for part in [self.token_key.as_slice(), scope.as_bytes(), key.as_bytes()] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        hex::encode(&hash.finalize()[..12])
    }

    /// A page token resuming the listing `scope` after `key`.
    fn make_token(&self, scope: &str, key: &str) -> String {
        format!("{}.{}", hex::encode(key), self.token_check(scope, key))
    }

    /// The key in a token issued by [`Self::make_token`] for `scope`; `None` for the empty token.
    fn read_token(&self, scope: &str, token: &str) -> StoreResult<Option<String>> {
        if token.is_empty() {
            return Ok(None);
        }
        let bad = || StoreError::BadPageToken(token.to_owned());
        let (key_hex, check) = token.split_once('.').ok_or_else(bad)?;
        let key = hex::decode(key_hex)
            .ok()
            .and_then(|k| String::from_utf8(k).ok())
            .ok_or_else(bad)?;
        if self.token_check(scope, &key) != check {
            return Err(bad());
        }
        Ok(Some(key))
    }

    /// A page of a table keyed by a text column, ordered by it, optionally filtered on an
    /// integer column.
    async fn list_by_text_key<M: Message + Default>(
        &self,
        spec: TextKeyed,
        filter: Option<i32>,
        page: PageRequest,
    ) -> StoreResult<Page<M>> {
        let TextKeyed {
            kind,
            table,
            key,
            filter_column,
        } = spec;
        let scope = format!("{table}|{filter_column}={filter:?}");
        let after = self.read_token(&scope, &page.token)?.unwrap_or_default();
        let size = page.size.max(1);
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let total: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM {table} WHERE (?1 IS NULL OR {filter_column} = ?1)"
        ))
        .bind(filter)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(&format!(
            "SELECT {key}, message FROM {table} WHERE (?1 IS NULL OR {filter_column} = ?1) \
             AND {key} > ?2 ORDER BY {key} LIMIT ?3"
        ))
        .bind(filter)
        .bind(&after)
        .bind(limit_plus_one(size))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        let (items, next_key) = split_page(rows, size);
        Ok(Page {
            items: items
                .iter()
                .map(|(_, m)| decode(kind, m))
                .collect::<StoreResult<_>>()?,
            next_token: next_key
                .map(|k| self.make_token(&scope, &k))
                .unwrap_or_default(),
            total: total as usize,
        })
    }

    /// One record of a table keyed by a text column.
    async fn get_by_text_key<M: Message + Default>(
        &self,
        spec: TextKeyed,
        id: &str,
    ) -> StoreResult<M> {
        let TextKeyed {
            kind, table, key, ..
        } = spec;
        let message: Option<Vec<u8>> =
            sqlx::query_scalar(&format!("SELECT message FROM {table} WHERE {key} = ?1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        match message {
            Some(m) => decode(kind, &m),
            None => Err(StoreError::NotFound {
                kind,
                id: id.to_owned(),
            }),
        }
    }

    /// The id of an existing proposal, or NotFound.
    async fn existing_proposal(&self, proposal_id: &str) -> StoreResult<i64> {
        let not_found = || StoreError::NotFound {
            kind: "proposal",
            id: proposal_id.to_owned(),
        };
        let id = parse_proposal_id(proposal_id).ok_or_else(not_found)?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM proposals WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        exists.ok_or_else(not_found)
    }
}

/// Where a table keyed by text lives and what it is called in errors.
#[derive(Clone, Copy)]
struct TextKeyed {
    kind: &'static str,
    table: &'static str,
    key: &'static str,
    filter_column: &'static str,
}

const MEMBERS: TextKeyed = TextKeyed {
    kind: "member",
    table: "members",
    key: "code",
    filter_column: "status",
};
const PARTNERS: TextKeyed = TextKeyed {
    kind: "partner",
    table: "partners",
    key: "code",
    filter_column: "participation",
};
const MISSIONS: TextKeyed = TextKeyed {
    kind: "mission",
    table: "missions",
    key: "id",
    filter_column: "status",
};

// ----- record writes, on a connection inside a transaction -----

async fn insert_member(conn: &mut SqliteConnection, member: &Member) -> StoreResult<()> {
    sqlx::query("INSERT INTO members (code, status, message) VALUES (?1, ?2, ?3)")
        .bind(&member.code)
        .bind(member.status)
        .bind(member.encode_to_vec())
        .execute(conn)
        .await
        .map_err(write_err("member", &member.code))?;
    Ok(())
}

async fn update_member_row(conn: &mut SqliteConnection, member: &Member) -> StoreResult<()> {
    let done = sqlx::query("UPDATE members SET status = ?2, message = ?3 WHERE code = ?1")
        .bind(&member.code)
        .bind(member.status)
        .bind(member.encode_to_vec())
        .execute(conn)
        .await
        .map_err(db_err)?;
    found(done.rows_affected(), "member", &member.code)
}

async fn insert_partner(conn: &mut SqliteConnection, partner: &Partner) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO partners (code, category, participation, message) VALUES (?1, ?2, ?3, ?4)",
    )
    .bind(&partner.code)
    .bind(partner.category)
    .bind(partner.summit_participation)
    .bind(partner.encode_to_vec())
    .execute(conn)
    .await
    .map_err(write_err("partner", &partner.code))?;
    Ok(())
}

async fn update_partner_row(conn: &mut SqliteConnection, partner: &Partner) -> StoreResult<()> {
    let done = sqlx::query(
        "UPDATE partners SET category = ?2, participation = ?3, message = ?4 WHERE code = ?1",
    )
    .bind(&partner.code)
    .bind(partner.category)
    .bind(partner.summit_participation)
    .bind(partner.encode_to_vec())
    .execute(conn)
    .await
    .map_err(db_err)?;
    found(done.rows_affected(), "partner", &partner.code)
}

async fn insert_mission(conn: &mut SqliteConnection, mission: &Mission) -> StoreResult<()> {
    sqlx::query("INSERT INTO missions (id, status, area, message) VALUES (?1, ?2, ?3, ?4)")
        .bind(&mission.id)
        .bind(mission.status)
        .bind(mission.area)
        .bind(mission.encode_to_vec())
        .execute(conn)
        .await
        .map_err(write_err("mission", &mission.id))?;
    Ok(())
}

async fn update_mission_row(conn: &mut SqliteConnection, mission: &Mission) -> StoreResult<()> {
    let done =
        sqlx::query("UPDATE missions SET status = ?2, area = ?3, message = ?4 WHERE id = ?1")
            .bind(&mission.id)
            .bind(mission.status)
            .bind(mission.area)
            .bind(mission.encode_to_vec())
            .execute(conn)
            .await
            .map_err(db_err)?;
    found(done.rows_affected(), "mission", &mission.id)
}

/// Appends an audit entry, stamped now.
async fn audit(
    conn: &mut SqliteConnection,
    kind: &str,
    subject: &str,
    detail: String,
) -> StoreResult<()> {
    let time = now();
    sqlx::query(
        "INSERT INTO audit_log (time_s, time_ns, kind, subject, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .bind(time.seconds)
    .bind(time.nanos)
    .bind(kind)
    .bind(subject)
    .bind(detail)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn seed_if_empty(&self) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
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
            insert_member(&mut tx, member).await?;
        }
        for partner in &partners {
            insert_partner(&mut tx, partner).await?;
        }
        for mission in &missions {
            // The dataset has no mission the store already holds unless one was created before
            // any member: keep that one.
            match insert_mission(&mut tx, mission).await {
                Err(StoreError::AlreadyExists { .. }) => {}
                other => other?,
            }
        }
        let detail = Json::new()
            .str("dataset", "NATO 2026 (data/nato)")
            .int("members", members.len() as i64)
            .int("partners", partners.len() as i64)
            .int("missions", missions.len() as i64)
            .finish();
        audit(&mut tx, "seed", "dataset", detail).await?;
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
        self.list_by_text_key(MEMBERS, status.map(|s| s as i32), page)
            .await
    }

    async fn get_member(&self, code: &str) -> StoreResult<Member> {
        self.get_by_text_key(MEMBERS, code).await
    }

    async fn create_member(&self, member: &Member) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        insert_member(&mut tx, member).await?;
        audit(
            &mut tx,
            "member_created",
            &member.name,
            record_detail(&member.code),
        )
        .await?;
        tx.commit().await.map_err(db_err)
    }

    async fn update_member(&self, member: &Member) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        update_member_row(&mut tx, member).await?;
        audit(
            &mut tx,
            "member_updated",
            &member.name,
            record_detail(&member.code),
        )
        .await?;
        tx.commit().await.map_err(db_err)
    }

    async fn all_members(&self) -> StoreResult<Vec<Member>> {
        let rows: Vec<Vec<u8>> = sqlx::query_scalar("SELECT message FROM members ORDER BY code")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(|m| decode("member", m)).collect()
    }

    async fn list_partners(
        &self,
        participation: Option<SummitParticipation>,
        page: PageRequest,
    ) -> StoreResult<Page<Partner>> {
        self.list_by_text_key(PARTNERS, participation.map(|p| p as i32), page)
            .await
    }

    async fn get_partner(&self, code: &str) -> StoreResult<Partner> {
        self.get_by_text_key(PARTNERS, code).await
    }

    async fn create_partner(&self, partner: &Partner) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        insert_partner(&mut tx, partner).await?;
        audit(
            &mut tx,
            "partner_created",
            &partner.name,
            record_detail(&partner.code),
        )
        .await?;
        tx.commit().await.map_err(db_err)
    }

    async fn update_partner(&self, partner: &Partner) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        update_partner_row(&mut tx, partner).await?;
        audit(
            &mut tx,
            "partner_updated",
            &partner.name,
            record_detail(&partner.code),
        )
        .await?;
        tx.commit().await.map_err(db_err)
    }

    async fn list_missions(
        &self,
        status: Option<MissionStatus>,
        page: PageRequest,
    ) -> StoreResult<Page<Mission>> {
        self.list_by_text_key(MISSIONS, status.map(|s| s as i32), page)
            .await
    }

    async fn get_mission(&self, id: &str) -> StoreResult<Mission> {
        self.get_by_text_key(MISSIONS, id).await
    }

    async fn create_mission(&self, mission: &Mission) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        insert_mission(&mut tx, mission).await?;
        audit(
            &mut tx,
            "mission_created",
            &mission.name,
            record_detail(&mission.id),
        )
        .await?;
        tx.commit().await.map_err(db_err)
    }

    async fn update_mission(&self, mission: &Mission) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        update_mission_row(&mut tx, mission).await?;
        audit(
            &mut tx,
            "mission_updated",
            &mission.name,
            record_detail(&mission.id),
        )
        .await?;
        tx.commit().await.map_err(db_err)
    }

    async fn create_proposal(
        &self,
        proposal: &Proposal,
        kind: ProposalKind,
        target: &str,
    ) -> StoreResult<Proposal> {
        let mut tx = self.write_tx().await?;
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
        let detail = Json::new()
            .str("title", &proposal.title)
            .str("kind", kind.as_str_name())
            .str("target", target)
            .str("sponsor", &proposal.sponsor)
            .str(
                "policy",
                proposal
                    .policy
                    .as_ref()
                    .map_or("", |p| p.policy_id.as_str()),
            )
            .finish();
        audit(&mut tx, "proposal_created", &proposal.name, detail).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(proposal)
    }

    async fn get_proposal(&self, id: &str) -> StoreResult<Proposal> {
        let not_found = || StoreError::NotFound {
            kind: "proposal",
            id: id.to_owned(),
        };
        let key = parse_proposal_id(id).ok_or_else(not_found)?;
        let message: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT message FROM proposals WHERE id = ?1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        decode("proposal", &message.ok_or_else(not_found)?)
    }

    async fn list_proposals(
        &self,
        filter: &ProposalFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Proposal>> {
        let state = filter.state.map(|s| s as i32);
        let kind = filter.kind.map(|k| k as i32);
        let target = filter.target.as_deref();
        let scope = format!("proposals|{state:?}|{kind:?}|{target:?}");
        let before = match self.read_token(&scope, &page.token)? {
            None => i64::MAX,
            Some(key) => key
                .parse()
                .map_err(|_| StoreError::BadPageToken(page.token.clone()))?,
        };
        let size = page.size.max(1);
        const WHERE: &str = "(?1 IS NULL OR state = ?1) AND (?2 IS NULL OR kind = ?2) \
                             AND (?3 IS NULL OR target = ?3 \
                             OR instr(',' || target || ',', ',' || ?3 || ',') > 0)";
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let total: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM proposals WHERE {WHERE}"))
                .bind(state)
                .bind(kind)
                .bind(target)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(&format!(
            "SELECT id, message FROM proposals WHERE {WHERE} AND id < ?4 ORDER BY id DESC LIMIT ?5"
        ))
        .bind(state)
        .bind(kind)
        .bind(target)
        .bind(before)
        .bind(limit_plus_one(size))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        let (items, next_key) = split_page(rows, size);
        Ok(Page {
            items: items
                .iter()
                .map(|(_, m)| decode("proposal", m))
                .collect::<StoreResult<_>>()?,
            next_token: next_key
                .map(|k| self.make_token(&scope, &k.to_string()))
                .unwrap_or_default(),
            total: total as usize,
        })
    }

    async fn open_proposals(&self) -> StoreResult<Vec<Proposal>> {
        let rows: Vec<Vec<u8>> =
            sqlx::query_scalar("SELECT message FROM proposals WHERE state = ?1 ORDER BY id")
                .bind(ProposalState::Open as i32)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
        rows.iter().map(|m| decode("proposal", m)).collect()
    }

    async fn cast_ballot(&self, proposal_id: &str, ballot: &Ballot) -> StoreResult<Ballot> {
        let id = parse_proposal_id(proposal_id).ok_or_else(|| StoreError::NotFound {
            kind: "proposal",
            id: proposal_id.to_owned(),
        })?;
        self.ballots.cast(proposal_id, id, ballot).await
    }

    async fn list_ballots(
        &self,
        proposal_id: &str,
        page: PageRequest,
    ) -> StoreResult<Page<Ballot>> {
        let id = self.existing_proposal(proposal_id).await?;
        let scope = format!("ballots|{id}");
        let after: i64 = match self.read_token(&scope, &page.token)? {
            None => 0,
            Some(key) => key
                .parse()
                .map_err(|_| StoreError::BadPageToken(page.token.clone()))?,
        };
        let size = page.size.max(1);
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ballots WHERE proposal_id = ?1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT sequence, message FROM ballots WHERE proposal_id = ?1 AND sequence > ?2 \
             ORDER BY sequence LIMIT ?3",
        )
        .bind(id)
        .bind(after)
        .bind(limit_plus_one(size))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        let (items, next_key) = split_page(rows, size);
        Ok(Page {
            items: items
                .iter()
                .map(|(_, m)| decode("ballot", m))
                .collect::<StoreResult<_>>()?,
            next_token: next_key
                .map(|k| self.make_token(&scope, &k.to_string()))
                .unwrap_or_default(),
            total: total as usize,
        })
    }

    async fn last_ballots(&self, proposal_id: &str) -> StoreResult<Vec<Ballot>> {
        let not_found = || StoreError::NotFound {
            kind: "proposal",
            id: proposal_id.to_owned(),
        };
        let id = parse_proposal_id(proposal_id).ok_or_else(not_found)?;
        // Kept up to date by the ballot writer (see `group_commit`).
        self.ballots.last_ballots(id).await?.ok_or_else(not_found)
    }

    async fn close_proposal(&self, proposal_id: &str, closing: &Closing) -> StoreResult<Proposal> {
        let not_found = || StoreError::NotFound {
            kind: "proposal",
            id: proposal_id.to_owned(),
        };
        let id = parse_proposal_id(proposal_id).ok_or_else(not_found)?;
        if matches!(
            closing.state,
            ProposalState::Open | ProposalState::Unspecified
        ) {
            return Err(StoreError::Database(format!(
                "cannot close proposal {id} as {}: a closing state is adopted, rejected, expired \
                 or withdrawn",
                state_in_words(closing.state as i32)
            )));
        }
        let mut tx = self.write_tx().await?;
        let row: Option<(i32, Vec<u8>)> =
            sqlx::query_as("SELECT state, message FROM proposals WHERE id = ?1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
        let (state, message) = row.ok_or_else(not_found)?;
        if state != ProposalState::Open as i32 {
            return Err(StoreError::ProposalClosed {
                id: id.to_string(),
                state: state_in_words(state),
            });
        }
        if let Some(seen) = closing.last_ballot {
            let (latest,): (Option<i64>,) =
                sqlx::query_as("SELECT MAX(sequence) FROM ballots WHERE proposal_id = ?1")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
            if latest.unwrap_or(0) != seen {
                // Read the last ballots from the database again next time, should the ones
                // kept in memory ever have missed one.
                self.ballots.forget(id);
                return Err(StoreError::Stale {
                    id: id.to_string(),
                    seen,
                    latest: latest.unwrap_or(0),
                });
            }
        }
        let mut proposal: Proposal = decode("proposal", &message)?;
        proposal.set_state(closing.state);
        proposal.close_time = Some(closing.close_time);
        if let Some(decision) = &closing.decision {
            proposal.decision = Some(decision.clone());
        }
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

        let state_name = state_in_words(proposal.state);
        match &closing.decision {
            Some(decision) => {
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
                audit(
                    &mut tx,
                    "decision",
                    &proposal.name,
                    decision_detail(state_name, decision),
                )
                .await?;
            }
            None => {
                let kind = match closing.state {
                    ProposalState::Withdrawn => "proposal_withdrawn",
                    ProposalState::Expired => "proposal_expired",
                    _ => "proposal_closed",
                };
                let detail = Json::new().str("state", state_name).finish();
                audit(&mut tx, kind, &proposal.name, detail).await?;
            }
        }

        for effect in &closing.effects {
            let (action, name) = match effect {
                Effect::UpdateMission(mission) => {
                    update_mission_row(&mut tx, mission).await?;
                    ("update_mission", &mission.name)
                }
                Effect::CreateMission(mission) => {
                    insert_mission(&mut tx, mission).await?;
                    ("create_mission", &mission.name)
                }
                Effect::UpdatePartner(partner) => {
                    update_partner_row(&mut tx, partner).await?;
                    ("update_partner", &partner.name)
                }
            };
            let detail = Json::new()
                .str("effect", action)
                .str("proposal", &proposal.name)
                .finish();
            audit(&mut tx, "effect", name, detail).await?;
        }
        tx.commit().await.map_err(db_err)?;
        self.ballots.forget(id);
        Ok(proposal)
    }

    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT value FROM settings WHERE key = ?1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)
    }

    async fn set_setting(&self, key: &str, value: &str) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
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
        let detail = Json::new().str("key", key).str("value", value).finish();
        audit(&mut tx, "setting", &format!("settings/{key}"), detail).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn audit_log(&self, after_sequence: i64, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        let rows: Vec<(i64, i64, i32, String, String, String)> = sqlx::query_as(
            "SELECT sequence, time_s, time_ns, kind, subject, detail FROM audit_log \
             WHERE sequence > ?1 ORDER BY sequence LIMIT ?2",
        )
        .bind(after_sequence)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
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
        // Ballots already queued are written first; later ones fail.
        self.ballots.stop().await;
        if self.pool.is_closed() {
            return;
        }
        // Fold the WAL back into the database file so that it is complete on its own.
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
        {
            tracing::warn!(error = %e, "WAL checkpoint on close failed");
        }
        self.pool.close().await;
    }
}

// ----- helpers -----

/// The numeric id in "3" or "proposals/3".
fn parse_proposal_id(id: &str) -> Option<i64> {
    let id = names::parse(names::PROPOSALS, id).unwrap_or(id);
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok().filter(|n| *n > 0)
}

/// A proposal state in words, for [`StoreError::ProposalClosed`].
fn state_in_words(state: i32) -> &'static str {
    match ProposalState::try_from(state) {
        Ok(ProposalState::Open) => "open",
        Ok(ProposalState::Adopted) => "adopted",
        Ok(ProposalState::Rejected) => "rejected",
        Ok(ProposalState::Expired) => "expired",
        Ok(ProposalState::Withdrawn) => "withdrawn",
        Ok(ProposalState::Unspecified) => "in no state",
        Err(_) => "in an unknown state",
    }
}

/// The current time.
fn now() -> Timestamp {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp {
        seconds: since.as_secs() as i64,
        nanos: since.subsec_nanos() as i32,
    }
}

/// A timestamp as Unix milliseconds (saturating), for the time columns.
fn millis(time: Option<&Timestamp>) -> Option<i64> {
    time.map(|t| {
        t.seconds
            .saturating_mul(1000)
            .saturating_add(i64::from(t.nanos) / 1_000_000)
    })
}

/// `size + 1` as an SQL LIMIT: one row more than the page, to know whether another page follows.
fn limit_plus_one(size: usize) -> i64 {
    i64::try_from(size)
        .unwrap_or(i64::MAX - 1)
        .saturating_add(1)
}

/// Splits `size + 1` fetched rows into the page and the key of its last row when more follow.
fn split_page<K: Clone, V>(mut rows: Vec<(K, V)>, size: usize) -> (Vec<(K, V)>, Option<K>) {
    if rows.len() > size {
        rows.truncate(size);
        let last = rows.last().map(|(k, _)| k.clone());
        (rows, last)
    } else {
        (rows, None)
    }
}

/// Decodes a stored message.
fn decode<M: Message + Default>(kind: &'static str, bytes: &[u8]) -> StoreResult<M> {
    M::decode(bytes).map_err(|e| StoreError::Database(format!("corrupt {kind} record: {e}")))
}

/// Maps a database error with no record in view.
fn db_err(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::RowNotFound => StoreError::NotFound {
            kind: "record",
            id: String::new(),
        },
        sqlx::Error::Database(e) if e.is_unique_violation() => StoreError::AlreadyExists {
            kind: "record",
            id: String::new(),
        },
        other => StoreError::Database(other.to_string()),
    }
}

/// Maps a database error on writing the record `kind` `id`.
fn write_err<'a>(kind: &'static str, id: &'a str) -> impl FnOnce(sqlx::Error) -> StoreError + 'a {
    move |error| match error {
        sqlx::Error::RowNotFound => StoreError::NotFound {
            kind,
            id: id.to_owned(),
        },
        sqlx::Error::Database(e) if e.is_unique_violation() => StoreError::AlreadyExists {
            kind,
            id: id.to_owned(),
        },
        other => StoreError::Database(other.to_string()),
    }
}

/// NotFound unless an update touched a row.
fn found(rows: u64, kind: &'static str, id: &str) -> StoreResult<()> {
    if rows == 0 {
        Err(StoreError::NotFound {
            kind,
            id: id.to_owned(),
        })
    } else {
        Ok(())
    }
}

/// The audit detail of a record write.
fn record_detail(id: &str) -> String {
    Json::new().str("id", id).finish()
}

/// The audit detail of a ballot.
fn ballot_audit_detail(ballot: &Ballot) -> String {
    let mut detail = Json::new()
        .str("ballot", &ballot.name)
        .str("member", &ballot.member)
        .str(
            "choice",
            Choice::try_from(ballot.choice).map_or("?", |c| c.as_str_name()),
        );
    if let Some(salience) = ballot.salience {
        detail = detail.num("salience", salience);
    }
    detail.str("reason", &ballot.reason).finish()
}

/// The audit detail of a decision.
fn decision_detail(state: &str, decision: &Decision) -> String {
    let mut json = Json::new()
        .str("state", state)
        .str("outcome", decision.outcome().as_str_name())
        .bool("settled", decision.settled)
        .num("support_share", decision.support_share);
    if let Some(policy) = &decision.policy {
        json = json
            .str("policy", &policy.policy_id)
            .str("policy_version", &policy.version);
    }
    json.strs("blockers", &decision.blockers)
        .strs("pivotal_members", &decision.pivotal_members)
        .finish()
}

/// A small JSON object writer for audit details (flat objects of strings, numbers and lists).
struct Json(String);

impl Json {
    fn new() -> Self {
        Json(String::from("{"))
    }

    fn key(mut self, key: &str) -> Self {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        push_json_string(&mut self.0, key);
        self.0.push(':');
        self
    }

    fn str(self, key: &str, value: &str) -> Self {
        let mut json = self.key(key);
        push_json_string(&mut json.0, value);
        json
    }

    fn int(mut self, key: &str, value: i64) -> Self {
        self = self.key(key);
        self.0.push_str(&value.to_string());
        self
    }

    fn num(mut self, key: &str, value: f64) -> Self {
        self = self.key(key);
        if value.is_finite() {
            self.0.push_str(&value.to_string());
        } else {
            self.0.push_str("null");
        }
        self
    }

    fn bool(mut self, key: &str, value: bool) -> Self {
        self = self.key(key);
        self.0.push_str(if value { "true" } else { "false" });
        self
    }

    fn strs(mut self, key: &str, values: &[String]) -> Self {
        self = self.key(key);
        self.0.push('[');
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                self.0.push(',');
            }
            push_json_string(&mut self.0, value);
        }
        self.0.push(']');
        self
    }

    fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

/// Appends `text` as a JSON string literal.
fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposal_ids() {
        assert_eq!(parse_proposal_id("3"), Some(3));
        assert_eq!(parse_proposal_id("proposals/12"), Some(12));
        assert_eq!(parse_proposal_id("0"), None);
        assert_eq!(parse_proposal_id("-1"), None);
        assert_eq!(parse_proposal_id("+1"), None);
        assert_eq!(parse_proposal_id(""), None);
        assert_eq!(parse_proposal_id("x"), None);
        assert_eq!(parse_proposal_id("99999999999999999999"), None);
    }

    #[test]
    fn json_details_escape() {
        let json = Json::new()
            .str("a", "say \"hi\"\n\\")
            .int("n", -3)
            .num("x", 0.5)
            .num("nan", f64::NAN)
            .bool("b", true)
            .strs("l", &["x".into(), "y\u{1}".into()])
            .finish();
        assert_eq!(
            json,
            r#"{"a":"say \"hi\"\n\\","n":-3,"x":0.5,"nan":null,"b":true,"l":["x","y\u0001"]}"#
        );
        assert_eq!(Json::new().finish(), "{}");
    }

    #[test]
    fn millis_saturate() {
        assert_eq!(millis(None), None);
        assert_eq!(
            millis(Some(&Timestamp {
                seconds: 2,
                nanos: 5_000_000
            })),
            Some(2005)
        );
        assert_eq!(
            millis(Some(&Timestamp {
                seconds: i64::MAX,
                nanos: 0
            })),
            Some(i64::MAX)
        );
    }
}
