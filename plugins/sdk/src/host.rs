//! The host side of the plugin boundary: opens a policy library, checks it, and calls it.
//!
//! Loading a library ([`PolicyLibrary::load`]):
//! 1. reads the file and records its SHA-256;
//! 2. writes a private, uniquely named copy of those exact bytes and opens the copy, so that a
//!    file replaced on disk later never changes a running policy, and two versions of the same
//!    file are two independent libraries (`dlopen` of an already open path would return the old
//!    handle);
//! 3. refuses, with a typed [`LoadError`], a file that is not a library, one without the entry
//!    symbol, one of another ABI version, one built with `panic = "abort"`, one whose descriptor
//!    is missing or invalid, and one that fails the self-test request
//!    ([`crate::selftest::self_test_request`]).
//!
//! **Libraries are never unloaded.** A [`PolicyLibrary`] holds `'static` pointers into its
//! library, and calls may still be running on other threads when a policy is replaced; Rust's
//! standard library does not promise that unloading works (thread-local destructors registered
//! by the library would run code that is gone), macOS and musl do not really unload, and the
//! `dlclose` would otherwise land on whichever request thread dropped the last reference.
//! PostgreSQL and others made the same choice. The cost is the library's mapped code for each
//! version loaded during the process's life (hundreds of KiB each), which an operator controls.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use prost::Message;
use sha2::{Digest, Sha256};

use crate::abi::{self, Status, host_calls};
use crate::descriptor::validate_descriptor;
use crate::electorate::ElectorateSnapshot;
use crate::proto::{
    Decision, DecisionRequest, DecisionResponse, Outcome, PolicyDescriptor, PolicyIdentity,
};

/// Why a library was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read, or its private copy could not be written.
    #[error("cannot read policy library {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a loadable shared library.
    #[error("{path} is not a loadable shared library: {reason}")]
    NotALibrary {
        /// The file.
        path: PathBuf,
        /// The loader's message.
        reason: String,
    },
    /// The library does not export the entry symbol.
    #[error("{path} is not an accord policy: it does not export `{symbol}`")]
    MissingEntry {
        /// The file.
        path: PathBuf,
        /// The symbol looked for.
        symbol: &'static str,
    },
    /// The entry symbol returned a null table.
    #[error("{path}: `accord_policy_entry` returned a null table")]
    NullTable {
        /// The file.
        path: PathBuf,
    },
    /// The library speaks another ABI version.
    #[error("{path} speaks policy ABI version {found}; this host speaks version {expected}")]
    AbiVersion {
        /// The file.
        path: PathBuf,
        /// The library's ABI version.
        found: u32,
        /// The host's ABI version.
        expected: u32,
    },
    /// The library's table is smaller than this ABI version's table.
    #[error("{path}: function table is {found} bytes, expected at least {expected}")]
    TableSize {
        /// The file.
        path: PathBuf,
        /// The table size the library declared.
        found: u32,
        /// The host's table size.
        expected: u32,
    },
    /// The library was built with `panic = "abort"`: a panic in it would abort the host.
    #[error(
        "{path} was built with panic = \"abort\"; policies must be built with panic = \"unwind\" so that a panic fails one request instead of the server"
    )]
    CannotUnwind {
        /// The file.
        path: PathBuf,
    },
    /// The library's descriptor is missing or invalid.
    #[error("{path}: invalid policy descriptor: {reason}")]
    BadDescriptor {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The library's SHA-256 is not in the host's pin list.
    #[error("{path} (SHA-256 {sha256}) is not in the list of pinned policy libraries")]
    NotPinned {
        /// The file.
        path: PathBuf,
        /// Its SHA-256.
        sha256: String,
    },
    /// The library failed the self-test request.
    #[error("{path} ({policy_id}) failed its self-test: {reason}")]
    SelfTestFailed {
        /// The file.
        path: PathBuf,
        /// The policy's id.
        policy_id: String,
        /// What went wrong.
        reason: String,
    },
}

