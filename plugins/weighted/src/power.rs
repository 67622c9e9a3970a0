//! Exact power indices of weighted voting games.
//!
//! A [`Game`] has `n` players with non-negative integer weights and a [`WinningRule`] that
//! decides, from a coalition's size `|S|` and weight `w(S)` alone, whether the coalition wins:
//!
//! ```text
//! S wins  ⇔  (w(S) ≥ q  and  |S| ≥ m)  or  n − |S| < b
//! ```
//!
//! with the weight quota `q` (`w(S) > q` when the rule is strict), the member quota `m` and the
//! minimum blocking minority `b` (the players outside `S` can block only if they are at least `b`
//! of them; `m = 0` and `b = 0` switch those criteria off). The predicate is monotone in `|S|`
//! and in `w(S)`, so the game is a simple monotone game, and every index is computed from its
//! definition: no assumption that the game is proper (`q > W/2`), that every weight is below the
//! quota, or that any coalition wins at all.
//!
//! # Method
//!
//! Counts are exact. The coalitions of all players but the heaviest one, `p₀`, are counted by
//! size and weight, `T[k][w]` = number of coalitions of `k` players of total weight `w`, with a
//! dynamic programme over the players (the knapsack recurrence `T[k+1][w] += T[k][w − wⱼ]`, in
//! ascending order of weight and within the band of weights each size can reach). Coalitions
//! with `p₀` are the same coalitions shifted by `w₀`. Only cumulative counts at a few points
//! near the thresholds are ever looked up, so the table is cut at the largest of them: a point
//! above every reachable weight is a binomial coefficient, and one above the middle is read
//! from the complementary coalitions. The table is thus at most about half the other players'
//! weight wide — and with one dominant player and a quota it cannot reach alone, as the United
//! States in NATO spending at ⅔, only `q − w₀` wide.
//!
//! A player `i` is removed from the table by deconvolution of the generating function
//! `Σ T[k][w] yᵏ xʷ = (1 + y x^{wᵢ}) · Σ T₋ᵢ[k][w] yᵏ xʷ`, applied to the cumulative counts
//! `L[k][x] = Σ_{w<x} T[k][w]`:
//!
//! ```text
//! L₋ᵢ[k][x] = Σ_{j=0..k} (−1)ʲ L[k−j][x − j·wᵢ]
//! ```
//!
//! which costs `O(n)` per size and query point, so only the full table is ever built. Players of
//! equal weight share one computation. The arithmetic wraps modulo `2^bits` of the cell type
//! (`u32`, `u64` or `u128`, the smallest that holds `C(n−1, ⌊(n−1)/2⌋)`); every final count fits,
//! so the alternating sums are exact.
//!
//! For player `i`, `c[i][k]` = the number of losing coalitions `S ∌ i` of size `k` such that
//! `S ∪ {i}` wins = the number of `S ∌ i`, `|S| = k`, with `θ(k+1) − wᵢ ≤ w(S) < θ(k)`, where `θ(k)`
//! is the least weight with which a coalition of `k` players wins. Then
//!
//! - swings `ηᵢ = Σₖ c[i][k]`, absolute Banzhaf `β'ᵢ = ηᵢ / 2ⁿ⁻¹`, normalised Banzhaf
//!   `βᵢ = ηᵢ / Σⱼ ηⱼ`;
//! - Shapley–Shubik `φᵢ = Σₖ c[i][k] · k!(n−k−1)!/n! = Σₖ c[i][k] / (n · C(n−1, k))`.
//!
//! [`banzhaf_indices`] does without the size dimension when the rule only has a weight quota
//! (`O(n·W)` instead of `O(n²·W)`); it does not compute Shapley–Shubik.

use std::collections::BTreeMap;
use std::fmt;

/// The largest number of players: every count (at most `2ⁿ`) then fits in a `u128`.
pub const MAX_PLAYERS: usize = 127;

/// The largest coalition-count table [`power_indices`] allocates, in bytes.
pub const MAX_TABLE_BYTES: u128 = 256 << 20;

/// When a coalition wins: `(w(S) ≥ quota [> when strict] and |S| ≥ min_members) or
/// n − |S| < min_blocking`.
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
    /// wins.
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

    /// True when only the weight quota matters.
    fn is_pure_weight(&self) -> bool {
        // A member quota of 1 is implied by a positive quota weight (the empty coalition weighs 0).
        self.min_blocking == 0
            && (self.min_members == 0 || (self.min_members == 1 && self.quota_weight() >= 1))
    }
}

/// A weighted voting game.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Game {
    /// The players' weights.
    pub weights: Vec<u64>,
    /// When a coalition wins.
    pub rule: WinningRule,
}

impl Game {
    /// A game with the given weights and rule.
    pub fn new(weights: Vec<u64>, rule: WinningRule) -> Self {
        Self { weights, rule }
    }

    /// A game with a plain weight quota, `[q; w₁, …, wₙ]`.
    pub fn weighted(weights: Vec<u64>, quota: u64) -> Self {
        Self::new(weights, WinningRule::weight_quota(quota))
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
        let (mut members, mut weight) = (0usize, 0u128);
        for i in coalition {
            members += 1;
            weight += u128::from(self.weights[i]);
        }
        self.rule.wins(self.players(), members, weight)
    }
}

/// Why power indices could not be computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PowerError {
    /// More than [`MAX_PLAYERS`] players.
    TooManyPlayers(usize),
    /// The coalition-count table would exceed [`MAX_TABLE_BYTES`]: the weights are too fine
    /// (express them in a coarser unit).
    TooLarge {
        /// The bytes the table would take.
        bytes: u128,
    },
}

