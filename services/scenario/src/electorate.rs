//! Electorates: any council's members — codes of any length up to the server's cap, names and
//! weights — written inline in a scenario's `[electorate]` (or a power file) or read from a CSV
//! file beside it, and put on a server as its members.
//!
//! Guarantee: an electorate that [`resolve`]s is valid for the server — every code passes
//! `accord_server::alliance::is_member_code`, codes are unique, every member has every weight
//! (finite, zero or more) — and every problem found names its file, line and column (the CSV
//! file's own line for a member read from CSV).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use accord_proto::client::Conn;
use accord_proto::v1::member_service_client::MemberServiceClient;
use accord_proto::v1::{
    CreateMemberRequest, ListMembersRequest, Member, MemberStatus, UpdateMemberRequest,
};
use accord_server::alliance::{MAX_MEMBER_CODE_LEN, is_member_code};
use serde::Deserialize;
use serde_spanned::Spanned;

use crate::location::{Locator, Problem};

/// The most members an electorate may have.
pub const MAX_MEMBERS: usize = 10_000;

/// `[electorate]` as written: members inline, or a CSV file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElectorateSpec {
    /// What the electorate is, e.g. "Council of the EU, 27 member states".
    #[serde(default)]
    pub title: String,
    /// Where its figures come from.
    #[serde(default)]
    pub sources: Vec<String>,
    /// The members, one inline table each: `{ code = "DEU", name = "Germany",
    /// population_mn = 83.4 }` (every key besides `code`, `name` and `region` is a weight).
    #[serde(default)]
    pub members: Vec<Spanned<toml::Table>>,
    /// A CSV file (relative to the file that names it) with the columns `code`, `name`,
    /// optionally `region`, and one column per weight.
    pub file: Option<Spanned<String>>,
    /// The electorate read and checked (filled in by [`resolve`]).
    #[serde(skip)]
    pub resolved: Option<Electorate>,
}

/// One member of an electorate.
#[derive(Debug, Clone, PartialEq)]
pub struct ElectorateMember {
    /// Its code, e.g. "DEU" or "IMF-ED-12".
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its region (optional).
    pub region: String,
    /// Its weights, in the order of [`Electorate::weights`].
    pub weights: Vec<f64>,
    /// Where it is defined (file and line), for later messages.
    pub line: usize,
}

/// A checked electorate.
#[derive(Debug, Clone, PartialEq)]
pub struct Electorate {
    /// The weight names (member attributes), sorted.
    pub weights: Vec<String>,
    /// The members, in the order written.
    pub members: Vec<ElectorateMember>,
    /// The file the members were read from (the CSV file, or the scenario).
    pub path: PathBuf,
}

impl Electorate {
    /// The members as accord members: active, with each weight as an attribute.
    pub fn to_members(&self) -> Vec<Member> {
        self.members
            .iter()
            .map(|m| Member {
                name: format!("members/{}", m.code),
                code: m.code.clone(),
                display_name: m.name.clone(),
                status: MemberStatus::Active as i32,
                region: m.region.clone(),
                attributes: self
                    .weights
                    .iter()
                    .cloned()
                    .zip(m.weights.iter().copied())
                    .collect(),
                ..Member::default()
            })
            .collect()
    }

    /// The index of a weight.
    pub fn weight(&self, name: &str) -> Option<usize> {
        self.weights.iter().position(|w| w == name)
    }
}

const RESERVED: [&str; 3] = ["code", "name", "region"];

fn check_code(code: &str) -> Result<(), String> {
    if is_member_code(code) {
        Ok(())
    } else {
        let shown: String = code.chars().take(MAX_MEMBER_CODE_LEN + 1).collect();
        Err(format!(
            "`{shown}` is not a member code: 1 to {MAX_MEMBER_CODE_LEN} upper-case letters, \
             digits, `-` or `_`, starting with a letter"
        ))
    }
}

fn check_weight(name: &str, value: f64) -> Result<(), String> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(format!(
            "weight `{name}` = {value} is not a number of zero or more"
        ))
    }
}

