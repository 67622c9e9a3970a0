//! `PowerService.AnalyzeGame`: the power indices of any council, given directly as a game
//! (players, weight vectors, a rule of quotas joined by AND), computed by the weighted plugin's
//! power library (`accord_weighted::power`, linked in as an rlib; see `docs/power.md`).
//!
//! Guarantees: the request is checked completely before anything is computed, and bad input is
//! INVALID_ARGUMENT (a game too large to count exactly when exact counts were demanded:
//! RESOURCE_EXHAUSTED) through `error.rs`; the call reads and writes no state. Its cost is
//! bounded by the caps in [`limits`]: at most [`limits::MAX_PLAYERS`] players and
//! [`limits::MAX_VECTORS`] weight vectors, exact tables of at most the library's 256 MiB,
//! Monte Carlo estimates of at most [`limits::MAX_SAMPLE_WORK`] player-steps, and at most one
//! analysis per core at a time, on the blocking pool.
//!
//! Linking: `accord-weighted` is also a plugin, so its rlib carries the one symbol that
//! `export_policy!` exports (`accord_policy_entry`). The server links exactly one plugin rlib,
//! so that symbol is defined at most once and nothing clashes (the benchmark crate, which links
//! every plugin, needs `--allow-multiple-definition`); and since nothing in the server refers to
//! it, the linker drops it (`nm accord-server` lists no `accord_policy_entry`). The host loader
//! finds each plugin's own entry with `dlsym` on that library's handle in any case. Linking a
//! second plugin rlib into the server would need the power module moved into its own crate.

use std::collections::HashSet;
use std::sync::OnceLock;

use accord_proto::v1::power_service_server::PowerService;
use accord_proto::v1::{
    AnalyzeGameRequest, AnalyzeGameResponse, GamePower, IndexMethod, PlayerPower, PowerIndex,
    PowerMethod, weight_quota::Threshold,
};
use accord_weighted::power::{
    self, Criterion, Estimate, Game, IndexSet, Method, MethodChoice, Options, PowerError,
    PowerIndices, WinningRule,
};
use tokio::sync::Semaphore;
use tonic::{Request, Response, Status};

use crate::api::Api;
use crate::app::parse_enum;
use crate::error::{DomainError, DomainResult};

/// The caps that bound the cost of one analysis.
pub mod limits {
    /// The most players in a game (Monte Carlo beyond the exact methods' reach).
    pub const MAX_PLAYERS: usize = 10_000;
    /// The most weight vectors (criteria) per player.
    pub const MAX_VECTORS: usize = 8;
    /// The longest player name, in characters.
    pub const MAX_NAME_CHARS: usize = 128;
    /// The default Monte Carlo sample size.
    pub const DEFAULT_SAMPLES: u64 = 100_000;
    /// The largest Monte Carlo sample size a caller may ask for.
    pub const MAX_SAMPLES: u64 = 1_000_000;
    /// The most player-steps (samples × players) of one estimate.
    pub const MAX_SAMPLE_WORK: u64 = 20_000_000;
}

/// At most one analysis per core at a time.
fn permits() -> &'static Semaphore {
    static PERMITS: OnceLock<Semaphore> = OnceLock::new();
    PERMITS
        .get_or_init(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())))
}

/// A checked request: the game, the options, and the players' names.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// The game for the library.
    pub game: Game,
    /// How to compute.
    pub options: Options,
    /// The players' names, in order.
    pub names: Vec<String>,
    /// The indices asked for besides Banzhaf and Coleman.
    pub indices: IndexSet,
}

/// `x`, or the nearest whole number when within a relative 10⁻⁹ of it (so that a share written
/// as 0.6666666666666666 is exactly two thirds of a total divisible by three), as the weighted
/// policy does.
fn snap(x: f64) -> f64 {
    let r = x.round();
    if (x - r).abs() <= 1e-9 * r.abs().max(1.0) {
        r
    } else {
        x
    }
}

