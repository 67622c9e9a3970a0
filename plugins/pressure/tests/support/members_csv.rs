//! Reads `data/nato/members.csv` (the bundled dataset) into `Member`s, for the dataset test and the
//! throughput example. A plain comma split: the file has no quoted fields.

use std::collections::HashMap;
use std::path::PathBuf;

use accord_policy_sdk::proto::{Member, MemberStatus};
use accord_policy_sdk::request::member_name;

/// The attributes the dataset carries, by the column they come from.
const ATTRIBUTES: [&str; 6] = [
    "population_mn",
    "gdp_usd_bn",
    "defence_expenditure_usd_mn",
    "defence_pct_gdp",
    "armed_forces_personnel_thousands",
    "us_troops_hosted",
];

/// The dataset's path, from this crate's directory.
pub fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/nato/members.csv")
}

/// The 32 allies, all active, in the file's order; an empty cell is an unknown attribute.
pub fn load() -> Vec<Member> {
    let text = std::fs::read_to_string(path()).expect("data/nato/members.csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (code, name, year, region) = (
        column("iso3"),
        column("name"),
        column("accession_year"),
        column("region"),
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            let attributes: HashMap<String, f64> = ATTRIBUTES
                .iter()
                .filter_map(|a| {
                    let cell = cells.get(column(a))?.trim();
                    let value = cell.parse::<f64>().ok()?;
                    Some((a.to_string(), value))
                })
                .collect();
            Member {
                name: member_name(cells[code]),
                code: cells[code].to_string(),
                display_name: cells[name].to_string(),
                accession_year: cells[year].parse().unwrap_or(0),
                status: MemberStatus::Active as i32,
                region: cells[region].to_string(),
                attributes,
            }
        })
        .collect()
}
