//! The accord policy-plugin SDK.
//!
//! A decision policy is a shared library that implements [`DecisionPolicy`] and exports it with
//! [`export_policy!`]. Only a C ABI crosses the library boundary (see [`abi`] and
//! `docs/plugin-abi.md`): requests and responses travel as protobuf bytes of the accord.v1
//! messages, so a policy can be written in any language with a C ABI.
//!
//! - [`DecisionPolicy`] and [`PolicyError`]: what a plugin author implements.
//! - [`Request`]: what a policy decides — the wire message and the members, which under ABI
//!   1.1 were registered once rather than sent with every request (the SDK does that for you).
//! - [`request`]: helpers to read a [`Request`] (parameters, electorate, deadline).
//! - [`quantity`]: the quantity a proposal is about (a date or an amount) as one number.
//! - [`abi`]: the boundary itself — the only module with `unsafe` code.
//! - `host` feature: [`host`], the loader that opens, checks and calls libraries.
//! - `testkit` feature: [`conformance`], checks a plugin author runs against a built library.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub use accord_proto::v1 as proto;
pub use prost;
pub use request::Request;

#[allow(unsafe_code)]
pub mod abi;
pub mod descriptor;
pub mod electorate;
pub mod quantity;
pub mod request;
pub mod selftest;

#[cfg(feature = "testkit")]
pub mod conformance;
#[cfg(feature = "host")]
pub mod host;

use std::fmt;

/// A decision policy: given a proposal, the members and their ballots, decide.
///
/// Implementations must be deterministic for a given request (including its `seed`), and safe
/// to call from several threads at once.
pub trait DecisionPolicy: Send + Sync + 'static {
    /// What the policy is: id, version, summary and the parameters it accepts.
    fn descriptor(&self) -> proto::PolicyDescriptor;

    /// Decide one proposal. Read the members with [`Request::members`]: the wire message's own
    /// `members` field is empty when the host registered them once (ABI 1.1).
    fn decide(&self, request: &Request<'_>) -> Result<proto::Decision, PolicyError>;

    /// Decides a whole wire message (members included): the linked-in call, for tests and
    /// for hosts that link the policy in.
    fn decide_message(
        &self,
        request: &proto::DecisionRequest,
    ) -> Result<proto::Decision, PolicyError> {
        self.decide(&Request::new(request))
    }
}

/// Why a policy could not decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyError {
    /// The request is malformed or lacks something the policy needs.
    InvalidRequest(String),
    /// A parameter is unknown or its value does not parse or is out of range.
    InvalidParameter {
        /// The parameter's name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The policy failed for another reason.
    Failed(String),
}

impl PolicyError {
    /// An [`PolicyError::InvalidParameter`] error.
    pub fn parameter(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidParameter {
            name: name.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidRequest(msg) => write!(f, "invalid request: {msg}"),
            Self::InvalidParameter { name, reason } => {
                write!(f, "invalid parameter `{name}`: {reason}")
            }
            Self::Failed(msg) => write!(f, "policy failed: {msg}"),
        }
    }
}

impl std::error::Error for PolicyError {}

/// Exports a policy type from a `cdylib` so that accord can load it.
///
/// The type must implement [`DecisionPolicy`] and [`Default`]; one instance is created on the
/// first call and shared by all calls. Build the library with `panic = "unwind"` (the default):
/// the host refuses a library that cannot unwind, because only then can a panic inside the
/// policy be turned into an error instead of aborting the server.
///
/// ```ignore
/// #[derive(Default)]
/// struct MyPolicy;
/// impl accord_policy_sdk::DecisionPolicy for MyPolicy { /* … */ }
/// accord_policy_sdk::export_policy!(MyPolicy);
/// ```
#[macro_export]
macro_rules! export_policy {
    ($policy:ty) => {
        #[doc(hidden)]
        fn __accord_policy_instance() -> &'static $policy {
            static INSTANCE: ::std::sync::OnceLock<$policy> = ::std::sync::OnceLock::new();
            INSTANCE.get_or_init(<$policy as ::core::default::Default>::default)
        }

        #[doc(hidden)]
        extern "C" fn __accord_policy_descriptor(sink: *const $crate::abi::OutputSink) -> i32 {
            $crate::abi::plugin::descriptor(__accord_policy_instance, sink)
        }

        #[doc(hidden)]
        extern "C" fn __accord_policy_decide(
            request: *const u8,
            request_len: usize,
            sink: *const $crate::abi::OutputSink,
        ) -> i32 {
            $crate::abi::plugin::decide(__accord_policy_instance, request, request_len, sink)
        }

        #[doc(hidden)]
        extern "C" fn __accord_policy_register_electorate(
            snapshot: *const u8,
            snapshot_len: usize,
            sink: *const $crate::abi::OutputSink,
        ) -> i32 {
            $crate::abi::plugin::register_electorate(snapshot, snapshot_len, sink)
        }

        #[doc(hidden)]
        static __ACCORD_POLICY_TABLE: $crate::abi::PolicyTable = $crate::abi::PolicyTable {
            abi_version: $crate::abi::ABI_VERSION,
            table_size: ::core::mem::size_of::<$crate::abi::PolicyTable>() as u32,
            panic_unwinds: if cfg!(panic = "unwind") { 1 } else { 0 },
            reserved: 0,
            descriptor: __accord_policy_descriptor,
            decide: __accord_policy_decide,
            register_electorate: __accord_policy_register_electorate,
        };

        /// The plugin's entry point: returns its function table (see docs/plugin-abi.md).
        #[unsafe(no_mangle)]
        pub extern "C" fn accord_policy_entry() -> *const $crate::abi::PolicyTable {
            &__ACCORD_POLICY_TABLE
        }
    };
}
