//! Closing a proposal, for every backend: which closes (and ballots) the store refuses, and what
//! a proposal's record becomes when it closes.
//!
//! The invariant kept here: a proposal closes at most once — from OPEN into ADOPTED, REJECTED,
//! EXPIRED or WITHDRAWN — and takes ballots only while it is open; a close that says which
//! ballot it saw last is refused if a ballot came after it, so that no acknowledged ballot is
//! left out of the decision that closes its proposal. A backend runs these checks inside the
//! transaction that writes the close or the ballot (holding the write lock), so that whatever is
//! refused changes nothing.

use accord_proto::v1::{Proposal, ProposalState};

use crate::records::state_in_words;
use crate::{Closing, StoreError, StoreResult};

/// Refuses a close of proposal `id` into a state that is not a closing one (OPEN, none).
pub(crate) fn ensure_closing_state(id: i64, closing: &Closing) -> StoreResult<()> {
    if matches!(
        closing.state,
        ProposalState::Open | ProposalState::Unspecified
    ) {
        return Err(StoreError::Database(format!(
            "cannot close proposal {id} as {}: a closing state is adopted, rejected, expired \
             or withdrawn",
            state_in_words(closing.state as i32)
        )));
    }
    Ok(())
}

/// [`StoreError::ProposalClosed`] unless proposal `id`, in `state`, is open.
pub(crate) fn ensure_open(id: i64, state: i32) -> StoreResult<()> {
    if state != ProposalState::Open as i32 {
        return Err(StoreError::ProposalClosed {
            id: id.to_string(),
            state: state_in_words(state),
        });
    }
    Ok(())
}

/// [`StoreError::Stale`] if the latest ballot on proposal `id` (`None`: no ballot) is not the
/// one the close saw last (`seen`, 0 for none).
pub(crate) fn ensure_fresh(id: i64, seen: i64, latest: Option<i64>) -> StoreResult<()> {
    let latest = latest.unwrap_or(0);
    if latest != seen {
        return Err(StoreError::Stale {
            id: id.to_string(),
            seen,
            latest,
        });
    }
    Ok(())
}

/// The proposal as `closing` leaves it: its final state, close time and decision.
pub(crate) fn closed(mut proposal: Proposal, closing: &Closing) -> Proposal {
    proposal.set_state(closing.state);
    proposal.close_time = Some(closing.close_time);
    if let Some(decision) = &closing.decision {
        proposal.decision = Some(decision.clone());
    }
    proposal
}

#[cfg(test)]
mod tests {
    use accord_proto::v1::Decision;
    use prost_types::Timestamp;

    use super::*;

    fn closing(state: ProposalState, decision: Option<Decision>) -> Closing {
        Closing {
            state,
            decision,
            close_time: Timestamp {
                seconds: 9,
                nanos: 0,
            },
            effects: vec![],
            last_ballot: None,
        }
    }

    #[test]
    fn closes_are_checked() {
        assert!(ensure_closing_state(1, &closing(ProposalState::Expired, None)).is_ok());
        let refused = ensure_closing_state(4, &closing(ProposalState::Open, None));
        assert_eq!(
            refused.unwrap_err().to_string(),
            "database error: cannot close proposal 4 as open: a closing state is adopted, \
             rejected, expired or withdrawn"
        );
        assert!(ensure_open(3, ProposalState::Open as i32).is_ok());
        assert_eq!(
            ensure_open(3, ProposalState::Adopted as i32)
                .unwrap_err()
                .to_string(),
            "proposal 3 is adopted, not open"
        );
        assert!(ensure_fresh(7, 0, None).is_ok());
        assert!(ensure_fresh(7, 5, Some(5)).is_ok());
        assert_eq!(
            ensure_fresh(7, 3, None).unwrap_err().to_string(),
            "proposal 7 has a ballot newer than the decision saw (0 > 3)"
        );
    }

    #[test]
    fn a_closed_proposal_keeps_its_decision() {
        let open = Proposal {
            name: "proposals/1".into(),
            ..Default::default()
        };
        let decision = Decision {
            settled: true,
            ..Default::default()
        };
        let adopted = closed(
            open.clone(),
            &closing(ProposalState::Adopted, Some(decision.clone())),
        );
        assert_eq!(adopted.state(), ProposalState::Adopted);
        assert_eq!(adopted.close_time.map(|t| t.seconds), Some(9));
        assert_eq!(adopted.decision, Some(decision));
        let withdrawn = closed(open, &closing(ProposalState::Withdrawn, None));
        assert_eq!(withdrawn.decision, None);
    }
}
