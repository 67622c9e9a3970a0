//! Who the caller is, and what each RPC lets each role do — the one role table, checked in one
//! place ([`Authenticator::authorize`], called first by every RPC in `api.rs`).
//!
//! Guarantees:
//! - Every RPC has exactly one [`Rule`] in [`RULES`]; an RPC missing from it is refused (and a
//!   test checks that every RPC in the protocol is listed; docs/security.md shows the table).
//! - No credential, or one that is not valid (unknown, expired, revoked, shorter than
//!   [`MIN_TOKEN_LEN`], empty) → UNAUTHENTICATED; a valid caller outside its role →
//!   PERMISSION_DENIED. A delegation acts for exactly one member: [`Caller::act_for`] refuses a
//!   request naming another member rather than rewriting it.
//! - Secrets are compared as SHA-256 digests in constant time (operator token) or looked up by
//!   digest (issued tokens; only digests are stored). Failed attempts are slowed down per client
//!   address (exponential back-off) and written to the audit log.
//! - Authentication is off ("open": every caller may do everything, naming any member, as before
//!   roles existed) only when no credential is configured, and the server then starts only on a
//!   loopback address or with `--insecure-no-auth` (config.rs checks; lib.rs logs a warning).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use accord_proto::names::{self, MEMBERS};
use accord_proto::v1::Role;
use accord_store::{AuditEvent, Json, Store, TokenRecord};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tonic::Request;
use tracing::warn;

use crate::error::{DomainError, DomainResult};
pub use crate::limits::{MAX_TOKEN_LEN, MIN_TOKEN_LEN};

/// What an RPC requires of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Any authenticated caller: operator, delegation or observer.
    Read,
    /// Operators only.
    Operator,
    /// A delegation, for its own member only.
    Delegation,
    /// A delegation for its own member, or an operator.
    DelegationOrOperator,
}

/// The role table: every RPC, its rule, and whether it writes (a tampered store serves no
/// writes). Method names are gRPC paths without the leading slash.
pub const RULES: &[(&str, Rule, bool)] = &[
    ("accord.v1.MemberService/ListMembers", Rule::Read, false),
    ("accord.v1.MemberService/GetMember", Rule::Read, false),
    ("accord.v1.MemberService/CreateMember", Rule::Operator, true),
    ("accord.v1.MemberService/UpdateMember", Rule::Operator, true),
    ("accord.v1.MemberService/DeleteMember", Rule::Operator, true),
    ("accord.v1.PartnerService/ListPartners", Rule::Read, false),
    ("accord.v1.PartnerService/GetPartner", Rule::Read, false),
    (
        "accord.v1.PartnerService/CreatePartner",
        Rule::Operator,
        true,
    ),
    (
        "accord.v1.PartnerService/UpdatePartner",
        Rule::Operator,
        true,
    ),
    ("accord.v1.MissionService/ListMissions", Rule::Read, false),
    ("accord.v1.MissionService/GetMission", Rule::Read, false),
    (
        "accord.v1.MissionService/CreateMission",
        Rule::Operator,
        true,
    ),
    (
        "accord.v1.MissionService/UpdateMission",
        Rule::Operator,
        true,
    ),
    (
        "accord.v1.ProposalService/CreateProposal",
        Rule::Delegation,
        true,
    ),
    ("accord.v1.ProposalService/GetProposal", Rule::Read, false),
    ("accord.v1.ProposalService/ListProposals", Rule::Read, false),
    (
        "accord.v1.ProposalService/CastBallot",
        Rule::Delegation,
        true,
    ),
    ("accord.v1.ProposalService/ListBallots", Rule::Read, false),
    (
        "accord.v1.ProposalService/WithdrawProposal",
        Rule::Delegation,
        true,
    ),
    (
        "accord.v1.ProposalService/CloseProposal",
        Rule::Operator,
        true,
    ),
    (
        "accord.v1.ProposalService/EvaluateProposal",
        Rule::Read,
        false,
    ),
    ("accord.v1.ProposalService/EvaluateBatch", Rule::Read, false),
    ("accord.v1.ProposalService/WatchProposal", Rule::Read, false),
    ("accord.v1.PolicyService/ListPolicies", Rule::Read, false),
    ("accord.v1.PolicyService/GetPolicy", Rule::Read, false),
    ("accord.v1.PolicyService/LoadPolicy", Rule::Operator, true),
    (
        "accord.v1.PolicyService/ReplacePolicy",
        Rule::Operator,
        true,
    ),
    (
        "accord.v1.PolicyService/DisablePolicy",
        Rule::Operator,
        true,
    ),
    (
        "accord.v1.PolicyService/SetDefaultPolicy",
        Rule::Operator,
        true,
    ),
    (
        "accord.v1.DelegationService/IssueToken",
        Rule::Operator,
        true,
    ),
    (
        "accord.v1.DelegationService/ListTokens",
        Rule::Operator,
        false,
    ),
    (
        "accord.v1.DelegationService/RevokeToken",
        Rule::Operator,
        true,
    ),
    (
        "accord.v1.DelegationService/RegisterBallotKey",
        Rule::DelegationOrOperator,
        true,
    ),
    (
        "accord.v1.DelegationService/ListBallotKeys",
        Rule::Read,
        false,
    ),
    ("accord.v1.DelegationService/WhoAmI", Rule::Read, false),
    ("accord.v1.AuditService/ExportAuditLog", Rule::Read, false),
    ("accord.v1.PowerService/AnalyzeGame", Rule::Read, false),
];

