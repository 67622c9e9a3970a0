//! accord's durable store: everything the server keeps — members, partners, missions, proposals,
//! every ballot, decisions, settings and the audit log — behind the [`Store`] trait, with two
//! backends: SQLite ([`sqlite`], embedded, one server) and PostgreSQL ([`postgres`], any number
//! of server replicas on one database). [`open`] picks the backend from the database URL.
//!
//! The records are the accord.v1 protocol messages themselves. A store never applies domain
//! rules beyond integrity (uniqueness, existence, "the proposal is still open" when a ballot is
//! written); the server validates requests before calling it.
#![forbid(unsafe_code)]

pub mod actor;
mod audit;
pub mod audit_chain;
mod chain_rows;
mod closing;
pub mod credentials;
pub mod dataset;
mod db_errors;
pub mod migrate;
mod paging;
pub mod postgres;
mod records;
pub mod sqlite;
mod statements;

use std::sync::Arc;

use accord_proto::v1::{
    Ballot, Decision, Member, MemberStatus, Mission, MissionStatus, Partner, Proposal,
    ProposalKind, ProposalState, SummitParticipation,
};
use async_trait::async_trait;
use prost_types::Timestamp;

pub use postgres::PostgresStore;
pub use sqlite::{GroupCommitStats, SqliteStore};

/// Opens the store at `url`: `postgres://…` (or `postgresql://…`) opens a [`PostgresStore`],
/// anything else (`sqlite://…`, `sqlite::memory:`) a [`SqliteStore`]. Applies the backend's
/// migrations.
pub async fn open(url: &str) -> StoreResult<Arc<dyn Store>> {
    if is_postgres_url(url) {
        Ok(Arc::new(PostgresStore::open(url).await?))
    } else {
        Ok(Arc::new(SqliteStore::open(url).await?))
    }
}

/// Whether `url` names a PostgreSQL database.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// A change another process made to the database this store shares (only a store that can be
/// shared, PostgreSQL, reports them; see [`Store::changes`]). A server uses them to keep its
/// caches exact, to tell its watchers and to follow policy changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A member was created, updated or deleted.
    Members,
    /// A partner was created or updated (by the operator or by an adopted proposal's effect).
    Partners,
    /// A mission was created or updated (by the operator, by an adopted proposal's effect, or
    /// terminated at its end date).
    Missions,
    /// A proposal was created.
    ProposalCreated {
        /// Its id.
        proposal_id: i64,
    },
    /// A ballot was committed.
    Ballot {
        /// The proposal's id.
        proposal_id: i64,
        /// The ballot's sequence.
        sequence: i64,
    },
    /// A proposal was closed (decided, expired or withdrawn).
    Closed {
        /// Its id.
        proposal_id: i64,
    },
    /// A setting was written.
    Setting {
        /// Its key.
        key: String,
    },
    /// A policy change was recorded ([`Store::record_policy_change`]).
    Policy,
    /// A token was issued or revoked, or a ballot key registered: reload
    /// [`Store::tokens`] and [`Store::ballot_keys`].
    Credentials,
    /// Changes may have been missed (the notification connection was lost and is back): forget
    /// everything cached.
    Resync,
}

/// A policy change made through one replica, for every replica to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyChange {
    /// Its place in the log (assigned by the store; ignored when recording).
    pub sequence: i64,
    /// "load", "replace", "disable" or "default".
    pub action: String,
    /// The policy's id.
    pub policy_id: String,
    /// The library file name in the plugin directory ("" for disable and default).
    pub file_name: String,
    /// The SHA-256 of the library file, lower-case hex ("" for disable and default).
    pub sha256: String,
}
pub use audit::{Entry as AuditEvent, Json};
pub use audit_chain::{ChainBroken, ChainReport, ChainedEntry};
pub use credentials::{BallotKeyRecord, TokenRecord};
pub use paging::MemoryPages;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record does not exist. `kind` is "member", "partner", "mission" or "proposal".
    #[error("{kind} `{id}` not found")]
    NotFound {
        /// What kind of record.
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// A record with this id exists already.
    #[error("{kind} `{id}` already exists")]
    AlreadyExists {
        /// What kind of record.
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// The proposal is not open (a ballot or a close on a closed proposal).
    #[error("proposal {id} is {state}, not open")]
    ProposalClosed {
        /// The proposal's id.
        id: String,
        /// Its state, in words ("adopted", "rejected", "expired", "withdrawn").
        state: &'static str,
    },
    /// A close based on ballots that are no longer the latest (see [`Closing::last_ballot`]).
    #[error("proposal {id} has a ballot newer than the decision saw ({latest} > {seen})")]
    Stale {
        /// The proposal's id.
        id: String,
        /// The last ballot sequence the decision saw.
        seen: i64,
        /// The latest ballot sequence.
        latest: i64,
    },
    /// A ballot refused because of its signature: its member has a registered ballot key and
    /// the signature does not verify with it, or it is signed and the member has no key. The
    /// ballot writer checks this under the write lock against the keys in the database, so a
    /// key registered through another replica counts at once and the audit chain never records
    /// a ballot it would not verify.
    #[error("{0}")]
    Signature(String),
    /// A page token that this store did not issue.
    #[error("invalid page token `{0}`")]
    BadPageToken(String),
    /// The database failed (I/O, corruption, unavailable).
    #[error("database error: {0}")]
    Database(String),
    /// The record cannot be deleted: others refer to it (a member with ballots or proposals).
    #[error("{0}")]
    InUse(String),
}

fn unsupported(what: &str) -> StoreError {
    StoreError::Database(format!("this store backend does not support {what} yet"))
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// A page request: at most `size` records after the position `token` (empty: from the start).
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    /// Maximum records to return (the caller has already applied defaults and limits; > 0).
    pub size: usize,
    /// Opaque token from a previous [`Page`]; empty for the first page.
    pub token: String,
}

/// One page of records.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The records.
    pub items: Vec<T>,
    /// Token for the next page; empty on the last page.
    pub next_token: String,
    /// Number of records matching the filter, over all pages.
    pub total: usize,
}

