//! Banzhaf swings, Shapley–Shubik swings by coalition size and the winning count of a game with
//! one weight vector (plus the member quota and the blocking minority), exactly, by the
//! coalition-count table described in the module documentation of [`super`].
//!
//! Guarantee: the counts are those of the definitions, modulo the [`Cell`]'s modulus; the caller
//! ([`super::cells::exact`]) runs the job in a wide enough cell or once per prime.

use std::collections::BTreeMap;

use super::cells::{Cell, Job, binomials};
use super::{INF, PowerError, Thresholds};

/// The heaviest player split off the threshold game.
pub(crate) struct Scaled<'a> {
    pub(crate) t: &'a Thresholds,
    /// The heaviest player (the first of them).
    heaviest: usize,
}

/// What [`SwingJob`] counts.
pub(crate) struct SwingJob<'a> {
    pub(crate) scaled: Scaled<'a>,
    /// `true`: swings by coalition size (`n·n` counts, for Shapley–Shubik); `false`: one total
    /// per player, by weight alone when the rule allows.
    pub(crate) by_size: bool,
    pub(crate) max_table_bytes: u128,
}

impl Job for SwingJob<'_> {
    /// Layout: per player `i`, `n` counts `c[i][k]` (by size) or one swing count; then the
    /// number of winning coalitions.
    fn run<C: Cell>(&self) -> Result<Vec<C>, PowerError> {
        let s = &self.scaled;
        let n = s.t.n;
        let (per_size, winning) = if !self.by_size && s.t.pure_weight {
            s.counts_by_weight::<C>(self.max_table_bytes)?
        } else {
            s.size_and_weight::<C>(self.max_table_bytes)?
        };
        let mut out = Vec::with_capacity(n * n + 1);
        for counts in per_size {
            if self.by_size {
                out.extend(counts);
            } else {
                out.push(counts.iter().fold(C::default(), |a, &c| a.add(c)));
            }
        }
        out.push(winning);
        Ok(out)
    }
}

impl<'a> Scaled<'a> {
    pub(crate) fn new(t: &'a Thresholds) -> Self {
        let heaviest = (0..t.n)
            .rev()
            .max_by_key(|&i| t.weights[i])
            .unwrap_or_default();
        Self { t, heaviest }
    }

