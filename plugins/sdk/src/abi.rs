//! The plugin boundary: the C ABI between the accord host and a policy library, and the only
//! place in accord with `unsafe` code (besides `libloading` calls in [`crate::host`], which go
//! through [`host_calls`] here).
//!
//! The contract, in full in `docs/plugin-abi.md`:
//! - the library exports `accord_policy_entry`, an `extern "C"` function with no arguments that
//!   returns a pointer to a static [`PolicyTable`];
//! - the table leads with the ABI version and its own size, then whether the library unwinds on
//!   panic, then `extern "C"` function pointers;
//! - requests go in as protobuf bytes the host owns; answers come out through an [`OutputSink`]
//!   callback that copies them into host memory. Neither side frees memory the other allocated;
//! - each entry point returns a [`Status`] code; on error the sink receives a UTF-8 message.
//! - version 1.1 appends `register_electorate` to the table: the members of one version of the
//!   alliance cross once, and a request then names them by id ([`TABLE_SIZE_1_1`]). A table of
//!   [`TABLE_SIZE_1_0`] bytes is a version 1.0 library, which gets the members in every request.

use std::ffi::c_void;
use std::panic::{self, AssertUnwindSafe};

use prost::Message;

use crate::{DecisionPolicy, PolicyError, Request, proto};

/// The ABI version this SDK speaks. A host refuses a library whose table has another version.
/// Minor revisions append to the table; the table's size tells which (see [`TABLE_SIZE_1_0`]).
pub const ABI_VERSION: u32 = 1;

/// The size of a version 1.0 table on 64-bit targets: no `register_electorate`.
pub const TABLE_SIZE_1_0: u32 = 32;
/// The size of a version 1.1 table on 64-bit targets (this SDK's [`PolicyTable`]).
pub const TABLE_SIZE_1_1: u32 = 40;

/// How many electorates a library built with this SDK keeps before it forgets the oldest (a
/// host must not rely on it: any library may forget any electorate, see
/// [`Status::UnknownElectorate`]).
pub const KEPT_ELECTORATES_HINT: usize = 8;

/// The name of the entry symbol every policy library exports.
pub const ENTRY_SYMBOL: &str = "accord_policy_entry";

/// Where a plugin writes its answer: the host's callback and its context. The plugin may call
/// `write` any number of times; the host appends the bytes to a buffer it owns.
#[repr(C)]
pub struct OutputSink {
    /// Opaque host context, passed back to `write`.
    pub context: *mut c_void,
    /// Appends `len` bytes at `data` to the host's buffer.
    pub write: extern "C" fn(context: *mut c_void, data: *const u8, len: usize),
}

/// The function table a policy library exports through [`ENTRY_SYMBOL`].
#[repr(C)]
pub struct PolicyTable {
    /// Must equal [`ABI_VERSION`].
    pub abi_version: u32,
    /// `size_of::<PolicyTable>()` as the plugin was built; at least the host's size.
    pub table_size: u32,
    /// 1 when the library was built with `panic = "unwind"`, so that panics are caught inside it.
    pub panic_unwinds: u32,
    /// Zero; reserved for flags.
    pub reserved: u32,
    /// Writes the encoded `accord.v1.PolicyDescriptor` to the sink.
    pub descriptor: extern "C" fn(sink: *const OutputSink) -> i32,
    /// Decides the encoded `accord.v1.DecisionRequest` at `request`/`request_len`; writes the
    /// encoded `accord.v1.DecisionResponse` (or an error message) to the sink.
    pub decide:
        extern "C" fn(request: *const u8, request_len: usize, sink: *const OutputSink) -> i32,
    /// Version 1.1: keeps the encoded `accord.v1.ElectorateSnapshot` at `snapshot`/`snapshot_len`
    /// for the requests whose `electorate_id` names it; writes nothing on success. The library
    /// may forget a snapshot at any time: a request naming one it does not know gets
    /// [`Status::UnknownElectorate`], and the host registers it again.
    pub register_electorate:
        extern "C" fn(snapshot: *const u8, snapshot_len: usize, sink: *const OutputSink) -> i32,
}

/// Result codes of the table's functions.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Success; the sink holds the encoded answer.
    Ok = 0,
    /// The request bytes did not decode, or the request lacks what the policy needs.
    InvalidRequest = 1,
    /// A parameter is unknown, unparsable or out of range.
    InvalidParameter = 2,
    /// The policy failed.
    Failed = 3,
    /// The policy panicked; the panic was caught inside the library.
    Panicked = 4,
    /// Version 1.1: the request names an electorate the library does not hold (never
    /// registered, or forgotten); the host registers it and asks again.
    UnknownElectorate = 5,
}