/// Reads and checks the electorate of `spec` (from the file at `at`); relative CSV paths are
/// taken from the directory of `at`'s file.
pub fn resolve(spec: &ElectorateSpec, at: &Locator) -> Result<Electorate, Vec<Problem>> {
    let mut problems = Vec::new();
    let electorate = match (&spec.file, spec.members.is_empty()) {
        (Some(file), true) => {
            let base = at.path().parent().unwrap_or(Path::new(""));
            let path = base.join(file.get_ref());
            match std::fs::read_to_string(&path) {
                Ok(text) => from_csv(&path, &text, true).map_err(|p| problems.extend(p)),
                Err(e) => {
                    problems.push(at.at(
                        file,
                        format!("cannot read the electorate file {}: {e}", path.display()),
                    ));
                    Err(())
                }
            }
        }
        (Some(file), false) => {
            problems.push(at.at(
                file,
                "give the members inline (members = [...]) or in a file, not both",
            ));
            Err(())
        }
        (None, _) => from_tables(&spec.members, at).map_err(|p| problems.extend(p)),
    };
    match electorate {
        Ok(e) if problems.is_empty() => Ok(e),
        _ => {
            if problems.is_empty() {
                problems.push(at.problem(0, "the electorate is invalid"));
            }
            Err(problems)
        }
    }
}

/// The members written inline as TOML tables.
pub fn from_tables(
    tables: &[Spanned<toml::Table>],
    at: &Locator,
) -> Result<Electorate, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut weights: Vec<String> = tables
        .iter()
        .flat_map(|t| t.get_ref().keys())
        .filter(|k| !RESERVED.contains(&k.as_str()))
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    weights.sort();
    let mut members = Vec::new();
    for table in tables {
        let line = at.at(table, "").line;
        let t = table.get_ref();
        let text = |key: &str| t.get(key).and_then(|v| v.as_str()).map(str::to_string);
        let code = text("code").unwrap_or_default();
        if t.get("code").is_none() {
            problems.push(at.at(table, "a member needs a `code`"));
        } else if let Err(message) = check_code(&code) {
            problems.push(at.at(table, message));
        }
        let name = text("name").unwrap_or_default();
        if name.trim().is_empty() {
            problems.push(at.at(table, format!("member `{code}` needs a `name`")));
        }
        let mut values = Vec::new();
        for w in &weights {
            let value = match t.get(w) {
                Some(toml::Value::Integer(i)) => *i as f64,
                Some(toml::Value::Float(f)) => *f,
                Some(_) => {
                    problems
                        .push(at.at(table, format!("weight `{w}` of `{code}` is not a number")));
                    0.0
                }
                None => {
                    problems.push(at.at(
                        table,
                        format!("member `{code}` has no `{w}` (every member needs every weight)"),
                    ));
                    0.0
                }
            };
            if let Err(message) = check_weight(w, value) {
                problems.push(at.at(table, format!("member `{code}`: {message}")));
            }
            values.push(value);
        }
        members.push(ElectorateMember {
            code,
            name,
            region: text("region").unwrap_or_default(),
            weights: values,
            line,
        });
    }
    finish(&members, at.path(), &mut problems, |line| {
        at.line_problem(line, "")
    });
    if problems.is_empty() {
        Ok(Electorate {
            weights,
            members,
            path: at.path().to_path_buf(),
        })
    } else {
        Err(problems)
    }
}

/// The checks on the whole electorate: at least one member, not too many, unique codes.
fn finish(
    members: &[ElectorateMember],
    path: &Path,
    problems: &mut Vec<Problem>,
    at_line: impl Fn(usize) -> Problem,
) {
    if members.is_empty() {
        problems.push(Problem {
            path: path.to_path_buf(),
            line: 1,
            column: 1,
            message: "the electorate has no members".into(),
        });
    }
    if members.len() > MAX_MEMBERS {
        problems.push(Problem {
            path: path.to_path_buf(),
            line: 1,
            column: 1,
            message: format!(
                "{} members is more than the {MAX_MEMBERS} allowed",
                members.len()
            ),
        });
    }
    let mut seen = HashSet::new();
    for m in members {
        if !m.code.is_empty() && !seen.insert(m.code.as_str()) {
            let mut p = at_line(m.line);
            p.message = format!("member code `{}` is used twice", m.code);
            problems.push(p);
        }
    }
}