/// Why one call into a loaded policy failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The policy said the request is invalid.
    #[error("{0}")]
    InvalidRequest(String),
    /// The policy refused a parameter.
    #[error("{0}")]
    InvalidParameter(String),
    /// The policy failed.
    #[error("{0}")]
    Failed(String),
    /// The policy panicked (caught inside the library).
    #[error("{0}")]
    Panicked(String),
    /// The policy answered with bytes that are not the expected message.
    #[error("policy answered with an invalid response: {0}")]
    BadResponse(String),
}

impl CallError {
    /// The error for a failed call's status `code` and the message the library wrote (also used
    /// by hosts that call a library in another process, see the isolated runner).
    pub fn from_status(code: i32, output: Vec<u8>) -> Self {
        let message = String::from_utf8_lossy(&output).into_owned();
        match Status::from_code(code) {
            Some(Status::InvalidRequest) => Self::InvalidRequest(message),
            Some(Status::InvalidParameter) => Self::InvalidParameter(message),
            Some(Status::Failed) => Self::Failed(message),
            Some(Status::Panicked) => Self::Panicked(message),
            // Only after the host registered the electorate: the library did not keep it.
            Some(Status::UnknownElectorate) => Self::Failed(message),
            Some(Status::Ok) | None => {
                Self::BadResponse(format!("unknown status code {code}: {message}"))
            }
        }
    }
}

/// A loaded, checked policy library. Cheap to share: clone it or put it in an `Arc`.
#[derive(Debug, Clone)]
pub struct PolicyLibrary {
    table: host_calls::Table,
    descriptor: PolicyDescriptor,
    identity: PolicyIdentity,
    source: PathBuf,
}

impl std::fmt::Debug for host_calls::Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyTable")
            .field("table_size", &self.size())
            .field("panic_unwinds", &self.panic_unwinds())
            .finish_non_exhaustive()
    }
}

static COPY_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The process's directory for private copies: created once, securely, under `$TMPDIR` with
/// `tempfile::Builder` (an unpredictable name, mode 0700, created new — never an existing
/// directory reused), and kept for the life of the process.
fn private_dir() -> Result<&'static Path, std::io::Error> {
    static DIR: OnceLock<Result<tempfile::TempDir, String>> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("accord-plugins-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
                .map_err(|e| e.to_string())?;
        }
        Ok(dir)
    });
    dir.as_ref()
        .map(|d| d.path())
        .map_err(|e| std::io::Error::other(e.clone()))
}

/// The directory private copies are written to by [`PolicyLibrary::load`] (see
/// [`private_dir`]); `$TMPDIR` itself if it could not be created.
pub fn default_private_dir() -> PathBuf {
    private_dir().map_or_else(|_| std::env::temp_dir(), Path::to_path_buf)
}

/// Libraries already mapped, by SHA-256: loading the same bytes again maps nothing new (so
/// swapping between two builds a hundred times maps each build once).
fn mapped() -> &'static Mutex<HashMap<String, PolicyLibrary>> {
    static MAPPED: OnceLock<Mutex<HashMap<String, PolicyLibrary>>> = OnceLock::new();
    MAPPED.get_or_init(Default::default)
}

