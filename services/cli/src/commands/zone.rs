//! `accord proposals evaluate ID --what-could-pass`: the question sent to the server and the
//! answer as text (the server computes the zone of agreement; this only asks and prints).

use accord_proto::v1::{AgreementRule, ZoneOfAgreement, ZoneOfAgreementRequest};

use crate::cli::{AgreementRuleArg, ZoneWeightArg};

/// The zone question for the command's flags.
pub fn request(
    rule: AgreementRuleArg,
    quota: Option<f64>,
    weight: Option<ZoneWeightArg>,
    tolerance: Option<f64>,
) -> ZoneOfAgreementRequest {
    ZoneOfAgreementRequest {
        rule: match rule {
            AgreementRuleArg::Unanimity => AgreementRule::Unanimity,
            AgreementRuleArg::QualifiedMajority => AgreementRule::QualifiedMajority,
        } as i32,
        quota,
        weight: match weight {
            None => String::new(),
            Some(ZoneWeightArg::Equal) => "equal".into(),
            Some(ZoneWeightArg::DefenceSpending) => "defence_spending".into(),
            Some(ZoneWeightArg::Gdp) => "gdp".into(),
            Some(ZoneWeightArg::Population) => "population".into(),
        },
        tolerance,
    }
}

/// The zone as lines a person reads.
pub fn render(zone: &ZoneOfAgreement) -> String {
    accord_scenario::forecast::zone_lines(zone).join("\n")
}
