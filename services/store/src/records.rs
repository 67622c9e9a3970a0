//! The kinds of stored record, described once for every backend: where each is kept (table, key
//! column, the columns copied out of the message for filtering), what it is called in errors,
//! and the small conversions every backend shares (proposal ids, states in words, times,
//! decoding a stored message).
//!
//! The invariant kept here: a record row is its key, the indexed columns listed by its kind, and
//! the full prost-encoded message; the indexed columns are always copied from the message being
//! written ([`Record::values`]), so a row never disagrees with its message, and every backend
//! names a record kind the same way in [`StoreError`]s and audit entries.

use std::time::{SystemTime, UNIX_EPOCH};

use accord_proto::names;
use accord_proto::v1::{
    Member, MemberStatus, Mission, MissionStatus, Partner, ProposalState, SummitParticipation,
};
use prost::Message;
use prost_types::Timestamp;

use crate::{StoreError, StoreResult};

/// Where a kind of record is stored, and what it is called in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Table {
    /// The record kind in errors and audit entries: "member", "proposal", ...
    pub(crate) kind: &'static str,
    /// The table.
    pub(crate) name: &'static str,
    /// The key column.
    pub(crate) key: &'static str,
}

/// Proposals, keyed by an integer id (assigned by the store).
pub(crate) const PROPOSALS: Table = Table {
    kind: "proposal",
    name: "proposals",
    key: "id",
};

/// Ballots, keyed by their sequence (in the order cast, over all proposals).
pub(crate) const BALLOTS: Table = Table {
    kind: "ballot",
    name: "ballots",
    key: "sequence",
};

/// A record kind keyed by text that callers create and replace whole: members, partners,
/// missions.
pub(crate) trait Record: Message + Default + Send + Sync + 'static {
    /// Where it is stored.
    const TABLE: Table;
    /// The column its listings filter on (one of [`Self::COLUMNS`]).
    const FILTER: &'static str;
    /// The columns besides the key and the message, in the order of [`Self::values`].
    const COLUMNS: &'static [&'static str];
    /// What its listings filter on.
    type Filter: Into<i32>;

    /// The values of [`Self::COLUMNS`] for this record.
    fn values(&self) -> Vec<i32>;
    /// Its key ("USA", "KFOR").
    fn key(&self) -> &str;
    /// Its resource name ("members/USA"), the subject of its audit entries.
    fn name(&self) -> &str;
}

impl Record for Member {
    const TABLE: Table = Table {
        kind: "member",
        name: "members",
        key: "code",
    };
    const FILTER: &'static str = "status";
    const COLUMNS: &'static [&'static str] = &["status"];
    type Filter = MemberStatus;

    fn values(&self) -> Vec<i32> {
        vec![self.status]
    }

    fn key(&self) -> &str {
        &self.code
    }

    fn name(&self) -> &str {
        &self.name
    }
}

impl Record for Partner {
    const TABLE: Table = Table {
        kind: "partner",
        name: "partners",
        key: "code",
    };
    const FILTER: &'static str = "participation";
    const COLUMNS: &'static [&'static str] = &["category", "participation"];
    type Filter = SummitParticipation;

    fn values(&self) -> Vec<i32> {
        vec![self.category, self.summit_participation]
    }

    fn key(&self) -> &str {
        &self.code
    }

    fn name(&self) -> &str {
        &self.name
    }
}

impl Record for Mission {
    const TABLE: Table = Table {
        kind: "mission",
        name: "missions",
        key: "id",
    };
    const FILTER: &'static str = "status";
    const COLUMNS: &'static [&'static str] = &["status", "area"];
    type Filter = MissionStatus;

    fn values(&self) -> Vec<i32> {
        vec![self.status, self.area]
    }

    fn key(&self) -> &str {
        &self.id
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// How a record is written: added (its key must be new) or replaced (its key must exist).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    /// Added: [`StoreError::AlreadyExists`] if the key is taken.
    Create,
    /// Replaced whole: [`StoreError::NotFound`] if the key is not there.
    Update,
}

