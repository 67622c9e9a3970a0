//! Resource names ("members/USA", "missions/NMI", "partners/UKR", "proposals/42",
//! "policies/weighted"): building them and taking them apart, in one place.

/// The collections accord names resources in.
pub const MEMBERS: &str = "members";
/// Missions collection.
pub const MISSIONS: &str = "missions";
/// Partners collection.
pub const PARTNERS: &str = "partners";
/// Proposals collection.
pub const PROPOSALS: &str = "proposals";
/// Policies collection.
pub const POLICIES: &str = "policies";

/// `"{collection}/{id}"`.
pub fn name(collection: &str, id: &str) -> String {
    format!("{collection}/{id}")
}

/// The id in `name` if it is `"{collection}/{id}"` with a non-empty id without slashes.
pub fn parse<'a>(collection: &str, name: &'a str) -> Option<&'a str> {
    let id = name.strip_prefix(collection)?.strip_prefix('/')?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

/// The member code in `"members/{code}"`.
pub fn member_code(name: &str) -> Option<&str> {
    parse(MEMBERS, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_reject_malformed() {
        assert_eq!(name(MEMBERS, "USA"), "members/USA");
        assert_eq!(member_code("members/USA"), Some("USA"));
        assert_eq!(parse(MISSIONS, "missions/NMI"), Some("NMI"));
        assert_eq!(parse(MISSIONS, "members/NMI"), None);
        assert_eq!(parse(MISSIONS, "missions/"), None);
        assert_eq!(parse(MISSIONS, "missions/a/b"), None);
        assert_eq!(parse(MISSIONS, "missionsX/NMI"), None);
    }
}
