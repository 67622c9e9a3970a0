//! Voting power in simple games: Banzhaf, Shapley–Shubik, Deegan–Packel, Holler, Johnston and
//! Coleman's three measures, exactly where that is tractable and by Monte Carlo sampling with
//! stated error bounds where it is not.
//!
//! Guarantee: an index reported with [`Method::Exact`] is the nearest `f64` to the value of its
//! definition (Deegan–Packel, Holler, Johnston, Banzhaf and Coleman from exact big-integer
//! counts; Shapley–Shubik from the exact rational `Σ c·k!(n−k−1)!/n!`); one reported with
//! [`Method::MonteCarlo`] carries its sample size and standard errors. Nothing assumes that the
//! game is proper (`q > W/2`), that every weight is below the quota, or that anything wins.
//!
//! # Games
//!
//! A [`Game`] has `n` players with non-negative integer weights, a [`WinningRule`] on them and
//! further [`Criterion`]s, each a quota on its own weight vector, all joined by AND:
//!
//! ```text
//! S wins  ⇔  (w(S) ≥ q  and  w_c(S) ≥ q_c for every criterion c  and  |S| ≥ m)  or  n − |S| < b
//! ```
//!
//! (`>` for strict quotas), with the member quota `m` and the minimum blocking minority `b`: the
//! players outside `S` can block only if they are at least `b` (`m = 0`, `b = 0`: off). The
//! predicate is monotone, so the game is a simple monotone game. Weights are divided by their
//! greatest common divisor (per vector) before counting.
//!
//! # Exact methods (see `docs/policies.md` for the derivations)
//!
//! One weight vector ([`Game::criteria`] empty): a coalition of `k` players wins iff its weight
//! is at least `θ(k)` (`0`, `q` or never). The coalitions of all players but the heaviest are
//! counted by size and weight in a cumulative table `L[k][x]` (a knapsack recurrence), cut to
//! the points ever looked up (about half the weight range, read from the complementary
//! coalitions above the middle). Player `i` is removed by deconvolution of the generating
//! function, `L₋ᵢ[k][x] = Σⱼ (−1)ʲ L[k−j][x − j·wᵢ]`, so only one table is built, and players of
//! equal weight share one computation. The swings of `i` by the size `k` of the coalition it
//! joins are `c[i][k] = #{S ∌ i : |S| = k, θ(k+1) − wᵢ ≤ w(S) < θ(k)}`; Banzhaf needs their sum
//! (and, with a weight quota only, the table needs no size dimension: `O(n·W)`), Shapley–Shubik
//! `Σₖ c[i][k]·k!(n−k−1)!/n!` (`O(n²·W)`). Minimal winning coalitions and swings by the number
//! of swingers come from the dynamic programmes of the `minimal` module.
//!
//! Several weight vectors: the table is keyed by the tuple of partial sums (one per vector) and
//! the size, built once per distinct player without that player (`O(n²·states)`). Deegan–Packel,
//! Holler and Johnston then need the coalitions' membership, not just their sums: they are
//! counted by enumeration of all `2ⁿ` coalitions up to [`Options::max_enumeration_players`].
//!
//! Counts are kept modulo `2^32`, `2^64`, `2^128` or, past 128 bits, modulo up to sixteen 62-bit
//! primes (one pass each) and rebuilt with the Chinese remainder theorem, so the exact methods
//! handle up to [`MAX_PLAYERS`] players.
//!
//! # Monte Carlo
//!
//! When a table would exceed [`Options::max_table_bytes`] (or on request): `N` uniform random
//! coalitions estimate the absolute Banzhaf index (the share of coalitions in which flipping `i`
//! flips the outcome), Coleman's measures and Johnston's; `N` uniform random orderings estimate
//! Shapley–Shubik (the share in which `i` is pivotal). Each share `p̂` has standard error
//! `√(p̂(1−p̂)/N)`, and by Hoeffding's inequality `P(|p̂ − p| ≥ ε) ≤ 2·exp(−2Nε²)`: the
//! [`Method::MonteCarlo`] record carries `ε` at 95% confidence. Deegan–Packel and Holler are not
//! estimated (minimal winning coalitions are too rare among random coalitions to sample).
#![forbid(unsafe_code)]

mod cells;
mod enumerate;
mod minimal;
mod multi;
mod sampling;
mod table;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;

use num_bigint::BigUint;
use num_traits::{One, Zero};

