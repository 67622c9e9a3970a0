//! The canonical encodings accord hashes or signs — the one place that defines them, so that the
//! server, the store, the CLI and clients in other languages produce the same bytes.
//!
//! Guarantee: an encoding is a pure function of the values it covers, is unambiguous (every field
//! is written as `key:<byte length>:<bytes>\n` after a version line, so no value can run into the
//! next), and never changes: a new encoding gets a new version line. The test vectors at the end
//! of this file are the contract; docs/security.md describes the same bytes in words.
//!
//! - [`ballot`]: what a member signs with its Ed25519 ballot key (`accord-ballot-v1`).
//! - [`audit_entry`] and [`audit_hash`]: what each audit entry's SHA-256 covers
//!   (`accord-audit-v1`), including the previous entry's hash, which makes the log a chain.

use sha2::{Digest, Sha256};

use crate::v1::{Ballot, Choice, Position, position};

/// The choice a withdrawal is written with (`Ballot.withdrawn`).
pub const WITHDRAWN: &str = "WITHDRAWN";

/// The `prev_hash` of the first audit entry: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn field(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    out.extend_from_slice(key.as_bytes());
    out.push(b':');
    out.extend_from_slice(value.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// A float as 16 lower-case hex digits of its IEEE 754 binary64 bits, big-endian.
pub fn float_hex(value: f64) -> String {
    format!("{:016x}", value.to_bits())
}

/// The bytes a member signs for `ballot` on proposal `proposal` ("proposals/3"):
///
/// ```text
/// accord-ballot-v1\n
/// proposal:<len>:<proposal name>\n
/// member:<len>:<member name, "members/DEU">\n
/// choice:<len>:<enum name, "CHOICE_SUPPORT"; "WITHDRAWN" for a withdrawal>\n
/// position:<len>:<"none" | "date:YYYY-MM-DD" | "amount:" + float_hex>\n
/// salience:<len>:<"none" | float_hex>\n
/// reason:<len>:<reason, UTF-8>\n
/// abstention:<len>:<"constructive" | "none">\n
/// reservation:<len>:<reservation, UTF-8>\n
/// acceptable:<len>:<"none" | LOW ".." HIGH, each end a position as above or "none">\n
/// nonce:<len>:<nonce>\n
/// ```
pub fn ballot(proposal: &str, ballot: &Ballot) -> Vec<u8> {
    let parts = BallotParts::of(ballot);
    ballot_from_parts(proposal, &parts)
}

/// A ballot's fields as they are written in its canonical encoding (and in its audit entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BallotParts {
    /// "members/DEU".
    pub member: String,
    /// "CHOICE_SUPPORT" (the number, for a value the protocol does not know).
    pub choice: String,
    /// "none", "date:YYYY-MM-DD" or "amount:" + [`float_hex`].
    pub position: String,
    /// "none" or [`float_hex`].
    pub salience: String,
    /// The reason.
    pub reason: String,
    /// "constructive" (a declared constructive abstention) or "none".
    pub abstention: String,
    /// The reservation (footnote), "" for none.
    pub reservation: String,
    /// "none", or the acceptable range as `LOW..HIGH`, each end a position or "none".
    pub acceptable: String,
    /// The nonce.
    pub nonce: String,
}

impl BallotParts {
    /// The parts of `ballot`.
    pub fn of(ballot: &Ballot) -> Self {
        let choice = if ballot.withdrawn {
            WITHDRAWN.to_string()
        } else {
            Choice::try_from(ballot.choice)
                .map(|c| c.as_str_name().to_string())
                .unwrap_or_else(|_| ballot.choice.to_string())
        };
        let position = position_text(ballot.position.as_ref());
        let acceptable = match &ballot.acceptable_range {
            None => "none".to_string(),
            Some(range) => format!(
                "{}..{}",
                position_text(range.low.as_ref()),
                position_text(range.high.as_ref())
            ),
        };
        let salience = ballot
            .salience
            .map_or_else(|| "none".to_string(), float_hex);
        BallotParts {
            member: ballot.member.clone(),
            choice,
            position,
            salience,
            reason: ballot.reason.clone(),
            abstention: if ballot.constructive_abstention {
                "constructive"
            } else {
                "none"
            }
            .to_string(),
            reservation: ballot.reservation.clone(),
            acceptable,
            nonce: ballot.nonce.clone(),
        }
    }
}

