//! The domain error type of the server and its one mapping to gRPC status codes.
//!
//! Every failure a request can meet is a [`DomainError`]; [`From<DomainError> for Status`] is the
//! only place that decides which gRPC code a client sees. A request that fails changes nothing.

use std::time::Duration;

use accord_policy_sdk::host::{CallError, LoadError};
use accord_store::StoreError;
use tonic::{Code, Status};

/// Why a request could not be served.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// A field of the request is malformed or out of range.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field, as the client named it ("proposal.deadline").
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A resource the request names does not exist.
    #[error("{kind} {name} not found")]
    NotFound {
        /// "member", "mission", "partner", "proposal", "policy", "plugin file".
        kind: &'static str,
        /// Its resource name or id.
        name: String,
    },
    /// The resource to create exists already.
    #[error("{kind} {name} already exists")]
    AlreadyExists {
        /// What kind of resource.
        kind: &'static str,
        /// Its name.
        name: String,
        /// What to do instead, if anything.
        hint: &'static str,
    },
    /// The request is valid but the state does not allow it (voting on a closed proposal,
    /// ending a terminated mission).
    #[error("{0}")]
    Precondition(String),
    /// The caller may not do this (withdrawing someone else's proposal; an operator call
    /// without the operator token).
    #[error("{0}")]
    PermissionDenied(String),
    /// A policy cannot take calls now (disabled, unhealthy).
    #[error("policy {policy} is unavailable: {reason}")]
    PolicyUnavailable {
        /// The policy id.
        policy: String,
        /// Why.
        reason: String,
    },
    /// A policy call ran past its time limit. In process the policy is now marked unhealthy
    /// (its thread cannot be stopped); isolated, its runner was killed and is restarted.
    #[error(
        "policy {policy} did not answer within {limit:?}; {}",
        if *isolated {
            "its runner was killed and is being restarted"
        } else {
            "it is marked unhealthy until reloaded"
        }
    )]
    PolicyTimedOut {
        /// The policy id.
        policy: String,
        /// The limit.
        limit: Duration,
        /// Whether the policy runs isolated.
        isolated: bool,
    },
    /// An isolated policy's runner crashed (or exited) during the call; it is restarted and the
    /// server keeps serving.
    #[error("policy {policy} crashed: {message}")]
    PolicyCrashed {
        /// The policy id.
        policy: String,
        /// What happened to the runner.
        message: String,
    },
    /// A policy refused the request or a parameter.
    #[error("policy {policy} refused the request: {message}")]
    PolicyRefused {
        /// The policy id.
        policy: String,
        /// Its message.
        message: String,
    },
    /// A policy panicked (the panic was caught; the server keeps serving).
    #[error("policy {policy} panicked: {message}")]
    PolicyPanicked {
        /// The policy id.
        policy: String,
        /// The panic message.
        message: String,
    },
    /// A policy failed or answered with something invalid.
    #[error("policy {policy} failed: {message}")]
    PolicyFailed {
        /// The policy id.
        policy: String,
        /// What went wrong.
        message: String,
    },
    /// A plugin library was refused by the loader.
    #[error("{0}")]
    PluginRefused(#[from] LoadError),
    /// A plugin library was refused by the loader of its isolated runner (the loader's message).
    #[error("{0}")]
    PluginRefusedIsolated(String),
    /// The database is unavailable or failed.
    #[error("storage unavailable: {0}")]
    Storage(String),
    /// The server is shutting down.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The caller presented no credential, or one that is not valid (unknown, expired, revoked,
    /// too short, empty).
    #[error("{0}")]
    Unauthenticated(String),
    /// A field is over its cap (`limits.rs`); the message never holds the value itself.
    #[error("{field} is too large: {size} (at most {max})")]
    TooLarge {
        /// The field.
        field: String,
        /// Its size (bytes, items or value).
        size: usize,
        /// The cap.
        max: usize,
    },
    /// A cost or concurrency limit was reached (evaluations in flight).
    #[error("{0}")]
    Exhausted(String),
    /// A concurrent change won a race (a ballot arrived while the proposal was being closed);
    /// the operation can be retried.
    #[error("{0}")]
    Conflict(String),
}