/// The rule of `method` (and whether it writes), if it has one.
pub fn rule(method: &str) -> Option<(Rule, bool)> {
    RULES
        .iter()
        .find(|(m, _, _)| *m == method)
        .map(|(_, rule, writes)| (*rule, *writes))
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The role (`Role::Unspecified` when authentication is off: open access).
    pub role: Role,
    /// A delegation's member code ("DEU").
    pub member: Option<String>,
    /// How the caller was recognised.
    pub credential: &'static str,
}

impl Caller {
    /// The caller when authentication is off.
    pub fn open() -> Self {
        Caller {
            role: Role::Unspecified,
            member: None,
            credential: "none (authentication is off)",
        }
    }

    /// Whether authentication is off for this caller.
    pub fn is_open(&self) -> bool {
        self.role == Role::Unspecified
    }

    /// The actor recorded in audit entries: "operator", "observer", "members/DEU", "anonymous".
    pub fn actor(&self) -> String {
        match (self.role, &self.member) {
            (Role::Delegation, Some(code)) => names::name(MEMBERS, code),
            (Role::Operator, _) => "operator".into(),
            (Role::Observer, _) => "observer".into(),
            _ => "anonymous".into(),
        }
    }

    /// The member a request acts for: `named` ("members/DEU", or empty for "my own member")
    /// must be the caller's member. Open access acts for whoever is named. Refused, never
    /// rewritten: a delegation naming another member gets PERMISSION_DENIED.
    pub fn act_for(&self, field: &str, named: &str) -> DomainResult<String> {
        if self.is_open() {
            return Ok(named.to_string());
        }
        let Some(code) = (self.role == Role::Delegation)
            .then_some(self.member.as_ref())
            .flatten()
        else {
            return Err(DomainError::PermissionDenied(format!(
                "only a member's delegation may set {field}"
            )));
        };
        let own = names::name(MEMBERS, code);
        if named.is_empty() || named == own {
            Ok(own)
        } else {
            let shown: String = named.chars().take(64).collect();
            Err(DomainError::PermissionDenied(format!(
                "{own}'s delegation may not act for `{shown}` ({field})"
            )))
        }
    }
}

/// Lower-case hex SHA-256 of a secret.
pub fn secret_digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new random secret: "acc_" and 64 hex digits (256 bits).
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("acc_{}", hex::encode(bytes))
}

/// The client's failed attempts.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// Decides who the caller is (see the module doc).
#[derive(Debug)]
pub struct Authenticator {
    /// SHA-256 of the operator token, when one is configured.
    operator: Option<[u8; 32]>,
    /// Whether callers without credentials get open access.
    open: bool,
    /// Issued tokens by secret digest.
    tokens: RwLock<HashMap<String, TokenRecord>>,
    failures: Mutex<HashMap<IpAddr, Failures>>,
    backoff_max: Duration,
}

/// Failures before back-off starts.
const FREE_FAILURES: u32 = 3;
/// Failures older than this are forgotten.
const FAILURE_MEMORY: Duration = Duration::from_secs(300);