use cells::{exact, factorials, lcm_upto, ratio};

pub use num_bigint::BigUint as Count;

/// The largest number of players the exact methods accept (counts up to `2ⁿ` must fit the
/// product of the sixteen primes). Monte Carlo has no limit.
pub const MAX_PLAYERS: usize = cells::MAX_BITS as usize - 1;

/// The largest coalition-count table the exact methods allocate by default, in bytes.
pub const MAX_TABLE_BYTES: u128 = 256 << 20;

/// A threshold that no coalition reaches.
pub(crate) const INF: u128 = u128::MAX >> 2;

/// The rule on the game's first weight vector, with the member quota and the blocking minority:
/// `(w(S) ≥ quota [> when strict] and |S| ≥ min_members) or n − |S| < min_blocking`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WinningRule {
    /// The weight quota `q`.
    pub quota: u64,
    /// `false`: a coalition needs `w(S) ≥ q`; `true`: `w(S) > q`.
    pub strict: bool,
    /// The member quota `m`: a coalition needs at least `m` players to win by weight (0: off).
    pub min_members: usize,
    /// The minimum blocking minority `b`: a coalition also wins when the players outside it are
    /// fewer than `b` (0: off). With the EU Council's `b = 4`, three members cannot block.
    pub min_blocking: usize,
}

impl WinningRule {
    /// A plain weight quota: `w(S) ≥ quota`.
    pub fn weight_quota(quota: u64) -> Self {
        Self {
            quota,
            ..Self::default()
        }
    }

    /// Whether a coalition of `members` of the `players` players, with total weight `weight`,
    /// wins (when every further criterion holds).
    pub fn wins(&self, players: usize, members: usize, weight: u128) -> bool {
        let weight_ok = if self.strict {
            weight > u128::from(self.quota)
        } else {
            weight >= u128::from(self.quota)
        };
        (weight_ok && members >= self.min_members)
            || players.saturating_sub(members) < self.min_blocking
    }

    /// The least coalition weight that passes the weight quota (`quota + 1` when strict).
    pub fn quota_weight(&self) -> u128 {
        u128::from(self.quota) + u128::from(self.strict)
    }
}

/// A further criterion: a quota on another weight vector (population, GDP, …), joined to the
/// rule by AND.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Criterion {
    /// One weight per player, in the game's order.
    pub weights: Vec<u64>,
    /// The quota on this vector.
    pub quota: u64,
    /// `false`: `w_c(S) ≥ quota`; `true`: `w_c(S) > quota`.
    pub strict: bool,
}

impl Criterion {
    /// `w_c(S) ≥ quota` on the given weights.
    pub fn new(weights: Vec<u64>, quota: u64) -> Self {
        Self {
            weights,
            quota,
            strict: false,
        }
    }

    /// The least coalition weight that passes (`quota + 1` when strict).
    pub fn quota_weight(&self) -> u128 {
        u128::from(self.quota) + u128::from(self.strict)
    }
}

/// A simple game: weights, a winning rule, further criteria.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Game {
    /// The players' weights (the first weight vector).
    pub weights: Vec<u64>,
    /// The quota on `weights`, the member quota and the blocking minority.
    pub rule: WinningRule,
    /// Further criteria, each on its own weight vector, all required (AND).
    pub criteria: Vec<Criterion>,
}

impl Game {
    /// A game with the given weights and rule, and no further criterion.
    pub fn new(weights: Vec<u64>, rule: WinningRule) -> Self {
        Self {
            weights,
            rule,
            criteria: Vec::new(),
        }
    }

    /// A game with a plain weight quota, `[q; w₁, …, wₙ]`.
    pub fn weighted(weights: Vec<u64>, quota: u64) -> Self {
        Self::new(weights, WinningRule::weight_quota(quota))
    }

    /// The game with one more criterion.
    pub fn with_criterion(mut self, criterion: Criterion) -> Self {
        self.criteria.push(criterion);
        self
    }

    /// The number of players.
    pub fn players(&self) -> usize {
        self.weights.len()
    }

    /// The total weight.
    pub fn total_weight(&self) -> u128 {
        self.weights.iter().map(|&w| u128::from(w)).sum()
    }