/// The numeric id in "3" or "proposals/3".
pub(crate) fn parse_proposal_id(id: &str) -> Option<i64> {
    let id = names::parse(names::PROPOSALS, id).unwrap_or(id);
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok().filter(|n| *n > 0)
}

/// The numeric id of a proposal as the caller gave it ("3", "proposals/3"), or NotFound.
pub(crate) fn proposal_key(proposal_id: &str) -> StoreResult<i64> {
    parse_proposal_id(proposal_id).ok_or_else(|| StoreError::not_found("proposal", proposal_id))
}

/// A proposal state in words, for [`StoreError::ProposalClosed`].
pub(crate) fn state_in_words(state: i32) -> &'static str {
    match ProposalState::try_from(state) {
        Ok(ProposalState::Open) => "open",
        Ok(ProposalState::Adopted) => "adopted",
        Ok(ProposalState::Rejected) => "rejected",
        Ok(ProposalState::Expired) => "expired",
        Ok(ProposalState::Withdrawn) => "withdrawn",
        Ok(ProposalState::Unspecified) => "in no state",
        Err(_) => "in an unknown state",
    }
}

/// The current time.
pub(crate) fn now() -> Timestamp {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp {
        seconds: since.as_secs() as i64,
        nanos: since.subsec_nanos() as i32,
    }
}

/// A timestamp as Unix milliseconds (saturating), for the time columns.
pub(crate) fn millis(time: Option<&Timestamp>) -> Option<i64> {
    time.map(|t| {
        t.seconds
            .saturating_mul(1000)
            .saturating_add(i64::from(t.nanos) / 1_000_000)
    })
}

/// Decodes a stored message.
pub(crate) fn decode<M: Message + Default>(kind: &'static str, bytes: &[u8]) -> StoreResult<M> {
    M::decode(bytes).map_err(|e| StoreError::Database(format!("corrupt {kind} record: {e}")))
}

impl StoreError {
    /// The record `kind` `id` does not exist.
    pub(crate) fn not_found(kind: &'static str, id: &str) -> Self {
        StoreError::NotFound {
            kind,
            id: id.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposal_ids() {
        assert_eq!(parse_proposal_id("3"), Some(3));
        assert_eq!(parse_proposal_id("proposals/12"), Some(12));
        assert_eq!(parse_proposal_id("0"), None);
        assert_eq!(parse_proposal_id("-1"), None);
        assert_eq!(parse_proposal_id("+1"), None);
        assert_eq!(parse_proposal_id(""), None);
        assert_eq!(parse_proposal_id("x"), None);
        assert_eq!(parse_proposal_id("99999999999999999999"), None);
        assert_eq!(proposal_key("proposals/7").unwrap(), 7);
        assert_eq!(
            proposal_key("proposals/x").unwrap_err().to_string(),
            "proposal `proposals/x` not found"
        );
    }

    #[test]
    fn millis_saturate() {
        assert_eq!(millis(None), None);
        assert_eq!(
            millis(Some(&Timestamp {
                seconds: 2,
                nanos: 5_000_000
            })),
            Some(2005)
        );
        assert_eq!(
            millis(Some(&Timestamp {
                seconds: i64::MAX,
                nanos: 0
            })),
            Some(i64::MAX)
        );
    }

    #[test]
    fn records_copy_their_columns_from_the_message() {
        let partner = Partner {
            code: "UKR".into(),
            name: "partners/UKR".into(),
            category: 2,
            summit_participation: 3,
            ..Default::default()
        };
        assert_eq!(Partner::COLUMNS.len(), partner.values().len());
        assert_eq!(partner.values(), vec![2, 3]);
        assert_eq!((partner.key(), partner.name()), ("UKR", "partners/UKR"));
        assert!(Partner::COLUMNS.contains(&Partner::FILTER));
        assert!(Member::COLUMNS.contains(&Member::FILTER));
        assert!(Mission::COLUMNS.contains(&Mission::FILTER));
        assert_eq!(Member::COLUMNS.len(), Member::default().values().len());
        assert_eq!(Mission::COLUMNS.len(), Mission::default().values().len());
    }
}