fn index_set(indices: &[i32]) -> DomainResult<IndexSet> {
    if indices.is_empty() {
        return Ok(IndexSet::ALL);
    }
    let mut set = IndexSet::BANZHAF;
    for (i, &value) in indices.iter().enumerate() {
        match parse_enum::<PowerIndex>(&format!("indices[{i}]"), value)? {
            PowerIndex::Unspecified => {
                return Err(DomainError::invalid(
                    format!("indices[{i}]"),
                    "is unspecified; name an index",
                ));
            }
            PowerIndex::Banzhaf | PowerIndex::Coleman => {}
            PowerIndex::ShapleyShubik => set.shapley_shubik = true,
            PowerIndex::DeeganPackel => set.deegan_packel = true,
            PowerIndex::Holler => set.holler = true,
            PowerIndex::Johnston => set.johnston = true,
        }
    }
    Ok(set)
}

/// Checks a request and turns it into a game for the library.
pub fn check(request: &AnalyzeGameRequest) -> DomainResult<Analysis> {
    let n = request.players.len();
    if n == 0 {
        return Err(DomainError::invalid("players", "name at least one player"));
    }
    if n > limits::MAX_PLAYERS {
        return Err(DomainError::invalid(
            "players",
            format!(
                "{n} players is more than the {} allowed",
                limits::MAX_PLAYERS
            ),
        ));
    }
    let vectors = request.players[0].weights.len();
    if vectors > limits::MAX_VECTORS {
        return Err(DomainError::invalid(
            "players[0].weights",
            format!(
                "{vectors} weight vectors is more than the {} allowed",
                limits::MAX_VECTORS
            ),
        ));
    }
    let mut seen = HashSet::new();
    for (i, player) in request.players.iter().enumerate() {
        let chars = player.name.chars().count();
        if player.name.trim().is_empty() || chars > limits::MAX_NAME_CHARS {
            return Err(DomainError::invalid(
                format!("players[{i}].name"),
                format!("must be 1 to {} characters", limits::MAX_NAME_CHARS),
            ));
        }
        if !seen.insert(player.name.as_str()) {
            return Err(DomainError::invalid(
                format!("players[{i}].name"),
                format!("`{}` is used twice", player.name),
            ));
        }
        if player.weights.len() != vectors {
            return Err(DomainError::invalid(
                format!("players[{i}].weights"),
                format!(
                    "has {} weights, but players[0] has {vectors}: every player needs one \
                     weight per vector",
                    player.weights.len()
                ),
            ));
        }
    }
    if !request.weight_names.is_empty() && request.weight_names.len() != vectors {
        return Err(DomainError::invalid(
            "weight_names",
            format!(
                "names {} vectors, but the players have {vectors}",
                request.weight_names.len()
            ),
        ));
    }
    let vector_name = |v: usize| {
        request
            .weight_names
            .get(v)
            .cloned()
            .unwrap_or_else(|| format!("weight vector {v}"))
    };
    let column = |v: usize| -> Vec<u64> { request.players.iter().map(|p| p.weights[v]).collect() };
    let mut totals = Vec::with_capacity(vectors);
    for v in 0..vectors {
        let total: u128 = request
            .players
            .iter()
            .map(|p| u128::from(p.weights[v]))
            .sum();
        if total > u128::from(u64::MAX) {
            return Err(DomainError::invalid(
                "players",
                format!("the total of {} exceeds 2^64", vector_name(v)),
            ));
        }
        totals.push(total as u64);
    }

    let rule = request.rule.clone().unwrap_or_default();
    let mut criteria = Vec::new();
    for (q, quota) in rule.quotas.iter().enumerate() {
        let field = format!("rule.quotas[{q}]");
        let v = quota.vector as usize;
        if v >= vectors {
            return Err(DomainError::invalid(
                format!("{field}.vector"),
                format!("{v} is not a weight vector (the players have {vectors})"),
            ));
        }
        let total = totals[v];
        let threshold = match quota.threshold {
            None => {
                return Err(DomainError::invalid(
                    format!("{field}.threshold"),
                    "is required: a weight or a share",
                ));
            }
            Some(Threshold::Share(share)) => {
                if !(share > 0.0 && share <= 1.0) {
                    return Err(DomainError::invalid(
                        format!("{field}.share"),
                        format!("{share} is outside (0, 1]"),
                    ));
                }
                let x = snap(share * total as f64);
                if quota.strict { x.floor() } else { x.ceil() }.min(u64::MAX as f64) as u64
            }
            Some(Threshold::Weight(weight)) => {
                let reachable = if quota.strict {
                    weight < total
                } else {
                    weight <= total
                };
                if weight == 0 || !reachable {
                    return Err(DomainError::invalid(
                        format!("{field}.weight"),
                        format!(
                            "{weight} is out of range: a quota on {} must be at least 1 and \
                             reachable by its total {total}",
                            vector_name(v)
                        ),
                    ));
                }
                weight
            }
        };
        criteria.push(Criterion {
            weights: column(v),
            quota: threshold,
            strict: quota.strict,
        });
    }
    let min_members = match &rule.member_quota {
        None => 0,
        Some(m) => {
            if !(0.0..=1.0).contains(&m.share) {
                return Err(DomainError::invalid(
                    "rule.member_quota.share",
                    format!("{} is outside [0, 1]", m.share),
                ));
            }
            if m.at_least as usize > n {
                return Err(DomainError::invalid(
                    "rule.member_quota.at_least",
                    format!("{} is more than the {n} players", m.at_least),
                ));
            }
            (m.at_least as usize).max(snap(m.share * n as f64).ceil() as usize)
        }
    };
    if rule.min_blocking as usize > n {
        return Err(DomainError::invalid(
            "rule.min_blocking",
            format!("{} is more than the {n} players", rule.min_blocking),
        ));
    }
    let (weights, quota, strict) = if criteria.is_empty() {
        (vec![1; n], 0, false)
    } else {
        let first = criteria.remove(0);
        (first.weights, first.quota, first.strict)
    };
    let game = Game {
        weights,
        rule: WinningRule {
            quota,
            strict,
            min_members,
            min_blocking: rule.min_blocking as usize,
        },
        criteria,
    };

    let indices = index_set(&request.indices)?;
    let method = match parse_enum::<PowerMethod>("method", request.method)? {
        PowerMethod::Unspecified | PowerMethod::Auto => MethodChoice::Auto,
        PowerMethod::Exact => MethodChoice::Exact,
        PowerMethod::MonteCarlo => MethodChoice::MonteCarlo,
    };
    if request.samples > limits::MAX_SAMPLES {
        return Err(DomainError::invalid(
            "samples",
            format!(
                "{} is more than the {} allowed",
                request.samples,
                limits::MAX_SAMPLES
            ),
        ));
    }
    let options = Options {
        indices,
        method,
        samples: if request.samples == 0 {
            limits::DEFAULT_SAMPLES
        } else {
            request.samples
        },
        seed: request.seed,
        max_sample_work: limits::MAX_SAMPLE_WORK,
        ..Options::default()
    };
    Ok(Analysis {
        game,
        options,
        names: request.players.iter().map(|p| p.name.clone()).collect(),
        indices,
    })
}