/// Result of domain operations.
pub type DomainResult<T> = Result<T, DomainError>;

impl DomainError {
    /// The same error about one item of a list: its field (or name) is prefixed with `item`
    /// (e.g. `evaluations[3]`), so that the caller knows which item failed.
    pub fn in_item(self, item: &str) -> Self {
        match self {
            Self::Invalid { field, reason } => Self::Invalid {
                field: format!("{item}.{field}"),
                reason,
            },
            Self::TooLarge { field, size, max } => Self::TooLarge {
                field: format!("{item}.{field}"),
                size,
                max,
            },
            Self::NotFound { kind, name } => Self::NotFound {
                kind,
                name: format!("{name} ({item})"),
            },
            Self::Precondition(message) => Self::Precondition(format!("{item}: {message}")),
            other => other,
        }
    }

    /// An [`DomainError::Invalid`] error.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A [`DomainError::NotFound`] error.
    pub fn not_found(kind: &'static str, name: impl Into<String>) -> Self {
        Self::NotFound {
            kind,
            name: name.into(),
        }
    }

    /// Maps a failed call into the policy `policy`.
    pub fn from_call(policy: &str, error: CallError) -> Self {
        let policy = policy.to_string();
        match error {
            CallError::InvalidRequest(message) | CallError::InvalidParameter(message) => {
                Self::PolicyRefused { policy, message }
            }
            CallError::Panicked(message) => Self::PolicyPanicked { policy, message },
            CallError::Failed(message) => Self::PolicyFailed { policy, message },
            CallError::BadResponse(message) => Self::PolicyFailed { policy, message },
        }
    }

    /// The gRPC code this error maps to.
    pub fn code(&self) -> Code {
        match self {
            Self::Invalid { .. } | Self::PolicyRefused { .. } => Code::InvalidArgument,
            Self::NotFound { .. } => Code::NotFound,
            Self::AlreadyExists { .. } => Code::AlreadyExists,
            Self::Precondition(_) => Code::FailedPrecondition,
            Self::PermissionDenied(_) => Code::PermissionDenied,
            Self::Unauthenticated(_) => Code::Unauthenticated,
            Self::TooLarge { .. } | Self::Exhausted(_) => Code::ResourceExhausted,
            Self::PolicyUnavailable { .. } | Self::Storage(_) | Self::ShuttingDown => {
                Code::Unavailable
            }
            Self::PolicyTimedOut { .. } => Code::DeadlineExceeded,
            Self::Conflict(_) => Code::Aborted,
            Self::PolicyPanicked { .. }
            | Self::PolicyFailed { .. }
            | Self::PolicyCrashed { .. } => Code::Internal,
            Self::PluginRefusedIsolated(_) => Code::FailedPrecondition,
            Self::PluginRefused(LoadError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Code::NotFound
            }
            Self::PluginRefused(LoadError::Io { .. }) => Code::Unavailable,
            Self::PluginRefused(_) => Code::FailedPrecondition,
        }
    }
}

impl From<DomainError> for Status {
    fn from(error: DomainError) -> Self {
        let message = match &error {
            DomainError::AlreadyExists { hint, .. } if !hint.is_empty() => {
                format!("{error}; {hint}")
            }
            _ => error.to_string(),
        };
        Status::new(error.code(), bounded(message))
    }
}

impl From<StoreError> for DomainError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { kind, id } => Self::NotFound {
                kind,
                name: format!("{}/{id}", plural(kind)),
            },
            StoreError::AlreadyExists { kind, id } => Self::AlreadyExists {
                kind,
                name: format!("{}/{id}", plural(kind)),
                hint: "",
            },
            StoreError::ProposalClosed { id, state } => Self::Precondition(format!(
                "proposal proposals/{id} is {state}: it takes no more ballots or changes"
            )),
            StoreError::BadPageToken(token) => Self::invalid(
                "page_token",
                format!("`{token}` was not issued by this server"),
            ),
            StoreError::Signature(reason) => Self::invalid("ballot.signature", reason),
            StoreError::Database(message) => Self::Storage(message),
            StoreError::InUse(message) => Self::Precondition(message),
            stale @ StoreError::Stale { .. } => Self::Conflict(format!("{stale}; try again")),
        }
    }
}