/// A position as the encoding writes it: "none", "date:YYYY-MM-DD" or "amount:" + [`float_hex`].
fn position_text(position: Option<&Position>) -> String {
    match position.and_then(|p| p.value.as_ref()) {
        None => "none".to_string(),
        Some(position::Value::Date(d)) => {
            format!("date:{:04}-{:02}-{:02}", d.year, d.month, d.day)
        }
        Some(position::Value::Amount(a)) => format!("amount:{}", float_hex(*a)),
    }
}

/// [`ballot`], from its parts.
pub fn ballot_from_parts(proposal: &str, parts: &BallotParts) -> Vec<u8> {
    let mut out = b"accord-ballot-v1\n".to_vec();
    field(&mut out, "proposal", proposal.as_bytes());
    field(&mut out, "member", parts.member.as_bytes());
    field(&mut out, "choice", parts.choice.as_bytes());
    field(&mut out, "position", parts.position.as_bytes());
    field(&mut out, "salience", parts.salience.as_bytes());
    field(&mut out, "reason", parts.reason.as_bytes());
    field(&mut out, "abstention", parts.abstention.as_bytes());
    field(&mut out, "reservation", parts.reservation.as_bytes());
    field(&mut out, "acceptable", parts.acceptable.as_bytes());
    field(&mut out, "nonce", parts.nonce.as_bytes());
    out
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The fields of one audit entry that its hash covers.
#[derive(Debug, Clone, Copy)]
pub struct AuditFields<'a> {
    /// Sequence number.
    pub sequence: i64,
    /// Seconds of its time (Unix).
    pub seconds: i64,
    /// Nanoseconds of its time.
    pub nanos: i32,
    /// Kind ("ballot").
    pub kind: &'a str,
    /// Subject ("proposals/3").
    pub subject: &'a str,
    /// Actor ("members/DEU").
    pub actor: &'a str,
    /// Detail (JSON).
    pub detail: &'a str,
    /// The previous entry's hash ([`GENESIS_HASH`] for the first).
    pub prev_hash: &'a str,
}

/// The bytes an audit entry's hash covers:
///
/// ```text
/// accord-audit-v1\n
/// sequence:<len>:<decimal>\n
/// time:<len>:<seconds>.<nanos, 9 digits>\n
/// kind:<len>:<kind>\n
/// subject:<len>:<subject>\n
/// actor:<len>:<actor>\n
/// detail:<len>:<detail>\n
/// prev:<len>:<previous entry's hash, 64 hex digits>\n
/// ```
pub fn audit_entry(entry: &AuditFields<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(96 + entry.detail.len() + entry.subject.len());
    out.extend_from_slice(b"accord-audit-v1\n");
    field(&mut out, "sequence", entry.sequence.to_string().as_bytes());
    let time = format!("{}.{:09}", entry.seconds, entry.nanos);
    field(&mut out, "time", time.as_bytes());
    field(&mut out, "kind", entry.kind.as_bytes());
    field(&mut out, "subject", entry.subject.as_bytes());
    field(&mut out, "actor", entry.actor.as_bytes());
    field(&mut out, "detail", entry.detail.as_bytes());
    field(&mut out, "prev", entry.prev_hash.as_bytes());
    out
}