impl fmt::Display for PowerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyPlayers(n) => {
                write!(f, "{n} players is more than the {MAX_PLAYERS} supported")
            }
            Self::TooLarge { bytes } => write!(
                f,
                "the coalition-count table would take {bytes} bytes (limit {MAX_TABLE_BYTES}): \
                 express the weights in a coarser unit"
            ),
        }
    }
}

impl std::error::Error for PowerError {}

/// The power indices of a game, per player (in the game's order) and for the game as a whole.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerIndices {
    /// `ηᵢ`: the number of winning coalitions in which player `i` is a swing (the coalition
    /// loses without `i`).
    pub swings: Vec<u128>,
    /// Normalised Banzhaf index `ηᵢ / Σⱼ ηⱼ` (all 0 when no player is ever a swing).
    pub banzhaf: Vec<f64>,
    /// Absolute Banzhaf index `ηᵢ / 2ⁿ⁻¹`: the probability that `i` is decisive when every other
    /// player votes yes or no with probability ½.
    pub banzhaf_absolute: Vec<f64>,
    /// Shapley–Shubik index: the share of the `n!` orderings in which `i` is pivotal. `None` from
    /// [`banzhaf_indices`].
    pub shapley_shubik: Option<Vec<f64>>,
    /// The number of winning coalitions (of `2ⁿ`).
    pub winning_coalitions: u128,
    /// Coleman's power of the collectivity to act: `winning_coalitions / 2ⁿ`.
    pub coleman_power: f64,
    /// The dictator, if any: a player that wins alone and belongs to every winning coalition.
    pub dictator: Option<usize>,
    /// Veto players: those that belong to every winning coalition (all players when no
    /// coalition wins).
    pub veto_players: Vec<usize>,
    /// Dummies: players that are never a swing.
    pub dummies: Vec<usize>,
}

/// Banzhaf (swings, normalised and absolute), Shapley–Shubik and the game-level figures.
pub fn power_indices(game: &Game) -> Result<PowerIndices, PowerError> {
    compute(game, true)
}

/// Like [`power_indices`] without Shapley–Shubik (`shapley_shubik` is `None`). A game with a
/// weight quota only is counted by weight alone, `O(n·W)`.
pub fn banzhaf_indices(game: &Game) -> Result<PowerIndices, PowerError> {
    compute(game, false)
}

/// A threshold that no coalition reaches.
const INF: u128 = u128::MAX >> 2;

fn compute(game: &Game, shapley: bool) -> Result<PowerIndices, PowerError> {
    let n = game.players();
    if n > MAX_PLAYERS {
        return Err(PowerError::TooManyPlayers(n));
    }
    let scaled = Scaled::new(game);
    let counts = if n == 0 {
        Counts {
            per_size: Vec::new(),
            winning: u128::from(game.rule.wins(0, 0, 0)),
        }
    } else if !shapley && game.rule.is_pure_weight() {
        scaled.counts_by_weight()?
    } else {
        scaled.counts_by_size_and_weight()?
    };
    Ok(finish(game, counts, shapley))
}

/// The swing counts of each player (by coalition size when known) and the winning count.
struct Counts {
    /// Per player: `c[i][k]` for `k` in `0..n` (size-and-weight path), or a single entry with
    /// all swings (weight-only path).
    per_size: Vec<Vec<u128>>,
    winning: u128,
}

/// The game with weights divided by their greatest common divisor, its thresholds, and the
/// heaviest player split off.
struct Scaled {
    n: usize,
    weights: Vec<u128>,
    total: u128,
    /// `θ(k)`, `k` in `0..=n`: the least weight with which `k` players win (`INF`: never).
    theta: Vec<u128>,
    /// The heaviest player (the first of them).
    heaviest: usize,
}

impl Scaled {
    fn new(game: &Game) -> Self {
        let n = game.players();
        let g = game.weights.iter().fold(0u64, |g, &w| gcd(g, w)).max(1);
        let g = u128::from(g);
        let weights: Vec<u128> = game.weights.iter().map(|&w| u128::from(w) / g).collect();
        let quota = game.rule.quota_weight().div_ceil(g);
        let theta = (0..=n)
            .map(|k| {
                if n - k < game.rule.min_blocking {
                    0
                } else if k >= game.rule.min_members {
                    quota
                } else {
                    INF
                }
            })
            .collect();
        let heaviest = (0..n).rev().max_by_key(|&i| weights[i]).unwrap_or_default();
        Self {
            n,
            total: weights.iter().sum(),
            weights,
            theta,
            heaviest,
        }
    }

    /// The other players' indices in ascending order of weight, and their total weight.
    fn table_players(&self) -> (Vec<usize>, u128) {
        let mut others: Vec<usize> = (0..self.n).filter(|&i| i != self.heaviest).collect();
        others.sort_by_key(|&i| self.weights[i]);
        let rest = self.total - self.weights[self.heaviest];
        (others, rest)
    }

