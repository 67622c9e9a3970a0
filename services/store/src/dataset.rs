//! The bundled NATO 2026 reference dataset: the 32 allies, the partners that take part in
//! summits, and the alliance's missions, parsed from the CSV files in `data/nato` (compiled into
//! the binary; sources in `data/nato/SOURCES.md`). [`crate::Store::seed_if_empty`] loads it into
//! an empty store.
//!
//! The CSV files are part of the build, so a malformed file is a build defect: the functions here
//! panic on one, and the unit tests below parse every file.

use std::collections::HashMap;

use accord_proto::names;
use accord_proto::v1::{
    Contribution, Member, MemberStatus, Mission, MissionArea, MissionStatus, Partner,
    PartnerCategory, SummitParticipation,
};

const MEMBERS_CSV: &str = include_str!("../../../data/nato/members.csv");
const PARTNERS_CSV: &str = include_str!("../../../data/nato/partners.csv");
const MISSIONS_CSV: &str = include_str!("../../../data/nato/missions.csv");
const KFOR_CONTRIBUTIONS_CSV: &str = include_str!("../../../data/nato/kfor_contributions.csv");

/// Member attributes: the key in [`Member::attributes`] and the `members.csv` column it is read
/// from. An empty cell leaves the key out (unknown, not zero).
const MEMBER_ATTRIBUTES: &[(&str, &str)] = &[
    ("population_mn", "population_mn"),
    ("gdp_usd_bn", "gdp_usd_bn"),
    ("defence_expenditure_usd_mn", "defence_expenditure_usd_mn"),
    ("defence_pct_gdp", "defence_pct_gdp"),
    (
        "armed_forces_personnel_thousands",
        "armed_forces_personnel_thousands",
    ),
    ("us_troops_hosted", "us_troops_hosted"),
    (
        "defence_pct_gdp_2025e",
        "defence_pct_gdp_2025e_nato_aug2025",
    ),
];

/// The partners accord models, with their category. Finland and Sweden (allies now) and the
/// "(summit)" row of `partners.csv` are not partners.
const PARTNERS: &[(&str, PartnerCategory)] = &[
    ("UKR", PartnerCategory::Aspirant),
    ("AUS", PartnerCategory::IndoPacific),
    ("JPN", PartnerCategory::IndoPacific),
    ("NZL", PartnerCategory::IndoPacific),
    ("KOR", PartnerCategory::IndoPacific),
    ("GEO", PartnerCategory::Aspirant),
];

/// A parsed CSV file: its header and rows, with cells looked up by column name.
struct Table {
    file: &'static str,
    columns: HashMap<String, usize>,
    rows: Vec<csv::StringRecord>,
}

impl Table {
    fn parse(file: &'static str, text: &'static str) -> Self {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(text.as_bytes());
        let columns = reader
            .headers()
            .unwrap_or_else(|e| panic!("{file}: bad header: {e}"))
            .iter()
            .enumerate()
            .map(|(i, name)| (name.trim().to_owned(), i))
            .collect();
        let rows = reader
            .records()
            .map(|r| r.unwrap_or_else(|e| panic!("{file}: bad row: {e}")))
            .collect();
        Table {
            file,
            columns,
            rows,
        }
    }

    /// The trimmed cell of `row` in `column` ("" for a short row).
    fn cell<'r>(&self, row: &'r csv::StringRecord, column: &str) -> &'r str {
        let index = *self
            .columns
            .get(column)
            .unwrap_or_else(|| panic!("{}: no column `{column}`", self.file));
        row.get(index).unwrap_or("").trim()
    }

    /// The cell as a number; `None` when empty.
    fn number(&self, row: &csv::StringRecord, column: &str) -> Option<f64> {
        let text = self.cell(row, column);
        (!text.is_empty()).then(|| {
            text.parse()
                .unwrap_or_else(|e| panic!("{}: `{column}` = `{text}`: {e}", self.file))
        })
    }

    /// The cell as an integer; `None` when empty.
    fn integer(&self, row: &csv::StringRecord, column: &str) -> Option<i32> {
        let text = self.cell(row, column);
        (!text.is_empty()).then(|| {
            text.parse()
                .unwrap_or_else(|e| panic!("{}: `{column}` = `{text}`: {e}", self.file))
        })
    }

    /// The cell as a boolean ("true" or "false").
    fn boolean(&self, row: &csv::StringRecord, column: &str) -> bool {
        match self.cell(row, column) {
            "true" => true,
            "false" => false,
            other => panic!("{}: `{column}` = `{other}` is not true or false", self.file),
        }
    }
}

