//! Monte Carlo estimates of the indices, for games too large to count exactly.
//!
//! Guarantee: every estimate is the mean of `N` independent draws of a bounded quantity, with a
//! deterministic generator seeded by the caller (the same seed gives the same numbers); the
//! standard error reported for a share `p̂` is `√(p̂(1−p̂)/N)`, and Hoeffding's bound
//! `P(|p̂ − p| ≥ ε) ≤ 2·exp(−2Nε²)` holds for each share separately.
//!
//! - Uniform random coalitions (each player in with probability ½): `Xᵢ = 1` when adding or
//!   removing `i` changes the outcome has mean `β'ᵢ`, the absolute Banzhaf index. The winning
//!   share `ŵ` estimates Coleman's power to act, and power to prevent and to initiate are
//!   `β'ᵢ/(2ŵ)` and `β'ᵢ/(2(1−ŵ))` (ratio estimates). For Johnston each winning sample gives each
//!   of its `c` critical members `1/c`; the index is the normalised mean.
//! - Uniform random orderings: the player whose arrival makes the coalition win is pivotal; the
//!   share of orderings in which `i` is pivotal estimates Shapley–Shubik.
//!
//! Each draw costs `O(n·d)` for `d` weight vectors.

use super::{Estimate, Game, IndexSet, Method, PowerIndices, dictator_and_vetoes};

/// A small, fast deterministic generator (SplitMix64).
pub(crate) struct SplitMix(u64);

impl SplitMix {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is below 2⁻⁶⁴·n).
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

fn share_errors(values: &[f64], samples: u64) -> Vec<f64> {
    values
        .iter()
        .map(|&p| (p * (1.0 - p) / samples.max(1) as f64).sqrt())
        .collect()
}

fn normalised(raw: &[f64]) -> Vec<f64> {
    let total: f64 = raw.iter().sum();
    raw.iter()
        .map(|&x| if total > 0.0 { x / total } else { 0.0 })
        .collect()
}

