//! The gRPC adapters of the trust services: DelegationService (tokens, ballot keys, WhoAmI) and
//! AuditService (the hash-chained log, for verifying away from the server). Like `api.rs`: the
//! rule of each RPC comes from the role table (`auth.rs`), its caps from `limits.rs`, and every
//! error leaves through `Status::from(DomainError)`.

use accord_proto::names::{self, MEMBERS};
use accord_proto::v1::audit_service_server::AuditService;
use accord_proto::v1::delegation_service_server::DelegationService;
use accord_proto::v1::*;
use accord_store::actor::acting_as;
use accord_store::{BallotKeyRecord, TokenRecord};
use tonic::{Request, Response, Status};

use crate::api::Api;
use crate::app::parse_name;
use crate::auth::{Caller, new_secret, secret_digest};
use crate::error::DomainError;
use crate::limits;
use crate::signatures::parse_public_key;
use crate::time;

type Reply<T> = Result<Response<T>, Status>;

/// Default lifetime of an issued token: 90 days.
pub const DEFAULT_TOKEN_TTL_SECONDS: i64 = 90 * 24 * 3600;
/// Longest lifetime of an issued token: 400 days.
pub const MAX_TOKEN_TTL_SECONDS: i64 = 400 * 24 * 3600;

fn token_proto(t: &TokenRecord) -> Token {
    Token {
        name: format!("tokens/{}", t.id),
        role: t.role,
        member: if t.member.is_empty() {
            String::new()
        } else {
            names::name(MEMBERS, &t.member)
        },
        create_time: Some(time::from_millis(t.create_time_ms)),
        expire_time: Some(time::from_millis(t.expire_time_ms)),
        revoke_time: t.revoke_time_ms.map(time::from_millis),
        label: t.label.clone(),
    }
}

impl Api {
    async fn caller<T>(&self, request: &Request<T>, method: &str) -> Result<Caller, Status> {
        let read_only = self.0.read_only.get().map(String::as_str);
        Ok(self
            .0
            .auth
            .authorize(&*self.0.store, request, method, read_only)
            .await?)
    }
}

#[tonic::async_trait]
impl DelegationService for Api {
    async fn issue_token(&self, request: Request<IssueTokenRequest>) -> Reply<IssueTokenResponse> {
        let caller = self
            .caller(&request, "accord.v1.DelegationService/IssueToken")
            .await?;
        let r = request.into_inner();
        limits::text("label", &r.label, limits::MAX_TITLE)?;
        let role = Role::try_from(r.role).map_err(|_| {
            DomainError::invalid("role", format!("{} is not a known value", r.role))
        })?;
        let (role, member) = match (role, r.member.is_empty()) {
            (Role::Unspecified | Role::Delegation, false) => {
                let code = parse_name("member", MEMBERS, &r.member)?;
                self.0
                    .store
                    .get_member(code)
                    .await
                    .map_err(DomainError::from)?;
                (Role::Delegation, code.to_string())
            }
            (Role::Observer, true) => (Role::Observer, String::new()),
            (Role::Observer, false) => {
                return Err(
                    DomainError::invalid("member", "an observer acts for no member").into(),
                );
            }
            (Role::Operator, _) => {
                return Err(DomainError::invalid(
                    "role",
                    "operator credentials are configured on the server, not issued",
                )
                .into());
            }
            (_, true) => {
                return Err(DomainError::invalid(
                    "member",
                    "a delegation token needs the member it acts for, members/{code}",
                )
                .into());
            }
        };
        let ttl = match r.ttl_seconds {
            0 => DEFAULT_TOKEN_TTL_SECONDS,
            n if (1..=MAX_TOKEN_TTL_SECONDS).contains(&n) => n,
            n => {
                return Err(DomainError::invalid(
                    "ttl_seconds",
                    format!("{n} is outside 1 to {MAX_TOKEN_TTL_SECONDS} seconds"),
                )
                .into());
            }
        };
        let secret = new_secret();
        let now = time::now_millis();
        let record = TokenRecord {
            id: 0,
            role: role as i32,
            member,
            secret_sha256: secret_digest(&secret),
            label: r.label,
            create_time_ms: now,
            expire_time_ms: now + ttl * 1000,
            revoke_time_ms: None,
        };
        let stored = acting_as(caller.actor(), self.0.store.issue_token(&record))
            .await
            .map_err(DomainError::from)?;
        self.0.auth.put_token(stored.clone());
        Ok(Response::new(IssueTokenResponse {
            token: Some(token_proto(&stored)),
            secret,
        }))
    }

    async fn list_tokens(&self, request: Request<ListTokensRequest>) -> Reply<ListTokensResponse> {
        self.caller(&request, "accord.v1.DelegationService/ListTokens")
            .await?;
        let r = request.into_inner();
        let member = if r.member.is_empty() {
            None
        } else {
            Some(parse_name("member", MEMBERS, &r.member)?.to_string())
        };
        let tokens = self.0.store.tokens().await.map_err(DomainError::from)?;
        Ok(Response::new(ListTokensResponse {
            tokens: tokens
                .iter()
                .filter(|t| member.as_ref().is_none_or(|m| *m == t.member))
                .map(token_proto)
                .collect(),
        }))
    }