/// The 32 allies, in the order of `members.csv`: status ACTIVE, name "members/{ISO3}", the
/// attributes listed in the `Member` message (a key is absent when its cell is empty: Iceland
/// has no defence spending, and the USA row hosts no US troops).
pub fn members() -> Vec<Member> {
    let table = Table::parse("members.csv", MEMBERS_CSV);
    table
        .rows
        .iter()
        .map(|row| {
            let code = table.cell(row, "iso3").to_owned();
            let attributes = MEMBER_ATTRIBUTES
                .iter()
                .filter_map(|(key, column)| {
                    table.number(row, column).map(|v| ((*key).to_owned(), v))
                })
                .collect();
            Member {
                name: names::name(names::MEMBERS, &code),
                display_name: table.cell(row, "name").to_owned(),
                accession_year: table.integer(row, "accession_year").unwrap_or(0),
                status: MemberStatus::Active as i32,
                region: table.cell(row, "region").to_owned(),
                attributes,
                code,
            }
        })
        .collect()
}

/// The six partners accord models (Ukraine, Georgia and the four Indo-Pacific partners), in the
/// order of `partners.csv`.
///
/// `summit_participation` is FULL when the partner attended the Washington 2024 summit
/// (`attended_washington_2024` = "yes") and RESTRICTED otherwise. Assumption: Washington 2024 is
/// the last summit at which the partners took part formally (at The Hague 2025 Ukraine was only
/// invited to a dinner and the Indo-Pacific partners were represented below leader level), so it
/// is the baseline a proposal about the next summit (Ankara 2026) changes.
pub fn partners() -> Vec<Partner> {
    let table = Table::parse("partners.csv", PARTNERS_CSV);
    table
        .rows
        .iter()
        .filter_map(|row| {
            let code = table.cell(row, "iso3");
            let category = PARTNERS.iter().find(|(c, _)| *c == code)?.1;
            let participation = if table.cell(row, "attended_washington_2024") == "yes" {
                SummitParticipation::Full
            } else {
                SummitParticipation::Restricted
            };
            Some(Partner {
                name: names::name(names::PARTNERS, code),
                code: code.to_owned(),
                display_name: table.cell(row, "name").to_owned(),
                category: category as i32,
                framework: table.cell(row, "partnership_framework").to_owned(),
                summit_participation: participation as i32,
                attendance_notes: table.cell(row, "attendance_notes").to_owned(),
            })
        })
        .collect()
}

/// Every mission in `missions.csv`, in its order: id upper case, status ACTIVE, name "missions/{id}",
/// personnel ceiling 0 where none is published. KFOR carries the contributions of
/// [`kfor_contributions`].
pub fn missions() -> Vec<Mission> {
    let table = Table::parse("missions.csv", MISSIONS_CSV);
    let kfor = kfor_contributions(&members());
    table
        .rows
        .iter()
        .map(|row| {
            // The protocol's ids are upper case ("NHQSa" in the file becomes "NHQSA").
            let id = table.cell(row, "id").to_uppercase();
            let area = if table.boolean(row, "in_area") {
                MissionArea::InArea
            } else {
                MissionArea::OutOfArea
            };
            Mission {
                name: names::name(names::MISSIONS, &id),
                display_name: table.cell(row, "name").to_owned(),
                location: table.cell(row, "location").to_owned(),
                start_year: table.integer(row, "started").unwrap_or(0),
                area: area as i32,
                article5: table.boolean(row, "article5_collective_defence"),
                personnel_ceiling: table.integer(row, "personnel_approx").unwrap_or(0),
                status: MissionStatus::Active as i32,
                end_date: None,
                contributions: if id == "KFOR" {
                    kfor.clone()
                } else {
                    Vec::new()
                },
                mandate: table.cell(row, "mandate_summary").to_owned(),
                id,
            }
        })
        .collect()
}