    /// Whether the coalition of the given players (indices, without repeats) wins.
    pub fn wins(&self, coalition: impl IntoIterator<Item = usize>) -> bool {
        let mut members = 0usize;
        let mut sums = vec![0u128; 1 + self.criteria.len()];
        for i in coalition {
            members += 1;
            sums[0] += u128::from(self.weights[i]);
            for (c, criterion) in self.criteria.iter().enumerate() {
                sums[c + 1] += u128::from(criterion.weights[i]);
            }
        }
        self.wins_with(members, &sums)
    }

    /// Whether a coalition of `members` players with weight sums `sums` (the first weight
    /// vector, then one per criterion) wins.
    pub fn wins_with(&self, members: usize, sums: &[u128]) -> bool {
        let n = self.players();
        if n.saturating_sub(members) < self.rule.min_blocking {
            return true;
        }
        members >= self.rule.min_members
            && sums[0] >= self.rule.quota_weight()
            && self
                .criteria
                .iter()
                .zip(&sums[1..])
                .all(|(c, &s)| s >= c.quota_weight())
    }

    fn check(&self) -> Result<(), PowerError> {
        let n = self.players();
        match self.criteria.iter().position(|c| c.weights.len() != n) {
            Some(c) => Err(PowerError::Mismatch {
                criterion: c,
                weights: self.criteria[c].weights.len(),
                players: n,
            }),
            None => Ok(()),
        }
    }

    /// The weight vectors (the first, then the criteria's).
    fn vectors(&self) -> impl Iterator<Item = &[u64]> {
        std::iter::once(self.weights.as_slice()).chain(self.criteria.iter().map(|c| &c.weights[..]))
    }
}

/// Why power indices could not be computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PowerError {
    /// More players than the exact methods handle ([`MAX_PLAYERS`]).
    TooManyPlayers(usize),
    /// A coalition-count table would exceed the byte limit: the weights are too fine (express
    /// them in a coarser unit) or the game too large; Monte Carlo can estimate it.
    TooLarge {
        /// The bytes the table would take.
        bytes: u128,
    },
    /// A criterion's weight vector does not have one weight per player.
    Mismatch {
        /// The criterion (0 for the first of [`Game::criteria`]).
        criterion: usize,
        /// Its number of weights.
        weights: usize,
        /// The number of players.
        players: usize,
    },
    /// An index that no exact method computes for this game (Deegan–Packel, Holler or
    /// Johnston under several criteria with more players than enumeration allows).
    NotExact(&'static str),
}

impl fmt::Display for PowerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyPlayers(n) => write!(
                f,
                "{n} players is more than the {MAX_PLAYERS} the exact methods support"
            ),
            Self::TooLarge { bytes } => write!(
                f,
                "the coalition-count table would take {bytes} bytes: express the weights in a \
                 coarser unit, or estimate by Monte Carlo"
            ),
            Self::Mismatch {
                criterion,
                weights,
                players,
            } => write!(
                f,
                "criterion {criterion} has {weights} weights for {players} players"
            ),
            Self::NotExact(index) => write!(
                f,
                "no exact method computes {index} for this game (several criteria and too many \
                 players to enumerate)"
            ),
        }
    }
}

impl std::error::Error for PowerError {}

/// Which indices to compute besides Banzhaf and Coleman (which come with every analysis).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexSet {
    /// Shapley–Shubik.
    pub shapley_shubik: bool,
    /// Deegan–Packel.
    pub deegan_packel: bool,
    /// Holler's public-good index.
    pub holler: bool,
    /// Johnston.
    pub johnston: bool,
}

impl IndexSet {
    /// Every index.
    pub const ALL: Self = Self {
        shapley_shubik: true,
        deegan_packel: true,
        holler: true,
        johnston: true,
    };
    /// Banzhaf and Coleman only.
    pub const BANZHAF: Self = Self {
        shapley_shubik: false,
        deegan_packel: false,
        holler: false,
        johnston: false,
    };
}

/// How to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodChoice {
    /// Exact where the tables fit (and enumeration is allowed), else Monte Carlo, index by index.
    Auto,
    /// Exact or an error.
    Exact,
    /// Monte Carlo for every index (Deegan–Packel and Holler are then not computed).
    MonteCarlo,
}

