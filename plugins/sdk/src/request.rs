//! Reading a decision request: [`Request`] (the wire message with its members, wherever they
//! came from), typed parameters checked against the policy's descriptor, the electorate
//! (eligible members and their last ballots), and the deadline.

use std::collections::{BTreeMap, HashMap};

use crate::PolicyError;
use crate::proto::{
    Ballot, Choice, DecisionRequest, Member, MemberStatus, ParameterSpec, ParameterType,
    PolicyDescriptor,
};

/// What a policy decides: the wire message and the alliance's members.
///
/// Under ABI 1.1 the host registers the members once per version of the alliance
/// (`accord.v1.ElectorateSnapshot`) and the message names them by `electorate_id` with its own
/// `members` field empty; the SDK puts the registered members here. Read them with
/// [`Request::members`], never from the message's field. Everything else reads through to the
/// message (`request.proposal`, `request.parameters`, `request.seed`, …).
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    message: &'a DecisionRequest,
    members: &'a [Member],
}

impl<'a> Request<'a> {
    /// A whole message: the members are its own.
    pub fn new(message: &'a DecisionRequest) -> Self {
        Self {
            message,
            members: &message.members,
        }
    }

    /// A message whose members were registered apart.
    pub fn with_members(message: &'a DecisionRequest, members: &'a [Member]) -> Self {
        Self { message, members }
    }

    /// The members of the alliance (all of them; [`Electorate`] picks the eligible ones).
    pub fn members(&self) -> &'a [Member] {
        self.members
    }

    /// The wire message, whose `members` may be empty (see the type's docs).
    pub fn message(&self) -> &'a DecisionRequest {
        self.message
    }
}

impl std::ops::Deref for Request<'_> {
    type Target = DecisionRequest;

    fn deref(&self) -> &DecisionRequest {
        self.message
    }
}

impl<'a> From<&'a DecisionRequest> for Request<'a> {
    fn from(message: &'a DecisionRequest) -> Self {
        Self::new(message)
    }
}

/// `"members/{code}"`.
pub fn member_name(code: &str) -> String {
    accord_proto::names::name(accord_proto::names::MEMBERS, code)
}

/// True when the request's `now` is at or after the proposal's deadline. A proposal without a
/// deadline never passes it; a request without `now` is evaluated before any deadline.
pub fn deadline_passed(request: &DecisionRequest) -> bool {
    let deadline = request.proposal.as_ref().and_then(|p| p.deadline);
    match (deadline, request.now) {
        (Some(deadline), Some(now)) => {
            (now.seconds, now.nanos) >= (deadline.seconds, deadline.nanos)
        }
        _ => false,
    }
}

/// A parsed parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum ParameterValue {
    /// A number.
    Number(f64),
    /// A whole number.
    Integer(i64),
    /// A boolean.
    Boolean(bool),
    /// Text, or one of a parameter's choices.
    Text(String),
    /// Numbers per member code.
    MemberNumbers(BTreeMap<String, f64>),
}

