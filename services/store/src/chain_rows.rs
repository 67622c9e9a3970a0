//! The audit chain as both backends store it: the row of an entry (the same columns in SQLite
//! and PostgreSQL), linking new entries after the head, chaining the entries of a database
//! written before the chain existed, and checking a whole stored database row by row. The
//! backends (`sqlite/chain.rs`, `postgres/chain.rs`) only run the SQL: what is linked and what
//! verifies is decided here and in [`audit_chain`](crate::audit_chain), once.

use accord_proto::canonical;
use accord_proto::v1::Ballot;
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use prost::Message as _;

use crate::audit::Entry;
use crate::audit_chain::{ChainBroken, ChainReport, ChainedEntry, Verifier, link};
use crate::records::now;
use crate::{StoreError, StoreResult};

/// An `audit_log` row, in the order of [`COLUMNS`].
pub(crate) type ChainRow = (
    i64,
    i64,
    i32,
    String,
    String,
    String,
    String,
    String,
    String,
);

/// The columns of a [`ChainRow`].
pub(crate) const COLUMNS: &str =
    "sequence, time_s, time_ns, kind, subject, actor, detail, prev_hash, hash";

/// The entry a row holds.
pub(crate) fn entry(row: ChainRow) -> ChainedEntry {
    let (sequence, seconds, nanos, kind, subject, actor, detail, prev_hash, hash) = row;
    ChainedEntry {
        sequence,
        seconds,
        nanos,
        kind,
        subject,
        actor,
        detail,
        prev_hash,
        hash,
    }
}

/// `entries` (each with its actor) linked after the head `(sequence, hash)`, stamped now. The
/// head's sequence is the highest ever used, so that a deleted tail leaves a gap.
pub(crate) fn link_after(
    (mut sequence, mut hash): (i64, String),
    entries: Vec<(Entry, String)>,
) -> Vec<ChainedEntry> {
    let time = now();
    let mut linked = Vec::with_capacity(entries.len());
    for (entry, actor) in entries {
        let next = link(
            sequence,
            &hash,
            time.seconds,
            time.nanos,
            entry.kind,
            entry.subject,
            actor,
            entry.detail,
        );
        sequence = next.sequence;
        hash.clone_from(&next.hash);
        linked.push(next);
    }
    linked
}

/// Entries written before the chain existed (in sequence order), linked from the start as the
/// system: each with the sequence it had.
pub(crate) fn relink(old: Vec<ChainedEntry>) -> Vec<(i64, ChainedEntry)> {
    let (mut sequence, mut hash) = (0_i64, crate::audit_chain::GENESIS_HASH.to_string());
    let mut out = Vec::with_capacity(old.len());
    for old in old {
        let linked = link(
            sequence,
            &hash,
            old.seconds,
            old.nanos,
            old.kind,
            old.subject,
            crate::actor::SYSTEM.to_string(),
            old.detail,
        );
        sequence = linked.sequence;
        hash.clone_from(&linked.hash);
        out.push((old.sequence, linked));
    }
    out
}

/// Whether a ballot writer may write `ballot` on `proposal` ("proposals/3"), given its member's
/// current ballot key in the database (`None`: none registered): what the [`Verifier`] will
/// demand of its audit entry. Checked under the write lock, so that a key registered through
/// another replica (which this replica may not have heard of yet) counts at once.
pub(crate) fn check_signature(
    key: Option<&[u8]>,
    proposal: &str,
    ballot: &Ballot,
) -> StoreResult<()> {
    let refused = |reason: String| Err(StoreError::Signature(reason));
    match key {
        None if ballot.signature.is_empty() => Ok(()),
        None => refused(format!(
            "{} has registered no ballot key, so a signature cannot be checked",
            ballot.member
        )),
        Some(key) => {
            let key = <[u8; 32]>::try_from(key)
                .ok()
                .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok());
            let signature = Signature::from_slice(&ballot.signature).ok();
            let (Some(key), Some(signature)) = (key, signature) else {
                return refused(format!(
                    "is required: {} has registered a ballot key (sign the canonical encoding, \
                     docs/security.md)",
                    ballot.member
                ));
            };
            match key.verify(&canonical::ballot(proposal, ballot), &signature) {
                Ok(()) => Ok(()),
                Err(_) => refused(format!(
                    "does not verify with the ballot key {} registered",
                    ballot.member
                )),
            }
        }
    }
}

/// A `ballots` row as verification reads it, in the order of [`BALLOT_COLUMNS`].
pub(crate) type BallotRow = (i64, i64, String, i32, Vec<u8>);

/// The columns of a [`BallotRow`].
pub(crate) const BALLOT_COLUMNS: &str = "sequence, proposal_id, member, choice, message";

/// The check of a whole stored database: feed it every audit row in sequence order, then every
/// ballot row, then [`Self::finish`]. Each step returns the first entry that does not verify.
#[derive(Debug, Default)]
pub(crate) struct StoredCheck {
    verifier: Verifier,
}

impl StoredCheck {
    /// The next audit row.
    pub(crate) fn entry(&mut self, row: ChainRow) -> Result<(), ChainBroken> {
        self.verifier.push(&entry(row))
    }

    /// A stored ballot (after every audit row): its columns must agree with its message, and
    /// its message with the entry that recorded it.
    pub(crate) fn ballot(&mut self, row: BallotRow) -> Result<(), ChainBroken> {
        let (sequence, proposal_id, member, choice, message) = row;
        let name = format!("proposals/{proposal_id}/ballots/{sequence}");
        let ballot =
            accord_proto::v1::Ballot::decode(message.as_slice()).map_err(|e| ChainBroken {
                sequence: 0,
                reason: format!("ballot {name} cannot be decoded: {e}"),
            })?;
        let code = accord_proto::names::member_code(&ballot.member).unwrap_or(&ballot.member);
        if ballot.name != name || code != member || ballot.choice != choice {
            return Err(ChainBroken {
                sequence: 0,
                reason: format!(
                    "ballot {name}: its columns (member {member}, choice {choice}) disagree with \
                     its stored message (changed after it was written)"
                ),
            });
        }
        self.verifier
            .compare_ballot(&format!("proposals/{proposal_id}"), &ballot)
    }

    /// After every ballot: a ballot the log recorded that the table no longer holds; else what
    /// was verified.
    pub(crate) fn finish(self) -> Result<ChainReport, ChainBroken> {
        self.verifier.missing_ballots()?;
        Ok(self.verifier.report().clone())
    }
}
