//! The audit chain: every audit entry carries the SHA-256 of the entry before it and of its own
//! canonical encoding (`accord_proto::canonical::audit_entry`), so that changing, inserting or
//! deleting any entry but the newest breaks every hash after it — and the [`Verifier`] names the
//! first entry that does not verify.
//!
//! The guarantees kept here, for every backend:
//! - [`link`] is the only way an entry gets its sequence and hashes: sequences are 1, 2, 3, …
//!   without gaps, and `prev_hash` is the previous entry's `hash` ([`GENESIS_HASH`] first).
//! - [`Verifier`] recomputes the chain in order and re-checks every ballot signature against the
//!   member's ballot key registered before it (keys are themselves audit entries,
//!   `ballot_key_registered`), and remembers each ballot's canonical SHA-256 so that the ballots
//!   kept elsewhere (the `ballots` table) can be compared with what the log says was cast.
//!
//! What it cannot see: the newest entries deleted with nothing written after them. Keep the head
//! (`accord audit verify` prints its sequence and hash) somewhere else to catch that.

use std::collections::HashMap;

pub use accord_proto::canonical::GENESIS_HASH;
use accord_proto::canonical::{self, AuditFields, BallotParts};
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};

/// One entry of the chain, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainedEntry {
    /// 1, 2, 3, …
    pub sequence: i64,
    /// Unix seconds.
    pub seconds: i64,
    /// Nanoseconds.
    pub nanos: i32,
    /// "ballot", "decision", …
    pub kind: String,
    /// "proposals/3", …
    pub subject: String,
    /// "operator", "members/DEU", "system", …
    pub actor: String,
    /// JSON.
    pub detail: String,
    /// The previous entry's hash.
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

impl ChainedEntry {
    fn fields(&self) -> AuditFields<'_> {
        AuditFields {
            sequence: self.sequence,
            seconds: self.seconds,
            nanos: self.nanos,
            kind: &self.kind,
            subject: &self.subject,
            actor: &self.actor,
            detail: &self.detail,
            prev_hash: &self.prev_hash,
        }
    }
}

/// Makes the next entry of a chain whose newest entry is `(last_sequence, last_hash)`
/// (`(0, GENESIS_HASH)` for an empty chain).
#[allow(clippy::too_many_arguments)]
pub fn link(
    last_sequence: i64,
    last_hash: &str,
    seconds: i64,
    nanos: i32,
    kind: String,
    subject: String,
    actor: String,
    detail: String,
) -> ChainedEntry {
    let mut entry = ChainedEntry {
        sequence: last_sequence + 1,
        seconds,
        nanos,
        kind,
        subject,
        actor,
        detail,
        prev_hash: last_hash.to_string(),
        hash: String::new(),
    };
    entry.hash = canonical::audit_hash(&entry.fields());
    entry
}

/// Why the chain does not verify, at the first entry that does not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit entry {sequence} does not verify: {reason}")]
pub struct ChainBroken {
    /// The sequence number of the first entry that does not verify.
    pub sequence: i64,
    /// What is wrong with it.
    pub reason: String,
}

/// What a verification found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainReport {
    /// Entries verified.
    pub entries: i64,
    /// Ballot signatures checked.
    pub signatures: i64,
    /// Ballots compared with the ballots table (0 when only the log was checked).
    pub ballots_compared: i64,
    /// The newest entry's sequence (0: empty).
    pub head_sequence: i64,
    /// The newest entry's hash.
    pub head_hash: String,
}

/// Verifies a chain fed to it in order, entry by entry.
#[derive(Debug)]
pub struct Verifier {
    report: ChainReport,
    keys: HashMap<String, VerifyingKey>,
    /// Ballot name → (audit sequence, canonical SHA-256).
    ballots: HashMap<String, (i64, String)>,
    /// Ballots recorded before entries carried their canonical encoding.
    legacy: std::collections::HashSet<String>,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            report: ChainReport {
                head_hash: GENESIS_HASH.to_string(),
                ..Default::default()
            },
            keys: HashMap::new(),
            ballots: HashMap::new(),
            legacy: Default::default(),
        }
    }
}

