//! The host's side of ABI 1.1's electorates: the members of one version of the alliance,
//! encoded once ([`ElectorateSnapshot`]) and then either registered with a library and named by
//! id in each request (version 1.1), or spliced into each request's bytes (version 1.0).
//!
//! Splicing works because protobuf fields may come in any order and a repeated field's entries
//! may be split: `DecisionRequest.members` and `ElectorateSnapshot.members` are both field 2 of
//! type `Member`, so the snapshot's encoded members, appended to a request encoded without
//! members, decode as that request with its members. A request is therefore never re-encoded
//! with its members, whichever version the library speaks.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prost::Message;

use crate::proto::{ElectorateSnapshot as SnapshotMessage, Member};

/// The field number of `members` in both `DecisionRequest` and `ElectorateSnapshot`.
const MEMBERS_FIELD: u32 = 2;
/// The field number of `DecisionRequest.electorate_id`.
const ELECTORATE_ID_FIELD: u32 = 8;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The members of one version of the alliance, encoded once for every library and call.
#[derive(Debug, Clone)]
pub struct ElectorateSnapshot {
    id: u64,
    /// The encoded `members` entries (field 2), as in a request or a snapshot message.
    members_field: Arc<[u8]>,
    /// The whole encoded `accord.v1.ElectorateSnapshot`.
    snapshot: Arc<[u8]>,
}

impl ElectorateSnapshot {
    /// Encodes `members` under a new id, unique within this process.
    pub fn new(members: &[Member]) -> Self {
        let mut field = Vec::new();
        for member in members {
            prost::encoding::message::encode(MEMBERS_FIELD, member, &mut field);
        }
        Self::from_parts(NEXT_ID.fetch_add(1, Ordering::Relaxed), field)
    }

    /// A snapshot received from another host under `id` (the isolated runner gets the server's
    /// snapshots this way): `members_field` is the encoded `members` entries.
    pub fn from_parts(id: u64, members_field: Vec<u8>) -> Self {
        let mut snapshot = SnapshotMessage {
            id,
            members: Vec::new(),
        }
        .encode_to_vec();
        snapshot.extend_from_slice(&members_field);
        Self {
            id,
            members_field: members_field.into(),
            snapshot: snapshot.into(),
        }
    }

    /// The snapshot's id (never 0).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The encoded `members` entries.
    pub fn members_field(&self) -> &[u8] {
        &self.members_field
    }

    /// The encoded `accord.v1.ElectorateSnapshot`, as `register_electorate` takes it.
    pub fn snapshot(&self) -> &[u8] {
        &self.snapshot
    }

    /// `request` (encoded without members) with these members in it: for a version 1.0 library.
    pub fn inline(&self, request: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(request.len() + self.members_field.len());
        bytes.extend_from_slice(request);
        bytes.extend_from_slice(&self.members_field);
        bytes
    }

    /// `request` (encoded without members) naming this snapshot: for a version 1.1 library.
    pub fn named(&self, request: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(request.len() + 11);
        bytes.extend_from_slice(request);
        prost::encoding::uint64::encode(ELECTORATE_ID_FIELD, &self.id, &mut bytes);
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::DecisionRequest;
    use crate::selftest::sample_request;

    #[test]
    fn spliced_requests_decode_as_the_whole_request() {
        let whole = sample_request(7);
        let snapshot = ElectorateSnapshot::new(&whole.members);
        let without = DecisionRequest {
            members: Vec::new(),
            ..whole.clone()
        }
        .encode_to_vec();

        let inline = DecisionRequest::decode(snapshot.inline(&without).as_slice()).unwrap();
        assert_eq!(inline, whole);

        let named = DecisionRequest::decode(snapshot.named(&without).as_slice()).unwrap();
        assert_eq!(named.electorate_id, snapshot.id());
        assert!(named.members.is_empty());
        assert_eq!(
            DecisionRequest {
                electorate_id: 0,
                ..named
            },
            DecisionRequest {
                members: Vec::new(),
                ..whole.clone()
            }
        );

        let registered = SnapshotMessage::decode(snapshot.snapshot()).unwrap();
        assert_eq!(registered.id, snapshot.id());
        assert_eq!(registered.members, whole.members);
    }

    #[test]
    fn ids_are_unique_and_never_zero() {
        let a = ElectorateSnapshot::new(&[]);
        let b = ElectorateSnapshot::new(&[]);
        assert_ne!(a.id(), 0);
        assert_ne!(a.id(), b.id());
    }
}
