//! `accord power FILE`: the power indices of any council, read from a CSV or TOML file (or
//! standard input), computed by the server's `PowerService.AnalyzeGame` and printed as a table,
//! JSON, CSV or SVG bar charts; `--compare` puts several rules on the same players side by side.
//!
//! The file formats and the rule syntax are documented in `docs/power.md`. Weights are sent as
//! whole numbers: a weight column with decimals is scaled by the least power of ten (at most
//! 10⁶) that makes every value whole, which leaves every quota given as a share unchanged.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use accord_proto::v1::power_service_client::PowerServiceClient;
use accord_proto::v1::{
    AnalyzeGameRequest, AnalyzeGameResponse, GameRule, MemberQuota, Player, PowerIndex,
    PowerMethod, WeightQuota, weight_quota::Threshold,
};
use accord_scenario::electorate::{self, Electorate, ElectorateSpec};
use accord_scenario::embedded::EmbeddedServer;
use accord_scenario::format::Locator;
use serde::Deserialize;
use serde_spanned::Spanned;

use crate::cli::GlobalOptions;
use crate::cli::power::{FormatArg, MethodArg, PowerArgs};
use crate::client::UsageError;
use crate::commands::scenario::ScenarioError;
use crate::output::{self, print, print_json};

/// A power file in TOML.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PowerFile {
    /// What the game is.
    #[serde(default)]
    title: String,
    /// Where its figures come from.
    #[serde(default)]
    sources: Vec<String>,
    /// The winning rule.
    rule: Option<Spanned<String>>,
    /// Rules to compare (two or more).
    #[serde(default)]
    compare: Vec<Spanned<String>>,
    /// The players.
    electorate: Spanned<ElectorateSpec>,
}

/// A game read from a file: its players, the weights as whole numbers, and the file's rules.
#[derive(Debug, Clone)]
pub struct GameFile {
    /// The title, if any.
    pub title: String,
    /// The players.
    pub electorate: Electorate,
    /// Each weight column's scale (the power of ten it was multiplied by).
    pub scales: Vec<u64>,
    /// Each player's whole weights.
    pub weights: Vec<Vec<u64>>,
    /// The rules the file names (`rule`, or `compare`).
    pub rules: Vec<String>,
}

/// The least power of ten, at most 10⁶, that makes every value whole (10⁶ and rounding if none).
fn scale(values: impl Iterator<Item = f64> + Clone) -> u64 {
    for d in 0..=6u32 {
        let s = 10f64.powi(d as i32);
        if values.clone().all(|v| {
            let x = v * s;
            (x - x.round()).abs() <= 1e-6 * x.abs().max(1.0)
        }) {
            return 10u64.pow(d);
        }
    }
    1_000_000
}

/// Reads a game from CSV or TOML `text` (named `path` in messages).
pub fn read_game(path: &Path, text: &str, format: FormatArg) -> Result<GameFile, ScenarioError> {
    let problems = |p: Vec<accord_scenario::Problem>| {
        ScenarioError(
            p.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        )
    };
    let (title, electorate, rules) = match format {
        FormatArg::Csv => {
            let electorate = electorate::from_csv(path, text, false).map_err(problems)?;
            // `# rule: votes >= 12` lines name the file's rules.
            let rules = text
                .lines()
                .filter_map(|l| l.trim().strip_prefix('#'))
                .filter_map(|l| l.trim().strip_prefix("rule:"))
                .map(|r| r.trim().to_string())
                .collect();
            (String::new(), electorate, rules)
        }
        FormatArg::Toml => {
            let at = Locator::new(path, text);
            let file: PowerFile = toml::from_str(text).map_err(|e| {
                let offset = e.span().map(|s| s.start).unwrap_or(0);
                problems(vec![at.problem(offset, e.message().trim().to_string())])
            })?;
            let _ = &file.sources;
            let electorate =
                electorate::resolve(file.electorate.get_ref(), &at).map_err(problems)?;
            let mut rules: Vec<String> = file.rule.iter().map(|r| r.get_ref().clone()).collect();
            rules.extend(file.compare.iter().map(|r| r.get_ref().clone()));
            (file.title, electorate, rules)
        }
    };
    let columns = electorate.weights.len();
    let scales: Vec<u64> = (0..columns)
        .map(|c| scale(electorate.members.iter().map(move |m| m.weights[c])))
        .collect();
    let weights = electorate
        .members
        .iter()
        .map(|m| {
            m.weights
                .iter()
                .zip(&scales)
                .map(|(&v, &s)| (v * s as f64).round().min(u64::MAX as f64) as u64)
                .collect()
        })
        .collect();
    Ok(GameFile {
        title,
        electorate,
        scales,
        weights,
        rules,
    })
}