fn text<'a>(detail: &'a serde_json::Value, key: &str) -> Result<&'a str, String> {
    detail
        .get(key)
        .and_then(|v| v.as_str())
        .ok_or_else(|| format!("its detail has no `{key}`"))
}

impl Verifier {
    /// Checks the next entry.
    pub fn push(&mut self, entry: &ChainedEntry) -> Result<(), ChainBroken> {
        let broken = |reason: String| ChainBroken {
            sequence: entry.sequence,
            reason,
        };
        let expected = self.report.head_sequence + 1;
        if entry.sequence != expected {
            return Err(ChainBroken {
                sequence: expected,
                reason: format!("it is missing (the next entry found is {})", entry.sequence),
            });
        }
        if entry.prev_hash != self.report.head_hash {
            return Err(broken(format!(
                "it names {} as the previous entry's hash, but entry {} hashes to {}",
                short(&entry.prev_hash),
                self.report.head_sequence,
                short(&self.report.head_hash)
            )));
        }
        let hash = canonical::audit_hash(&entry.fields());
        if hash != entry.hash {
            return Err(broken(format!(
                "its content hashes to {}, not to the {} it carries (changed after it was written)",
                short(&hash),
                short(&entry.hash)
            )));
        }
        match entry.kind.as_str() {
            "ballot_key_registered" => {
                let detail: serde_json::Value = serde_json::from_str(&entry.detail)
                    .map_err(|e| broken(format!("its detail is not JSON: {e}")))?;
                let member = text(&detail, "member").map_err(&broken)?;
                let key = text(&detail, "public_key").map_err(&broken)?;
                let key = parse_key(key).map_err(&broken)?;
                self.keys.insert(member.to_string(), key);
            }
            "ballot" => self.ballot(entry).map_err(broken)?,
            _ => {}
        }
        self.report.entries += 1;
        self.report.head_sequence = entry.sequence;
        self.report.head_hash = entry.hash.clone();
        Ok(())
    }

    fn ballot(&mut self, entry: &ChainedEntry) -> Result<(), String> {
        let detail: serde_json::Value = serde_json::from_str(&entry.detail)
            .map_err(|e| format!("its detail is not JSON: {e}"))?;
        let Ok(canonical_choice) = text(&detail, "canonical_choice") else {
            // A ballot written before ballots were signed: nothing to re-check.
            if let Ok(name) = text(&detail, "ballot") {
                self.legacy.insert(name.to_string());
            }
            return Ok(());
        };
        let parts = BallotParts {
            member: text(&detail, "member")?.to_string(),
            choice: canonical_choice.to_string(),
            position: text(&detail, "position")?.to_string(),
            salience: text(&detail, "salience_bits")?.to_string(),
            reason: text(&detail, "reason")?.to_string(),
            abstention: text(&detail, "abstention")?.to_string(),
            reservation: text(&detail, "reservation")?.to_string(),
            acceptable: text(&detail, "acceptable")?.to_string(),
            nonce: text(&detail, "nonce")?.to_string(),
        };
        let bytes = canonical::ballot_from_parts(&entry.subject, &parts);
        let sha = canonical::sha256_hex(&bytes);
        if text(&detail, "canonical_sha256")? != sha {
            return Err("its canonical_sha256 does not match its ballot".into());
        }
        let signature = text(&detail, "signature")?;
        match self.keys.get(&parts.member) {
            Some(key) => {
                let signature = hex::decode(signature)
                    .ok()
                    .and_then(|bytes| Signature::from_slice(&bytes).ok())
                    .ok_or_else(|| {
                        format!(
                            "the ballot of {} has no valid signature, but the member has a ballot key",
                            parts.member
                        )
                    })?;
                key.verify(&bytes, &signature).map_err(|_| {
                    format!(
                        "the signature of {}'s ballot does not verify with its ballot key",
                        parts.member
                    )
                })?;
                self.report.signatures += 1;
            }
            None if !signature.is_empty() => {
                return Err(format!(
                    "the ballot of {} is signed but the member had registered no key",
                    parts.member
                ));
            }
            None => {}
        }
        let name = text(&detail, "ballot")?.to_string();
        self.ballots.insert(name, (entry.sequence, sha));
        Ok(())
    }