    async fn revoke_token(
        &self,
        request: Request<RevokeTokenRequest>,
    ) -> Reply<RevokeTokenResponse> {
        let caller = self
            .caller(&request, "accord.v1.DelegationService/RevokeToken")
            .await?;
        let name = request.into_inner().name;
        let id = parse_name("name", "tokens", &name)?;
        let id: i64 = id
            .parse()
            .map_err(|_| DomainError::invalid("name", "token ids are numbers"))?;
        let token = acting_as(
            caller.actor(),
            self.0.store.revoke_token(id, time::now_millis()),
        )
        .await
        .map_err(DomainError::from)?;
        self.0.auth.put_token(token.clone());
        Ok(Response::new(RevokeTokenResponse {
            token: Some(token_proto(&token)),
        }))
    }

    async fn register_ballot_key(
        &self,
        request: Request<RegisterBallotKeyRequest>,
    ) -> Reply<RegisterBallotKeyResponse> {
        let caller = self
            .caller(&request, "accord.v1.DelegationService/RegisterBallotKey")
            .await?;
        let r = request.into_inner();
        limits::text("member", &r.member, limits::MAX_NAME)?;
        let member = if caller.role == Role::Operator {
            r.member.clone()
        } else {
            caller.act_for("member", &r.member)?
        };
        let code = parse_name("member", MEMBERS, &member)?.to_string();
        self.0
            .store
            .get_member(&code)
            .await
            .map_err(DomainError::from)?;
        let key = parse_public_key("public_key", &r.public_key)?;
        let now = time::now_millis();
        let record = BallotKeyRecord {
            member: code.clone(),
            public_key: r.public_key.clone(),
            create_time_ms: now,
        };
        acting_as(caller.actor(), self.0.store.register_ballot_key(&record))
            .await
            .map_err(DomainError::from)?;
        self.0.ballot_keys.set(&code, key);
        Ok(Response::new(RegisterBallotKeyResponse {
            key: Some(BallotKey {
                member: names::name(MEMBERS, &code),
                public_key: r.public_key,
                create_time: Some(time::from_millis(now)),
            }),
        }))
    }

    async fn list_ballot_keys(
        &self,
        request: Request<ListBallotKeysRequest>,
    ) -> Reply<ListBallotKeysResponse> {
        self.caller(&request, "accord.v1.DelegationService/ListBallotKeys")
            .await?;
        let keys = self
            .0
            .store
            .ballot_keys()
            .await
            .map_err(DomainError::from)?;
        Ok(Response::new(ListBallotKeysResponse {
            keys: keys
                .into_iter()
                .map(|k| BallotKey {
                    member: names::name(MEMBERS, &k.member),
                    public_key: k.public_key,
                    create_time: Some(time::from_millis(k.create_time_ms)),
                })
                .collect(),
        }))
    }

    async fn who_am_i(&self, request: Request<WhoAmIRequest>) -> Reply<WhoAmIResponse> {
        let caller = self
            .caller(&request, "accord.v1.DelegationService/WhoAmI")
            .await?;
        Ok(Response::new(WhoAmIResponse {
            role: caller.role as i32,
            member: caller
                .member
                .as_ref()
                .map(|m| names::name(MEMBERS, m))
                .unwrap_or_default(),
            credential: caller.credential.to_string(),
        }))
    }
}

#[tonic::async_trait]
impl AuditService for Api {
    async fn export_audit_log(
        &self,
        request: Request<ExportAuditLogRequest>,
    ) -> Reply<ExportAuditLogResponse> {
        self.caller(&request, "accord.v1.AuditService/ExportAuditLog")
            .await?;
        let r = request.into_inner();
        if r.page_size < 0 {
            return Err(DomainError::invalid("page_size", "is negative").into());
        }
        let size = match r.page_size as usize {
            0 => 1000,
            n => n,
        };
        limits::items("page_size", size, limits::MAX_AUDIT_PAGE)?;
        let mut entries = self
            .0
            .store
            .export_audit(r.after_sequence.max(0), size + 1)
            .await
            .map_err(DomainError::from)?;
        let more = entries.len() > size;
        entries.truncate(size);
        Ok(Response::new(ExportAuditLogResponse {
            entries: entries
                .into_iter()
                .map(|e| AuditEntry {
                    sequence: e.sequence,
                    time: Some(prost_types::Timestamp {
                        seconds: e.seconds,
                        nanos: e.nanos,
                    }),
                    kind: e.kind,
                    subject: e.subject,
                    actor: e.actor,
                    detail: e.detail,
                    prev_hash: e.prev_hash,
                    hash: e.hash,
                })
                .collect(),
            more,
        }))
    }
}