/// Options of [`analyse`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// The indices wanted besides Banzhaf and Coleman.
    pub indices: IndexSet,
    /// How to compute.
    pub method: MethodChoice,
    /// Monte Carlo sample size (coalitions, and as many orderings), at most
    /// `max_sample_work / n` (and at least 100): the size used is reported in
    /// [`Method::MonteCarlo`].
    pub samples: u64,
    /// The most player-steps a Monte Carlo estimate may take (samples × players), which keeps
    /// the time of an estimate bounded however large the council.
    pub max_sample_work: u64,
    /// Monte Carlo seed: the same seed gives the same estimates.
    pub seed: u64,
    /// The largest table an exact method may allocate, in bytes.
    pub max_table_bytes: u128,
    /// The most players for which games with several criteria are enumerated (`2ⁿ` coalitions)
    /// for Deegan–Packel, Holler and Johnston.
    pub max_enumeration_players: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            indices: IndexSet::ALL,
            method: MethodChoice::Auto,
            samples: 100_000,
            max_sample_work: 20_000_000,
            seed: 0x5eed,
            max_table_bytes: MAX_TABLE_BYTES,
            max_enumeration_players: 22,
        }
    }
}

impl Options {
    /// The sample size used for `n` players.
    pub fn effective_samples(&self, n: usize) -> u64 {
        let budget = self.max_sample_work / (n.max(1) as u64);
        self.samples.min(budget.max(100)).max(1)
    }
}

/// How an index was computed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    /// From exact counts; the value is the nearest `f64`.
    Exact,
    /// Estimated from `samples` random coalitions (or orderings).
    MonteCarlo {
        /// The sample size.
        samples: u64,
        /// The seed.
        seed: u64,
        /// Hoeffding's half-width at 95% confidence for any one estimated share:
        /// `√(ln(2/0.05) / 2N)`.
        hoeffding_95: f64,
    },
}

impl Method {
    fn monte_carlo(samples: u64, seed: u64) -> Self {
        Self::MonteCarlo {
            samples,
            seed,
            hoeffding_95: (40f64.ln() / (2.0 * samples.max(1) as f64)).sqrt(),
        }
    }

    /// True for [`Method::Exact`].
    pub fn is_exact(&self) -> bool {
        matches!(self, Self::Exact)
    }
}

/// One index for every player.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// The values, in the game's order of players.
    pub values: Vec<f64>,
    /// How they were computed.
    pub method: Method,
    /// Standard errors (Monte Carlo only; empty when exact).
    pub standard_errors: Vec<f64>,
}

impl Estimate {
    fn exact(values: Vec<f64>) -> Self {
        Self {
            values,
            method: Method::Exact,
            standard_errors: Vec::new(),
        }
    }
}

impl std::ops::Deref for Estimate {
    type Target = [f64];
    fn deref(&self) -> &[f64] {
        &self.values
    }
}

/// The power indices of a game, per player (in the game's order) and for the game as a whole.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerIndices {
    /// `ηᵢ`: the number of winning coalitions in which player `i` is a swing (the coalition
    /// loses without `i`). `None` when estimated.
    pub swings: Option<Vec<Count>>,
    /// Normalised Banzhaf index `ηᵢ / Σⱼ ηⱼ` (all 0 when no player is ever a swing).
    pub banzhaf: Estimate,
    /// Absolute Banzhaf index `ηᵢ / 2ⁿ⁻¹`: the probability that `i` is decisive when every other
    /// player votes yes or no with probability ½.
    pub banzhaf_absolute: Estimate,
    /// Shapley–Shubik index: the share of the `n!` orderings in which `i` is pivotal.
    pub shapley_shubik: Option<Estimate>,
    /// Deegan–Packel index: `(1/|M|) Σ_{S ∈ M, i ∈ S} 1/|S|` over the minimal winning
    /// coalitions `M`.
    pub deegan_packel: Option<Estimate>,
    /// Holler's public-good index: `mᵢ / Σⱼ mⱼ`, `mᵢ` the minimal winning coalitions with `i`.
    pub holler: Option<Estimate>,
    /// Johnston index: `Σ_{S winning, i critical} 1/(critical members of S)`, normalised.
    pub johnston: Option<Estimate>,
    /// Coleman's power to prevent action: `ηᵢ / (winning coalitions)`.
    pub coleman_prevent: Estimate,
    /// Coleman's power to initiate action: `ηᵢ / (losing coalitions)`.
    pub coleman_initiate: Estimate,
    /// Coleman's power of the collectivity to act: `winning / 2ⁿ` (estimated with Banzhaf).
    pub coleman_power: f64,
    /// The number of winning coalitions (of `2ⁿ`). `None` when estimated.
    pub winning_coalitions: Option<Count>,
    /// The number of minimal winning coalitions, when counted exactly.
    pub minimal_winning_coalitions: Option<Count>,
    /// The dictator, if any: a player that wins alone and belongs to every winning coalition.
    pub dictator: Option<usize>,
    /// Veto players: those that belong to every winning coalition (all players when no
    /// coalition wins).
    pub veto_players: Vec<usize>,
    /// Dummies: players that are never a swing (`None` when estimated).
    pub dummies: Option<Vec<usize>>,
    /// Why an index that was asked for is missing (for example Deegan–Packel when the
    /// minimal-winning-coalition table is too large and sampling cannot estimate it).
    pub not_computed: Vec<String>,
}

