//! The real server seen through gRPC: [`TestServer`] wraps a [`ServerProcess`] with tonic
//! clients over one real channel, and the builders and helpers the server tests share (requests,
//! paging through every ballot, waiting for a proposal to close, asserting a status).

use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use accord_proto::v1::audit_service_client::AuditServiceClient;
use accord_proto::v1::delegation_service_client::DelegationServiceClient;
use accord_proto::v1::member_service_client::MemberServiceClient;
use accord_proto::v1::mission_service_client::MissionServiceClient;
use accord_proto::v1::partner_service_client::PartnerServiceClient;
use accord_proto::v1::policy_service_client::PolicyServiceClient;
use accord_proto::v1::power_service_client::PowerServiceClient;
use accord_proto::v1::proposal_service_client::ProposalServiceClient;
use accord_proto::v1::*;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, ClientTlsConfig};

use crate::trust::Bearer;

use crate::process::{Options, STOP_LIMIT, ServerProcess};

/// A running `accord-server` with a connected channel. Derefs to its [`ServerProcess`]
/// (address, pid, plugin directory, log, kill9).
pub struct TestServer {
    process: ServerProcess,
    channel: Channel,
    /// Delegation tokens issued so far, by member code.
    tokens: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

/// A channel whose calls carry a bearer token (or none).
pub type Authed = InterceptedService<Channel, Bearer>;

/// A client of every service, as one caller.
#[derive(Clone)]
pub struct Clients {
    /// MemberService.
    pub members: MemberServiceClient<Authed>,
    /// PartnerService.
    pub partners: PartnerServiceClient<Authed>,
    /// MissionService.
    pub missions: MissionServiceClient<Authed>,
    /// ProposalService.
    pub proposals: ProposalServiceClient<Authed>,
    /// PolicyService.
    pub policies: PolicyServiceClient<Authed>,
    /// DelegationService.
    pub delegations: DelegationServiceClient<Authed>,
    /// AuditService.
    pub audit: AuditServiceClient<Authed>,
    /// PowerService.
    pub power: PowerServiceClient<Authed>,
}

impl Clients {
    /// Clients over `channel`, each call carrying `token` (if any).
    pub fn new(channel: Channel, token: Option<&str>) -> Clients {
        let bearer = Bearer::new(token).expect("an ASCII token");
        let c = |b: Bearer| InterceptedService::new(channel.clone(), b);
        Clients {
            members: MemberServiceClient::new(c(bearer.clone())),
            partners: PartnerServiceClient::new(c(bearer.clone())),
            missions: MissionServiceClient::new(c(bearer.clone())),
            proposals: ProposalServiceClient::new(c(bearer.clone())),
            policies: PolicyServiceClient::new(c(bearer.clone())),
            delegations: DelegationServiceClient::new(c(bearer.clone())),
            audit: AuditServiceClient::new(c(bearer.clone())),
            power: PowerServiceClient::new(c(bearer)),
        }
    }
}

impl Deref for TestServer {
    type Target = ServerProcess;
    fn deref(&self) -> &ServerProcess {
        &self.process
    }
}

impl DerefMut for TestServer {
    fn deref_mut(&mut self) -> &mut ServerProcess {
        &mut self.process
    }
}

impl TestServer {
    /// Starts a server with `options` on a fresh temporary database and plugin directory.
    pub async fn start(options: Options) -> TestServer {
        let process = ServerProcess::start(options);
        let channel = connect_to(&process, None).await;
        TestServer {
            process,
            channel,
            tokens: Default::default(),
        }
    }

    /// A new channel, presenting `identity` as its client certificate (TLS servers only).
    pub async fn channel_with(&self, identity: Option<tonic::transport::Identity>) -> Channel {
        connect_to(&self.process, identity).await
    }

    /// Clients of every service carrying `token` (None: no credential at all).
    pub fn clients(&self, token: Option<&str>) -> Clients {
        Clients::new(self.channel(), token)
    }

    /// Clients of every service as the operator (the token the server was started with).
    pub fn as_operator(&self) -> Clients {
        self.clients(self.process.options().operator_token.as_deref())
    }

    /// A delegation token for member `code`, issued by the operator (once per server).
    pub async fn delegation_token(&self, code: &str) -> String {
        if let Some(token) = self.tokens.lock().expect("tokens").get(code) {
            return token.clone();
        }
        let issued = self
            .as_operator()
            .delegations
            .issue_token(IssueTokenRequest {
                role: Role::Delegation as i32,
                member: member(code),
                ttl_seconds: 0,
                label: format!("test delegation of {code}"),
            })
            .await
            .unwrap_or_else(|e| panic!("issue a token for {code}: {e}"))
            .into_inner();
        self.tokens
            .lock()
            .expect("tokens")
            .insert(code.to_string(), issued.secret.clone());
        issued.secret
    }

    /// Clients of every service as member `code`'s delegation.
    pub async fn as_member(&self, code: &str) -> Clients {
        let token = self.delegation_token(code).await;
        self.clients(Some(&token))
    }