/// KFOR troop contributions by allies, from `kfor_contributions.csv`: for each ally (country
/// names matched to `members`' display names) the most recent row that gives an exact number.
/// Totals ("(all)"), bounds ("<600") and non-members (Austria) are left out. Ordered by troops,
/// largest first, then by member code.
fn kfor_contributions(members: &[Member]) -> Vec<Contribution> {
    let table = Table::parse("kfor_contributions.csv", KFOR_CONTRIBUTIONS_CSV);
    // code -> (snapshot date, troops); snapshot dates start with an ISO date, so they sort as text.
    let mut latest: HashMap<&str, (&str, i32)> = HashMap::new();
    for row in &table.rows {
        let country = table.cell(row, "country");
        let Some(member) = members.iter().find(|m| m.display_name == country) else {
            continue;
        };
        let Ok(troops) = table.cell(row, "troops").parse::<i32>() else {
            continue;
        };
        let date = table.cell(row, "snapshot_date");
        let entry = latest.entry(member.code.as_str()).or_insert((date, troops));
        if date > entry.0 {
            *entry = (date, troops);
        }
    }
    let mut contributions: Vec<Contribution> = latest
        .into_iter()
        .map(|(code, (_, troops))| Contribution {
            member: names::name(names::MEMBERS, code),
            troops,
        })
        .collect();
    contributions.sort_by(|a, b| {
        b.troops
            .cmp(&a.troops)
            .then_with(|| a.member.cmp(&b.member))
    });
    contributions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(code: &str) -> Member {
        members().into_iter().find(|m| m.code == code).unwrap()
    }

    fn mission(id: &str) -> Mission {
        missions().into_iter().find(|m| m.id == id).unwrap()
    }

    #[test]
    fn thirty_two_active_members() {
        let members = members();
        assert_eq!(members.len(), 32);
        assert!(members.iter().all(|m| m.status() == MemberStatus::Active));
        assert!(
            members
                .iter()
                .all(|m| m.name == format!("members/{}", m.code))
        );
        let mut codes: Vec<_> = members.iter().map(|m| m.code.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), 32, "codes are unique");
    }

    #[test]
    fn member_attributes() {
        let usa = member("USA");
        assert_eq!(usa.display_name, "United States");
        assert_eq!(usa.accession_year, 1949);
        assert_eq!(usa.region, "North America");
        assert_eq!(usa.attributes["defence_expenditure_usd_mn"], 967707.0);
        assert_eq!(usa.attributes["defence_pct_gdp_2025e"], 3.22);
        assert!(!usa.attributes.contains_key("us_troops_hosted"));

        let isl = member("ISL");
        assert!(!isl.attributes.contains_key("defence_expenditure_usd_mn"));
        assert!(!isl.attributes.contains_key("defence_pct_gdp"));
        assert_eq!(isl.attributes["population_mn"], 0.40);
        assert_eq!(isl.attributes["us_troops_hosted"], 1.0);

        let deu = member("DEU");
        assert_eq!(deu.attributes["us_troops_hosted"], 36436.0);
        assert!(!deu.attributes.contains_key("defence_pct_gdp_2025e"));
        assert_eq!(member("TUR").display_name, "Türkiye");

        let allowed: Vec<&str> = MEMBER_ATTRIBUTES.iter().map(|(k, _)| *k).collect();
        for m in members() {
            assert!(
                m.attributes.keys().all(|k| allowed.contains(&k.as_str())),
                "{}",
                m.code
            );
        }
    }

    #[test]
    fn six_partners() {
        let partners = partners();
        let codes: Vec<_> = partners.iter().map(|p| p.code.as_str()).collect();
        assert_eq!(codes, ["UKR", "AUS", "JPN", "NZL", "KOR", "GEO"]);
        let ukr = &partners[0];
        assert_eq!(ukr.name, "partners/UKR");
        assert_eq!(ukr.category(), PartnerCategory::Aspirant);
        assert_eq!(ukr.summit_participation(), SummitParticipation::Full);
        assert!(ukr.framework.starts_with("NATO-Ukraine Council"));
        assert!(ukr.attendance_notes.contains("Zelensky"));
        let geo = partners.iter().find(|p| p.code == "GEO").unwrap();
        assert_eq!(geo.category(), PartnerCategory::Aspirant);
        assert_eq!(geo.summit_participation(), SummitParticipation::Restricted);
        let jpn = partners.iter().find(|p| p.code == "JPN").unwrap();
        assert_eq!(jpn.category(), PartnerCategory::IndoPacific);
        assert_eq!(jpn.summit_participation(), SummitParticipation::Full);
    }

    #[test]
    fn missions_from_csv() {
        let missions = missions();
        assert_eq!(missions.len(), 10);
        assert!(missions.iter().all(|m| m.status() == MissionStatus::Active));
        assert!(
            missions
                .iter()
                .all(|m| m.name == format!("missions/{}", m.id))
        );

        let kfor = mission("KFOR");
        assert_eq!(kfor.personnel_ceiling, 4500);
        assert_eq!(kfor.start_year, 1999);
        assert_eq!(kfor.area(), MissionArea::OutOfArea);
        assert!(!kfor.article5);
        assert!(kfor.mandate.starts_with("UNSCR 1244"));
        let troops = |code: &str| {
            kfor.contributions
                .iter()
                .find(|c| c.member == format!("members/{code}"))
                .map(|c| c.troops)
        };
        assert_eq!(troops("ITA"), Some(1258), "the 2025 figure wins over 2022");
        assert_eq!(troops("HUN"), Some(469));
        assert_eq!(troops("TUR"), Some(350));
        assert_eq!(troops("USA"), Some(635), "`<600` is not an exact number");
        assert_eq!(
            kfor.contributions.len(),
            15,
            "16 countries in 2022 less Austria"
        );
        assert_eq!(kfor.contributions[0].member, "members/ITA");

        let nmi = mission("NMI");
        assert_eq!(nmi.area(), MissionArea::OutOfArea);
        assert_eq!(nmi.personnel_ceiling, 0);
        assert_eq!(nmi.display_name, "NATO Mission Iraq");
        assert!(nmi.contributions.is_empty());

        let flf = mission("FLF");
        assert_eq!(flf.area(), MissionArea::InArea);
        assert!(flf.article5);
        assert_eq!(flf.personnel_ceiling, 9641);
        assert_eq!(mission("NHQSA").name, "missions/NHQSA");
    }
}
