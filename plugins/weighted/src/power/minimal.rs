//! Minimal winning coalitions (for Deegan–Packel and Holler) and swings by the number of
//! swingers (for Johnston) of a game with one weight vector, by dynamic programmes over
//! coalition-count tables.
//!
//! Guarantee: the counts are those of the definitions, modulo the [`Cell`]'s modulus, for any
//! rule of the form "a coalition of `s` players wins iff its weight is at least `θ(s)`", with
//! `θ` non-increasing in `s` and taking the values `0`, `q` and `INF` only (which is what the
//! weight quota, the member quota and the blocking minority give).
//!
//! # Minimal winning coalitions
//!
//! `S` (size `s`, weight `w`) is minimal winning iff it wins and it loses without its lightest
//! member `ℓ`: `w ≥ θ(s)` and `w − w_ℓ < θ(s−1)` (removing a heavier member leaves a heavier
//! coalition, which loses if this one does). Order the players by weight, heaviest first, and
//! split `S` into its last player `ℓ` and `T = S \ {ℓ}`, a subset of the players before `ℓ`:
//! the coalitions with last player `ℓ` and `|T| = t` are counted by the window
//! `θ(t+1) − w_ℓ ≤ w(T) < θ(t)` of the cumulative table `L[t][x]` (subsets of the players before
//! `ℓ` with `t` members lighter than `x`), which is updated as `ℓ` moves down the order by the
//! knapsack recurrence `L[t+1][x] += L[t][x − w_ℓ]`. The minimal winning coalitions that
//! contain an earlier player `i` as a member of `T` are the window shifted by `wᵢ` in the table
//! without `i`, obtained by deconvolution, `L₋ᵢ[t][x] = Σⱼ (−1)ʲ L[t−j][x − j·wᵢ]`. Cost
//! `O(n²·q)` for the table and `O(n⁴)` for the look-ups (once per distinct weight).
//!
//! # Swings by number of swingers
//!
//! In a winning `S` whose `s − 1`-subsets can win only by weight (`θ(s−1) = q`), member `j` is
//! critical iff `w_j > τ = w(S) − q`: the critical members are the heaviest ones. For the cut
//! `p` of the order (the first `p` players are those heavier than `τ`, `w_p > τ ≥ w_{p+1}`,
//! which holds iff `q + w_{p+1} ≤ w(S) < q + w_p`), the number of critical members is
//! `c = |S ∩ {1..p}|`. A table `J[c][s][x]` of coalitions of all players by the number `c` of
//! members among the first `p`, size `s` and weight `< x` is moved from cut to cut by tagging
//! one player (`J ← J · (1 + y z x^w) / (1 + y x^w)`: a deconvolution then a convolution, each
//! `O(n²·W)`); at each cut the coalitions containing player `i` among the first `p` are read by
//! deconvolution in `(c, s, x)`. When `θ(s−1) = INF` every member of a winning `S` is critical;
//! when `θ(s−1) = 0`, none is. Cost `O(n³·W + n⁵)` with `W ≈ q + max w`.

use std::collections::BTreeMap;

use super::cells::{Cell, Job, binomials};
use super::table::sub_threshold;
use super::{INF, PowerError, Thresholds};

/// The players heaviest first (ties by index).
fn heaviest_first(t: &Thresholds) -> Vec<usize> {
    let mut order: Vec<usize> = (0..t.n).collect();
    order.sort_by(|&a, &b| t.weights[b].cmp(&t.weights[a]).then(a.cmp(&b)));
    order
}

/// Minimal winning coalitions by size: per player `i`, `n + 1` counts `m[i][s]` (those of size
/// `s` that contain `i`), then `n + 1` counts of all of them by size.
pub(crate) struct MinimalJob<'a> {
    pub(crate) t: &'a Thresholds,
    pub(crate) max_table_bytes: u128,
}

