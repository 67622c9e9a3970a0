//! The connection to the server: one tonic [`Channel`], connected once per command, the
//! generated service clients over it, and the operator token attached to operator calls.

use std::fmt;
use std::time::Duration;

use accord_proto::v1::audit_service_client::AuditServiceClient;
use accord_proto::v1::delegation_service_client::DelegationServiceClient;
use accord_proto::v1::member_service_client::MemberServiceClient;
use accord_proto::v1::mission_service_client::MissionServiceClient;
use accord_proto::v1::partner_service_client::PartnerServiceClient;
use accord_proto::v1::policy_service_client::PolicyServiceClient;
use accord_proto::v1::proposal_service_client::ProposalServiceClient;
use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::cli::GlobalOptions;

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The server could not be reached.
#[derive(Debug)]
pub struct ConnectError {
    /// The address tried.
    pub addr: String,
    /// Why it failed (the error and its causes, on one line).
    pub reason: String,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "could not reach the server at {}: {}",
            self.addr, self.reason
        )
    }
}

impl std::error::Error for ConnectError {}

/// The command line asks for something impossible (a malformed address or token).
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A connected client of every accord service.
#[derive(Debug, Clone)]
pub struct Client {
    channel: Channel,
    authorization: Option<MetadataValue<tonic::metadata::Ascii>>,
    addr: String,
}

pub use accord_proto::client::{Bearer, Conn};

/// The token: `--token` (or ACCORD_OPERATOR_TOKEN), else the first line of `--token-file`.
fn token(options: &GlobalOptions) -> Result<Option<String>, UsageError> {
    if let Some(token) = &options.token {
        return Ok(Some(token.trim().to_string()));
    }
    match &options.token_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                UsageError(format!("cannot read token file {}: {e}", path.display()))
            })?;
            Ok(Some(text.lines().next().unwrap_or("").trim().to_string()))
        }
        None => Ok(None),
    }
}

/// TLS settings from the options, when TLS is asked for (https:// or --tls-ca).
fn tls(options: &GlobalOptions, addr: &str) -> Result<Option<ClientTlsConfig>, UsageError> {
    if options.tls_ca.is_none() && !addr.starts_with("https://") {
        return Ok(None);
    }
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| UsageError(format!("cannot read {}: {e}", path.display())))
    };
    let mut config = ClientTlsConfig::new();
    if let Some(ca) = &options.tls_ca {
        config = config.ca_certificate(Certificate::from_pem(read(ca)?));
    }
    match (&options.tls_cert, &options.tls_key) {
        (Some(cert), Some(key)) => {
            config = config.identity(Identity::from_pem(read(cert)?, read(key)?));
        }
        (None, None) => {}
        _ => return Err(UsageError("--tls-cert and --tls-key go together".into())),
    }
    Ok(Some(config))
}

/// `addr` with `http://` in front when it has no scheme.
pub fn normalize_addr(addr: &str) -> String {
    let addr = addr.trim();
    if addr.contains("://") {
        addr.to_string()
    } else {
        format!("http://{addr}")
    }
}

/// An error and its causes on one line ("transport error" wrappers left out).
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && text != "transport error" && !parts.iter().any(|p| p == &text) {
            parts.push(text);
        }
        next = e.source();
    }
    if parts.is_empty() {
        "transport error".to_string()
    } else {
        parts.join(": ")
    }
}

impl Client {
    /// Connects to the server at `options.addr` (eagerly, so that an unreachable server is
    /// reported before anything else).
    pub async fn connect(options: &GlobalOptions) -> Result<Client, anyhow::Error> {
        let mut addr = normalize_addr(&options.addr);
        if options.tls_ca.is_some() && addr.starts_with("http://") {
            addr = addr.replacen("http://", "https://", 1);
        }
        let mut endpoint = Endpoint::from_shared(addr.clone())
            .map_err(|e| UsageError(format!("invalid --addr `{}`: {e}", options.addr)))?
            .connect_timeout(CONNECT_TIMEOUT);
        if let Some(config) = tls(options, &addr)? {
            endpoint = endpoint
                .tls_config(config)
                .map_err(|e| UsageError(format!("TLS configuration: {e}")))?;
        }
        let authorization = match &token(options)? {
            Some(token) => Some(
                format!("Bearer {token}")
                    .parse::<MetadataValue<_>>()
                    .map_err(|_| UsageError("the token must be printable ASCII".to_string()))?,
            ),
            None => None,
        };
        let channel = endpoint.connect().await.map_err(|e| ConnectError {
            addr: addr.clone(),
            reason: error_chain(&e),
        })?;
        Ok(Client {
            channel,
            authorization,
            addr,
        })
    }

    /// The address connected to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The channel, for other clients.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// The channel with the token on every call.
    pub fn conn(&self) -> Conn {
        accord_proto::client::conn(
            self.channel(),
            Bearer::from_value(self.authorization.clone()),
        )
    }

    /// Client of the delegation service.
    pub fn delegations(&self) -> DelegationServiceClient<Conn> {
        DelegationServiceClient::new(self.conn())
    }

    /// Client of the audit service.
    pub fn audit(&self) -> AuditServiceClient<Conn> {
        AuditServiceClient::new(self.conn())
    }

    /// Client of the member service.
    pub fn members(&self) -> MemberServiceClient<Conn> {
        MemberServiceClient::new(self.conn())
    }

    /// Client of the partner service.
    pub fn partners(&self) -> PartnerServiceClient<Conn> {
        PartnerServiceClient::new(self.conn())
    }

    /// Client of the mission service.
    pub fn missions(&self) -> MissionServiceClient<Conn> {
        MissionServiceClient::new(self.conn())
    }

    /// Client of the proposal service.
    pub fn proposals(&self) -> ProposalServiceClient<Conn> {
        ProposalServiceClient::new(self.conn())
    }

    /// Client of the policy service.
    pub fn policies(&self) -> PolicyServiceClient<Conn> {
        PolicyServiceClient::new(self.conn())
    }

    /// `message` as a request carrying the operator token, when one was given.
    pub fn operator<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(value) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        request
    }
}