    /// The table width: weights `0..cap` are stored, enough for every cumulative count that is
    /// looked up. Those are at the finite thresholds `t` and at `t − w₀`, and — when removing a
    /// table player of weight `wᵢ` — at `t`, `t − wᵢ`, `t − w₀` and `t − wᵢ − w₀` (then lower, in
    /// steps of `wᵢ`). A point `x` above every reachable weight `R` (the table players' total,
    /// or `R − wᵢ` without player `i`) is answered from binomial coefficients, and one above the
    /// middle from the complementary coalitions, lighter than `R − x + 1`. So the table is at
    /// most about half the others' total weight wide, and with one dominant player and a quota
    /// it cannot reach alone, far narrower.
    fn cap(&self, players: &[usize], reach: u128) -> u128 {
        let w0 = self.weights[self.heaviest];
        let mut thresholds: Vec<u128> = self.theta.iter().copied().filter(|&t| t < INF).collect();
        thresholds.sort_unstable();
        thresholds.dedup();
        let mut distinct: Vec<u128> = players.iter().map(|&i| self.weights[i]).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let mut cap = 0u128;
        let mut need = |x: u128, reach: u128| {
            if x <= reach {
                cap = cap.max(x.min(reach - x + 1));
            }
        };
        for &t in &thresholds {
            need(t, reach);
            need(t.saturating_sub(w0), reach);
            for &wi in &distinct {
                for base in [t, t.saturating_sub(wi)] {
                    need(base, reach - wi);
                    need(base.saturating_sub(w0), reach - wi);
                }
            }
        }
        cap
    }

    fn counts_by_size_and_weight(&self) -> Result<Counts, PowerError> {
        // Every final count is at most C(n−1, ⌊(n−1)/2⌋).
        let m = self.n - 1;
        let biggest = binomials(m)[m / 2];
        if biggest <= u128::from(u32::MAX) {
            self.size_and_weight::<u32>()
        } else if biggest <= u128::from(u64::MAX) {
            self.size_and_weight::<u64>()
        } else {
            self.size_and_weight::<u128>()
        }
    }

    fn size_and_weight<C: Cell>(&self) -> Result<Counts, PowerError> {
        let n = self.n;
        let (players, rest) = self.table_players();
        let cap = self.cap(&players, rest);
        let rows = players.len() + 1;
        let bytes = (rows as u128) * cap * (std::mem::size_of::<C>() as u128);
        if bytes > MAX_TABLE_BYTES {
            return Err(PowerError::TooLarge { bytes });
        }
        let cap = usize::try_from(cap).map_err(|_| PowerError::TooLarge { bytes })?;
        let table = SizeWeightTable::<C>::build(&players, &self.weights, cap, rest);

        let w0 = self.weights[self.heaviest];
        let shift = |x: u128| sub_threshold(x, w0);
        let mut per_size = vec![Vec::new(); n];

        // The heaviest player: the table counts exactly the coalitions without it.
        per_size[self.heaviest] = (0..n)
            .map(|k| {
                let (lo, hi) = (sub_threshold(self.theta[k + 1], w0), self.theta[k]);
                if lo >= hi {
                    0
                } else {
                    table
                        .cumulative(k, hi)
                        .wrapping_sub(table.cumulative(k, lo))
                        .to_u128()
                }
            })
            .collect();

        // The others, once per distinct weight.
        let mut by_weight: BTreeMap<u128, Vec<u128>> = BTreeMap::new();
        for &i in &players {
            let wi = self.weights[i];
            let counts = by_weight.entry(wi).or_insert_with(|| {
                (0..n)
                    .map(|k| {
                        let (lo, hi) = (sub_threshold(self.theta[k + 1], wi), self.theta[k]);
                        if lo >= hi {
                            return 0;
                        }
                        // Coalitions of k players without i and without the heaviest player…
                        let without = table
                            .cumulative_without(wi, k, hi)
                            .wrapping_sub(table.cumulative_without(wi, k, lo))
                            .to_u128();
                        // …and with the heaviest player: k − 1 others, w0 lighter.
                        let with = if k == 0 {
                            0
                        } else {
                            table
                                .cumulative_without(wi, k - 1, shift(hi))
                                .wrapping_sub(table.cumulative_without(wi, k - 1, shift(lo)))
                                .to_u128()
                        };
                        without + with
                    })
                    .collect()
            });
            per_size[i] = counts.clone();
        }

        let mut winning = 0u128;
        for k in 0..=n {
            let t = self.theta[k];
            if k < rows {
                winning += table
                    .total(k)
                    .wrapping_sub(table.cumulative(k, t))
                    .to_u128();
            }
            if k >= 1 {
                winning += table
                    .total(k - 1)
                    .wrapping_sub(table.cumulative(k - 1, shift(t)))
                    .to_u128();
            }
        }
        Ok(Counts { per_size, winning })
    }

    fn counts_by_weight(&self) -> Result<Counts, PowerError> {
        let n = self.n;
        let q = self.theta[n];
        let w0 = self.weights[self.heaviest];
        if w0 == 0 {
            // Every coalition weighs 0: all win or none does, and nobody is ever a swing.
            let winning = if q == 0 { 1u128 << n } else { 0 };
            return Ok(Counts {
                per_size: vec![vec![0]; n],
                winning,
            });
        }
        let (players, _) = self.table_players();
        let zeros = players.iter().filter(|&&i| self.weights[i] == 0).count() as u32;
        let players: Vec<usize> = players
            .into_iter()
            .filter(|&i| self.weights[i] > 0)
            .collect();
        // Final counts are at most 2^(table players).
        if players.len() < 32 {
            self.weight_only::<u32>(&players, zeros, q, w0)
        } else if players.len() < 64 {
            self.weight_only::<u64>(&players, zeros, q, w0)
        } else {
            self.weight_only::<u128>(&players, zeros, q, w0)
        }
    }