/// Parses `text` as a value of `spec`'s type.
pub fn parse_parameter(spec: &ParameterSpec, text: &str) -> Result<ParameterValue, PolicyError> {
    let kind = ParameterType::try_from(spec.r#type).unwrap_or(ParameterType::Unspecified);
    let bad = |what: &str| PolicyError::parameter(&spec.name, format!("`{text}` is not {what}"));
    let text = text.trim();
    Ok(match kind {
        ParameterType::Number => {
            let v: f64 = text.parse().map_err(|_| bad("a number"))?;
            if !v.is_finite() {
                return Err(bad("a finite number"));
            }
            ParameterValue::Number(v)
        }
        ParameterType::Integer => {
            ParameterValue::Integer(text.parse().map_err(|_| bad("a whole number"))?)
        }
        ParameterType::Boolean => match text {
            "true" => ParameterValue::Boolean(true),
            "false" => ParameterValue::Boolean(false),
            _ => return Err(bad("`true` or `false`")),
        },
        ParameterType::Text => ParameterValue::Text(text.to_string()),
        ParameterType::Choice => {
            if !spec.choices.iter().any(|c| c == text) {
                return Err(PolicyError::parameter(
                    &spec.name,
                    format!("`{text}` is not one of: {}", spec.choices.join(", ")),
                ));
            }
            ParameterValue::Text(text.to_string())
        }
        ParameterType::MemberNumbers => {
            let mut map = BTreeMap::new();
            for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (code, value) = part
                    .split_once('=')
                    .ok_or_else(|| bad("a list like `DEU=0.2,FRA=0.1`"))?;
                let code = code.trim().trim_start_matches("members/");
                if code.is_empty() || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(bad("a list like `DEU=0.2,FRA=0.1`"));
                }
                let value: f64 = value
                    .trim()
                    .parse()
                    .map_err(|_| bad("a list like `DEU=0.2,FRA=0.1`"))?;
                if !value.is_finite() {
                    return Err(bad("a list of finite numbers"));
                }
                map.insert(code.to_string(), value);
            }
            ParameterValue::MemberNumbers(map)
        }
        ParameterType::Unspecified => {
            return Err(PolicyError::Failed(format!(
                "the policy declares parameter `{}` without a type",
                spec.name
            )));
        }
    })
}

/// A policy's parameters for one request: every declared parameter, from the request or its
/// default, parsed to its declared type.
#[derive(Debug, Clone)]
pub struct Parameters {
    values: HashMap<String, ParameterValue>,
}

impl Parameters {
    /// Resolves `given` against `descriptor`: unknown names and unparsable values are errors.
    pub fn resolve(
        descriptor: &PolicyDescriptor,
        given: &HashMap<String, String>,
    ) -> Result<Self, PolicyError> {
        for name in given.keys() {
            if !descriptor.parameters.iter().any(|p| &p.name == name) {
                let known: Vec<&str> = descriptor
                    .parameters
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect();
                return Err(PolicyError::parameter(
                    name,
                    format!(
                        "policy `{}` has no such parameter (it has: {})",
                        descriptor.id,
                        known.join(", ")
                    ),
                ));
            }
        }
        let mut values = HashMap::new();
        for spec in &descriptor.parameters {
            let text = given.get(&spec.name).unwrap_or(&spec.default_value);
            values.insert(spec.name.clone(), parse_parameter(spec, text)?);
        }
        Ok(Self { values })
    }

    fn get(&self, name: &str) -> &ParameterValue {
        self.values
            .get(name)
            .unwrap_or_else(|| panic!("parameter `{name}` is not declared in the descriptor"))
    }

    /// A number parameter (an integer parameter is widened).
    ///
    /// # Panics
    /// If `name` is not declared as a number or integer: a bug in the policy, caught at the boundary.
    pub fn number(&self, name: &str) -> f64 {
        match self.get(name) {
            ParameterValue::Number(v) => *v,
            ParameterValue::Integer(v) => *v as f64,
            other => panic!("parameter `{name}` is not a number: {other:?}"),
        }
    }

    /// An integer parameter.
    pub fn integer(&self, name: &str) -> i64 {
        match self.get(name) {
            ParameterValue::Integer(v) => *v,
            other => panic!("parameter `{name}` is not an integer: {other:?}"),
        }
    }

    /// A boolean parameter.
    pub fn boolean(&self, name: &str) -> bool {
        match self.get(name) {
            ParameterValue::Boolean(v) => *v,
            other => panic!("parameter `{name}` is not a boolean: {other:?}"),
        }
    }

    /// A text or choice parameter.
    pub fn text(&self, name: &str) -> &str {
        match self.get(name) {
            ParameterValue::Text(v) => v,
            other => panic!("parameter `{name}` is not text: {other:?}"),
        }
    }