    /// The other players' indices in ascending order of weight, and their total weight.
    fn table_players(&self) -> (Vec<usize>, u128) {
        let mut others: Vec<usize> = (0..self.t.n).filter(|&i| i != self.heaviest).collect();
        others.sort_by_key(|&i| self.t.weights[i]);
        let rest = self.t.total - self.t.weights[self.heaviest];
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
        let w0 = self.t.weights[self.heaviest];
        let mut thresholds: Vec<u128> = self.t.theta.iter().copied().filter(|&t| t < INF).collect();
        thresholds.sort_unstable();
        thresholds.dedup();
        let mut distinct: Vec<u128> = players.iter().map(|&i| self.t.weights[i]).collect();
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

    fn size_and_weight<C: Cell>(&self, max_bytes: u128) -> Result<(Vec<Vec<C>>, C), PowerError> {
        let n = self.t.n;
        let theta = &self.t.theta;
        let (players, rest) = self.table_players();
        let cap = self.cap(&players, rest);
        let rows = players.len() + 1;
        let bytes = (rows as u128) * cap * (std::mem::size_of::<C>() as u128);
        if bytes > max_bytes {
            return Err(PowerError::TooLarge { bytes });
        }
        let cap = usize::try_from(cap).map_err(|_| PowerError::TooLarge { bytes })?;
        let table = SizeWeightTable::<C>::build(&players, &self.t.weights, cap, rest);

        let w0 = self.t.weights[self.heaviest];
        let shift = |x: u128| sub_threshold(x, w0);
        let mut per_size = vec![Vec::new(); n];

        // The heaviest player: the table counts exactly the coalitions without it.
        per_size[self.heaviest] = (0..n)
            .map(|k| {
                let (lo, hi) = (sub_threshold(theta[k + 1], w0), theta[k]);
                if lo >= hi {
                    C::default()
                } else {
                    table.cumulative(k, hi).sub(table.cumulative(k, lo))
                }
            })
            .collect();

        // The others, once per distinct weight.
        let mut by_weight: BTreeMap<u128, Vec<C>> = BTreeMap::new();
        for &i in &players {
            let wi = self.t.weights[i];
            let counts = by_weight.entry(wi).or_insert_with(|| {
                (0..n)
                    .map(|k| {
                        let (lo, hi) = (sub_threshold(theta[k + 1], wi), theta[k]);
                        if lo >= hi {
                            return C::default();
                        }
                        // Coalitions of k players without i and without the heaviest player…
                        let without = table
                            .cumulative_without(wi, k, hi)
                            .sub(table.cumulative_without(wi, k, lo));
                        // …and with the heaviest player: k − 1 others, w0 lighter.
                        let with = if k == 0 {
                            C::default()
                        } else {
                            table
                                .cumulative_without(wi, k - 1, shift(hi))
                                .sub(table.cumulative_without(wi, k - 1, shift(lo)))
                        };
                        without.add(with)
                    })
                    .collect()
            });
            per_size[i] = counts.clone();
        }

        let mut winning = C::default();
        for (k, &t) in theta.iter().enumerate() {
            if k < rows {
                winning = winning.add(table.total(k).sub(table.cumulative(k, t)));
            }
            if k >= 1 {
                winning = winning.add(table.total(k - 1).sub(table.cumulative(k - 1, shift(t))));
            }
        }
        Ok((per_size, winning))
    }

    fn counts_by_weight<C: Cell>(&self, max_bytes: u128) -> Result<(Vec<Vec<C>>, C), PowerError> {
        let n = self.t.n;
        let q = self.t.theta[n];
        let w0 = self.t.weights[self.heaviest];
        if w0 == 0 {
            // Every coalition weighs 0: all win or none does, and nobody is ever a swing.
            let winning = if q == 0 { C::pow2(n) } else { C::default() };
            return Ok((vec![vec![C::default()]; n], winning));
        }
        let (players, _) = self.table_players();
        let zeros = players.iter().filter(|&&i| self.t.weights[i] == 0).count();
        let players: Vec<usize> = players
            .into_iter()
            .filter(|&i| self.t.weights[i] > 0)
            .collect();
        let rest: u128 = players.iter().map(|&i| self.t.weights[i]).sum();
        let cap = self.cap(&players, rest);
        let bytes = cap * (std::mem::size_of::<C>() as u128);
        if bytes > max_bytes {
            return Err(PowerError::TooLarge { bytes });
        }
        let cap = usize::try_from(cap).map_err(|_| PowerError::TooLarge { bytes })?;
        let table = WeightTable::<C>::build(&players, &self.t.weights, cap, rest);
        // The zero-weight players join or not freely: a factor 2^zeros.
        let window = |lo: u128, hi: u128, wi: Option<u128>| -> C {
            let l = |x| match wi {
                Some(wi) => table.cumulative_without(wi, x),
                None => table.cumulative(x),
            };
            l(hi).sub(l(lo))
        };

        let mut per_size = vec![vec![C::default()]; n];
        per_size[self.heaviest] = vec![window(q.saturating_sub(w0), q, None).shl(zeros)];
        let mut by_weight: BTreeMap<u128, C> = BTreeMap::new();
        for &i in &players {
            let wi = self.t.weights[i];
            let swings = *by_weight.entry(wi).or_insert_with(|| {
                let lo = q.saturating_sub(wi);
                let without_heaviest = window(lo, q, Some(wi));
                let with_heaviest = window(lo.saturating_sub(w0), q.saturating_sub(w0), Some(wi));
                without_heaviest.add(with_heaviest).shl(zeros)
            });
            per_size[i] = vec![swings];
        }
        let all = table.all;
        let winning = all
            .sub(table.cumulative(q))
            .add(all.sub(table.cumulative(q.saturating_sub(w0))))
            .shl(zeros);
        Ok((per_size, winning))
    }
}

/// `x − w` for a threshold `x` (which may be `INF`), floored at 0.
pub(crate) fn sub_threshold(x: u128, w: u128) -> u128 {
    if x >= INF { INF } else { x.saturating_sub(w) }
}

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
            t[0] = C::one();
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
                    *d = d.add(s);
                }
                let b = &mut band[k + 1];
                *b = (b.0.min(dlo), b.1.max(dhi));
            }
        }
        for (k, row) in t.chunks_exact_mut(cap.max(1)).enumerate().take(rows) {
            let start = band[k].0.min(cap);
            let mut acc = C::default();
            for v in &mut row[start..] {
                acc = acc.add(*v);
                *v = acc;
            }
        }
        let binomial_row = |m: usize| binomials::<C>(m);
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
            self.totals[k].sub(self.stored(self.players - k, mirror))
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
            self.totals_without[k].sub(self.deconvolved(wi, self.players - 1 - k, mirror))
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
                acc.add(term)
            } else {
                acc.sub(term)
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
            t[0] = C::one();
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
            // t[w] += t[w − wj] with every read before its write, so that each coalition takes
            // the player at most once: blocks of wj cells from the top, each reading the block
            // below it, which is still untouched (disjoint slices, so the loop vectorises).
            if wj == 0 {
                for v in &mut t[..new_hi] {
                    *v = v.add(*v);
                }
            } else {
                let mut top = new_hi;
                while top > wj {
                    let lo = top.saturating_sub(wj).max(wj);
                    let (head, tail) = t.split_at_mut(lo);
                    let src = &head[lo - wj..top - wj];
                    for (d, &v) in tail[..top - lo].iter_mut().zip(src) {
                        *d = d.add(v);
                    }
                    top = lo;
                }
            }
            hi = new_hi;
        }
        let mut acc = C::default();
        for v in &mut t {
            acc = acc.add(*v);
            *v = acc;
        }
        Self {
            prefix: t,
            reach,
            all: C::pow2(players.len()),
            half: C::pow2(players.len().saturating_sub(1)),
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
            self.all.sub(self.stored(self.reach - x + 1))
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
            self.half.sub(self.deconvolved(wi, reach - x + 1))
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
            acc = if add { acc.add(term) } else { acc.sub(term) };
            add = !add;
            x = x.saturating_sub(wi);
        }
        acc
    }
}