    fn weight_only<C: Cell>(
        &self,
        players: &[usize],
        zeros: u32,
        q: u128,
        w0: u128,
    ) -> Result<Counts, PowerError> {
        let rest: u128 = players.iter().map(|&i| self.weights[i]).sum();
        let cap = self.cap(players, rest);
        let bytes = cap * (std::mem::size_of::<C>() as u128);
        if bytes > MAX_TABLE_BYTES {
            return Err(PowerError::TooLarge { bytes });
        }
        let cap = usize::try_from(cap).map_err(|_| PowerError::TooLarge { bytes })?;
        let table = WeightTable::<C>::build(players, &self.weights, cap, rest);
        let factor = 1u128 << zeros; // the zero-weight players join or not freely
        let window = |lo: u128, hi: u128, wi: Option<u128>| -> u128 {
            let l = |x| match wi {
                Some(wi) => table.cumulative_without(wi, x),
                None => table.cumulative(x),
            };
            l(hi).wrapping_sub(l(lo)).to_u128()
        };

        let mut per_size = vec![vec![0u128]; self.n];
        per_size[self.heaviest] = vec![factor * window(q.saturating_sub(w0), q, None)];
        let mut by_weight: BTreeMap<u128, u128> = BTreeMap::new();
        for &i in players {
            let wi = self.weights[i];
            let swings = *by_weight.entry(wi).or_insert_with(|| {
                let lo = q.saturating_sub(wi);
                let without_heaviest = window(lo, q, Some(wi));
                let with_heaviest = window(lo.saturating_sub(w0), q.saturating_sub(w0), Some(wi));
                factor * (without_heaviest + with_heaviest)
            });
            per_size[i] = vec![swings];
        }
        let all = C::from_u128(1u128 << players.len());
        let winning = factor
            * (all.wrapping_sub(table.cumulative(q)).to_u128()
                + all
                    .wrapping_sub(table.cumulative(q.saturating_sub(w0)))
                    .to_u128());
        Ok(Counts { per_size, winning })
    }
}

fn finish(game: &Game, counts: Counts, shapley: bool) -> PowerIndices {
    let n = game.players();
    let swings: Vec<u128> = counts.per_size.iter().map(|c| c.iter().sum()).collect();
    let total_swings: f64 = swings.iter().map(|&s| s as f64).sum();
    let banzhaf = swings
        .iter()
        .map(|&s| {
            if total_swings > 0.0 {
                s as f64 / total_swings
            } else {
                0.0
            }
        })
        .collect();
    let half = 2f64.powi(n as i32 - 1);
    let banzhaf_absolute = swings.iter().map(|&s| s as f64 / half).collect();
    let shapley_shubik = shapley.then(|| {
        let binom = binomials(n.saturating_sub(1));
        counts
            .per_size
            .iter()
            .map(|c| {
                c.iter()
                    .enumerate()
                    .map(|(k, &count)| count as f64 / (n as f64 * binom[k] as f64))
                    .sum()
            })
            .collect()
    });
    // From the definitions, by monotonicity: i is in every winning coalition iff N \ {i} loses.
    let veto_players: Vec<usize> = (0..n)
        .filter(|&i| {
            !game
                .rule
                .wins(n, n - 1, game.total_weight() - u128::from(game.weights[i]))
        })
        .collect();
    let dictator = veto_players
        .iter()
        .copied()
        .find(|&i| game.rule.wins(n, 1, u128::from(game.weights[i])));
    let dummies = (0..n).filter(|&i| swings[i] == 0).collect();
    PowerIndices {
        coleman_power: counts.winning as f64 / 2f64.powi(n as i32),
        winning_coalitions: counts.winning,
        swings,
        banzhaf,
        banzhaf_absolute,
        shapley_shubik,
        dictator,
        veto_players,
        dummies,
    }
}

/// `x − w` for a threshold `x` (which may be `INF`), floored at 0.
fn sub_threshold(x: u128, w: u128) -> u128 {
    if x >= INF { INF } else { x.saturating_sub(w) }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// `C(m, k)` for `k` in `0..=m` (exact for `m ≤ 127`).
fn binomials(m: usize) -> Vec<u128> {
    let mut row = vec![1u128];
    for _ in 0..m {
        let mut next = vec![1u128; row.len() + 1];
        for k in 1..row.len() {
            next[k] = row[k - 1] + row[k];
        }
        row = next;
    }
    row
}

/// An unsigned integer used as a count modulo `2^bits`.
trait Cell: Copy + Default + PartialEq + 'static {
    fn wrapping_add(self, other: Self) -> Self;
    fn wrapping_sub(self, other: Self) -> Self;
    /// `v mod 2^bits`.
    fn from_u128(v: u128) -> Self;
    fn to_u128(self) -> u128;
}

macro_rules! cell {
    ($t:ty) => {
        impl Cell for $t {
            #[inline(always)]
            fn wrapping_add(self, other: Self) -> Self {
                <$t>::wrapping_add(self, other)
            }
            #[inline(always)]
            fn wrapping_sub(self, other: Self) -> Self {
                <$t>::wrapping_sub(self, other)
            }
            #[inline(always)]
            fn from_u128(v: u128) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_u128(self) -> u128 {
                self as u128
            }
        }
    };
}
cell!(u32);
cell!(u64);
cell!(u128);

/// Cumulative counts `L[k][x]` (coalitions of `k` table players lighter than `x`) of a set of
/// players.
struct SizeWeightTable<C> {
    /// Row `k`, entry `w`: coalitions of size `k` with weight `≤ w`, for `w < cap`.
    prefix: Vec<C>,
    cap: usize,
    /// The number of table players.
    players: usize,
    /// The total weight of the table's players.
    reach: u128,
    /// `C(players, k)`.
    totals: Vec<C>,
    /// `C(players − 1, k)`: the coalitions of size `k` without any one table player.
    totals_without: Vec<C>,
}