/// Banzhaf, Shapley–Shubik and Coleman, exactly (the indices of the original weighted policy).
pub fn power_indices(game: &Game) -> Result<PowerIndices, PowerError> {
    analyse(
        game,
        &Options {
            indices: IndexSet {
                shapley_shubik: true,
                ..IndexSet::BANZHAF
            },
            method: MethodChoice::Exact,
            ..Options::default()
        },
    )
}

/// Banzhaf and Coleman only, exactly. A game with a weight quota only is counted by weight
/// alone, `O(n·W)`.
pub fn banzhaf_indices(game: &Game) -> Result<PowerIndices, PowerError> {
    analyse(
        game,
        &Options {
            indices: IndexSet::BANZHAF,
            method: MethodChoice::Exact,
            ..Options::default()
        },
    )
}

/// The game reduced for counting: one weight vector divided by its gcd and the least weight
/// `θ(k)` with which a coalition of `k` players wins (`INF`: never).
pub(crate) struct Thresholds {
    pub(crate) n: usize,
    pub(crate) weights: Vec<u128>,
    pub(crate) total: u128,
    pub(crate) theta: Vec<u128>,
    /// Only the weight quota matters.
    pub(crate) pure_weight: bool,
}

impl Thresholds {
    fn new(game: &Game) -> Self {
        let n = game.players();
        let g = u128::from(game.weights.iter().fold(0u64, |g, &w| gcd(g, w)).max(1));
        let weights: Vec<u128> = game.weights.iter().map(|&w| u128::from(w) / g).collect();
        let quota = game.rule.quota_weight().div_ceil(g);
        let rule = &game.rule;
        let theta = (0..=n)
            .map(|k| {
                if n - k < rule.min_blocking {
                    0
                } else if k >= rule.min_members {
                    quota
                } else {
                    INF
                }
            })
            .collect();
        // A member quota of 1 is implied by a positive quota (the empty coalition weighs 0).
        let pure_weight = rule.min_blocking == 0
            && (rule.min_members == 0 || (rule.min_members == 1 && quota >= 1));
        Self {
            n,
            total: weights.iter().sum(),
            weights,
            theta,
            pure_weight,
        }
    }
}

pub(crate) fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The exact counts an analysis is finished from.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExactCounts {
    /// `c[i][k]` (swings of `i` joining `k` others), or one total per player.
    pub(crate) swings_by_size: Vec<Vec<BigUint>>,
    pub(crate) winning: BigUint,
    /// Minimal winning coalitions containing `i`, by size (`n + 1` entries), and their total.
    pub(crate) minimal: Option<(Vec<Vec<BigUint>>, BigUint)>,
    /// Swings of `i` by the number of swingers (`n + 1` entries).
    pub(crate) johnston: Option<Vec<Vec<BigUint>>>,
}