/// The members in CSV `text` (read from `path`): a header with `code` (required when
/// `need_code`, else the name stands in), `name`, optionally `region`, and one column per weight.
pub fn from_csv(path: &Path, text: &str, need_code: bool) -> Result<Electorate, Vec<Problem>> {
    let problem = |line: usize, message: String| Problem {
        path: path.to_path_buf(),
        line,
        column: 1,
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let header = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => return Err(vec![problem(1, format!("cannot read the header: {e}"))]),
    };
    let column = |name: &str| header.iter().position(|h| h == name);
    let (code_col, name_col, region_col) = (column("code"), column("name"), column("region"));
    let header_line = text
        .lines()
        .position(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .map_or(1, |i| i + 1);
    let mut problems = Vec::new();
    if need_code && code_col.is_none() {
        problems.push(problem(
            header_line,
            "the header has no `code` column".into(),
        ));
    }
    if name_col.is_none() {
        problems.push(problem(
            header_line,
            "the header has no `name` column".into(),
        ));
    }
    let weight_cols: Vec<(usize, String)> = header
        .iter()
        .enumerate()
        .filter(|(_, h)| !RESERVED.contains(h))
        .map(|(i, h)| (i, h.to_string()))
        .collect();
    if weight_cols.is_empty() {
        problems.push(problem(
            header_line,
            "the header names no weight column (e.g. `votes` or `population_mn`)".into(),
        ));
    }
    for (_, h) in &weight_cols {
        if h.is_empty() {
            problems.push(problem(header_line, "a column has no name".into()));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut members = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                problems.push(problem(line, format!("{e}")));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        let field = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("").to_string();
        let name = field(name_col);
        let code = if code_col.is_some() {
            field(code_col)
        } else {
            name.clone()
        };
        if code_col.is_some() {
            if let Err(message) = check_code(&code) {
                problems.push(problem(line, message));
            }
        }
        if name.is_empty() {
            problems.push(problem(line, format!("member `{code}` has no name")));
        }
        let mut weights = Vec::new();
        for (c, h) in &weight_cols {
            let raw = record.get(*c).unwrap_or("");
            match raw.replace('_', "").parse::<f64>() {
                Ok(v) => {
                    if let Err(message) = check_weight(h, v) {
                        problems.push(problem(line, format!("member `{code}`: {message}")));
                    }
                    weights.push(v);
                }
                Err(_) => {
                    let shown: String = raw.chars().take(32).collect();
                    problems.push(problem(
                        line,
                        format!("member `{code}`: `{h}` = `{shown}` is not a number"),
                    ));
                    weights.push(0.0);
                }
            }
        }
        members.push(ElectorateMember {
            code,
            name,
            region: field(region_col),
            weights,
            line,
        });
        if members.len() > MAX_MEMBERS {
            break;
        }
    }
    let weights: Vec<String> = weight_cols.into_iter().map(|(_, h)| h).collect();
    finish(&members, path, &mut problems, |line| {
        problem(line, String::new())
    });
    if problems.is_empty() {
        Ok(Electorate {
            weights,
            members,
            path: path.to_path_buf(),
        })
    } else {
        problems.sort_by_key(|p| p.line);
        Err(problems)
    }
}

/// Makes the electorate the server's active members: suspends every active member not in it,
/// and creates (or updates) each of its members. Used on a fresh embedded server; through the
/// ordinary member RPCs, so it needs the operator token where one is configured.
pub async fn provision(channel: &Conn, electorate: &Electorate) -> Result<(), tonic::Status> {
    let mut client = MemberServiceClient::new(channel.clone());
    let mut existing: BTreeMap<String, Member> = BTreeMap::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_members(ListMembersRequest {
                page_size: 1000,
                page_token: token,
                status: 0,
            })
            .await?
            .into_inner();
        existing.extend(page.members.into_iter().map(|m| (m.code.clone(), m)));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let wanted: HashSet<&str> = electorate.members.iter().map(|m| m.code.as_str()).collect();
    for member in existing.values() {
        if member.status == MemberStatus::Active as i32 && !wanted.contains(member.code.as_str()) {
            client
                .update_member(UpdateMemberRequest {
                    member: Some(Member {
                        name: member.name.clone(),
                        status: MemberStatus::Suspended as i32,
                        ..Member::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["status".into()],
                    }),
                })
                .await?;
        }
    }
    for member in electorate.to_members() {
        if existing.contains_key(&member.code) {
            client
                .update_member(UpdateMemberRequest {
                    member: Some(member),
                    update_mask: None,
                })
                .await?;
        } else {
            client
                .create_member(CreateMemberRequest {
                    member: Some(member),
                })
                .await?;
        }
    }
    Ok(())
}