fn index_method(index: PowerIndex, estimate: &Estimate) -> IndexMethod {
    match estimate.method {
        Method::Exact => IndexMethod {
            index: index as i32,
            exact: true,
            ..IndexMethod::default()
        },
        Method::MonteCarlo {
            samples,
            seed,
            hoeffding_95,
        } => IndexMethod {
            index: index as i32,
            exact: false,
            samples,
            seed,
            error_bound: hoeffding_95,
            standard_errors: estimate.standard_errors.clone(),
        },
    }
}

/// The response for computed indices.
pub fn response(analysis: &Analysis, p: &PowerIndices) -> AnalyzeGameResponse {
    let names = &analysis.names;
    let veto: HashSet<usize> = p.veto_players.iter().copied().collect();
    let dummies: HashSet<usize> = p.dummies.iter().flatten().copied().collect();
    let value = |e: &Option<Estimate>, i: usize| e.as_ref().and_then(|e| e.values.get(i).copied());
    let players = names
        .iter()
        .enumerate()
        .map(|(i, name)| PlayerPower {
            name: name.clone(),
            banzhaf: p.banzhaf.values[i],
            banzhaf_absolute: p.banzhaf_absolute.values[i],
            shapley_shubik: value(&p.shapley_shubik, i),
            deegan_packel: value(&p.deegan_packel, i),
            holler: value(&p.holler, i),
            johnston: value(&p.johnston, i),
            coleman_prevent: p.coleman_prevent.values[i],
            coleman_initiate: p.coleman_initiate.values[i],
            swings: p
                .swings
                .as_ref()
                .map(|s| s[i].to_string())
                .unwrap_or_default(),
            veto: veto.contains(&i),
            dummy: dummies.contains(&i),
        })
        .collect();
    let mut methods = vec![index_method(PowerIndex::Banzhaf, &p.banzhaf_absolute)];
    for (index, estimate) in [
        (PowerIndex::ShapleyShubik, &p.shapley_shubik),
        (PowerIndex::DeeganPackel, &p.deegan_packel),
        (PowerIndex::Holler, &p.holler),
        (PowerIndex::Johnston, &p.johnston),
    ] {
        if let Some(estimate) = estimate {
            methods.push(index_method(index, estimate));
        }
    }
    methods.push(index_method(PowerIndex::Coleman, &p.coleman_prevent));
    let mut not_computed = p.not_computed.clone();
    let want = analysis.indices;
    for (wanted, got, name) in [
        (want.shapley_shubik, &p.shapley_shubik, "Shapley–Shubik"),
        (want.deegan_packel, &p.deegan_packel, "Deegan–Packel"),
        (want.holler, &p.holler, "Holler"),
        (want.johnston, &p.johnston, "Johnston"),
    ] {
        if wanted && got.is_none() && !not_computed.iter().any(|m| m.contains(name)) {
            not_computed.push(format!("{name}: not computed by this method"));
        }
    }
    AnalyzeGameResponse {
        players,
        game: Some(GamePower {
            players: names.len() as u32,
            coleman_power: p.coleman_power,
            winning_coalitions: p
                .winning_coalitions
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            minimal_winning_coalitions: p
                .minimal_winning_coalitions
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            veto_players: p.veto_players.iter().map(|&i| names[i].clone()).collect(),
            dummies: p
                .dummies
                .iter()
                .flatten()
                .map(|&i| names[i].clone())
                .collect(),
            dummies_known: p.dummies.is_some(),
            dictator: p.dictator.map(|i| names[i].clone()).unwrap_or_default(),
            methods,
            not_computed,
        }),
    }
}