/// Parses a rule: clauses `NAME OP VALUE` joined by `and` (or `&`), where NAME is a weight
/// column, `members` or `blocking`, OP is `>=` or `>`, and VALUE a number or a percentage of the
/// total (`65%`). `weight` stands for the first column.
pub fn parse_rule(text: &str, game: &GameFile) -> Result<GameRule, String> {
    let mut rule = GameRule::default();
    let mut members: Option<MemberQuota> = None;
    let normalised = text.replace('&', " and ");
    let clauses: Vec<&str> = normalised
        .split(" and ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    if clauses.is_empty() {
        return Err(format!("the rule `{text}` has no clause"));
    }
    for clause in clauses {
        let (name, strict, value) = if let Some((n, v)) = clause.split_once(">=") {
            (n.trim(), false, v.trim())
        } else if let Some((n, v)) = clause.split_once('>') {
            (n.trim(), true, v.trim())
        } else {
            return Err(format!(
                "`{clause}` is not a clause like `votes >= 85%`, `members >= 15` or `blocking >= 4`"
            ));
        };
        let (number, share) = match value.strip_suffix('%') {
            Some(p) => (p.trim(), true),
            None => (value, false),
        };
        let number: f64 = number
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| format!("`{value}` in `{clause}` is not a number or a percentage"))?;
        let whole = |what: &str| -> Result<u32, String> {
            if share || number.fract() != 0.0 || number > u32::MAX as f64 {
                Err(format!(
                    "{what} takes a whole number of members, not `{value}`"
                ))
            } else {
                Ok(number as u32)
            }
        };
        match name {
            "members" => {
                if strict {
                    return Err(format!("write `members >= N` (not `>`) in `{clause}`"));
                }
                let m = members.get_or_insert_with(MemberQuota::default);
                if share {
                    m.share = m.share.max(number / 100.0);
                } else {
                    m.at_least = m.at_least.max(whole("members")?);
                }
            }
            "blocking" => {
                if strict {
                    return Err(format!("write `blocking >= N` (not `>`) in `{clause}`"));
                }
                rule.min_blocking = whole("blocking")?;
            }
            _ => {
                let column = if name == "weight" && !game.electorate.weights.is_empty() {
                    0
                } else {
                    game.electorate.weight(name).ok_or_else(|| {
                        format!(
                            "`{name}` is not a weight column ({}), `members` or `blocking`",
                            game.electorate.weights.join(", ")
                        )
                    })?
                };
                let threshold = if share {
                    Threshold::Share(number / 100.0)
                } else {
                    let scaled = number * game.scales[column] as f64;
                    if scaled.fract().abs() > 1e-9 {
                        return Err(format!("`{value}` in `{clause}` is finer than the weights"));
                    }
                    Threshold::Weight(scaled as u64)
                };
                rule.quotas.push(WeightQuota {
                    vector: column as u32,
                    threshold: Some(threshold),
                    strict,
                });
            }
        }
    }
    rule.member_quota = members;
    Ok(rule)
}

fn indices(text: &str) -> Result<Vec<i32>, UsageError> {
    let mut out = Vec::new();
    for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        out.push(match name {
            "all" => return Ok(Vec::new()),
            "banzhaf" => PowerIndex::Banzhaf,
            "coleman" => PowerIndex::Coleman,
            "shapley_shubik" => PowerIndex::ShapleyShubik,
            "deegan_packel" => PowerIndex::DeeganPackel,
            "holler" => PowerIndex::Holler,
            "johnston" => PowerIndex::Johnston,
            other => {
                return Err(UsageError(format!(
                    "unknown index `{other}` (banzhaf, shapley_shubik, deegan_packel, holler, \
                     johnston, coleman or all)"
                )));
            }
        } as i32);
    }
    if out.is_empty() {
        out.push(PowerIndex::Banzhaf as i32);
    }
    Ok(out)
}

/// The request for one rule.
pub fn request(
    game: &GameFile,
    rule: GameRule,
    args: &PowerArgs,
) -> anyhow::Result<AnalyzeGameRequest> {
    Ok(AnalyzeGameRequest {
        players: game
            .electorate
            .members
            .iter()
            .zip(&game.weights)
            .map(|(m, w)| Player {
                name: m.name.clone(),
                weights: w.clone(),
            })
            .collect(),
        weight_names: game.electorate.weights.clone(),
        rule: Some(rule),
        indices: indices(&args.indices)?,
        method: match args.method {
            MethodArg::Auto => PowerMethod::Auto,
            MethodArg::Exact => PowerMethod::Exact,
            MethodArg::MonteCarlo => PowerMethod::MonteCarlo,
        } as i32,
        samples: args.samples.unwrap_or(0),
        seed: args.seed,
    })
}