    /// The proposal client that acts for `member` ("members/DEU"): its delegation when the
    /// server authenticates callers, the plain client otherwise.
    pub async fn proposals_of(&self, member: &str) -> ProposalServiceClient<Authed> {
        match (
            &self.process.options().operator_token,
            member.strip_prefix("members/"),
        ) {
            (Some(_), Some(code)) => self.as_member(code).await.proposals,
            _ => self.proposals(),
        }
    }

    /// An observer token, issued by the operator.
    pub async fn observer_token(&self) -> String {
        self.as_operator()
            .delegations
            .issue_token(IssueTokenRequest {
                role: Role::Observer as i32,
                member: String::new(),
                ttl_seconds: 0,
                label: "test observer".into(),
            })
            .await
            .expect("issue an observer token")
            .into_inner()
            .secret
    }

    /// Starts a server with the bundled policies and default options.
    pub async fn start_default() -> TestServer {
        Self::start(Options::default()).await
    }

    /// A channel to the server.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// Client of the member service (as the operator when the server has an operator token;
    /// so are the other plain clients below).
    pub fn members(&self) -> MemberServiceClient<Authed> {
        self.as_operator().members
    }

    /// Client of the partner service.
    pub fn partners(&self) -> PartnerServiceClient<Authed> {
        self.as_operator().partners
    }

    /// Client of the mission service.
    pub fn missions(&self) -> MissionServiceClient<Authed> {
        self.as_operator().missions
    }

    /// Client of the proposal service.
    pub fn proposals(&self) -> ProposalServiceClient<Authed> {
        self.as_operator().proposals
    }

    /// Client of the policy service.
    pub fn policies(&self) -> PolicyServiceClient<Authed> {
        self.as_operator().policies
    }

    /// `message` as a request carrying the operator token the server was started with.
    pub fn operator<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(token) = &self.process.options().operator_token {
            request.metadata_mut().insert(
                "authorization",
                format!("Bearer {token}").parse().expect("ascii token"),
            );
        }
        request
    }