impl Status {
    /// The status for a raw code, if it is one.
    pub fn from_code(code: i32) -> Option<Self> {
        Some(match code {
            0 => Self::Ok,
            1 => Self::InvalidRequest,
            2 => Self::InvalidParameter,
            3 => Self::Failed,
            4 => Self::Panicked,
            5 => Self::UnknownElectorate,
            _ => return None,
        })
    }
}

/// The plugin side: what [`crate::export_policy!`] expands to calls. Not for direct use.
#[doc(hidden)]
pub mod plugin {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    fn write(sink: *const OutputSink, bytes: &[u8]) {
        if sink.is_null() {
            return;
        }
        // SAFETY: the host passes a valid sink for the duration of the call (ABI contract).
        let sink = unsafe { &*sink };
        (sink.write)(sink.context, bytes.as_ptr(), bytes.len());
    }

    fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
        if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "panic with a non-string payload".to_string()
        }
    }

    fn error_status(error: &PolicyError) -> Status {
        match error {
            PolicyError::InvalidRequest(_) => Status::InvalidRequest,
            PolicyError::InvalidParameter { .. } => Status::InvalidParameter,
            PolicyError::Failed(_) => Status::Failed,
        }
    }

    fn guarded(
        sink: *const OutputSink,
        body: impl FnOnce() -> Result<Vec<u8>, PolicyError>,
    ) -> i32 {
        match panic::catch_unwind(AssertUnwindSafe(body)) {
            Ok(Ok(bytes)) => {
                write(sink, &bytes);
                Status::Ok as i32
            }
            Ok(Err(error)) => {
                write(sink, error.to_string().as_bytes());
                error_status(&error) as i32
            }
            Err(payload) => {
                write(
                    sink,
                    format!("policy panicked: {}", panic_message(&*payload)).as_bytes(),
                );
                Status::Panicked as i32
            }
        }
    }

    /// Body of the exported `descriptor` function (same contract as [`decide`]).
    #[allow(clippy::not_unsafe_ptr_arg_deref)]
    pub fn descriptor<P: DecisionPolicy>(
        instance: fn() -> &'static P,
        sink: *const OutputSink,
    ) -> i32 {
        guarded(sink, || Ok(instance().descriptor().encode_to_vec()))
    }

    /// The `len` bytes at `data`: empty when `len` is 0 (whatever the pointer, null included).
    fn input<'a>(data: *const u8, len: usize, what: &str) -> Result<&'a [u8], PolicyError> {
        if len == 0 {
            Ok(&[])
        } else if data.is_null() {
            Err(PolicyError::InvalidRequest(format!(
                "null {what} pointer with length {len}"
            )))
        } else {
            // SAFETY: the host passes `len` readable bytes that outlive the call.
            Ok(unsafe { std::slice::from_raw_parts(data, len) })
        }
    }

    /// The electorates registered with this library (version 1.1), newest last. Bounded: a
    /// host registers a new snapshot only when the alliance's members change, and one that
    /// was forgotten is registered again on demand ([`Status::UnknownElectorate`]).
    static ELECTORATES: Mutex<VecDeque<(u64, Arc<Vec<proto::Member>>)>> =
        Mutex::new(VecDeque::new());

    /// How many electorates a library keeps.
    pub const KEPT_ELECTORATES: usize = super::KEPT_ELECTORATES_HINT;

    fn electorate(id: u64) -> Option<Arc<Vec<proto::Member>>> {
        let kept = ELECTORATES.lock().unwrap_or_else(|e| e.into_inner());
        kept.iter()
            .rev()
            .find(|(kept, _)| *kept == id)
            .map(|(_, members)| members.clone())
    }

    /// Body of the exported `register_electorate` function (version 1.1; same contract as
    /// [`decide`]).
    #[allow(clippy::not_unsafe_ptr_arg_deref)]
    pub fn register_electorate(snapshot: *const u8, len: usize, sink: *const OutputSink) -> i32 {
        let result = panic::catch_unwind(|| -> Result<(), PolicyError> {
            let bytes = input(snapshot, len, "snapshot")?;
            let snapshot = proto::ElectorateSnapshot::decode(bytes).map_err(|e| {
                PolicyError::InvalidRequest(format!(
                    "snapshot is not an accord.v1.ElectorateSnapshot: {e}"
                ))
            })?;
            if snapshot.id == 0 {
                return Err(PolicyError::InvalidRequest(
                    "an electorate snapshot's id is never 0".into(),
                ));
            }
            let mut kept = ELECTORATES.lock().unwrap_or_else(|e| e.into_inner());
            kept.retain(|(id, _)| *id != snapshot.id);
            if kept.len() >= KEPT_ELECTORATES {
                kept.pop_front();
            }
            kept.push_back((snapshot.id, Arc::new(snapshot.members)));
            Ok(())
        });
        match result {
            Ok(Ok(())) => Status::Ok as i32,
            Ok(Err(error)) => {
                write(sink, error.to_string().as_bytes());
                error_status(&error) as i32
            }
            Err(payload) => {
                write(
                    sink,
                    format!(
                        "registering an electorate panicked: {}",
                        panic_message(&*payload)
                    )
                    .as_bytes(),
                );
                Status::Panicked as i32
            }
        }
    }

    /// Body of the exported `decide` function.
    ///
    /// Safe to call only as the macro does: with the pointers the host passed across the ABI,
    /// which the ABI contract makes valid for the call. It is a safe `fn` (not `unsafe fn`) so
    /// that plugin crates can keep `#![forbid(unsafe_code)]`; it is hidden and not for direct use.
    #[allow(clippy::not_unsafe_ptr_arg_deref)]
    pub fn decide<P: DecisionPolicy>(
        instance: fn() -> &'static P,
        request: *const u8,
        request_len: usize,
        sink: *const OutputSink,
    ) -> i32 {
        let mut unknown = None;
        let code = guarded(sink, || {
            let bytes = input(request, request_len, "request")?;
            let request = proto::DecisionRequest::decode(bytes).map_err(|e| {
                PolicyError::InvalidRequest(format!(
                    "request is not an accord.v1.DecisionRequest: {e}"
                ))
            })?;
            let decision = if request.electorate_id == 0 {
                instance().decide(&Request::new(&request))?
            } else {
                if !request.members.is_empty() {
                    return Err(PolicyError::InvalidRequest(
                        "a request names an electorate and also lists members".into(),
                    ));
                }
                let Some(members) = electorate(request.electorate_id) else {
                    unknown = Some(request.electorate_id);
                    return Err(PolicyError::InvalidRequest(format!(
                        "electorate {} is not registered with this library",
                        request.electorate_id
                    )));
                };
                instance().decide(&Request::with_members(&request, &members))?
            };
            Ok(proto::DecisionResponse {
                decision: Some(decision),
            }
            .encode_to_vec())
        });
        if unknown.is_some() {
            Status::UnknownElectorate as i32
        } else {
            code
        }
    }
}