/// The hash of an audit entry: [`sha256_hex`] of [`audit_entry`].
pub fn audit_hash(entry: &AuditFields<'_>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(audit_entry(entry));
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::{AcceptableRange, Date};

    /// Test vector 1 (also in docs/security.md and clients/python/tests): a signed ballot.
    #[test]
    fn ballot_vector() {
        let b = Ballot {
            member: "members/DEU".into(),
            choice: Choice::Support as i32,
            position: Some(Position {
                value: Some(position::Value::Date(Date {
                    year: 2026,
                    month: 9,
                    day: 30,
                })),
            }),
            salience: Some(0.75),
            reason: "Mandate fulfilled\nnext".into(),
            nonce: "2026-05-01T12:00:00Z".into(),
            ..Default::default()
        };
        let bytes = ballot("proposals/3", &b);
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            "accord-ballot-v1\nproposal:11:proposals/3\nmember:11:members/DEU\n\
             choice:14:CHOICE_SUPPORT\nposition:15:date:2026-09-30\n\
             salience:16:3fe8000000000000\nreason:22:Mandate fulfilled\nnext\n\
             abstention:4:none\nreservation:0:\nacceptable:4:none\n\
             nonce:20:2026-05-01T12:00:00Z\n"
        );
        assert_eq!(sha256_hex(&bytes), BALLOT_VECTOR_SHA256);
    }

    /// Test vector 2: a ballot with nothing optional.
    #[test]
    fn bare_ballot_vector() {
        let b = Ballot {
            member: "members/USA".into(),
            choice: Choice::Object as i32,
            position: Some(Position {
                value: Some(position::Value::Amount(1500.0)),
            }),
            ..Default::default()
        };
        assert_eq!(
            String::from_utf8(ballot("proposals/12", &b)).unwrap(),
            "accord-ballot-v1\nproposal:12:proposals/12\nmember:11:members/USA\n\
             choice:13:CHOICE_OBJECT\nposition:23:amount:4097700000000000\n\
             salience:4:none\nreason:0:\nabstention:4:none\nreservation:0:\n\
             acceptable:4:none\nnonce:0:\n"
        );
    }

    /// Test vector 4: a constructive abstention, and a support with a reservation and an
    /// acceptable range open at one end.
    #[test]
    fn abstention_reservation_and_range_vector() {
        let abstain = Ballot {
            member: "members/HUN".into(),
            choice: Choice::Abstain as i32,
            constructive_abstention: true,
            ..Default::default()
        };
        assert_eq!(
            String::from_utf8(ballot("proposals/5", &abstain)).unwrap(),
            "accord-ballot-v1\nproposal:11:proposals/5\nmember:11:members/HUN\n\
             choice:14:CHOICE_ABSTAIN\nposition:4:none\nsalience:4:none\nreason:0:\n\
             abstention:12:constructive\nreservation:0:\nacceptable:4:none\nnonce:0:\n"
        );
        let support = Ballot {
            member: "members/FRA".into(),
            choice: Choice::Support as i32,
            reservation: "Only with a review in 2027".into(),
            acceptable_range: Some(AcceptableRange {
                low: Some(Position {
                    value: Some(position::Value::Amount(2500.0)),
                }),
                high: None,
            }),
            ..Default::default()
        };
        assert_eq!(
            String::from_utf8(ballot("proposals/5", &support)).unwrap(),
            "accord-ballot-v1\nproposal:11:proposals/5\nmember:11:members/FRA\n\
             choice:14:CHOICE_SUPPORT\nposition:4:none\nsalience:4:none\nreason:0:\n\
             abstention:4:none\nreservation:26:Only with a review in 2027\n\
             acceptable:29:amount:40a3880000000000..none\nnonce:0:\n"
        );
    }

    /// Test vector 5: a withdrawal.
    #[test]
    fn withdrawal_vector() {
        let b = Ballot {
            member: "members/DEU".into(),
            withdrawn: true,
            reason: "new instructions".into(),
            ..Default::default()
        };
        assert_eq!(
            String::from_utf8(ballot("proposals/3", &b)).unwrap(),
            "accord-ballot-v1\nproposal:11:proposals/3\nmember:11:members/DEU\n\
             choice:9:WITHDRAWN\nposition:4:none\nsalience:4:none\nreason:16:new instructions\n\
             abstention:4:none\nreservation:0:\nacceptable:4:none\nnonce:0:\n"
        );
    }

    /// Test vector 3: an audit entry and its hash.
    #[test]
    fn audit_vector() {
        let entry = AuditFields {
            sequence: 1,
            seconds: 1_767_225_600,
            nanos: 5,
            kind: "seed",
            subject: "dataset",
            actor: "system",
            detail: r#"{"members":32}"#,
            prev_hash: GENESIS_HASH,
        };
        assert_eq!(
            String::from_utf8(audit_entry(&entry)).unwrap(),
            format!(
                "accord-audit-v1\nsequence:1:1\ntime:20:1767225600.000000005\nkind:4:seed\n\
                 subject:7:dataset\nactor:6:system\ndetail:14:{{\"members\":32}}\nprev:64:{GENESIS_HASH}\n"
            )
        );
        assert_eq!(audit_hash(&entry), AUDIT_VECTOR_SHA256);
    }

    const BALLOT_VECTOR_SHA256: &str =
        "705ad701e40e89f98689332930974beb6dce22a46f911fbb093b951cb91145df";
    const AUDIT_VECTOR_SHA256: &str =
        "b90d197ca379cdf61a0a6f374c3ecc0fd3f9b9cac39169a085099f615a819c28";
}