impl Authenticator {
    /// An authenticator with `operator_token` (if any); `open` gives callers without a
    /// credential open access.
    pub fn new(operator_token: Option<&str>, open: bool, backoff_max: Duration) -> Self {
        Self {
            operator: operator_token.map(|t| Sha256::digest(t.as_bytes()).into()),
            open,
            tokens: RwLock::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            backoff_max,
        }
    }

    /// Whether callers without credentials get open access.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Replaces the issued tokens known (at start, from the store).
    pub fn set_tokens(&self, tokens: Vec<TokenRecord>) {
        let map = tokens
            .into_iter()
            .map(|t| (t.secret_sha256.clone(), t))
            .collect();
        *self.tokens.write().expect("tokens lock") = map;
    }

    /// Adds or updates one issued token.
    pub fn put_token(&self, token: TokenRecord) {
        self.tokens
            .write()
            .expect("tokens lock")
            .insert(token.secret_sha256.clone(), token);
    }

    /// Authenticates the caller of `request` and checks `method`'s rule. `store` records
    /// failures; `read_only` (why the store serves no writes) refuses writing RPCs.
    pub async fn authorize<T>(
        &self,
        store: &dyn Store,
        request: &Request<T>,
        method: &str,
        read_only: Option<&str>,
    ) -> DomainResult<Caller> {
        let Some((rule, writes)) = rule(method) else {
            return Err(DomainError::PermissionDenied(format!(
                "{method} has no rule in the role table"
            )));
        };
        let caller = match self.identify(request) {
            Ok(caller) => {
                self.succeeded(request);
                caller
            }
            Err(reason) => return Err(self.failed(store, request, method, reason).await),
        };
        let allowed = caller.is_open()
            || match rule {
                Rule::Read => true,
                Rule::Operator => caller.role == Role::Operator,
                Rule::Delegation => caller.role == Role::Delegation,
                Rule::DelegationOrOperator => {
                    matches!(caller.role, Role::Delegation | Role::Operator)
                }
            };
        if !allowed {
            let who = caller.actor();
            let needs = match rule {
                Rule::Read => "any caller",
                Rule::Operator => "an operator",
                Rule::Delegation => "a member's delegation",
                Rule::DelegationOrOperator => "a member's delegation or an operator",
            };
            return Err(DomainError::PermissionDenied(format!(
                "{method} needs {needs}; the caller is {who}"
            )));
        }
        if writes {
            if let Some(why) = read_only {
                return Err(DomainError::Precondition(format!(
                    "this server serves no writes: {why}"
                )));
            }
        }
        Ok(caller)
    }

    /// Who the credentials of `request` say the caller is.
    fn identify<T>(&self, request: &Request<T>) -> Result<Caller, String> {
        if let Some(value) = request.metadata().get("authorization") {
            let value = value
                .to_str()
                .map_err(|_| "the authorization header is not text".to_string())?;
            let secret = value
                .strip_prefix("Bearer ")
                .ok_or("the authorization header must be `Bearer <token>`")?
                .trim();
            return self.token(secret);
        }
        if let Some(certs) = request.peer_certs() {
            if let Some(cert) = certs.first() {
                return certificate_caller(cert.as_ref());
            }
        }
        if self.open {
            Ok(Caller::open())
        } else {
            Err(
                "no credential: send `authorization: Bearer <token>` or a client certificate"
                    .into(),
            )
        }
    }

    fn token(&self, secret: &str) -> Result<Caller, String> {
        if secret.is_empty() {
            return Err("the token is empty".into());
        }
        if secret.len() < MIN_TOKEN_LEN || secret.len() > MAX_TOKEN_LEN {
            return Err("the token is not valid".into());
        }
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        if let Some(operator) = &self.operator {
            if bool::from(operator.ct_eq(&digest)) {
                return Ok(Caller {
                    role: Role::Operator,
                    member: None,
                    credential: "operator token",
                });
            }
        }
        let tokens = self.tokens.read().expect("tokens lock");
        let token = tokens
            .get(&hex::encode(digest))
            .ok_or("the token is not valid")?;
        if token.revoke_time_ms.is_some() {
            return Err(format!("token tokens/{} was revoked", token.id));
        }
        if token.expire_time_ms <= crate::time::now_millis() {
            return Err(format!("token tokens/{} has expired", token.id));
        }
        let role = Role::try_from(token.role).unwrap_or(Role::Unspecified);
        match role {
            Role::Delegation => Ok(Caller {
                role,
                member: Some(token.member.clone()),
                credential: "delegation token",
            }),
            Role::Observer => Ok(Caller {
                role,
                member: None,
                credential: "observer token",
            }),
            _ => Err("the token is not valid".into()),
        }
    }