    /// After the chain: compares one ballot kept outside the log (`proposal` "proposals/3",
    /// the stored ballot) with the entry that recorded it.
    pub fn compare_ballot(
        &mut self,
        proposal: &str,
        ballot: &accord_proto::v1::Ballot,
    ) -> Result<(), ChainBroken> {
        if self.legacy.contains(&ballot.name) {
            return Ok(());
        }
        let sha = canonical::sha256_hex(&canonical::ballot(proposal, ballot));
        match self.ballots.remove(&ballot.name) {
            Some((_, recorded)) if recorded == sha => {
                self.report.ballots_compared += 1;
                Ok(())
            }
            Some((sequence, _)) => Err(ChainBroken {
                sequence,
                reason: format!(
                    "ballot {} in the ballots table differs from what this entry recorded",
                    ballot.name
                ),
            }),
            None => Err(ChainBroken {
                sequence: 0,
                reason: format!("ballot {} has no audit entry", ballot.name),
            }),
        }
    }

    /// After [`Self::compare_ballot`] for every stored ballot: a ballot the log recorded that
    /// the table no longer holds.
    pub fn missing_ballots(&self) -> Result<(), ChainBroken> {
        match self.ballots.values().min() {
            Some((sequence, _)) => Err(ChainBroken {
                sequence: *sequence,
                reason: "the ballot this entry recorded is missing from the ballots table".into(),
            }),
            None => Ok(()),
        }
    }

    /// What was verified.
    pub fn report(&self) -> &ChainReport {
        &self.report
    }
}

/// A raw 32-byte Ed25519 public key from lower-case hex.
pub fn parse_key(hex_key: &str) -> Result<VerifyingKey, String> {
    let bytes: [u8; 32] = hex::decode(hex_key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("a ballot key is 32 bytes (64 hex digits)")?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| "not an Ed25519 public key".to_string())
}

fn short(hash: &str) -> String {
    hash.chars().take(16).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<ChainedEntry> {
        let mut out: Vec<ChainedEntry> = Vec::new();
        for i in 0..n {
            let (seq, hash) = out.last().map_or((0, GENESIS_HASH.to_string()), |e| {
                (e.sequence, e.hash.clone())
            });
            out.push(link(
                seq,
                &hash,
                1_700_000_000 + i,
                0,
                "setting".into(),
                "settings/x".into(),
                "operator".into(),
                format!("{{\"value\":{i}}}"),
            ));
        }
        out
    }

    fn verify(entries: &[ChainedEntry]) -> Result<ChainReport, ChainBroken> {
        let mut v = Verifier::default();
        for e in entries {
            v.push(e)?;
        }
        Ok(v.report().clone())
    }

    #[test]
    fn an_intact_chain_verifies_and_any_change_names_the_entry() {
        let entries = chain(10);
        assert_eq!(verify(&entries).unwrap().entries, 10);
        let mut edited = entries.clone();
        edited[4].detail = "{\"value\":99}".into();
        assert_eq!(verify(&edited).unwrap_err().sequence, 5);
        let mut deleted = entries.clone();
        deleted.remove(6);
        assert_eq!(verify(&deleted).unwrap_err().sequence, 7);
        let mut rehashed = entries.clone();
        rehashed[2].detail = "{}".into();
        rehashed[2].hash = canonical::audit_hash(&rehashed[2].fields());
        assert_eq!(
            verify(&rehashed).unwrap_err().sequence,
            4,
            "the next link breaks"
        );
    }
}