fn read_input(file: &str) -> anyhow::Result<(PathBuf, String)> {
    if file == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| UsageError(format!("cannot read standard input: {e}")))?;
        Ok((PathBuf::from("<stdin>"), text))
    } else {
        let path = PathBuf::from(file);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ScenarioError(format!("{}: cannot read the file: {e}", path.display())))?;
        Ok((path, text))
    }
}

fn format_of(path: &Path, text: &str, given: Option<FormatArg>) -> FormatArg {
    if let Some(f) = given {
        return f;
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => FormatArg::Toml,
        Some("csv") => FormatArg::Csv,
        // Standard input: TOML has `key = value` or `[table]` lines; CSV has neither.
        _ if text.lines().map(str::trim).any(|l| {
            !l.starts_with('#')
                && (l.starts_with('[') || l.split_once('=').is_some_and(|(k, _)| !k.contains(',')))
        }) =>
        {
            FormatArg::Toml
        }
        _ => FormatArg::Csv,
    }
}

/// Runs `accord power`.
pub async fn run(global: &GlobalOptions, args: PowerArgs) -> anyhow::Result<()> {
    let (path, text) = read_input(&args.file)?;
    let game = read_game(&path, &text, format_of(&path, &text, args.format))?;
    let rules: Vec<String> = if !args.compare.is_empty() {
        args.compare.clone()
    } else if let Some(rule) = &args.rule {
        vec![rule.clone()]
    } else if !game.rules.is_empty() {
        game.rules.clone()
    } else {
        return Err(UsageError(
            "no rule: give --rule (e.g. \"votes >= 85%\") or --compare, or name one in the file"
                .into(),
        )
        .into());
    };
    let mut requests = Vec::new();
    for rule in &rules {
        let parsed = parse_rule(rule, &game).map_err(UsageError)?;
        requests.push(request(&game, parsed, &args)?);
    }

    let server = if args.embedded {
        Some(EmbeddedServer::start(args.plugin_dir.clone()).await?)
    } else {
        None
    };
    let channel = super::scenario::connect(global, server.as_ref()).await?;
    let mut client = PowerServiceClient::new(channel);
    let mut results = Vec::new();
    for request in requests {
        let result = client.analyze_game(request).await;
        match result {
            Ok(r) => results.push(r.into_inner()),
            Err(status) => {
                if let Some(s) = server {
                    s.shutdown().await;
                }
                return Err(status.into());
            }
        }
    }
    if let Some(s) = server {
        s.shutdown().await;
    }

    if global.json {
        let value = if results.len() == 1 {
            let mut v = accord_proto::json::to_json(&results[0]);
            v["rule"] = serde_json::Value::String(rules[0].clone());
            v
        } else {
            serde_json::json!({
                "rules": rules.iter().zip(&results).map(|(rule, r)| {
                    let mut v = accord_proto::json::to_json(r);
                    v["rule"] = serde_json::Value::String(rule.clone());
                    v
                }).collect::<Vec<_>>()
            })
        };
        print_json(&value);
    } else if args.csv {
        print!("{}", to_csv(&rules, &results));
    } else if results.len() == 1 {
        print_one(&game, &rules[0], &results[0]);
    } else {
        print_compare(&game, &rules, &results);
    }
    if let Some(dir) = &args.svg {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        let mut written = Vec::new();
        for (i, (rule, r)) in rules.iter().zip(&results).enumerate() {
            let file = dir.join(if results.len() == 1 {
                "power.svg".to_string()
            } else {
                format!("power-{}.svg", i + 1)
            });
            std::fs::write(&file, svg(&game.title, rule, r))
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.display()))?;
            written.push(file);
        }
        if !global.json && !args.csv {
            print("\nCharts written:");
            for file in written {
                print(format!("  {}", file.display()));
            }
        }
    }
    Ok(())
}

/// Reads an index that may be missing from a player's power.
type OptionalIndex = fn(&accord_proto::v1::PlayerPower) -> Option<f64>;