    /// Stops the server with SIGTERM (graceful shutdown) and waits, without blocking this
    /// runtime, for it to exit cleanly.
    pub async fn stop(&mut self) {
        if !self.process.begin_stop() {
            return;
        }
        let until = Instant::now() + STOP_LIMIT;
        loop {
            if let Some(code) = self.process.poll_stopped(until) {
                self.process.assert_clean_exit(code);
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts the server again on the same database and plugin directory (SIGKILL first if it
    /// is still running), and reconnects.
    pub async fn restart(&mut self) {
        self.process.restart();
        self.channel = connect_to(&self.process, None).await;
    }
}

/// A channel to `process` (over TLS when it serves TLS, presenting `identity` if given).
pub async fn connect_to(
    process: &ServerProcess,
    identity: Option<tonic::transport::Identity>,
) -> Channel {
    let Some(tls) = &process.options().tls else {
        return connect(process.addr).await;
    };
    let mut config = ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(&tls.ca_pem))
        .domain_name("localhost");
    if let Some(identity) = identity {
        config = config.identity(identity);
    }
    Channel::from_shared(format!("https://{}", process.addr))
        .expect("uri")
        .tls_config(config)
        .expect("TLS configuration")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("connect to the server over TLS")
}

/// A channel to `addr`.
pub async fn connect(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("connect to the server")
}

// ---------------------------------------------------------------------------------------------
// Builders and helpers shared by the tests.

/// "members/{code}".
pub fn member(code: &str) -> String {
    format!("members/{code}")
}

/// A protocol date.
pub fn date(year: i32, month: i32, day: i32) -> Date {
    Date { year, month, day }
}

/// Today's date (UTC), as the server computes it.
pub fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

/// A timestamp `d` from now (negative for the past).
pub fn from_now(d: Duration) -> prost_types::Timestamp {
    prost_types::Timestamp::from(std::time::SystemTime::now() + d)
}

/// A timestamp `d` ago.
pub fn ago(d: Duration) -> prost_types::Timestamp {
    prost_types::Timestamp::from(std::time::SystemTime::now() - d)
}

/// A policy reference with default parameters.
pub fn policy(id: &str) -> PolicyRef {
    PolicyRef {
        policy_id: id.to_string(),
        parameters: Default::default(),
    }
}

/// A proposal (not yet created) with `action`, sponsored by the USA, open vote, 1 hour.
pub fn proposal(title: &str, action: proposal::Action, policy_id: &str) -> Proposal {
    Proposal {
        title: title.to_string(),
        description: format!("{title} (integration test)"),
        action: Some(action),
        sponsor: member("USA"),
        procedure: Procedure::OpenVote as i32,
        policy: Some(policy(policy_id)),
        deadline: Some(from_now(Duration::from_secs(3600))),
        ..Default::default()
    }
}

/// End `mission` on `end`.
pub fn end_mission(mission: &str, end: Date) -> proposal::Action {
    proposal::Action::EndMission(EndMission {
        mission: format!("missions/{mission}"),
        end_date: Some(end),
    })
}

/// A generic motion.
pub fn motion(text: &str) -> proposal::Action {
    proposal::Action::GenericMotion(GenericMotion {
        target: "free text".into(),
        text: text.to_string(),
    })
}

/// A ballot of `code` with `choice`.
pub fn ballot(code: &str, choice: Choice) -> Ballot {
    Ballot {
        member: member(code),
        choice: choice as i32,
        reason: format!("{code} says {}", choice.as_str_name()),
        ..Default::default()
    }
}

/// The codes of every member, in order.
pub async fn member_codes(server: &TestServer) -> Vec<String> {
    server
        .members()
        .list_members(ListMembersRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("list members")
        .into_inner()
        .members
        .into_iter()
        .map(|m| m.code)
        .collect()
}

/// Creates `proposal`, returning it as stored.
pub async fn create(server: &TestServer, proposal: Proposal) -> Proposal {
    server
        .proposals_of(&proposal.sponsor)
        .await
        .create_proposal(CreateProposalRequest {
            proposal: Some(proposal),
        })
        .await
        .expect("create proposal")
        .into_inner()
        .proposal
        .expect("a proposal")
}

/// Casts a ballot, returning the stored ballot and the proposal after it.
pub async fn cast(server: &TestServer, proposal: &str, ballot: Ballot) -> (Ballot, Proposal) {
    let r = server
        .proposals_of(&ballot.member)
        .await
        .cast_ballot(CastBallotRequest {
            proposal: proposal.to_string(),
            ballot: Some(ballot.clone()),
        })
        .await
        .unwrap_or_else(|e| panic!("cast {ballot:?} on {proposal}: {e}"))
        .into_inner();
    (r.ballot.expect("a ballot"), r.proposal.expect("a proposal"))
}

/// Gets a proposal.
pub async fn get_proposal(server: &TestServer, name: &str) -> Proposal {
    server
        .proposals()
        .get_proposal(GetProposalRequest {
            name: name.to_string(),
        })
        .await
        .expect("get proposal")
        .into_inner()
        .proposal
        .expect("a proposal")
}

/// Gets a mission by id.
pub async fn get_mission(server: &TestServer, id: &str) -> Mission {
    server
        .missions()
        .get_mission(GetMissionRequest {
            name: format!("missions/{id}"),
        })
        .await
        .expect("get mission")
        .into_inner()
        .mission
        .expect("a mission")
}

/// Gets a loaded policy by id.
pub async fn get_policy(server: &TestServer, id: &str) -> LoadedPolicy {
    server
        .policies()
        .get_policy(GetPolicyRequest {
            name: format!("policies/{id}"),
        })
        .await
        .expect("get policy")
        .into_inner()
        .policy
        .expect("a policy")
}

/// Every ballot on a proposal, paging through ListBallots.
pub async fn all_ballots(server: &TestServer, proposal: &str) -> Vec<Ballot> {
    let mut ballots = Vec::new();
    let mut token = String::new();
    loop {
        let page = server
            .proposals()
            .list_ballots(ListBallotsRequest {
                proposal: proposal.to_string(),
                page_size: 1000,
                page_token: token,
            })
            .await
            .expect("list ballots")
            .into_inner();
        ballots.extend(page.ballots);
        if page.next_page_token.is_empty() {
            return ballots;
        }
        token = page.next_page_token;
    }
}

/// Polls the proposal until it is no longer open, or panics after `limit`.
pub async fn wait_closed(server: &TestServer, name: &str, limit: Duration) -> Proposal {
    let until = Instant::now() + limit;
    loop {
        let p = get_proposal(server, name).await;
        if p.state != ProposalState::Open as i32 {
            return p;
        }
        assert!(
            Instant::now() < until,
            "{name} is still open {limit:?} later (deadline {:?})",
            p.deadline
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asserts that `result` failed with `code` and a message containing each of `needles`
/// (case-insensitive).
#[track_caller]
pub fn assert_status<T: std::fmt::Debug>(
    result: Result<T, tonic::Status>,
    code: tonic::Code,
    needles: &[&str],
) -> tonic::Status {
    let status = match result {
        Ok(value) => panic!("expected {code:?}, got OK: {value:?}"),
        Err(status) => status,
    };
    assert_eq!(
        status.code(),
        code,
        "wrong code; message: {}",
        status.message()
    );
    let message = status.message().to_lowercase();
    for needle in needles {
        assert!(
            message.contains(&needle.to_lowercase()),
            "the {code:?} message {:?} should mention {needle:?}",
            status.message()
        );
    }
    status
}

/// The next event of a watch stream (None when it ended), or panics after 10 s.
pub async fn next_event(
    stream: &mut tonic::Streaming<WatchProposalResponse>,
) -> Option<WatchProposalResponse> {
    tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("a watch event (or the end of the stream) within 10 s")
        .expect("the watch stream does not fail")
}