/// Analyses a checked game (CPU-bound: call on the blocking pool).
pub fn analyse(analysis: &Analysis) -> DomainResult<AnalyzeGameResponse> {
    match power::analyse(&analysis.game, &analysis.options) {
        Ok(p) => Ok(response(analysis, &p)),
        Err(e @ PowerError::Mismatch { .. }) => Err(DomainError::invalid("players", e.to_string())),
        Err(e) => Err(DomainError::Exhausted(format!(
            "{e}; ask for method auto or monte_carlo"
        ))),
    }
}

#[tonic::async_trait]
impl PowerService for Api {
    async fn analyze_game(
        &self,
        request: Request<AnalyzeGameRequest>,
    ) -> Result<Response<AnalyzeGameResponse>, Status> {
        self.enter(&request, "accord.v1.PowerService/AnalyzeGame")
            .await?;
        let analysis = check(request.get_ref())?;
        let _permit = permits()
            .acquire()
            .await
            .map_err(|_| DomainError::ShuttingDown)?;
        let response = tokio::task::spawn_blocking(move || analyse(&analysis))
            .await
            .map_err(|e| DomainError::PolicyFailed {
                policy: "weighted (power library)".into(),
                message: format!("the analysis failed: {e}"),
            })??;
        Ok(Response::new(response))
    }
}