    fn succeeded<T>(&self, request: &Request<T>) {
        if let Some(ip) = request.remote_addr().map(|a| a.ip()) {
            let mut failures = self.failures.lock().expect("failures lock");
            if !failures.is_empty() {
                failures.remove(&ip);
            }
        }
    }

    /// Records a failed attempt: back-off for the client, an audit entry, UNAUTHENTICATED.
    async fn failed<T>(
        &self,
        store: &dyn Store,
        request: &Request<T>,
        method: &str,
        reason: String,
    ) -> DomainError {
        let ip = request.remote_addr().map(|a| a.ip());
        let delay = ip.map_or(Duration::ZERO, |ip| {
            let mut failures = self.failures.lock().expect("failures lock");
            let now = Instant::now();
            failures.retain(|_, f| now.duration_since(f.last) < FAILURE_MEMORY);
            let entry = failures.entry(ip).or_insert(Failures {
                count: 0,
                last: now,
            });
            entry.count += 1;
            entry.last = now;
            backoff(entry.count, self.backoff_max)
        });
        let client = ip.map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
        warn!(%client, %method, %reason, "refused a credential");
        let detail = Json::new()
            .str("client", &client)
            .str("method", method)
            .str("reason", &reason)
            .finish();
        let event = AuditEvent::event("auth_failed", &format!("clients/{client}"), detail);
        if let Err(e) = store.append_audit(event).await {
            warn!(error = %e, "could not record a refused credential in the audit log");
        }
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        DomainError::Unauthenticated(format!("unauthenticated: {reason}"))
    }
}

/// The delay before answering a client's `count`-th failure in a row: none for the first few,
/// then doubling from 100 ms up to `max`.
pub fn backoff(count: u32, max: Duration) -> Duration {
    if count <= FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (count - FREE_FAILURES - 1).min(16);
    (Duration::from_millis(100) * 2u32.pow(doublings)).min(max)
}

/// The caller a verified client certificate names: its subject's common name is `operator`,
/// `observer`, or a member (`DEU` or `members/DEU`).
pub fn certificate_caller(der: &[u8]) -> Result<Caller, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|_| "the client certificate cannot be parsed".to_string())?;
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .ok_or("the client certificate's subject has no common name")?;
    let credential = "client certificate";
    match cn {
        "operator" => Ok(Caller {
            role: Role::Operator,
            member: None,
            credential,
        }),
        "observer" => Ok(Caller {
            role: Role::Observer,
            member: None,
            credential,
        }),
        other => {
            let code = names::parse(MEMBERS, other).unwrap_or(other);
            if !code.is_empty() && code.len() <= 8 && code.chars().all(|c| c.is_ascii_uppercase()) {
                Ok(Caller {
                    role: Role::Delegation,
                    member: Some(code.to_string()),
                    credential,
                })
            } else {
                Err("the client certificate's common name is not operator, observer or a member code".into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let max = Duration::from_secs(2);
        assert_eq!(backoff(1, max), Duration::ZERO);
        assert_eq!(backoff(3, max), Duration::ZERO);
        assert_eq!(backoff(4, max), Duration::from_millis(100));
        assert_eq!(backoff(5, max), Duration::from_millis(200));
        assert_eq!(backoff(40, max), max);
    }

    #[test]
    fn a_delegation_acts_only_for_its_member() {
        let deu = Caller {
            role: Role::Delegation,
            member: Some("DEU".into()),
            credential: "delegation token",
        };
        assert_eq!(deu.act_for("ballot.member", "").unwrap(), "members/DEU");
        assert_eq!(
            deu.act_for("ballot.member", "members/DEU").unwrap(),
            "members/DEU"
        );
        assert!(matches!(
            deu.act_for("ballot.member", "members/USA"),
            Err(DomainError::PermissionDenied(_))
        ));
        assert_eq!(
            Caller::open().act_for("f", "members/USA").unwrap(),
            "members/USA"
        );
    }

    #[test]
    fn every_rule_is_unique() {
        let mut seen = std::collections::HashSet::new();
        for (method, _, _) in RULES {
            assert!(seen.insert(*method), "{method} twice");
        }
    }
}