/// Every index the options ask for.
pub fn analyse(game: &Game, options: &Options) -> Result<PowerIndices, PowerError> {
    game.check()?;
    let n = game.players();
    let want = options.indices;
    let samples = options.effective_samples(n);
    let sampled = || sampling::estimate(game, samples, options.seed, want);
    let fallback = |e: PowerError| -> Result<PowerIndices, PowerError> {
        match (options.method, &e) {
            (MethodChoice::Auto, PowerError::TooLarge { .. } | PowerError::TooManyPlayers(_)) => {
                Ok(sampled())
            }
            _ => Err(e),
        }
    };
    if options.method == MethodChoice::MonteCarlo {
        return Ok(sampled());
    }
    if n > MAX_PLAYERS {
        return fallback(PowerError::TooManyPlayers(n));
    }
    let bits = n as u32 + 1;
    let max = options.max_table_bytes;
    let mut sample_shapley = false;
    let mut not_computed = Vec::new();
    let counts = if game.criteria.is_empty() {
        let t = Thresholds::new(game);
        let job = |by_size: bool| {
            if n == 0 {
                Ok(vec![BigUint::from(u8::from(game.rule.wins(0, 0, 0)))])
            } else {
                let job = table::SwingJob {
                    scaled: table::Scaled::new(&t),
                    by_size,
                    max_table_bytes: max,
                };
                exact(&job, bits)
            }
        };
        let mut by_size = want.shapley_shubik;
        let swings = match job(by_size) {
            Err(PowerError::TooLarge { .. }) if by_size && options.method == MethodChoice::Auto => {
                // Shapley–Shubik needs the size dimension: Banzhaf alone may still be exact.
                by_size = false;
                sample_shapley = true;
                job(false)
            }
            other => other,
        };
        let mut swings = match swings {
            Ok(s) => s,
            Err(e) => return fallback(e),
        };
        let winning = swings.pop().unwrap_or_default();
        let per = if by_size { n } else { 1 };
        let mut counts = ExactCounts {
            swings_by_size: swings.chunks(per.max(1)).map(<[BigUint]>::to_vec).collect(),
            winning,
            ..ExactCounts::default()
        };
        if want.deegan_packel || want.holler {
            match exact(
                &minimal::MinimalJob {
                    t: &t,
                    max_table_bytes: max,
                },
                bits,
            ) {
                Ok(flat) => counts.minimal = Some(split_minimal(flat, n)),
                Err(e) if options.method == MethodChoice::Exact => return Err(e),
                // Minimal winning coalitions are too rare among random coalitions to sample.
                Err(e) => not_computed.push(format!("Deegan–Packel and Holler: {e}")),
            }
        }
        if want.johnston {
            match exact(
                &minimal::JohnstonJob {
                    t: &t,
                    max_table_bytes: max,
                },
                bits,
            ) {
                Ok(flat) => {
                    counts.johnston = Some(
                        flat.chunks(n + 1)
                            .map(<[BigUint]>::to_vec)
                            .collect::<Vec<_>>(),
                    );
                }
                Err(e) if options.method == MethodChoice::Exact => return Err(e),
                Err(_) => {}
            }
        }
        counts
    } else {
        let enumerable = n <= options.max_enumeration_players;
        if enumerable && (want.deegan_packel || want.holler || want.johnston) {
            enumerate::counts(game)
        } else {
            if options.method == MethodChoice::Exact && (want.deegan_packel || want.holler) {
                return Err(PowerError::NotExact("Deegan–Packel and Holler"));
            }
            if options.method == MethodChoice::Exact && want.johnston {
                return Err(PowerError::NotExact("Johnston"));
            }
            if want.deegan_packel || want.holler {
                not_computed.push(format!(
                    "Deegan–Packel and Holler: {}",
                    PowerError::NotExact("them")
                ));
            }
            match multi::counts(game, want.shapley_shubik, max) {
                Ok(c) => c,
                Err(e) => return fallback(e),
            }
        }
    };
    let mut p = finish(game, &counts, want);
    p.not_computed = not_computed;
    // Shapley–Shubik and Johnston by sampling where no exact count was possible (Auto only).
    let sample_johnston = want.johnston && p.johnston.is_none();
    if sample_shapley || sample_johnston {
        let only = IndexSet {
            shapley_shubik: sample_shapley,
            johnston: sample_johnston,
            ..IndexSet::BANZHAF
        };
        let estimated = sampling::estimate(game, samples, options.seed, only);
        if sample_shapley {
            p.shapley_shubik = estimated.shapley_shubik;
        }
        if sample_johnston {
            p.johnston = estimated.johnston;
        }
    }
    Ok(p)
}

fn split_minimal(mut flat: Vec<BigUint>, n: usize) -> (Vec<Vec<BigUint>>, BigUint) {
    let totals = flat.split_off(n * (n + 1));
    let per: Vec<Vec<BigUint>> = flat.chunks(n + 1).map(<[BigUint]>::to_vec).collect();
    (per, totals.iter().sum())
}