impl Job for MinimalJob<'_> {
    fn run<C: Cell>(&self) -> Result<Vec<C>, PowerError> {
        let t = self.t;
        let n = t.n;
        let theta = &t.theta;
        let width = n + 1;
        let mut out = vec![C::default(); width * (n + 1)];
        let total_at = n * width;
        if theta[0] == 0 {
            // The empty coalition wins: it is the only minimal winning coalition.
            out[total_at] = C::one();
            return Ok(out);
        }
        let cap = theta
            .iter()
            .copied()
            .filter(|&x| x < INF)
            .max()
            .unwrap_or(0);
        let bytes = (width as u128) * cap * (std::mem::size_of::<C>() as u128);
        if bytes > self.max_table_bytes {
            return Err(PowerError::TooLarge { bytes });
        }
        let cap = cap as usize;
        let order = heaviest_first(t);
        // table[k·cap + x − 1] = subsets of the players before ℓ with k members lighter than x.
        let mut table = vec![C::default(); width * cap];
        for v in table.iter_mut().take(cap) {
            *v = C::one();
        }
        let binom = (0..=n).map(binomials::<C>).collect::<Vec<_>>();
        let cum = |table: &[C], pre: usize, k: usize, x: u128| -> C {
            if k > pre || x == 0 {
                C::default()
            } else if x >= INF {
                binom[pre][k]
            } else {
                table[k * cap + x as usize - 1]
            }
        };
        // Subsets of the players before ℓ other than one of weight wi (pre ≥ 1 of them).
        let cum_without = |table: &[C], pre: usize, wi: u128, k: usize, x: u128| -> C {
            if k + 1 > pre || x == 0 {
                return C::default();
            }
            if x >= INF {
                return binom[pre - 1][k];
            }
            let mut acc = C::default();
            let mut x = x;
            for j in 0..=k {
                if x == 0 {
                    break;
                }
                let term = cum(table, pre, k - j, x);
                acc = if j % 2 == 0 {
                    acc.add(term)
                } else {
                    acc.sub(term)
                };
                x = x.saturating_sub(wi);
            }
            acc
        };

        for (pos, &l) in order.iter().enumerate() {
            let wl = t.weights[l];
            let mut distinct: BTreeMap<u128, Vec<usize>> = BTreeMap::new();
            for &i in &order[..pos] {
                distinct.entry(t.weights[i]).or_default().push(i);
            }
            for tt in 0..=pos {
                let s = tt + 1;
                if theta[s] >= INF {
                    continue;
                }
                let (lo, hi) = (theta[s].saturating_sub(wl), theta[tt]);
                if lo >= hi {
                    continue;
                }
                let count = cum(&table, pos, tt, hi).sub(cum(&table, pos, tt, lo));
                out[l * width + s] = out[l * width + s].add(count);
                out[total_at + s] = out[total_at + s].add(count);
                if tt == 0 {
                    continue;
                }
                for (&wi, members) in &distinct {
                    let (lo_i, hi_i) = (lo.saturating_sub(wi), sub_threshold(hi, wi));
                    if lo_i >= hi_i {
                        continue;
                    }
                    let c = cum_without(&table, pos, wi, tt - 1, hi_i).sub(cum_without(
                        &table,
                        pos,
                        wi,
                        tt - 1,
                        lo_i,
                    ));
                    for &i in members {
                        out[i * width + s] = out[i * width + s].add(c);
                    }
                }
            }
            // ℓ joins the players before the next one.
            if let Ok(w) = usize::try_from(wl) {
                if w < cap {
                    for k in (0..=pos).rev() {
                        let (head, tail) = table.split_at_mut((k + 1) * cap);
                        let src = &head[k * cap..k * cap + cap - w];
                        for (d, &v) in tail[w..cap].iter_mut().zip(src) {
                            *d = d.add(v);
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Swings by the number of swingers: per player `i`, `n + 1` counts `j[i][c]`, the winning
/// coalitions in which `i` is critical together with `c − 1` others.
pub(crate) struct JohnstonJob<'a> {
    pub(crate) t: &'a Thresholds,
    pub(crate) max_table_bytes: u128,
}

impl Job for JohnstonJob<'_> {
    fn run<C: Cell>(&self) -> Result<Vec<C>, PowerError> {
        let t = self.t;
        let n = t.n;
        let theta = &t.theta;
        let width = n + 1;
        let mut out = vec![C::default(); n * width];
        if n == 0 {
            return Ok(out);
        }
        let wmax = t.weights.iter().copied().max().unwrap_or(0);
        let q = theta.iter().copied().filter(|&x| x > 0 && x < INF).max();
        let finite_max = theta
            .iter()
            .copied()
            .filter(|&x| x < INF)
            .max()
            .unwrap_or(0);
        let top = q.map_or(finite_max, |q| q + wmax).max(finite_max);
        let cap = top.min(t.total) + 1;
        let layer = width * cap as usize;
        let bytes = (width as u128) * (layer as u128) * (std::mem::size_of::<C>() as u128);
        if bytes > self.max_table_bytes {
            return Err(PowerError::TooLarge { bytes });
        }
        let cap = cap as usize;
        // j[(c·width + s)·cap + x − 1]: coalitions with c tagged members, s members, weight < x.
        let at = |c: usize, s: usize| (c * width + s) * cap;
        let mut table = vec![C::default(); width * layer];
        for v in table[..cap].iter_mut() {
            *v = C::one();
        }
        let order = heaviest_first(t);
        for &j in &order {
            let w = t.weights[j] as usize;
            if w >= cap {
                continue;
            }
            for s in (0..n).rev() {
                let (head, tail) = table.split_at_mut(at(0, s + 1));
                let src = &head[at(0, s)..at(0, s) + cap - w];
                for (d, &v) in tail[w..cap].iter_mut().zip(src) {
                    *d = d.add(v);
                }
            }
        }
        let clamp = |x: u128| x.min(cap as u128) as usize;
        let cum = |table: &[C], c: usize, s: usize, x: u128| -> C {
            let x = clamp(x);
            if x == 0 {
                C::default()
            } else {
                table[at(c, s) + x - 1]
            }
        };
        // Coalitions without one tagged (or, with tagged = false, untagged) player of weight wi.
        let without = |table: &[C], tagged: bool, wi: u128, c: usize, s: usize, x: u128| -> C {
            let mut acc = C::default();
            let mut x = x;
            for k in 0..=s {
                if x == 0 || (tagged && k > c) {
                    break;
                }
                let term = cum(table, if tagged { c - k } else { c }, s - k, x);
                acc = if k % 2 == 0 {
                    acc.add(term)
                } else {
                    acc.sub(term)
                };
                x = x.saturating_sub(wi);
            }
            acc
        };
        let binom_rest = binomials::<C>(n - 1);

        // Every member critical: winning coalitions of s players whose (s−1)-subsets cannot win.
        let mut distinct: BTreeMap<u128, Vec<usize>> = BTreeMap::new();
        for i in 0..n {
            distinct.entry(t.weights[i]).or_default().push(i);
        }
        for s in 1..=n {
            if theta[s - 1] < INF || theta[s] >= INF {
                continue;
            }
            for (&wi, members) in &distinct {
                // U = S \ {i}: s − 1 others of weight ≥ θ(s) − wi.
                let x = theta[s].saturating_sub(wi);
                let c = binom_rest[s - 1].sub(without(&table, false, wi, 0, s - 1, x));
                for &i in members {
                    out[i * width + s] = out[i * width + s].add(c);
                }
            }
        }

        // Critical by weight: cut by cut.
        for (p, &j) in order.iter().enumerate() {
            // Tag player j: divide by (1 + y x^w), then multiply by (1 + y z x^w).
            let w = t.weights[j] as usize;
            if w < cap {
                for c in 0..=p {
                    for s in 1..=n {
                        let (head, tail) = table.split_at_mut(at(c, s));
                        let src = &head[at(c, s - 1)..at(c, s - 1) + cap - w];
                        for (d, &v) in tail[w..cap].iter_mut().zip(src) {
                            *d = d.sub(v);
                        }
                    }
                }
                for c in (0..=p).rev() {
                    for s in (0..n).rev() {
                        let (head, tail) = table.split_at_mut(at(c + 1, s + 1));
                        let src = &head[at(c, s)..at(c, s) + cap - w];
                        for (d, &v) in tail[w..cap].iter_mut().zip(src) {
                            *d = d.add(v);
                        }
                    }
                }
            } else {
                // Every coalition with j is at or above the cut: nothing is stored for it.
            }
            let tagged = p + 1;
            let wp = t.weights[j];
            let next = order.get(tagged).map(|&k| t.weights[k]);
            if next == Some(wp) {
                continue; // not a boundary between weights
            }
            let mut groups: BTreeMap<u128, Vec<usize>> = BTreeMap::new();
            for &i in &order[..tagged] {
                groups.entry(t.weights[i]).or_default().push(i);
            }
            for s in 1..=n {
                let qs = theta[s - 1];
                if qs == 0 || qs >= INF || theta[s] >= INF {
                    continue;
                }
                let lo = match next {
                    Some(wn) => theta[s].max(qs + wn),
                    None => theta[s],
                };
                let hi = qs + wp;
                if lo >= hi {
                    continue;
                }
                for (&wi, members) in &groups {
                    let (lo_i, hi_i) = (lo.saturating_sub(wi), hi.saturating_sub(wi));
                    for c in 1..=s.min(tagged) {
                        let count = without(&table, true, wi, c - 1, s - 1, hi_i).sub(without(
                            &table,
                            true,
                            wi,
                            c - 1,
                            s - 1,
                            lo_i,
                        ));
                        for &i in members {
                            out[i * width + c] = out[i * width + c].add(count);
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}