impl<C: Cell> SizeWeightTable<C> {
    fn build(players: &[usize], weights: &[u128], cap: usize, reach: u128) -> Self {
        let rows = players.len() + 1;
        let mut t = vec![C::default(); rows * cap];
        // band[k] = [lo, hi): the weights at which row k can be non-zero.
        let mut band = vec![(usize::MAX, 0usize); rows];
        if cap > 0 {
            t[0] = C::from_u128(1);
            band[0] = (0, 1);
        }
        for (j, &p) in players.iter().enumerate() {
            let Ok(wj) = usize::try_from(weights[p]) else {
                continue;
            };
            if wj >= cap {
                continue; // every coalition with this player is at or above the cut
            }
            for k in (0..=j).rev() {
                let (slo, shi) = band[k];
                if slo >= shi {
                    continue;
                }
                let dlo = slo + wj;
                if dlo >= cap {
                    continue;
                }
                let dhi = (shi + wj).min(cap);
                let (head, tail) = t.split_at_mut((k + 1) * cap);
                let src = &head[k * cap + slo..k * cap + slo + (dhi - dlo)];
                let dst = &mut tail[dlo..dhi];
                for (d, &s) in dst.iter_mut().zip(src) {
                    *d = d.wrapping_add(s);
                }
                let b = &mut band[k + 1];
                *b = (b.0.min(dlo), b.1.max(dhi));
            }
        }
        for (k, row) in t.chunks_exact_mut(cap.max(1)).enumerate().take(rows) {
            let start = band[k].0.min(cap);
            let mut acc = C::default();
            for v in &mut row[start..] {
                acc = acc.wrapping_add(*v);
                *v = acc;
            }
        }
        let binomial_row = |m: usize| binomials(m).into_iter().map(C::from_u128).collect();
        Self {
            prefix: t,
            cap,
            players: players.len(),
            reach,
            totals: binomial_row(players.len()),
            totals_without: binomial_row(players.len().saturating_sub(1)),
        }
    }

    /// `C(players, k)`.
    fn total(&self, k: usize) -> C {
        self.totals[k]
    }

    /// `L[k][x]` for `x ≤ cap`.
    #[inline]
    fn stored(&self, k: usize, x: u128) -> C {
        if x == 0 {
            C::default()
        } else {
            debug_assert!(
                x <= self.cap as u128,
                "point {x} beyond the table ({})",
                self.cap
            );
            self.prefix[k * self.cap + (x as usize - 1)]
        }
    }

    /// `L[k][x]`: coalitions of `k` table players with weight `< x`.
    fn cumulative(&self, k: usize, x: u128) -> C {
        if k > self.players || x == 0 {
            C::default()
        } else if x > self.reach {
            self.totals[k]
        } else if x <= self.reach - x + 1 {
            self.stored(k, x)
        } else {
            // Those of weight ≥ x are the complements of the n'−k players of weight ≤ R − x.
            let mirror = self.reach - x + 1;
            self.totals[k].wrapping_sub(self.stored(self.players - k, mirror))
        }
    }

    /// `L₋ᵢ[k][x]`: coalitions of `k` table players other than `i`, of weight `wi`, lighter than
    /// `x`.
    fn cumulative_without(&self, wi: u128, k: usize, x: u128) -> C {
        if k + 1 > self.players || x == 0 {
            return C::default();
        }
        let reach = self.reach - wi;
        if x > reach {
            self.totals_without[k]
        } else if x <= reach - x + 1 {
            self.deconvolved(wi, k, x)
        } else {
            let mirror = reach - x + 1;
            self.totals_without[k].wrapping_sub(self.deconvolved(wi, self.players - 1 - k, mirror))
        }
    }

    /// `Σ_j (−1)ʲ L[k−j][x − j·wi]`, for `x ≤ cap`.
    fn deconvolved(&self, wi: u128, k: usize, x: u128) -> C {
        let mut acc = C::default();
        let mut x = x;
        for j in 0..=k {
            if x == 0 {
                break;
            }
            let term = self.stored(k - j, x);
            acc = if j % 2 == 0 {
                acc.wrapping_add(term)
            } else {
                acc.wrapping_sub(term)
            };
            x = x.saturating_sub(wi);
        }
        acc
    }
}

/// Cumulative counts `L[x]` (coalitions of the table players lighter than `x`).
struct WeightTable<C> {
    prefix: Vec<C>,
    /// The total weight of the table's players.
    reach: u128,
    /// `2^players`.
    all: C,
    /// `2^(players − 1)`: the coalitions without any one table player.
    half: C,
}

impl<C: Cell> WeightTable<C> {
    fn build(players: &[usize], weights: &[u128], cap: usize, reach: u128) -> Self {
        let mut t = vec![C::default(); cap];
        if cap > 0 {
            t[0] = C::from_u128(1);
        }
        let mut hi = cap.min(1); // entries at or above hi are zero
        for &p in players {
            let Ok(wj) = usize::try_from(weights[p]) else {
                continue;
            };
            if wj >= cap {
                continue;
            }
            let new_hi = (hi + wj).min(cap);
            // Descending, so that each coalition takes the player at most once.
            for w in (wj..new_hi).rev() {
                t[w] = t[w].wrapping_add(t[w - wj]);
            }
            hi = new_hi;
        }
        let mut acc = C::default();
        for v in &mut t {
            acc = acc.wrapping_add(*v);
            *v = acc;
        }
        Self {
            prefix: t,
            reach,
            all: C::from_u128(1u128 << players.len()),
            half: C::from_u128(1u128 << players.len().saturating_sub(1)),
        }
    }