impl PolicyLibrary {
    /// Loads and checks the library at `path`, using a private copy under [`default_private_dir`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self, LoadError> {
        Self::load_pinned(path, &[])
    }

    /// Like [`Self::load`], but refuses ([`LoadError::NotPinned`]) a library whose SHA-256 is not
    /// in `pins` (lower-case hex) unless `pins` is empty.
    pub fn load_pinned(path: impl AsRef<Path>, pins: &[String]) -> Result<Self, LoadError> {
        let path = path.as_ref();
        let dir = private_dir().map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::load_inner(path, dir, pins)
    }

    /// Loads and checks the library at `path`; its private copy is written under `private_dir`
    /// and removed again once open (the open library keeps the mapped file alive).
    pub fn load_with_private_dir(
        path: impl AsRef<Path>,
        private_dir: &Path,
    ) -> Result<Self, LoadError> {
        Self::load_inner(path.as_ref(), private_dir, &[])
    }

    fn load_inner(path: &Path, private_dir: &Path, pins: &[String]) -> Result<Self, LoadError> {
        let path = path.to_path_buf();
        let io = |source| LoadError::Io {
            path: path.clone(),
            source,
        };
        let bytes = std::fs::read(&path).map_err(io)?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        if !pins.is_empty() && !pins.contains(&sha256) {
            return Err(LoadError::NotPinned { path, sha256 });
        }
        if let Some(library) = mapped().lock().expect("mapped lock").get(&sha256) {
            let mut library = library.clone();
            library.source = path;
            return Ok(library);
        }

        std::fs::create_dir_all(private_dir).map_err(io)?;
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("policy");
        let copy = private_dir.join(format!(
            "{stem}-{}-{}.so",
            &sha256[..16],
            COPY_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&copy, &bytes).map_err(io)?;
        let opened = host_calls::open(&copy);
        let _ = std::fs::remove_file(&copy);

        let (library, table) = opened.map_err(|e| match e {
            host_calls::OpenError::NotALibrary(e) => LoadError::NotALibrary {
                path: path.clone(),
                reason: e.to_string(),
            },
            host_calls::OpenError::MissingEntry => LoadError::MissingEntry {
                path: path.clone(),
                symbol: abi::ENTRY_SYMBOL,
            },
            host_calls::OpenError::NullTable => LoadError::NullTable { path: path.clone() },
            host_calls::OpenError::AbiVersion(found) => LoadError::AbiVersion {
                path: path.clone(),
                found,
                expected: abi::ABI_VERSION,
            },
            host_calls::OpenError::TableSize(found) => LoadError::TableSize {
                path: path.clone(),
                found,
                expected: abi::TABLE_SIZE_1_0,
            },
        })?;
        if table.panic_unwinds() != 1 {
            // Nothing in the library has been called but its entry: closing it is safe.
            drop(library);
            return Err(LoadError::CannotUnwind { path });
        }
        // From here on the library's code has run: never unload it (see the module docs).
        std::mem::forget(library);

        let (code, output) = table.descriptor();
        if code != Status::Ok as i32 {
            return Err(LoadError::BadDescriptor {
                path,
                reason: CallError::from_status(code, output).to_string(),
            });
        }
        let descriptor =
            PolicyDescriptor::decode(output.as_slice()).map_err(|e| LoadError::BadDescriptor {
                path: path.clone(),
                reason: format!("not an accord.v1.PolicyDescriptor: {e}"),
            })?;
        validate_descriptor(&descriptor).map_err(|reason| LoadError::BadDescriptor {
            path: path.clone(),
            reason,
        })?;

        let identity = PolicyIdentity {
            policy_id: descriptor.id.clone(),
            version: descriptor.version.clone(),
            library_sha256: sha256,
        };
        let library = Self {
            table,
            descriptor,
            identity,
            source: path,
        };
        library.self_test()?;
        mapped()
            .lock()
            .expect("mapped lock")
            .insert(library.identity.library_sha256.clone(), library.clone());
        Ok(library)
    }

    /// Decides the self-test request ([`crate::selftest::self_test_request`]); a version 1.1
    /// library decides it a second time through a registered electorate and must answer the
    /// very same bytes (a policy that read the members from the wire message instead of
    /// [`crate::Request::members`] would not).
    fn self_test(&self) -> Result<(), LoadError> {
        let fail = |reason: String| LoadError::SelfTestFailed {
            path: self.source.clone(),
            policy_id: self.descriptor.id.clone(),
            reason,
        };
        let request = crate::selftest::self_test_request();
        let inline = self
            .decide_bytes(&request.encode_to_vec())
            .map_err(|e| fail(e.to_string()))?;
        let decision = DecisionResponse::decode(inline.as_slice())
            .map_err(|e| fail(format!("not an accord.v1.DecisionResponse: {e}")))?
            .decision
            .ok_or_else(|| fail("the response has no decision".to_string()))?;
        if Outcome::try_from(decision.outcome).unwrap_or(Outcome::Unspecified)
            == Outcome::Unspecified
        {
            return Err(fail("the decision has no outcome".to_string()));
        }
        if self.table.has_electorates() {
            let snapshot = ElectorateSnapshot::new(&request.members);
            let without = DecisionRequest {
                members: Vec::new(),
                ..request
            };
            let named = self
                .decide_bytes_in(&snapshot, &without.encode_to_vec())
                .map_err(|e| fail(format!("through a registered electorate (ABI 1.1): {e}")))?;
            if named != inline {
                return Err(fail(
                    "the request naming a registered electorate (ABI 1.1) got another answer \
                     than the same request with its members inline: read the members with \
                     Request::members, not from the wire message"
                        .to_string(),
                ));
            }
        }
        Ok(())
    }

    /// What the policy says of itself.
    pub fn descriptor(&self) -> &PolicyDescriptor {
        &self.descriptor
    }

    /// The policy's id, version and the SHA-256 of the library file.
    pub fn identity(&self) -> &PolicyIdentity {
        &self.identity
    }

    /// The file the library was loaded from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Decides `request` with the policy; the decision carries this library's identity.
    pub fn decide(&self, request: &DecisionRequest) -> Result<Decision, CallError> {
        let output = self.decide_bytes(&request.encode_to_vec())?;
        let response = DecisionResponse::decode(output.as_slice()).map_err(|e| {
            CallError::BadResponse(format!("not an accord.v1.DecisionResponse: {e}"))
        })?;
        let mut decision = response
            .decision
            .ok_or_else(|| CallError::BadResponse("the response has no decision".to_string()))?;
        decision.policy = Some(self.identity.clone());
        Ok(decision)
    }

    /// Sends raw request bytes and returns the raw response bytes (for tests and benchmarks of
    /// the boundary itself).
    pub fn decide_bytes(&self, request: &[u8]) -> Result<Vec<u8>, CallError> {
        let (code, output) = self.table.decide(request);
        if code == Status::Ok as i32 {
            Ok(output)
        } else {
            Err(CallError::from_status(code, output))
        }
    }

    /// The ABI minor version the library speaks: 0 or 1 (see docs/plugin-abi.md).
    pub fn abi_minor(&self) -> u32 {
        u32::from(self.table.has_electorates())
    }

    /// Decides `request`, whose members are those of `electorate` (its own `members` field must
    /// be empty): a version 1.1 library gets them registered once and the request names them; a
    /// version 1.0 library gets them in the request. The decision carries this library's
    /// identity.
    pub fn decide_in(
        &self,
        electorate: &ElectorateSnapshot,
        request: &DecisionRequest,
    ) -> Result<Decision, CallError> {
        let output = self.decide_bytes_in(electorate, &request.encode_to_vec())?;
        let response = DecisionResponse::decode(output.as_slice()).map_err(|e| {
            CallError::BadResponse(format!("not an accord.v1.DecisionResponse: {e}"))
        })?;
        let mut decision = response
            .decision
            .ok_or_else(|| CallError::BadResponse("the response has no decision".to_string()))?;
        decision.policy = Some(self.identity.clone());
        Ok(decision)
    }

    /// [`Self::decide_in`] on an encoded request without members or `electorate_id`; returns
    /// the encoded response.
    pub fn decide_bytes_in(
        &self,
        electorate: &ElectorateSnapshot,
        request: &[u8],
    ) -> Result<Vec<u8>, CallError> {
        if !self.table.has_electorates() {
            return self.decide_bytes(&electorate.inline(request));
        }
        let named = electorate.named(request);
        let (code, output) = self.table.decide(&named);
        if code != Status::UnknownElectorate as i32 {
            return if code == Status::Ok as i32 {
                Ok(output)
            } else {
                Err(CallError::from_status(code, output))
            };
        }
        self.register(electorate)?;
        self.decide_bytes(&named)
    }

    /// Registers `electorate` with a version 1.1 library (nothing for 1.0).
    pub fn register(&self, electorate: &ElectorateSnapshot) -> Result<(), CallError> {
        match self.table.register_electorate(electorate.snapshot()) {
            None => Ok(()),
            Some((code, _)) if code == Status::Ok as i32 => Ok(()),
            Some((code, output)) => Err(CallError::from_status(code, output)),
        }
    }
}
