//! Audit entries, for every backend: what each write records in the audit log — its kind, its
//! subject and its detail (a flat JSON object, written by [`Json`]).
//!
//! The invariant kept here: every backend writes the same entry for the same event, because it
//! asks [`Entry`] for it instead of composing one; a backend only stamps an entry with the time
//! and appends it, in the same transaction as the write it records. The kinds, subjects and
//! details are read by people and tools, so they do not change.

use accord_proto::v1::{Ballot, Choice, Decision, Proposal, ProposalKind, ProposalState};
use accord_proto::{canonical, names};

use crate::records::{Record, Write, state_in_words};

/// An audit entry to append (the backend stamps it with the time and a sequence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// "ballot", "decision", "member_created", "effect", ...
    pub(crate) kind: String,
    /// The resource it is about ("proposals/3", "missions/KFOR").
    pub(crate) subject: String,
    /// What happened, as a JSON object.
    pub(crate) detail: String,
}

impl Entry {
    fn new(kind: impl Into<String>, subject: impl Into<String>, detail: String) -> Self {
        Entry {
            kind: kind.into(),
            subject: subject.into(),
            detail,
        }
    }

    /// The bundled dataset was loaded.
    pub(crate) fn seed(members: usize, partners: usize, missions: usize) -> Self {
        let detail = Json::new()
            .str("dataset", "NATO 2026 (data/nato)")
            .int("members", members as i64)
            .int("partners", partners as i64)
            .int("missions", missions as i64)
            .finish();
        Entry::new("seed", "dataset", detail)
    }

    /// A member, partner or mission was added or replaced by a caller ("member_created",
    /// "mission_updated").
    pub(crate) fn record<R: Record>(write: Write, record: &R) -> Self {
        let done = match write {
            Write::Create => "created",
            Write::Update => "updated",
        };
        Entry::new(
            format!("{}_{done}", R::TABLE.kind),
            record.name(),
            record_detail(record.key()),
        )
    }

    /// An operator deleted a member ("member_deleted").
    pub(crate) fn member_deleted(member: &accord_proto::v1::Member) -> Self {
        Entry::new(
            "member_deleted",
            member.name.clone(),
            record_detail(&member.code),
        )
    }

    /// An adopted proposal added or replaced a record ("create_mission", "update_partner").
    pub(crate) fn effect<R: Record>(write: Write, record: &R, proposal: &str) -> Self {
        let action = match write {
            Write::Create => "create",
            Write::Update => "update",
        };
        let detail = Json::new()
            .str("effect", &format!("{action}_{}", R::TABLE.kind))
            .str("proposal", proposal)
            .finish();
        Entry::new("effect", record.name(), detail)
    }

    /// A proposal was made (`proposal` has its name).
    pub(crate) fn proposal_created(proposal: &Proposal, kind: ProposalKind, target: &str) -> Self {
        let detail = Json::new()
            .str("title", &proposal.title)
            .str("kind", kind.as_str_name())
            .str("target", target)
            .str("sponsor", &proposal.sponsor)
            .str(
                "policy",
                proposal
                    .policy
                    .as_ref()
                    .map_or("", |p| p.policy_id.as_str()),
            )
            .finish();
        Entry::new("proposal_created", &proposal.name, detail)
    }

    /// A ballot was cast on proposal `proposal_id` (`ballot` has its name).
    pub(crate) fn ballot(proposal_id: i64, ballot: &Ballot) -> Self {
        let proposal = names::name(names::PROPOSALS, &proposal_id.to_string());
        let detail = ballot_audit_detail(&proposal, ballot);
        Entry::new("ballot", proposal, detail)
    }

    /// Any other event the server records (an issued or revoked token, a registered ballot
    /// key, a policy loaded, replaced or disabled, a refused credential).
    pub fn event(kind: &str, subject: &str, detail: String) -> Self {
        Entry::new(kind, subject, detail)
    }

    /// A proposal closed in `state`: decided by `decision`, or without one (withdrawn, expired).
    pub(crate) fn closed(
        proposal: &str,
        state: ProposalState,
        decision: Option<&Decision>,
    ) -> Self {
        let state_name = state_in_words(state as i32);
        match decision {
            Some(decision) => {
                Entry::new("decision", proposal, decision_detail(state_name, decision))
            }
            None => {
                let kind = match state {
                    ProposalState::Withdrawn => "proposal_withdrawn",
                    ProposalState::Expired => "proposal_expired",
                    _ => "proposal_closed",
                };
                Entry::new(
                    kind,
                    proposal,
                    Json::new().str("state", state_name).finish(),
                )
            }
        }
    }

    /// A token was issued or revoked (`kind`); never the secret, only who it is for.
    pub(crate) fn token(kind: &str, token: &crate::TokenRecord) -> Self {
        let detail = Json::new()
            .int("role", i64::from(token.role))
            .str("member", &token.member)
            .str("label", &token.label)
            .int("expire_time_ms", token.expire_time_ms)
            .finish();
        Entry::new(kind, format!("tokens/{}", token.id), detail)
    }

    /// A member registered a ballot key (the key is in the detail, so that the log alone is
    /// enough to re-check later ballots).
    pub(crate) fn ballot_key(key: &crate::BallotKeyRecord) -> Self {
        let member = names::name(names::MEMBERS, &key.member);
        let detail = Json::new()
            .str("member", &member)
            .str("public_key", &hex::encode(&key.public_key))
            .finish();
        Entry::new("ballot_key_registered", member, detail)
    }