/// Filter for [`Store::list_proposals`]; `None` fields match everything.
#[derive(Debug, Clone, Default)]
pub struct ProposalFilter {
    /// Only proposals in this state.
    pub state: Option<ProposalState>,
    /// Only proposals of this kind.
    pub kind: Option<ProposalKind>,
    /// Only proposals about this resource name ("missions/KFOR", "partners/UKR", "members/USA").
    /// A proposal about several resources stores them comma-separated and matches each.
    pub target: Option<String>,
}

/// What an adopted decision changes in the alliance, applied in the same transaction that
/// closes the proposal.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Replace a mission record (end, resize, extend).
    UpdateMission(Mission),
    /// Add a mission record (launch).
    CreateMission(Mission),
    /// Replace a partner record (summit participation).
    UpdatePartner(Partner),
}

/// How a proposal closes: its final state, the decision (if a policy decided it), when, and the
/// effects of an adoption.
#[derive(Debug, Clone)]
pub struct Closing {
    /// ADOPTED, REJECTED, EXPIRED or WITHDRAWN.
    pub state: ProposalState,
    /// The decision that closed it; `None` for a withdrawal or an expiry without a decision.
    pub decision: Option<Decision>,
    /// When it closed.
    pub close_time: Timestamp,
    /// Changes to the alliance (only for ADOPTED).
    pub effects: Vec<Effect>,
    /// The highest ballot sequence the decision saw (0: no ballot). When set, the close fails
    /// with [`StoreError::Stale`] and changes nothing if a newer ballot has been cast since, so
    /// that no acknowledged ballot is left out of the decision that closes its proposal.
    pub last_ballot: Option<i64>,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Sequence number, increasing.
    pub sequence: i64,
    /// When it was written.
    pub time: Timestamp,
    /// "ballot", "decision", "proposal_created", "proposal_withdrawn", "effect", "setting", ...
    pub kind: String,
    /// The resource it is about ("proposals/3", "missions/KFOR").
    pub subject: String,
    /// A JSON or text rendering of what happened, for people reading the log.
    pub detail: String,
}