    /// A choice parameter (same as [`Parameters::text`]).
    pub fn choice(&self, name: &str) -> &str {
        self.text(name)
    }

    /// A per-member numbers parameter, by member code.
    pub fn member_numbers(&self, name: &str) -> &BTreeMap<String, f64> {
        match self.get(name) {
            ParameterValue::MemberNumbers(v) => v,
            other => panic!("parameter `{name}` is not per-member numbers: {other:?}"),
        }
    }

    /// A number that must lie in `[min, max]`.
    pub fn number_in(&self, name: &str, min: f64, max: f64) -> Result<f64, PolicyError> {
        let v = self.number(name);
        if v < min || v > max {
            return Err(PolicyError::parameter(
                name,
                format!("{v} is outside [{min}, {max}]"),
            ));
        }
        Ok(v)
    }
}

/// One eligible member and its last ballot.
#[derive(Debug, Clone, Copy)]
pub struct Voter<'a> {
    /// ISO3 code, e.g. "USA".
    pub code: &'a str,
    /// The member.
    pub member: &'a Member,
    /// Its last ballot, if it has voted.
    pub ballot: Option<&'a Ballot>,
}

impl Voter<'_> {
    /// The member's choice, [`Choice::Unspecified`] if it has not voted.
    pub fn choice(&self) -> Choice {
        self.ballot
            .and_then(|b| Choice::try_from(b.choice).ok())
            .unwrap_or(Choice::Unspecified)
    }

    /// A named numeric attribute of the member, if known.
    pub fn attribute(&self, key: &str) -> Option<f64> {
        self.member.attributes.get(key).copied()
    }

    /// The ballot's salience, if given.
    pub fn salience(&self) -> Option<f64> {
        self.ballot.and_then(|b| b.salience)
    }
}

/// The members who take part in the decision (status active), in request order, each with its
/// last ballot. Ballots of members not in the request, or not active, are ignored.
#[derive(Debug, Clone)]
pub struct Electorate<'a> {
    voters: Vec<Voter<'a>>,
}

impl<'a> Electorate<'a> {
    /// Builds the electorate of `request`. Fails if a member is listed twice.
    pub fn new(request: &Request<'a>) -> Result<Self, PolicyError> {
        let mut last: HashMap<&str, &Ballot> = HashMap::new();
        for ballot in &request.message().ballots {
            let code = accord_proto::names::member_code(&ballot.member).unwrap_or(&ballot.member);
            last.insert(code, ballot); // later ballots replace earlier ones
        }
        let mut seen = std::collections::HashSet::new();
        let mut voters = Vec::new();
        for member in request.members() {
            if !seen.insert(member.code.as_str()) {
                return Err(PolicyError::InvalidRequest(format!(
                    "member {} is listed twice",
                    member.code
                )));
            }
            if member.status != MemberStatus::Active as i32 {
                continue;
            }
            voters.push(Voter {
                code: &member.code,
                member,
                ballot: last.get(member.code.as_str()).copied(),
            });
        }
        Ok(Self { voters })
    }

    /// The eligible members.
    pub fn members(&self) -> &[Voter<'a>] {
        &self.voters
    }

    /// Number of eligible members.
    pub fn len(&self) -> usize {
        self.voters.len()
    }

    /// True when no member is eligible.
    pub fn is_empty(&self) -> bool {
        self.voters.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, kind: ParameterType, default: &str, choices: &[&str]) -> ParameterSpec {
        ParameterSpec {
            name: name.into(),
            r#type: kind as i32,
            default_value: default.into(),
            doc: String::new(),
            choices: choices.iter().map(|c| c.to_string()).collect(),
        }
    }