    /// A setting was persisted.
    pub(crate) fn setting(key: &str, value: &str) -> Self {
        let detail = Json::new().str("key", key).str("value", value).finish();
        Entry::new("setting", format!("settings/{key}"), detail)
    }
}

/// The audit detail of a record write.
pub(crate) fn record_detail(id: &str) -> String {
    Json::new().str("id", id).finish()
}

/// The audit detail of a ballot on `proposal`: what people read (member, choice, salience,
/// reason) and everything its canonical encoding covers (`accord_proto::canonical`), with the
/// signature, so that the audit log alone is enough to re-check it.
pub(crate) fn ballot_audit_detail(proposal: &str, ballot: &Ballot) -> String {
    let mut detail = Json::new()
        .str("ballot", &ballot.name)
        .str("member", &ballot.member)
        .str(
            "choice",
            Choice::try_from(ballot.choice).map_or("?", |c| c.as_str_name()),
        );
    if let Some(salience) = ballot.salience {
        detail = detail.num("salience", salience);
    }
    let parts = canonical::BallotParts::of(ballot);
    let bytes = canonical::ballot_from_parts(proposal, &parts);
    detail
        .str("reason", &ballot.reason)
        .str("canonical_choice", &parts.choice)
        .str("position", &parts.position)
        .str("salience_bits", &parts.salience)
        .str("abstention", &parts.abstention)
        .str("reservation", &parts.reservation)
        .str("acceptable", &parts.acceptable)
        .str("nonce", &parts.nonce)
        .str("signature", &hex::encode(&ballot.signature))
        .str("canonical_sha256", &canonical::sha256_hex(&bytes))
        .finish()
}

/// The audit detail of a decision.
pub(crate) fn decision_detail(state: &str, decision: &Decision) -> String {
    let mut json = Json::new()
        .str("state", state)
        .str("outcome", decision.outcome().as_str_name())
        .bool("settled", decision.settled)
        .num("support_share", decision.support_share);
    if let Some(policy) = &decision.policy {
        json = json
            .str("policy", &policy.policy_id)
            .str("policy_version", &policy.version)
            .str("policy_sha256", &policy.library_sha256);
    }
    json.strs("blockers", &decision.blockers)
        .strs("pivotal_members", &decision.pivotal_members)
        .finish()
}

/// A small JSON object writer for audit details (flat objects of strings, numbers and lists).
pub struct Json(String);

impl Default for Json {
    fn default() -> Self {
        Self::new()
    }
}

impl Json {
    pub fn new() -> Self {
        Json(String::from("{"))
    }

    fn key(mut self, key: &str) -> Self {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        push_json_string(&mut self.0, key);
        self.0.push(':');
        self
    }

    pub fn str(self, key: &str, value: &str) -> Self {
        let mut json = self.key(key);
        push_json_string(&mut json.0, value);
        json
    }

    pub fn int(mut self, key: &str, value: i64) -> Self {
        self = self.key(key);
        self.0.push_str(&value.to_string());
        self
    }

    pub fn num(mut self, key: &str, value: f64) -> Self {
        self = self.key(key);
        if value.is_finite() {
            self.0.push_str(&value.to_string());
        } else {
            self.0.push_str("null");
        }
        self
    }

    pub fn bool(mut self, key: &str, value: bool) -> Self {
        self = self.key(key);
        self.0.push_str(if value { "true" } else { "false" });
        self
    }

    pub fn strs(mut self, key: &str, values: &[String]) -> Self {
        self = self.key(key);
        self.0.push('[');
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                self.0.push(',');
            }
            push_json_string(&mut self.0, value);
        }
        self.0.push(']');
        self
    }

    pub fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

/// Appends `text` as a JSON string literal.
fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use accord_proto::v1::{Mission, Partner};

    use super::*;

    #[test]
    fn json_details_escape() {
        let json = Json::new()
            .str("a", "say \"hi\"\n\\")
            .int("n", -3)
            .num("x", 0.5)
            .num("nan", f64::NAN)
            .bool("b", true)
            .strs("l", &["x".into(), "y\u{1}".into()])
            .finish();
        assert_eq!(
            json,
            r#"{"a":"say \"hi\"\n\\","n":-3,"x":0.5,"nan":null,"b":true,"l":["x","y\u0001"]}"#
        );
        assert_eq!(Json::new().finish(), "{}");
    }

    #[test]
    fn record_entries_are_named_after_their_kind() {
        let kfor = Mission {
            id: "KFOR".into(),
            name: "missions/KFOR".into(),
            ..Default::default()
        };
        let ukr = Partner {
            code: "UKR".into(),
            name: "partners/UKR".into(),
            ..Default::default()
        };
        assert_eq!(
            Entry::record(Write::Create, &kfor),
            Entry::new(
                "mission_created",
                "missions/KFOR",
                r#"{"id":"KFOR"}"#.into()
            )
        );
        assert_eq!(Entry::record(Write::Update, &ukr).kind, "partner_updated");
        assert_eq!(
            Entry::effect(Write::Update, &ukr, "proposals/3"),
            Entry::new(
                "effect",
                "partners/UKR",
                r#"{"effect":"update_partner","proposal":"proposals/3"}"#.into()
            )
        );
        assert_eq!(
            Entry::closed("proposals/4", ProposalState::Withdrawn, None),
            Entry::new(
                "proposal_withdrawn",
                "proposals/4",
                r#"{"state":"withdrawn"}"#.into()
            )
        );
        assert_eq!(
            Entry::closed("proposals/5", ProposalState::Rejected, None).kind,
            "proposal_closed"
        );
        assert_eq!(Entry::setting("k", "v").subject, "settings/k");
    }
}
