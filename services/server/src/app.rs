//! The server's shared state: the store, the records kept in memory (`cache.rs`), the policy
//! registry, the event hub and the deadline scheduler's wake-up, plus paging and name helpers every service uses.

use std::sync::Arc;

use accord_proto::v1::{Mission, Partner};
use accord_store::{MemoryPages, PageRequest, Store};
use tokio::sync::Notify;

use crate::auth::Authenticator;
use crate::cache::{MemberCache, ProposalCache, RecordCache};
use crate::config::Config;
use crate::error::{DomainError, DomainResult};
use crate::events::EventHub;
use crate::limits::EvaluationLimiter;
use crate::metrics::Metrics;
use crate::policies::PolicyRegistry;
use crate::settler::Settlers;
use crate::signatures::BallotKeys;

/// Default and maximum page sizes of List calls.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// The largest page a List call returns.
pub const MAX_PAGE_SIZE: usize = 1000;

/// Everything the services share.
pub struct App {
    /// The durable store.
    pub store: Arc<dyn Store>,
    /// The loaded policies.
    pub policies: PolicyRegistry,
    /// Proposal events for watchers.
    pub events: EventHub,
    /// Wakes the deadline scheduler when a proposal is created.
    pub deadlines_changed: Notify,
    /// Wakes the policy follower when another replica recorded a policy change (see
    /// `replicas`).
    pub policies_changed: Notify,
    /// Becomes true when shutdown begins, so that endless calls (watch streams) end.
    pub shutting_down: tokio::sync::watch::Sender<bool>,
    /// The configuration the server started with.
    pub config: Config,
    /// Per-proposal settling state (see [`Settlers`]).
    pub settlers: Settlers,
    /// The members, for validating ballots, building decision requests, and GetMember and
    /// ListMembers (`cache.rs`).
    pub members: MemberCache,
    /// The partners, for GetPartner and ListPartners.
    pub partners: RecordCache<Partner>,
    /// The missions, for GetMission and ListMissions.
    pub missions: RecordCache<Mission>,
    /// Cuts List pages from the records in memory with the store's own page tokens; `None` if
    /// the store cannot (then List calls read the store).
    pub pages: Option<MemoryPages>,
    /// Proposals (open ones until they close, closed ones up to a bound), for the ballot path
    /// and GetProposal.
    pub proposals: ProposalCache,
    /// Who the caller is and what it may do (`auth.rs`).
    pub auth: Authenticator,
    /// Admission of evaluations (`limits.rs`).
    pub evaluations: EvaluationLimiter,
    /// Members' ballot-signing keys (`signatures.rs`).
    pub ballot_keys: BallotKeys,
    /// Set at start when the audit log does not verify: why the server serves no writes.
    pub read_only: std::sync::OnceLock<String>,
    /// What the server counts (served at `/metrics` when `metrics_listen` is set).
    pub metrics: Arc<Metrics>,
}

impl App {
    /// Builds the shared state.
    pub fn new(store: Arc<dyn Store>, policies: PolicyRegistry, config: Config) -> Arc<Self> {
        Arc::new(Self {
            pages: store.memory_pages(),
            store,
            policies,
            events: EventHub::default(),
            deadlines_changed: Notify::new(),
            policies_changed: Notify::new(),
            shutting_down: tokio::sync::watch::Sender::new(false),
            config: config.clone(),
            settlers: Settlers::default(),
            members: MemberCache::default(),
            partners: RecordCache::default(),
            missions: RecordCache::default(),
            proposals: ProposalCache::default(),
            auth: Authenticator::new(
                config.operator_token.as_deref(),
                !config.authenticates(),
                config.auth_backoff_max,
            ),
            evaluations: EvaluationLimiter::default(),
            ballot_keys: BallotKeys::default(),
            read_only: std::sync::OnceLock::new(),
            metrics: Arc::new(Metrics::new()),
        })
    }
}

/// A page request from a List call's `page_size` and `page_token`.
pub fn page(page_size: i32, page_token: &str, default: usize) -> DomainResult<PageRequest> {
    if page_size < 0 {
        return Err(DomainError::invalid(
            "page_size",
            format!("{page_size} is negative"),
        ));
    }
    let size = match page_size as usize {
        0 => default,
        n => n.min(MAX_PAGE_SIZE),
    };
    crate::limits::text("page_token", page_token, crate::limits::MAX_TITLE)?;
    Ok(PageRequest {
        size,
        token: page_token.to_string(),
    })
}

/// The id in a resource name `"{collection}/{id}"`, or INVALID_ARGUMENT naming `field`.
pub fn parse_name<'a>(field: &str, collection: &str, name: &'a str) -> DomainResult<&'a str> {
    crate::limits::text(field, name, crate::limits::MAX_NAME)?;
    accord_proto::names::parse(collection, name).ok_or_else(|| {
        DomainError::invalid(
            field,
            format!("`{name}` is not a resource name of the form {collection}/{{id}}"),
        )
    })
}

/// An enum field's value, or INVALID_ARGUMENT if the number is not one of its values.
pub fn parse_enum<E: TryFrom<i32>>(field: &str, value: i32) -> DomainResult<E> {
    E::try_from(value)
        .map_err(|_| DomainError::invalid(field, format!("{value} is not a known value")))
}