/// Estimates of Banzhaf, Coleman and the wanted Shapley–Shubik and Johnston indices.
pub(crate) fn estimate(game: &Game, samples: u64, seed: u64, want: IndexSet) -> PowerIndices {
    let n = game.players();
    let samples = samples.max(1);
    let method = Method::monte_carlo(samples, seed);
    let vectors: Vec<&[u64]> = game.vectors().collect();
    let d = vectors.len();
    let mut rng = SplitMix::new(seed);

    // Random coalitions.
    let mut swing = vec![0u64; n];
    let mut johnston = vec![0f64; n];
    let mut winning = 0u64;
    let mut member = vec![false; n];
    let mut sums = vec![0u128; d];
    let mut scratch = vec![0u128; d];
    let mut critical = Vec::with_capacity(n);
    for _ in 0..samples {
        sums.iter_mut().for_each(|s| *s = 0);
        let mut size = 0;
        let mut bits = 0u64;
        for (i, m) in member.iter_mut().enumerate() {
            if i % 64 == 0 {
                bits = rng.next_u64();
            }
            *m = bits & 1 == 1;
            bits >>= 1;
            if *m {
                size += 1;
                for (s, v) in sums.iter_mut().zip(&vectors) {
                    *s += u128::from(v[i]);
                }
            }
        }
        let wins = game.wins_with(size, &sums);
        winning += u64::from(wins);
        critical.clear();
        for i in 0..n {
            // By monotonicity only a member of a winning coalition or a non-member of a losing
            // one can flip the outcome.
            if member[i] != wins {
                continue;
            }
            // The outcome with i flipped.
            for ((t, s), v) in scratch.iter_mut().zip(&sums).zip(&vectors) {
                *t = if member[i] {
                    s - u128::from(v[i])
                } else {
                    s + u128::from(v[i])
                };
            }
            let other = game.wins_with(if member[i] { size - 1 } else { size + 1 }, &scratch);
            if other != wins {
                swing[i] += 1;
                if wins {
                    critical.push(i);
                }
            }
        }
        if want.johnston && !critical.is_empty() {
            let share = 1.0 / critical.len() as f64;
            for &i in &critical {
                johnston[i] += share;
            }
        }
    }
    let absolute: Vec<f64> = swing.iter().map(|&s| s as f64 / samples as f64).collect();
    let win_share = winning as f64 / samples as f64;
    let ratio_of = |den: f64| -> Vec<f64> {
        absolute
            .iter()
            .map(|&b| if den > 0.0 { b / (2.0 * den) } else { 0.0 })
            .collect()
    };
    let estimate = |values: Vec<f64>, errors: Vec<f64>| Estimate {
        values,
        method,
        standard_errors: errors,
    };
    let banzhaf_errors = share_errors(&absolute, samples);
    // The normalised index's error, to first order, scaled like the index.
    let total_abs: f64 = absolute.iter().sum();
    let scaled_errors =
        |factor: f64| -> Vec<f64> { banzhaf_errors.iter().map(|e| e * factor).collect() };
    let prevent = ratio_of(win_share);
    let initiate = ratio_of(1.0 - win_share);

    // Random orderings.
    let shapley_shubik = want.shapley_shubik.then(|| {
        let mut pivots = vec![0u64; n];
        let mut order: Vec<usize> = (0..n).collect();
        for _ in 0..samples {
            for k in (1..n).rev() {
                order.swap(k, rng.below(k + 1));
            }
            sums.iter_mut().for_each(|s| *s = 0);
            if game.wins_with(0, &sums) {
                continue; // the empty coalition wins: nobody is pivotal
            }
            for (pos, &i) in order.iter().enumerate() {
                for (s, v) in sums.iter_mut().zip(&vectors) {
                    *s += u128::from(v[i]);
                }
                if game.wins_with(pos + 1, &sums) {
                    pivots[i] += 1;
                    break;
                }
            }
        }
        let values: Vec<f64> = pivots.iter().map(|&p| p as f64 / samples as f64).collect();
        let errors = share_errors(&values, samples);
        estimate(values, errors)
    });

    let johnston = want.johnston.then(|| {
        let per_sample: Vec<f64> = johnston.iter().map(|&j| j / samples as f64).collect();
        let total: f64 = per_sample.iter().sum();
        let errors = share_errors(&per_sample, samples)
            .into_iter()
            .map(|e| if total > 0.0 { e / total } else { 0.0 })
            .collect();
        estimate(normalised(&per_sample), errors)
    });

    let (dictator, veto_players) = dictator_and_vetoes(game);
    PowerIndices {
        swings: None,
        banzhaf: estimate(
            normalised(&absolute),
            scaled_errors(if total_abs > 0.0 {
                1.0 / total_abs
            } else {
                0.0
            }),
        ),
        banzhaf_absolute: estimate(absolute.clone(), banzhaf_errors.clone()),
        shapley_shubik,
        deegan_packel: None,
        holler: None,
        johnston,
        coleman_prevent: estimate(
            prevent,
            scaled_errors(if win_share > 0.0 {
                0.5 / win_share
            } else {
                0.0
            }),
        ),
        coleman_initiate: estimate(
            initiate,
            scaled_errors(if win_share < 1.0 {
                0.5 / (1.0 - win_share)
            } else {
                0.0
            }),
        ),
        coleman_power: win_share,
        winning_coalitions: None,
        minimal_winning_coalitions: None,
        dictator,
        veto_players,
        dummies: None,
        not_computed: [
            (want.deegan_packel, "Deegan–Packel"),
            (want.holler, "Holler"),
        ]
        .iter()
        .filter(|(wanted, _)| *wanted)
        .map(|(_, name)| format!("{name}: not estimated by Monte Carlo (minimal winning coalitions are too rare among random coalitions)"))
        .collect(),
    }
}
