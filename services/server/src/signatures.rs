//! Signed ballots: members' Ed25519 ballot keys, and the check every ballot passes.
//!
//! Guarantee: once a member has registered a key, every ballot cast for it must carry a valid
//! Ed25519 signature over its canonical encoding (`accord_proto::canonical::ballot`, with the
//! proposal's name) and a nonce; the server verifies it before the ballot is written, and keeps
//! the signature with the ballot and in its audit entry, so anyone with the public keys can
//! re-check every counted ballot. A member without a key may send unsigned ballots (a signature
//! it sends anyway must still verify — against nothing, so it is refused).

use std::collections::HashMap;
use std::sync::RwLock;

use accord_proto::canonical;
use accord_proto::names::{self, MEMBERS};
use accord_proto::v1::Ballot;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};

use crate::error::{DomainError, DomainResult};

/// The current ballot key of each member that registered one, by member code.
#[derive(Debug, Default)]
pub struct BallotKeys {
    keys: RwLock<HashMap<String, VerifyingKey>>,
}

/// A raw 32-byte Ed25519 public key, or INVALID_ARGUMENT.
pub fn parse_public_key(field: &str, bytes: &[u8]) -> DomainResult<VerifyingKey> {
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| {
        DomainError::invalid(
            field,
            format!("is {} bytes; an Ed25519 public key is 32", bytes.len()),
        )
    })?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|_| DomainError::invalid(field, "is not an Ed25519 public key"))
}

impl BallotKeys {
    /// Sets `member`'s key (code "DEU").
    pub fn set(&self, member: &str, key: VerifyingKey) {
        self.keys
            .write()
            .expect("keys lock")
            .insert(member.to_string(), key);
    }

    /// Checks `ballot` (its member already a resource name) on `proposal` ("proposals/3").
    pub fn check(&self, proposal: &str, ballot: &Ballot) -> DomainResult<()> {
        let code = names::parse(MEMBERS, &ballot.member).unwrap_or(&ballot.member);
        let key = self.keys.read().expect("keys lock").get(code).copied();
        match key {
            None if ballot.signature.is_empty() => Ok(()),
            None => Err(DomainError::invalid(
                "ballot.signature",
                format!(
                    "{} has registered no ballot key, so a signature cannot be checked",
                    ballot.member
                ),
            )),
            Some(key) => {
                if ballot.signature.is_empty() {
                    return Err(DomainError::invalid(
                        "ballot.signature",
                        format!(
                            "is required: {} has registered a ballot key (sign the canonical encoding, docs/security.md)",
                            ballot.member
                        ),
                    ));
                }
                if ballot.nonce.is_empty()
                    || !ballot
                        .nonce
                        .chars()
                        .all(|c| c.is_ascii_graphic() || c == ' ')
                {
                    return Err(DomainError::invalid(
                        "ballot.nonce",
                        "a signed ballot needs a nonce of 1 to 64 printable ASCII characters",
                    ));
                }
                let signature = Signature::from_slice(&ballot.signature)
                    .map_err(|_| DomainError::invalid("ballot.signature", "is not 64 bytes"))?;
                key.verify(&canonical::ballot(proposal, ballot), &signature)
                    .map_err(|_| {
                        DomainError::invalid(
                            "ballot.signature",
                            format!(
                                "does not verify with {}'s ballot key over the canonical encoding",
                                ballot.member
                            ),
                        )
                    })
            }
        }
    }
}