/// The host side's raw calls through a table. Used by [`crate::host`]; the table must come from a
/// library that stays loaded for as long as the table is used.
#[cfg(feature = "host")]
pub(crate) mod host_calls {
    use super::*;

    extern "C" fn append(context: *mut c_void, data: *const u8, len: usize) {
        if context.is_null() || (data.is_null() && len > 0) {
            return;
        }
        // SAFETY: `context` is the `Vec<u8>` passed by `call` below, alive for the whole call;
        // the plugin passes `len` readable bytes at `data`.
        let (buffer, bytes) = unsafe {
            (
                &mut *(context as *mut Vec<u8>),
                if len == 0 {
                    &[][..]
                } else {
                    std::slice::from_raw_parts(data, len)
                },
            )
        };
        buffer.extend_from_slice(bytes);
    }

    fn call(f: impl FnOnce(*const OutputSink) -> i32) -> (i32, Vec<u8>) {
        let mut buffer: Vec<u8> = Vec::new();
        let sink = OutputSink {
            context: &mut buffer as *mut Vec<u8> as *mut c_void,
            write: append,
        };
        let code = f(&sink);
        (code, buffer)
    }

    /// A checked table of version 1.0 or 1.1, in a library that stays loaded.
    ///
    /// It keeps a raw pointer rather than a `&PolicyTable`: a 1.0 table is shorter than this
    /// SDK's struct, so only the fields its `table_size` covers may be read.
    #[derive(Clone, Copy)]
    pub(crate) struct Table {
        pointer: *const PolicyTable,
        size: u32,
    }

    // SAFETY: the table is a static in a library that is never unloaded, and is never written.
    unsafe impl Send for Table {}
    // SAFETY: as above; the functions it points to must be callable from any thread (ABI).
    unsafe impl Sync for Table {}

    impl Table {
        /// The table's `panic_unwinds` field.
        pub(crate) fn panic_unwinds(&self) -> u32 {
            // SAFETY: checked at open: the pointer is a live table of at least 1.0's size.
            unsafe { std::ptr::addr_of!((*self.pointer).panic_unwinds).read() }
        }

        /// The table's size, which tells its minor version.
        pub(crate) fn size(&self) -> u32 {
            self.size
        }

        /// True for a version 1.1 table (with `register_electorate`).
        pub(crate) fn has_electorates(&self) -> bool {
            self.size >= TABLE_SIZE_1_1
        }

