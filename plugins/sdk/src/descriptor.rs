//! Checks on a [`PolicyDescriptor`]: what the host requires before it accepts a policy.

use std::collections::HashSet;

use crate::proto::{ParameterType, PolicyDescriptor};
use crate::request::parse_parameter;

/// True for a valid policy id: a lower-case letter, then lower-case letters, digits or hyphens,
/// at most 63 characters.
pub fn is_valid_policy_id(id: &str) -> bool {
    let mut chars = id.chars();
    id.len() <= 63
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Checks a descriptor: a valid id, a `MAJOR.MINOR.PATCH` version, and parameters with unique
/// lower-snake-case names, a type, and a default that parses as that type.
pub fn validate_descriptor(descriptor: &PolicyDescriptor) -> Result<(), String> {
    if !is_valid_policy_id(&descriptor.id) {
        return Err(format!(
            "policy id `{}` must be a lower-case letter followed by lower-case letters, digits or hyphens",
            descriptor.id
        ));
    }
    let parts: Vec<&str> = descriptor
        .version
        .split(['-', '+'])
        .next()
        .unwrap_or("")
        .split('.')
        .collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(format!(
            "policy version `{}` is not MAJOR.MINOR.PATCH",
            descriptor.version
        ));
    }
    let mut names = HashSet::new();
    for spec in &descriptor.parameters {
        let name_ok = spec
            .name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase())
            && spec
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !name_ok {
            return Err(format!(
                "parameter name `{}` is not lower_snake_case",
                spec.name
            ));
        }
        if !names.insert(spec.name.as_str()) {
            return Err(format!("parameter `{}` is declared twice", spec.name));
        }
        if ParameterType::try_from(spec.r#type).unwrap_or(ParameterType::Unspecified)
            == ParameterType::Unspecified
        {
            return Err(format!("parameter `{}` has no type", spec.name));
        }
        parse_parameter(spec, &spec.default_value)
            .map_err(|e| format!("default of parameter `{}` does not parse: {e}", spec.name))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::ParameterSpec;

    fn descriptor(id: &str, version: &str, params: Vec<ParameterSpec>) -> PolicyDescriptor {
        PolicyDescriptor {
            id: id.into(),
            version: version.into(),
            summary: "s".into(),
            parameters: params,
        }
    }

    fn number(name: &str, default: &str) -> ParameterSpec {
        ParameterSpec {
            name: name.into(),
            r#type: ParameterType::Number as i32,
            default_value: default.into(),
            ..Default::default()
        }
    }

    #[test]
    fn accepts_a_good_descriptor_and_names_what_is_wrong_with_bad_ones() {
        assert!(
            validate_descriptor(&descriptor(
                "weighted",
                "1.2.3",
                vec![number("quota", "0.5")]
            ))
            .is_ok()
        );
        assert!(validate_descriptor(&descriptor("w-2", "0.1.0-beta.1", vec![])).is_ok());
        for (d, needle) in [
            (descriptor("", "1.0.0", vec![]), "policy id"),
            (descriptor("Weighted", "1.0.0", vec![]), "policy id"),
            (descriptor("w", "1.0", vec![]), "version"),
            (
                descriptor("w", "1.0.0", vec![number("Quota", "1")]),
                "lower_snake_case",
            ),
            (
                descriptor("w", "1.0.0", vec![number("q", "1"), number("q", "2")]),
                "twice",
            ),
            (
                descriptor("w", "1.0.0", vec![number("q", "half")]),
                "does not parse",
            ),
        ] {
            let err = validate_descriptor(&d).unwrap_err();
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
    }
}