/// Longest error message a client is sent (bytes).
pub const MAX_ERROR_MESSAGE: usize = 1024;

/// A message cut to [`MAX_ERROR_MESSAGE`] bytes (at a character boundary), so that no error
/// echoes unbounded input whatever put it there.
pub fn bounded(mut message: String) -> String {
    let max = MAX_ERROR_MESSAGE;
    if message.len() > max {
        let mut end = max;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    message
}

fn plural(kind: &str) -> &str {
    match kind {
        "member" => "members",
        "partner" => "partners",
        "mission" => "missions",
        "proposal" => "proposals",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_maps_to_its_documented_code_with_a_message_that_says_what_was_wrong() {
        let cases: Vec<(DomainError, Code, &str)> = vec![
            (
                DomainError::invalid("proposal.deadline", "is in the past"),
                Code::InvalidArgument,
                "deadline",
            ),
            (
                DomainError::not_found("member", "members/XXX"),
                Code::NotFound,
                "members/XXX",
            ),
            (
                DomainError::AlreadyExists {
                    kind: "policy",
                    name: "policies/weighted".into(),
                    hint: "use ReplacePolicy",
                },
                Code::AlreadyExists,
                "use ReplacePolicy",
            ),
            (
                DomainError::Precondition("mission KFOR is terminated".into()),
                Code::FailedPrecondition,
                "terminated",
            ),
            (
                DomainError::PermissionDenied("only the sponsor".into()),
                Code::PermissionDenied,
                "sponsor",
            ),
            (
                DomainError::PolicyUnavailable {
                    policy: "p".into(),
                    reason: "disabled".into(),
                },
                Code::Unavailable,
                "disabled",
            ),
            (
                DomainError::PolicyTimedOut {
                    policy: "p".into(),
                    limit: Duration::from_secs(1),
                    isolated: false,
                },
                Code::DeadlineExceeded,
                "unhealthy",
            ),
            (
                DomainError::PolicyTimedOut {
                    policy: "p".into(),
                    limit: Duration::from_secs(1),
                    isolated: true,
                },
                Code::DeadlineExceeded,
                "restarted",
            ),
            (
                DomainError::PolicyCrashed {
                    policy: "p".into(),
                    message: "the policy runner was killed by signal 11 (SIGSEGV)".into(),
                },
                Code::Internal,
                "SIGSEGV",
            ),
            (
                DomainError::PluginRefusedIsolated("libx.so failed its self-test".into()),
                Code::FailedPrecondition,
                "self-test",
            ),
            (
                DomainError::PolicyPanicked {
                    policy: "p".into(),
                    message: "boom".into(),
                },
                Code::Internal,
                "boom",
            ),
            (
                DomainError::PolicyRefused {
                    policy: "p".into(),
                    message: "bad quota".into(),
                },
                Code::InvalidArgument,
                "bad quota",
            ),
            (
                DomainError::Storage("disk full".into()),
                Code::Unavailable,
                "disk full",
            ),
            (
                StoreError::ProposalClosed {
                    id: "3".into(),
                    state: "adopted",
                }
                .into(),
                Code::FailedPrecondition,
                "adopted",
            ),
            (
                StoreError::NotFound {
                    kind: "mission",
                    id: "XYZ".into(),
                }
                .into(),
                Code::NotFound,
                "missions/XYZ",
            ),
            (
                DomainError::Exhausted("too large to count exactly".into()),
                Code::ResourceExhausted,
                "exactly",
            ),
            (
                StoreError::InUse("member `ABC` has cast 2 ballot(s)".into()).into(),
                Code::FailedPrecondition,
                "ballot",
            ),
            (
                StoreError::BadPageToken("zz".into()).into(),
                Code::InvalidArgument,
                "page_token",
            ),
        ];
        for (error, code, needle) in cases {
            let status = Status::from(error);
            assert_eq!(status.code(), code, "{}", status.message());
            assert!(
                status.message().contains(needle),
                "{:?} should mention {needle}",
                status.message()
            );
        }
    }
}