        /// Calls the table's `descriptor`.
        pub(crate) fn descriptor(&self) -> (i32, Vec<u8>) {
            // SAFETY: within the 1.0 part of a live table.
            let f = unsafe { std::ptr::addr_of!((*self.pointer).descriptor).read() };
            call(|sink| f(sink))
        }

        /// Calls the table's `decide` with `request`.
        pub(crate) fn decide(&self, request: &[u8]) -> (i32, Vec<u8>) {
            // SAFETY: within the 1.0 part of a live table.
            let f = unsafe { std::ptr::addr_of!((*self.pointer).decide).read() };
            call(|sink| f(request.as_ptr(), request.len(), sink))
        }

        /// Calls the table's `register_electorate` (version 1.1); `None` for a 1.0 table.
        pub(crate) fn register_electorate(&self, snapshot: &[u8]) -> Option<(i32, Vec<u8>)> {
            if !self.has_electorates() {
                return None;
            }
            // SAFETY: `table_size` covers the 1.1 field, checked just above.
            let f = unsafe { std::ptr::addr_of!((*self.pointer).register_electorate).read() };
            Some(call(|sink| f(snapshot.as_ptr(), snapshot.len(), sink)))
        }
    }

    /// Opens `path` and returns the library with its entry table.
    ///
    /// The returned table points into the library: it is valid only while the library stays
    /// loaded, which is why [`crate::host`] never unloads a library it has handed out.
    pub(crate) fn open(path: &std::path::Path) -> Result<(libloading::Library, Table), OpenError> {
        // SAFETY: loading a library runs its initialisers; accord loads only files an operator
        // placed in the plugin directory, and checks the table before calling anything else.
        let library = unsafe { libloading::Library::new(path) }.map_err(OpenError::NotALibrary)?;
        let table = {
            // SAFETY: the symbol's type is fixed by the ABI: `extern "C" fn() -> *const PolicyTable`.
            let entry: libloading::Symbol<'_, extern "C" fn() -> *const PolicyTable> =
                unsafe { library.get(ENTRY_SYMBOL.as_bytes()) }
                    .map_err(|_| OpenError::MissingEntry)?;
            let pointer = entry();
            if pointer.is_null() {
                return Err(OpenError::NullTable);
            }
            // The table's first two fields are read before anything else, so that a table of
            // another ABI version or size is refused without touching fields that may differ.
            // SAFETY: the entry returned a non-null pointer to a static table that lives as
            // long as the library; a table of any version starts with these two u32 fields.
            let (version, size) = unsafe {
                (
                    std::ptr::read(pointer as *const u32),
                    std::ptr::read((pointer as *const u32).add(1)),
                )
            };
            if version != ABI_VERSION {
                return Err(OpenError::AbiVersion(version));
            }
            if size < TABLE_SIZE_1_0 {
                return Err(OpenError::TableSize(size));
            }
            Table { pointer, size }
        };
        Ok((library, table))
    }

    /// Why [`open`] refused a file.
    #[derive(Debug)]
    pub(crate) enum OpenError {
        NotALibrary(libloading::Error),
        MissingEntry,
        NullTable,
        AbiVersion(u32),
        TableSize(u32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// docs/plugin-abi.md states this layout for 64-bit targets; C plugins depend on it.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn the_table_layout_is_the_documented_one() {
        assert_eq!(offset_of!(PolicyTable, abi_version), 0);
        assert_eq!(offset_of!(PolicyTable, table_size), 4);
        assert_eq!(offset_of!(PolicyTable, panic_unwinds), 8);
        assert_eq!(offset_of!(PolicyTable, reserved), 12);
        assert_eq!(offset_of!(PolicyTable, descriptor), 16);
        assert_eq!(offset_of!(PolicyTable, decide), 24);
        assert_eq!(offset_of!(PolicyTable, register_electorate), 32);
        assert_eq!(size_of::<PolicyTable>(), 40);
        assert_eq!(TABLE_SIZE_1_0, 32);
        assert_eq!(TABLE_SIZE_1_1 as usize, size_of::<PolicyTable>());
        assert_eq!(size_of::<OutputSink>(), 16);
    }

    #[test]
    fn status_codes_round_trip() {
        for s in [
            Status::Ok,
            Status::InvalidRequest,
            Status::InvalidParameter,
            Status::Failed,
            Status::Panicked,
            Status::UnknownElectorate,
        ] {
            assert_eq!(Status::from_code(s as i32), Some(s));
        }
        assert_eq!(Status::from_code(6), None);
        assert_eq!(Status::from_code(-1), None);
    }
}