    fn descriptor() -> PolicyDescriptor {
        PolicyDescriptor {
            id: "t".into(),
            version: "1.0.0".into(),
            summary: String::new(),
            parameters: vec![
                spec("quota", ParameterType::Number, "0.5", &[]),
                spec("rounds", ParameterType::Integer, "3", &[]),
                spec("strict", ParameterType::Boolean, "false", &[]),
                spec("mode", ParameterType::Choice, "a", &["a", "b"]),
                spec("overrides", ParameterType::MemberNumbers, "", &[]),
            ],
        }
    }

    #[test]
    fn defaults_and_given_values_parse_to_their_types() {
        let given = HashMap::from([
            ("quota".to_string(), "0.65".to_string()),
            (
                "overrides".to_string(),
                "DEU=0.2, members/FRA=0.1".to_string(),
            ),
        ]);
        let p = Parameters::resolve(&descriptor(), &given).unwrap();
        assert_eq!(p.number("quota"), 0.65);
        assert_eq!(p.integer("rounds"), 3);
        assert!(!p.boolean("strict"));
        assert_eq!(p.choice("mode"), "a");
        assert_eq!(p.member_numbers("overrides").get("FRA"), Some(&0.1));
        assert_eq!(p.member_numbers("overrides").len(), 2);
    }

    #[test]
    fn unknown_and_malformed_parameters_are_refused_with_their_name() {
        let err = |k: &str, v: &str| {
            Parameters::resolve(
                &descriptor(),
                &HashMap::from([(k.to_string(), v.to_string())]),
            )
            .unwrap_err()
        };
        assert!(
            matches!(err("nope", "1"), PolicyError::InvalidParameter { name, .. } if name == "nope")
        );
        assert!(
            matches!(err("quota", "lots"), PolicyError::InvalidParameter { name, .. } if name == "quota")
        );
        assert!(matches!(
            err("quota", "NaN"),
            PolicyError::InvalidParameter { .. }
        ));
        assert!(matches!(
            err("rounds", "2.5"),
            PolicyError::InvalidParameter { .. }
        ));
        assert!(matches!(
            err("strict", "yes"),
            PolicyError::InvalidParameter { .. }
        ));
        assert!(matches!(
            err("mode", "c"),
            PolicyError::InvalidParameter { .. }
        ));
        assert!(matches!(
            err("overrides", "DEU:0.2"),
            PolicyError::InvalidParameter { .. }
        ));
    }

    #[test]
    fn electorate_keeps_active_members_and_last_ballots() {
        let member = |code: &str, status: MemberStatus| Member {
            name: member_name(code),
            code: code.into(),
            status: status as i32,
            ..Default::default()
        };
        let ballot = |code: &str, choice: Choice| Ballot {
            member: member_name(code),
            choice: choice as i32,
            ..Default::default()
        };
        let request = DecisionRequest {
            members: vec![
                member("USA", MemberStatus::Active),
                member("DEU", MemberStatus::Active),
                member("XXX", MemberStatus::Invited),
            ],
            ballots: vec![
                ballot("USA", Choice::Object),
                ballot("USA", Choice::Support),
                ballot("XXX", Choice::Object),
            ],
            ..Default::default()
        };
        let e = Electorate::new(&Request::new(&request)).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e.members()[0].choice(), Choice::Support);
        assert_eq!(e.members()[1].choice(), Choice::Unspecified);

        let mut twice = request.clone();
        twice.members.push(member("USA", MemberStatus::Active));
        assert!(Electorate::new(&Request::new(&twice)).is_err());
    }

    #[test]
    fn deadline_is_compared_with_now() {
        let ts = |s| {
            Some(prost_types::Timestamp {
                seconds: s,
                nanos: 0,
            })
        };
        let mut r = DecisionRequest {
            proposal: Some(crate::proto::Proposal {
                deadline: ts(100),
                ..Default::default()
            }),
            now: ts(99),
            ..Default::default()
        };
        assert!(!deadline_passed(&r));
        r.now = ts(100);
        assert!(deadline_passed(&r));
        r.now = None;
        assert!(!deadline_passed(&r));
    }
}