/// The indices of a response: (column name, label, values per player).
fn columns(r: &AnalyzeGameResponse) -> Vec<(&'static str, &'static str, Vec<f64>)> {
    let p = &r.players;
    let mut out = vec![
        ("banzhaf", "Banzhaf", p.iter().map(|x| x.banzhaf).collect()),
        (
            "banzhaf_absolute",
            "Banzhaf (abs.)",
            p.iter().map(|x| x.banzhaf_absolute).collect(),
        ),
    ];
    let optional: [(&str, &str, OptionalIndex); 4] = [
        ("shapley_shubik", "Shapley–Shubik", |x| x.shapley_shubik),
        ("deegan_packel", "Deegan–Packel", |x| x.deegan_packel),
        ("holler", "Holler", |x| x.holler),
        ("johnston", "Johnston", |x| x.johnston),
    ];
    for (key, label, get) in optional {
        if p.iter().any(|x| get(x).is_some()) {
            out.push((
                key,
                label,
                p.iter().map(|x| get(x).unwrap_or(f64::NAN)).collect(),
            ));
        }
    }
    out.push((
        "coleman_prevent",
        "Coleman prevent",
        p.iter().map(|x| x.coleman_prevent).collect(),
    ));
    out.push((
        "coleman_initiate",
        "Coleman initiate",
        p.iter().map(|x| x.coleman_initiate).collect(),
    ));
    out
}

fn fixed(value: f64) -> String {
    if value.is_nan() {
        "—".into()
    } else {
        format!("{value:.4}")
    }
}

fn weight_text(game: &GameFile, i: usize) -> String {
    game.electorate.members[i]
        .weights
        .iter()
        .map(|w| output::number(*w))
        .collect::<Vec<_>>()
        .join(" / ")
}

fn index_name(index: i32) -> String {
    PowerIndex::try_from(index)
        .map(|i| output::enum_word(i.as_str_name(), "POWER_INDEX_"))
        .unwrap_or_else(|_| index.to_string())
}

fn game_lines(r: &AnalyzeGameResponse) -> Vec<String> {
    let Some(g) = &r.game else {
        return Vec::new();
    };
    let none = |v: &[String]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    let mut lines = vec![
        format!(
            "Winning coalitions: {}",
            if g.winning_coalitions.is_empty() {
                "estimated".to_string()
            } else {
                format!("{} of 2^{}", g.winning_coalitions, g.players)
            }
        ),
        format!("Coleman's power to act: {:.6}", g.coleman_power),
        format!("Veto players: {}", none(&g.veto_players)),
        format!(
            "Dummies: {}",
            if g.dummies_known {
                none(&g.dummies)
            } else {
                "unknown (estimated)".into()
            }
        ),
        format!(
            "Dictator: {}",
            if g.dictator.is_empty() {
                "none"
            } else {
                &g.dictator
            }
        ),
    ];
    let methods: Vec<String> = g
        .methods
        .iter()
        .map(|m| {
            if m.exact {
                format!("{} exact", index_name(m.index))
            } else {
                format!(
                    "{} Monte Carlo ({} samples, ±{:.4} at 95%)",
                    index_name(m.index),
                    m.samples,
                    m.error_bound
                )
            }
        })
        .collect();
    lines.push(format!("Methods: {}", methods.join("; ")));
    for reason in &g.not_computed {
        lines.push(format!("Not computed: {reason}"));
    }
    lines
}

fn print_one(game: &GameFile, rule: &str, r: &AnalyzeGameResponse) {
    if !game.title.is_empty() {
        print(&game.title);
    }
    print(format!("Rule: {rule}"));
    let cols = columns(r);
    let mut header = vec!["Player", "Weight"];
    header.extend(cols.iter().map(|c| c.1));
    header.push("Notes");
    let mut table = output::table(&header);
    for (i, p) in r.players.iter().enumerate() {
        let mut row = vec![p.name.clone(), weight_text(game, i)];
        row.extend(cols.iter().map(|c| fixed(c.2[i])));
        let mut flags = Vec::new();
        if r.game.as_ref().is_some_and(|g| g.dictator == p.name) {
            flags.push("dictator");
        } else if p.veto {
            flags.push("veto");
        }
        if p.dummy {
            flags.push("dummy");
        }
        row.push(flags.join(", "));
        table.add_row(row);
    }
    let right: Vec<usize> = (1..cols.len() + 2).collect();
    output::align_right(&mut table, &right);
    print(table);
    for line in game_lines(r) {
        print(line);
    }
}