    /// `L[x]` for `x ≤ cap`.
    #[inline]
    fn stored(&self, x: u128) -> C {
        if x == 0 {
            C::default()
        } else {
            self.prefix[x as usize - 1]
        }
    }

    /// `L[x]`.
    fn cumulative(&self, x: u128) -> C {
        if x > self.reach {
            self.all
        } else if x <= self.reach - x + 1 {
            self.stored(x)
        } else {
            self.all.wrapping_sub(self.stored(self.reach - x + 1))
        }
    }

    /// `L₋ᵢ[x]` for a table player of weight `wi > 0`.
    fn cumulative_without(&self, wi: u128, x: u128) -> C {
        let reach = self.reach - wi;
        if x > reach {
            self.half
        } else if x <= reach - x + 1 {
            self.deconvolved(wi, x)
        } else {
            self.half.wrapping_sub(self.deconvolved(wi, reach - x + 1))
        }
    }

    /// `Σ_j (−1)ʲ L[x − j·wi]`, for `x ≤ cap`.
    fn deconvolved(&self, wi: u128, x: u128) -> C {
        debug_assert!(wi > 0);
        let mut acc = C::default();
        let mut x = x;
        let mut add = true;
        while x > 0 {
            let term = self.stored(x);
            acc = if add {
                acc.wrapping_add(term)
            } else {
                acc.wrapping_sub(term)
            };
            add = !add;
            x = x.saturating_sub(wi);
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPS: f64 = 1e-12;

    fn close(actual: &[f64], expected: &[f64]) {
        assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
        for (a, e) in actual.iter().zip(expected) {
            assert!((a - e).abs() < EPS, "{actual:?} vs {expected:?}");
        }
    }

    fn indices(weights: &[u64], quota: u64) -> PowerIndices {
        power_indices(&Game::weighted(weights.to_vec(), quota)).unwrap()
    }

    #[test]
    fn eec_1958() {
        let p = indices(&[4, 4, 4, 2, 2, 1], 12);
        assert_eq!(p.swings, vec![10, 10, 10, 6, 6, 0]);
        close(
            &p.banzhaf,
            &[5. / 21., 5. / 21., 5. / 21., 1. / 7., 1. / 7., 0.],
        );
        close(
            &p.banzhaf_absolute,
            &[5. / 16., 5. / 16., 5. / 16., 3. / 16., 3. / 16., 0.],
        );
        let ss = [7. / 30., 7. / 30., 7. / 30., 3. / 20., 3. / 20., 0.];
        close(p.shapley_shubik.as_ref().unwrap(), &ss);
        assert_eq!(p.winning_coalitions, 14);
        assert!((p.coleman_power - 14. / 64.).abs() < EPS);
        assert_eq!(p.dummies, vec![5]);
        assert_eq!(p.dictator, None);
        assert!(p.veto_players.is_empty());

        // The dual game has the same indices.
        let dual = indices(&[4, 4, 4, 2, 2, 1], 6);
        close(&dual.banzhaf, &p.banzhaf);
        close(dual.shapley_shubik.as_ref().unwrap(), &ss);

        let b = banzhaf_indices(&Game::weighted(vec![4, 4, 4, 2, 2, 1], 12)).unwrap();
        assert_eq!(b.swings, p.swings);
        assert_eq!(b.winning_coalitions, 14);
        assert_eq!(b.shapley_shubik, None);
    }

    #[test]
    fn small_public_vectors() {
        let p = indices(&[4, 3, 2, 1], 6);
        let expected = [5. / 12., 1. / 4., 1. / 4., 1. / 12.];
        close(&p.banzhaf, &expected);
        close(p.shapley_shubik.as_ref().unwrap(), &expected);

        let p = indices(&[3, 2, 1, 1], 4);
        close(
            p.shapley_shubik.as_ref().unwrap(),
            &[0.5, 1. / 6., 1. / 6., 1. / 6.],
        );
    }

    #[test]
    fn improper_quota() {
        let p = indices(&[50, 30, 20], 40);
        close(&p.banzhaf, &[0.6, 0.2, 0.2]);
        close(
            p.shapley_shubik.as_ref().unwrap(),
            &[2. / 3., 1. / 6., 1. / 6.],
        );
        let b = banzhaf_indices(&Game::weighted(vec![50, 30, 20], 40)).unwrap();
        close(&b.banzhaf, &[0.6, 0.2, 0.2]);
    }

    #[test]
    fn dictator_and_veto_players() {
        let p = indices(&[60, 30, 10], 51);
        close(&p.banzhaf, &[1., 0., 0.]);
        close(p.shapley_shubik.as_ref().unwrap(), &[1., 0., 0.]);
        assert_eq!(p.dictator, Some(0));
        assert_eq!(p.veto_players, vec![0]);
        assert_eq!(p.dummies, vec![1, 2]);

        let p = indices(&[51, 49], 51);
        close(&p.banzhaf, &[1., 0.]);
        close(p.shapley_shubik.as_ref().unwrap(), &[1., 0.]);
        assert_eq!(p.dictator, Some(0));

        let p = indices(&[50, 50], 51);
        close(&p.banzhaf, &[0.5, 0.5]);
        close(p.shapley_shubik.as_ref().unwrap(), &[0.5, 0.5]);
        assert_eq!(p.dictator, None);
        assert_eq!(p.veto_players, vec![0, 1]);
        assert_eq!(p.winning_coalitions, 1);
    }

    #[test]
    fn degenerate_games() {
        // Nobody can win: every player is (vacuously) a veto player and a dummy.
        let p = indices(&[1, 2], 10);
        assert_eq!(p.winning_coalitions, 0);
        assert_eq!(p.swings, vec![0, 0]);
        assert_eq!(p.banzhaf, vec![0., 0.]);
        assert_eq!(p.veto_players, vec![0, 1]);
        // Everybody wins, even the empty coalition.
        let p = indices(&[1, 2], 0);
        assert_eq!(p.winning_coalitions, 4);
        assert_eq!(p.dummies, vec![0, 1]);
        // No players.
        let p = indices(&[], 1);
        assert_eq!(p.winning_coalitions, 0);
        assert!(p.swings.is_empty());
        // Weights with a common factor and zero weights.
        let p = indices(&[0, 40, 20, 0], 50);
        assert_eq!(p.swings, vec![0, 4, 4, 0]);
        assert_eq!(p.winning_coalitions, 4);
        // Strict quota.
        let rule = WinningRule {
            quota: 6,
            strict: true,
            ..WinningRule::default()
        };
        let p = power_indices(&Game::new(vec![4, 3, 2, 1], rule)).unwrap();
        assert_eq!(p.swings, indices(&[4, 3, 2, 1], 7).swings);
    }

    #[test]
    fn eu_style_double_majority_with_blocking_minority() {
        // Three big and three small: a blocking minority needs four members.
        let rule = WinningRule {
            quota: 65,
            strict: false,
            min_members: 4,
            min_blocking: 4,
        };
        let game = Game::new(vec![30, 30, 25, 5, 5, 5], rule);
        let p = power_indices(&game).unwrap();
        let b = brute_force(&game);
        assert_eq!(p.swings, b.swings);
        assert_eq!(p.winning_coalitions, b.winning_coalitions);
        // The three big ones cannot block alone (they are fewer than four), so the three small
        // ones win with 15% of the weight…
        assert!(game.wins([3, 4, 5]));
        // …while two big ones (60%, two members) lose, and with two small ones (70%, four
        // members) win.
        assert!(!game.wins([0, 1]));
        assert!(game.wins([0, 1, 3, 4]));
        assert!(
            !Game::new(
                game.weights.clone(),
                WinningRule {
                    min_blocking: 0,
                    ..rule
                }
            )
            .wins([3, 4, 5])
        );
    }

    #[test]
    fn too_many_players_and_too_large_tables_are_refused() {
        let many = Game::weighted(vec![1; MAX_PLAYERS + 1], 10);
        assert_eq!(
            power_indices(&many).unwrap_err(),
            PowerError::TooManyPlayers(MAX_PLAYERS + 1)
        );
        let huge = Game::weighted(vec![u64::MAX / 4, u64::MAX / 4 - 1, 3], u64::MAX / 3);
        assert!(matches!(
            power_indices(&huge).unwrap_err(),
            PowerError::TooLarge { .. }
        ));
    }

    #[test]
    fn many_players_use_wide_counts() {
        // 100 equal players, simple majority: by symmetry each has S-S 1/100, and the swings
        // are C(99, 49) (coalitions of 49 others out of 99 need the player to reach 50).
        let p = indices(&[1; 100], 51);
        let c = binomials(99)[50];
        assert!(p.swings.iter().all(|&s| s == c));
        let ss = p.shapley_shubik.unwrap();
        assert!(ss.iter().all(|&x| (x - 0.01).abs() < EPS));
        let b = banzhaf_indices(&Game::weighted(vec![1; 100], 51)).unwrap();
        assert_eq!(b.swings, p.swings);
        // 127 players with different weights: the two methods agree, S-S sums to 1.
        let weights: Vec<u64> = (1..=127).collect();
        let game = Game::weighted(weights, 127 * 128 / 3);
        let p = power_indices(&game).unwrap();
        let b = banzhaf_indices(&game).unwrap();
        assert_eq!(p.swings, b.swings);
        assert_eq!(p.winning_coalitions, b.winning_coalitions);
        let sum: f64 = p.shapley_shubik.unwrap().iter().sum();
        assert!((sum - 1.0).abs() < 1e-9, "{sum}");
    }

    #[test]
    fn both_methods_agree_on_medium_games() {
        let mut rng = Rng(7);
        for _ in 0..20 {
            let n = 30 + rng.below(40) as usize;
            let weights: Vec<u64> = (0..n).map(|_| rng.below(60)).collect();
            let total: u64 = weights.iter().sum();
            let game = Game::weighted(weights, total / 2 + rng.below(total / 2 + 1));
            let p = power_indices(&game).unwrap();
            let b = banzhaf_indices(&game).unwrap();
            assert_eq!(p.swings, b.swings, "{game:?}");
            assert_eq!(p.winning_coalitions, b.winning_coalitions, "{game:?}");
            let sum: f64 = p.shapley_shubik.unwrap().iter().sum();
            assert!(
                p.winning_coalitions == 0 || (sum - 1.0).abs() < 1e-9,
                "{sum}"
            );
        }
        // Equal weights, simple majority: each player swings in C(n−1, ⌊n/2⌋) coalitions.
        for n in [33, 34, 35, 50, 66, 67, 68] {
            let p = indices(&vec![1; n], n as u64 / 2 + 1);
            assert!(
                p.swings.iter().all(|&s| s == binomials(n - 1)[n / 2]),
                "{n}"
            );
        }
    }

    /// splitmix64: a tiny deterministic generator for the property test.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn factorial(n: usize) -> u128 {
        (1..=n as u128).product()
    }

    /// Every index from its definition, over all 2ⁿ coalitions.
    fn brute_force(game: &Game) -> PowerIndices {
        let n = game.players();
        let wins = |mask: u32| game.wins((0..n).filter(|&i| mask >> i & 1 == 1));
        let mut swings = vec![0u128; n];
        let mut shapley = vec![0f64; n];
        let mut winning = 0;
        for mask in 0u32..1 << n {
            if !wins(mask) {
                continue;
            }
            winning += 1;
            for (i, (swing, ss)) in swings.iter_mut().zip(&mut shapley).enumerate() {
                if mask >> i & 1 == 1 && !wins(mask & !(1 << i)) {
                    *swing += 1;
                    let k = (mask.count_ones() - 1) as usize;
                    *ss += (factorial(k) * factorial(n - k - 1)) as f64 / factorial(n) as f64;
                }
            }
        }
        let total: u128 = swings.iter().sum();
        let all = (1u32 << n) - 1;
        let veto_players: Vec<usize> = (0..n)
            .filter(|&i| (0..=all).all(|m| !wins(m) || m >> i & 1 == 1))
            .collect();
        PowerIndices {
            banzhaf: swings
                .iter()
                .map(|&s| {
                    if total == 0 {
                        0.
                    } else {
                        s as f64 / total as f64
                    }
                })
                .collect(),
            banzhaf_absolute: swings
                .iter()
                .map(|&s| s as f64 / (1u64 << n) as f64 * 2.)
                .collect(),
            shapley_shubik: Some(shapley),
            winning_coalitions: winning,
            coleman_power: winning as f64 / (1u64 << n) as f64,
            dictator: veto_players.iter().copied().find(|&i| wins(1 << i)),
            dummies: (0..n).filter(|&i| swings[i] == 0).collect(),
            veto_players,
            swings,
        }
    }

    /// Shapley–Shubik by counting pivots over all n! orderings.
    fn shapley_by_orderings(game: &Game) -> Vec<f64> {
        fn orderings(rest: &mut Vec<usize>, prefix: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
            if rest.is_empty() {
                out.push(prefix.clone());
            }
            for idx in 0..rest.len() {
                let p = rest.remove(idx);
                prefix.push(p);
                orderings(rest, prefix, out);
                prefix.pop();
                rest.insert(idx, p);
            }
        }
        let n = game.players();
        let mut all = Vec::new();
        orderings(&mut (0..n).collect(), &mut Vec::new(), &mut all);
        let mut pivots = vec![0u64; n];
        for order in &all {
            for (pos, &p) in order.iter().enumerate() {
                if !game.wins(order[..pos].iter().copied())
                    && game.wins(order[..=pos].iter().copied())
                {
                    pivots[p] += 1;
                }
            }
        }
        pivots
            .iter()
            .map(|&c| c as f64 / all.len() as f64)
            .collect()
    }

    fn random_game(rng: &mut Rng) -> Game {
        let n = 1 + rng.below(10) as usize;
        let max_weight = [1, 3, 10, 100, 5000][rng.below(5) as usize];
        let weights: Vec<u64> = (0..n).map(|_| rng.below(max_weight + 1)).collect();
        let total: u64 = weights.iter().sum();
        let quota = rng.below(total + 3);
        let strict = rng.below(4) == 0;
        let min_members = if rng.below(2) == 0 {
            0
        } else {
            rng.below(n as u64 + 2) as usize
        };
        let min_blocking = if rng.below(2) == 0 {
            0
        } else {
            rng.below(n as u64 + 2) as usize
        };
        Game::new(
            weights,
            WinningRule {
                quota,
                strict,
                min_members,
                min_blocking,
            },
        )
    }

    #[test]
    fn dynamic_programme_equals_brute_force_on_random_games() {
        let mut rng = Rng(20_240_624);
        for round in 0..3000 {
            let game = random_game(&mut rng);
            let expected = brute_force(&game);
            let actual = power_indices(&game).unwrap();
            let context = format!("round {round}: {game:?}");
            assert_eq!(actual.swings, expected.swings, "{context}");
            assert_eq!(
                actual.winning_coalitions, expected.winning_coalitions,
                "{context}"
            );
            assert_eq!(actual.veto_players, expected.veto_players, "{context}");
            assert_eq!(actual.dictator, expected.dictator, "{context}");
            assert_eq!(actual.dummies, expected.dummies, "{context}");
            assert!(
                (actual.coleman_power - expected.coleman_power).abs() < EPS,
                "{context}"
            );
            let ss = actual.shapley_shubik.as_ref().unwrap();
            for (a, e) in ss.iter().zip(expected.shapley_shubik.as_ref().unwrap()) {
                assert!((a - e).abs() < 1e-12, "{context}: {ss:?} vs {expected:?}");
            }
            for (a, e) in actual.banzhaf.iter().zip(&expected.banzhaf) {
                assert!((a - e).abs() < EPS, "{context}");
            }
            for (a, e) in actual
                .banzhaf_absolute
                .iter()
                .zip(&expected.banzhaf_absolute)
            {
                assert!((a - e).abs() < EPS, "{context}");
            }
            let b = banzhaf_indices(&game).unwrap();
            assert_eq!(b.swings, expected.swings, "banzhaf_indices, {context}");
            assert_eq!(
                b.winning_coalitions, expected.winning_coalitions,
                "banzhaf_indices, {context}"
            );
            if game.players() <= 6 {
                let by_orderings = shapley_by_orderings(&game);
                for (a, e) in ss.iter().zip(&by_orderings) {
                    assert!(
                        (a - e).abs() < 1e-12,
                        "{context}: {ss:?} vs orderings {by_orderings:?}"
                    );
                }
            }
        }
    }
}