/// The durable store. Implementations must make every successful write durable before returning
/// (a ballot acknowledged with OK survives `kill -9` of the server) and must be safe to call
/// from many tasks at once.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Loads the bundled NATO dataset ([`dataset`]) if the store has no members yet. Returns
    /// true if it loaded it.
    async fn seed_if_empty(&self) -> StoreResult<bool>;

    /// Members, ordered by code, optionally only those with `status`.
    async fn list_members(
        &self,
        status: Option<MemberStatus>,
        page: PageRequest,
    ) -> StoreResult<Page<Member>>;
    /// One member by code ("USA").
    async fn get_member(&self, code: &str) -> StoreResult<Member>;
    /// Adds a member (its `name` and `code` already set by the caller).
    async fn create_member(&self, member: &Member) -> StoreResult<()>;
    /// Replaces a member (matched by code).
    async fn update_member(&self, member: &Member) -> StoreResult<()>;
    /// Every member (for decision requests), ordered by code.
    async fn all_members(&self) -> StoreResult<Vec<Member>>;
    /// Deletes a member that has never cast a ballot or sponsored a proposal (the record stays
    /// whole: ballots and proposals keep naming their members), with its audit entry; returns
    /// the member as it was. A backend that cannot delete keeps this default.
    async fn delete_member(&self, code: &str) -> StoreResult<Member> {
        Err(StoreError::InUse(format!(
            "member `{code}` cannot be deleted by this store; suspend it instead"
        )))
    }

    /// Partners, ordered by code, optionally only those with `participation`.
    async fn list_partners(
        &self,
        participation: Option<SummitParticipation>,
        page: PageRequest,
    ) -> StoreResult<Page<Partner>>;
    /// One partner by code.
    async fn get_partner(&self, code: &str) -> StoreResult<Partner>;
    /// Every partner, ordered by code.
    async fn all_partners(&self) -> StoreResult<Vec<Partner>>;
    /// Adds a partner.
    async fn create_partner(&self, partner: &Partner) -> StoreResult<()>;
    /// Replaces a partner (matched by code).
    async fn update_partner(&self, partner: &Partner) -> StoreResult<()>;

    /// Missions, ordered by id, optionally only those with `status`.
    async fn list_missions(
        &self,
        status: Option<MissionStatus>,
        page: PageRequest,
    ) -> StoreResult<Page<Mission>>;
    /// One mission by id ("KFOR").
    async fn get_mission(&self, id: &str) -> StoreResult<Mission>;
    /// Every mission, ordered by id.
    async fn all_missions(&self) -> StoreResult<Vec<Mission>>;
    /// Adds a mission.
    async fn create_mission(&self, mission: &Mission) -> StoreResult<()>;
    /// Replaces a mission (matched by id).
    async fn update_mission(&self, mission: &Mission) -> StoreResult<()>;

    /// Stores a new proposal, assigning its id: returns it with `name` = "proposals/{id}".
    /// The caller has set everything else (state OPEN, create_time, …). Audited.
    async fn create_proposal(
        &self,
        proposal: &Proposal,
        kind: ProposalKind,
        target: &str,
    ) -> StoreResult<Proposal>;
    /// One proposal by id (the part after "proposals/").
    async fn get_proposal(&self, id: &str) -> StoreResult<Proposal>;
    /// Proposals, newest first.
    async fn list_proposals(
        &self,
        filter: &ProposalFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Proposal>>;
    /// Every open proposal (for the deadline scheduler), oldest first.
    async fn open_proposals(&self) -> StoreResult<Vec<Proposal>>;

    /// Appends a ballot to an open proposal, atomically with its audit entry; fails with
    /// [`StoreError::ProposalClosed`] if the proposal is not open. Returns the ballot with its
    /// `name` = "proposals/{id}/ballots/{sequence}". Durable when it returns.
    async fn cast_ballot(&self, proposal_id: &str, ballot: &Ballot) -> StoreResult<Ballot>;
    /// Every ballot on a proposal in the order cast.
    async fn list_ballots(&self, proposal_id: &str, page: PageRequest)
    -> StoreResult<Page<Ballot>>;
    /// The last ballot of each member on a proposal (what counts), ordered by member code.
    async fn last_ballots(&self, proposal_id: &str) -> StoreResult<Vec<Ballot>>;

    /// Closes an open proposal: sets its state, close time and decision, applies the effects and
    /// writes the audit entries, all in one transaction. Fails with
    /// [`StoreError::ProposalClosed`] if it is not open (then nothing changes).
    async fn close_proposal(&self, proposal_id: &str, closing: &Closing) -> StoreResult<Proposal>;

    /// A persisted setting ("default_policy"), if set.
    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>>;
    /// Persists a setting. Audited.
    async fn set_setting(&self, key: &str, value: &str) -> StoreResult<()>;

    /// The audit log, oldest first, from `after_sequence` (exclusive), at most `limit` entries.
    async fn audit_log(&self, after_sequence: i64, limit: usize) -> StoreResult<Vec<AuditEntry>>;

    /// Closes the store cleanly (checkpoints and closes connections).
    async fn close(&self);

    /// Whether other processes may write the same database (PostgreSQL): then a server must
    /// follow [`Self::changes`] and claim deadlines instead of assuming it is the only writer.
    fn shared(&self) -> bool {
        false
    }

    /// Changes made by *other* processes to the database, as they commit; `None` for a store no
    /// other process writes (SQLite).
    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<Change>> {
        None
    }

    /// Cuts pages of members, partners and missions from listings held in memory exactly as
    /// [`Self::list_members`] and its siblings page them (same tokens); `None` if this store
    /// cannot (then list through the store).
    fn memory_pages(&self) -> Option<MemoryPages> {
        None
    }

    /// What this store's ballot writer (group commit) has done since it was opened.
    fn group_commit_stats(&self) -> GroupCommitStats {
        GroupCommitStats::default()
    }

    /// Whether the database answers (readiness).
    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }

    /// Open proposals whose deadline (Unix milliseconds) is at or before `now_ms`, claimed for
    /// `lease_ms` by this process so that no other process settles them meanwhile; oldest first,
    /// at most `limit`. A claim is only a lease: closing stays exactly-once by
    /// [`Self::close_proposal`] alone, and a claimant that dies leaves nothing but a lease that
    /// runs out. The default (one process) claims nothing and returns every due proposal.
    async fn claim_due_proposals(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> StoreResult<Vec<Proposal>> {
        let _ = lease_ms;
        let mut due: Vec<Proposal> = self
            .open_proposals()
            .await?
            .into_iter()
            .filter(|p| records::millis(p.deadline.as_ref()).is_some_and(|d| d <= now_ms))
            .collect();
        due.truncate(limit);
        Ok(due)
    }

    /// The ballot with `sequence` on proposal `proposal_id` (for telling watchers of a ballot
    /// another replica took). The default pages through [`Self::list_ballots`].
    async fn get_ballot(&self, proposal_id: &str, sequence: i64) -> StoreResult<Ballot> {
        let wanted = format!("/ballots/{sequence}");
        let mut token = String::new();
        loop {
            let page = self
                .list_ballots(proposal_id, PageRequest { size: 1000, token })
                .await?;
            if let Some(ballot) = page.items.into_iter().find(|b| b.name.ends_with(&wanted)) {
                return Ok(ballot);
            }
            if page.next_token.is_empty() {
                return Err(StoreError::not_found("ballot", &sequence.to_string()));
            }
            token = page.next_token;
        }
    }

    /// Records a policy change for every replica; returns its sequence. The default (a store no
    /// other process shares) keeps nothing and returns 0.
    async fn record_policy_change(&self, change: &PolicyChange) -> StoreResult<i64> {
        let _ = change;
        Ok(0)
    }

    /// The policy changes after `after_sequence`, in order.
    async fn policy_changes(&self, after_sequence: i64) -> StoreResult<Vec<PolicyChange>> {
        let _ = after_sequence;
        Ok(Vec::new())
    }

    // --- Trust (issue 9). Default bodies keep other backends compiling until they implement
    // them; they refuse rather than pretend.

    /// Stores an issued token (its `id` is assigned and returned). Audited.
    async fn issue_token(&self, token: &TokenRecord) -> StoreResult<TokenRecord> {
        let _ = token;
        Err(unsupported("issue_token"))
    }
    /// Marks a token revoked at `at_ms` (the first revocation stays). Audited.
    async fn revoke_token(&self, id: i64, at_ms: i64) -> StoreResult<TokenRecord> {
        let _ = (id, at_ms);
        Err(unsupported("revoke_token"))
    }
    /// Every issued token, oldest first.
    async fn tokens(&self) -> StoreResult<Vec<TokenRecord>> {
        Ok(Vec::new())
    }
    /// Registers a member's ballot key (replacing its current one). Audited.
    async fn register_ballot_key(&self, key: &BallotKeyRecord) -> StoreResult<()> {
        let _ = key;
        Err(unsupported("register_ballot_key"))
    }
    /// The current ballot key of each member that registered one, by member code.
    async fn ballot_keys(&self) -> StoreResult<Vec<BallotKeyRecord>> {
        Ok(Vec::new())
    }
    /// Appends an audit entry that records no other write (a refused credential, a policy
    /// loaded).
    async fn append_audit(&self, event: AuditEvent) -> StoreResult<()> {
        let _ = event;
        Err(unsupported("append_audit"))
    }
    /// The hash-chained audit log, from `after_sequence` (exclusive), at most `limit` entries.
    async fn export_audit(
        &self,
        after_sequence: i64,
        limit: usize,
    ) -> StoreResult<Vec<ChainedEntry>> {
        let _ = (after_sequence, limit);
        Err(unsupported("export_audit"))
    }
    /// Recomputes the whole audit chain and every ballot signature, and compares every stored
    /// ballot with its audit entry. `Ok(Err(..))` names the first entry that does not verify.
    async fn verify_audit(&self) -> StoreResult<Result<ChainReport, ChainBroken>> {
        Err(unsupported("verify_audit"))
    }

    /// Figures for monitoring (connection pool, ballot group commit), read without waiting.
    /// A backend that keeps none reports none (the default).
    fn stats(&self) -> StoreStats {
        StoreStats {
            pool: None,
            group_commit: Some(self.group_commit_stats()),
        }
    }
}

/// What a store reports for monitoring ([`Store::stats`]): each part is `None` when the backend
/// has no such thing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// The connection pool.
    pub pool: Option<PoolStats>,
    /// The ballot writer, if ballots are group-committed.
    pub group_commit: Option<GroupCommitStats>,
}

/// A connection pool's figures at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open (idle or in use).
    pub size: u32,
    /// Connections open and idle.
    pub idle: u32,
    /// The most connections the pool opens.
    pub max: u32,
}