fn print_compare(game: &GameFile, rules: &[String], results: &[AnalyzeGameResponse]) {
    if !game.title.is_empty() {
        print(&game.title);
    }
    for (i, rule) in rules.iter().enumerate() {
        print(format!("Rule {}: {rule}", i + 1));
    }
    let ss = results
        .iter()
        .all(|r| r.players.iter().all(|p| p.shapley_shubik.is_some()));
    let mut header: Vec<String> = vec!["Player".into(), "Weight".into()];
    for i in 1..=rules.len() {
        header.push(format!("Banzhaf {i}"));
        if ss {
            header.push(format!("Shapley–Shubik {i}"));
        }
    }
    let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut table = output::table(&header_refs);
    for (p, player) in game.electorate.members.iter().enumerate() {
        let mut row = vec![player.name.clone(), weight_text(game, p)];
        for r in results {
            row.push(fixed(r.players[p].banzhaf));
            if ss {
                row.push(fixed(r.players[p].shapley_shubik.unwrap_or(f64::NAN)));
            }
        }
        table.add_row(row);
    }
    let right: Vec<usize> = (1..header.len()).collect();
    output::align_right(&mut table, &right);
    print(table);
    for (i, r) in results.iter().enumerate() {
        print(format!("\nRule {i}:", i = i + 1));
        for line in game_lines(r) {
            print(format!("  {line}"));
        }
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// One CSV row per rule and player.
pub fn to_csv(rules: &[String], results: &[AnalyzeGameResponse]) -> String {
    let keys = [
        "banzhaf",
        "banzhaf_absolute",
        "shapley_shubik",
        "deegan_packel",
        "holler",
        "johnston",
        "coleman_prevent",
        "coleman_initiate",
    ];
    let mut out = format!("rule,player,{},swings,veto,dummy\n", keys.join(","));
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    for (rule, r) in rules.iter().zip(results) {
        for p in &r.players {
            let values = [
                p.banzhaf.to_string(),
                p.banzhaf_absolute.to_string(),
                opt(p.shapley_shubik),
                opt(p.deegan_packel),
                opt(p.holler),
                opt(p.johnston),
                p.coleman_prevent.to_string(),
                p.coleman_initiate.to_string(),
            ];
            let _ = writeln!(
                out,
                "{},{},{},{},{},{}",
                csv_field(rule),
                csv_field(&p.name),
                values.join(","),
                p.swings,
                p.veto,
                p.dummy
            );
        }
    }
    out
}

/// The Okabe–Ito palette (distinguishable with every common form of colour blindness).
const PALETTE: [&str; 8] = [
    "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000",
];

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A horizontal bar chart: one group of bars per player, one colour per index, each bar
/// labelled with its value, a legend naming the indices.
pub fn svg(title: &str, rule: &str, r: &AnalyzeGameResponse) -> String {
    let cols: Vec<_> = columns(r)
        .into_iter()
        .filter(|c| c.0 != "banzhaf_absolute" && !c.0.starts_with("coleman"))
        .collect();
    let bar = 9.0;
    let group = bar * cols.len() as f64 + 8.0;
    let (left, top, width) = (190.0, 70.0, 520.0);
    let height = top + group * r.players.len() as f64 + 30.0;
    let max = cols
        .iter()
        .flat_map(|c| c.2.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" viewBox="0 0 {w} {height}" font-family="sans-serif" font-size="11">"#,
        w = left + width + 80.0
    );
    let heading = if title.is_empty() {
        "Voting power".to_string()
    } else {
        title.to_string()
    };
    let _ = writeln!(
        s,
        r#"<title>{}</title><rect width="100%" height="100%" fill="white"/>"#,
        xml(&format!("{heading} — {rule}"))
    );
    let _ = writeln!(
        s,
        r#"<text x="10" y="20" font-size="15" font-weight="bold">{}</text><text x="10" y="38">Rule: {}</text>"#,
        xml(&heading),
        xml(rule)
    );
    for (k, c) in cols.iter().enumerate() {
        let x = 10.0 + 130.0 * k as f64;
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="48" width="10" height="10" fill="{}"/><text x="{}" y="57">{}</text>"#,
            PALETTE[k % PALETTE.len()],
            x + 14.0,
            xml(c.1)
        );
    }
    for (i, p) in r.players.iter().enumerate() {
        let y0 = top + group * i as f64;
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            left - 6.0,
            y0 + group / 2.0,
            xml(&p.name)
        );
        for (k, c) in cols.iter().enumerate() {
            let v = c.2[i];
            if !v.is_finite() {
                continue;
            }
            let y = y0 + bar * k as f64;
            let w = width * v / max;
            let _ = writeln!(
                s,
                r#"<rect x="{left}" y="{y}" width="{w:.2}" height="{h}" fill="{}"><title>{}</title></rect><text x="{:.2}" y="{:.2}" font-size="8">{v:.3}</text>"#,
                PALETTE[k % PALETTE.len()],
                xml(&format!("{}: {} {v:.4}", p.name, c.1)),
                left + w + 3.0,
                y + bar - 1.5,
                h = bar - 1.0,
            );
        }
    }
    s.push_str("</svg>\n");
    s
}