/// Every index from exact counts.
pub(crate) fn finish(game: &Game, counts: &ExactCounts, want: IndexSet) -> PowerIndices {
    let n = game.players();
    let swings: Vec<BigUint> = counts
        .swings_by_size
        .iter()
        .map(|c| c.iter().sum())
        .collect();
    let total_swings: BigUint = swings.iter().sum();
    let all = BigUint::one() << n;
    let half = BigUint::one() << n.saturating_sub(1);
    let losing = &all - &counts.winning;
    let each = |den: &BigUint| Estimate::exact(swings.iter().map(|s| ratio(s, den)).collect());
    let banzhaf = each(&total_swings);
    let banzhaf_absolute = if n == 0 {
        Estimate::exact(Vec::new())
    } else {
        each(&half)
    };
    let by_size = counts.swings_by_size.first().is_none_or(|c| c.len() == n);
    let shapley_shubik = (want.shapley_shubik && by_size).then(|| {
        let fact = factorials(n);
        // Players with the same counts (equal weights) share one big-integer sum.
        let mut memo: HashMap<&[BigUint], f64> = HashMap::new();
        Estimate::exact(
            counts
                .swings_by_size
                .iter()
                .map(|c| {
                    *memo.entry(c.as_slice()).or_insert_with(|| {
                        let num: BigUint = c
                            .iter()
                            .enumerate()
                            .map(|(k, count)| count * &fact[k] * &fact[n - k - 1])
                            .sum();
                        ratio(&num, &fact[n])
                    })
                })
                .collect(),
        )
    });
    let lcm = lcm_upto(n);
    let (deegan_packel, holler, minimal_total) = match &counts.minimal {
        Some((per, total)) => {
            let by_size = |row: &Vec<BigUint>| -> BigUint {
                row.iter()
                    .enumerate()
                    .skip(1)
                    .map(|(s, c)| c * (&lcm / BigUint::from(s)))
                    .sum()
            };
            let dp_den = &lcm * total;
            let dp = want.deegan_packel.then(|| {
                Estimate::exact(per.iter().map(|r| ratio(&by_size(r), &dp_den)).collect())
            });
            let m: Vec<BigUint> = per.iter().map(|r| r.iter().sum()).collect();
            let m_total: BigUint = m.iter().sum();
            let holler = want
                .holler
                .then(|| Estimate::exact(m.iter().map(|x| ratio(x, &m_total)).collect()));
            (dp, holler, Some(total.clone()))
        }
        None => (None, None, None),
    };
    let johnston = counts
        .johnston
        .as_ref()
        .filter(|_| want.johnston)
        .map(|per| {
            let nums: Vec<BigUint> = per
                .iter()
                .map(|row| {
                    row.iter()
                        .enumerate()
                        .skip(1)
                        .map(|(c, count)| count * (&lcm / BigUint::from(c)))
                        .sum()
                })
                .collect();
            let total: BigUint = nums.iter().sum();
            Estimate::exact(nums.iter().map(|x| ratio(x, &total)).collect())
        });
    let dummies = (0..n).filter(|&i| swings[i].is_zero()).collect();
    let (dictator, veto_players) = dictator_and_vetoes(game);
    PowerIndices {
        coleman_power: ratio(&counts.winning, &all),
        coleman_prevent: each(&counts.winning),
        coleman_initiate: each(&losing),
        winning_coalitions: Some(counts.winning.clone()),
        minimal_winning_coalitions: minimal_total,
        banzhaf,
        banzhaf_absolute,
        shapley_shubik,
        deegan_packel,
        holler,
        johnston,
        dictator,
        veto_players,
        dummies: Some(dummies),
        swings: Some(swings),
        not_computed: Vec::new(),
    }
}

/// From the definitions, by monotonicity: `i` is in every winning coalition iff `N \ {i}`
/// loses; a dictator is a veto player that wins alone. `O(n·d)`.
pub fn dictator_and_vetoes(game: &Game) -> (Option<usize>, Vec<usize>) {
    let n = game.players();
    let totals: Vec<u128> = game
        .vectors()
        .map(|v| v.iter().map(|&w| u128::from(w)).sum())
        .collect();
    let mut sums = vec![0u128; totals.len()];
    let veto: Vec<usize> = (0..n)
        .filter(|&i| {
            for (s, (t, v)) in sums.iter_mut().zip(totals.iter().zip(game.vectors())) {
                *s = t - u128::from(v[i]);
            }
            !game.wins_with(n - 1, &sums)
        })
        .collect();
    let dictator = veto.iter().copied().find(|&i| {
        for (s, v) in sums.iter_mut().zip(game.vectors()) {
            *s = u128::from(v[i]);
        }
        game.wins_with(1, &sums)
    });
    (dictator, veto)
}
