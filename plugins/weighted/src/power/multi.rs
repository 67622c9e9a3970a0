//! Swings by coalition size and the winning count of a game with several weight vectors, by a
//! dynamic programme over the tuple of partial sums (one per vector) and the size.
//!
//! Guarantee: exact counts (in `u128` up to 127 players, big integers beyond) for any game the
//! [`Game::wins_with`] predicate describes. Each vector is divided by its gcd (and its quota
//! rounded up accordingly). The table `T[(w₁, …, w_d)][k]` counts the coalitions of the players
//! processed so far by partial sums and size; it is rebuilt once per distinct player (the
//! players with the same weights in every vector share it) over all the other players, so the
//! cost is `O(n² · states)` with `states` the number of distinct reachable sum tuples, refused
//! past the byte limit.

use std::collections::HashMap;

use num_bigint::BigUint;

use super::cells::{Cell, Job, exact};
use super::{ExactCounts, Game, PowerError, gcd};

struct Reduced {
    n: usize,
    /// Per player, its weight in each vector (divided by the vector's gcd).
    weights: Vec<Vec<u64>>,
    /// Per vector, the least reduced weight that passes its quota.
    quotas: Vec<u128>,
}

impl Reduced {
    fn new(game: &Game) -> Self {
        let n = game.players();
        let mut quotas = Vec::new();
        let mut vectors = Vec::new();
        let needs = std::iter::once(game.rule.quota_weight())
            .chain(game.criteria.iter().map(|c| c.quota_weight()));
        for (v, need) in game.vectors().zip(needs) {
            let g = v.iter().fold(0u64, |g, &w| gcd(g, w)).max(1);
            quotas.push(need.div_ceil(u128::from(g)));
            vectors.push(v.iter().map(|&w| w / g).collect::<Vec<u64>>());
        }
        let weights = (0..n)
            .map(|i| vectors.iter().map(|v| v[i]).collect())
            .collect();
        Self { n, weights, quotas }
    }
}

struct MultiJob<'a> {
    game: &'a Game,
    r: Reduced,
    max_table_bytes: u128,
}

impl MultiJob<'_> {
    /// The table over the given players: sum tuple (capped at each quota: any sum at or past
    /// the quota passes it) → counts by size.
    fn table<C: Cell>(&self, skip: Option<usize>) -> Result<HashMap<Vec<u64>, Vec<C>>, PowerError> {
        let n = self.r.n;
        let mut table: HashMap<Vec<u64>, Vec<C>> = HashMap::new();
        let mut empty = vec![C::default(); n + 1];
        empty[0] = C::one();
        table.insert(vec![0; self.r.quotas.len()], empty);
        for (i, w) in self.r.weights.iter().enumerate() {
            if Some(i) == skip {
                continue;
            }
            let mut next = table.clone();
            for (sums, counts) in &table {
                let key: Vec<u64> = sums
                    .iter()
                    .zip(w)
                    .zip(&self.r.quotas)
                    .map(|((&s, &x), &q)| (u128::from(s) + u128::from(x)).min(q) as u64)
                    .collect();
                let row = next.entry(key).or_insert_with(|| vec![C::default(); n + 1]);
                for k in 0..n {
                    row[k + 1] = row[k + 1].add(counts[k]);
                }
            }
            table = next;
            let bytes =
                (table.len() as u128) * ((n as u128 + 1) * std::mem::size_of::<C>() as u128 + 64);
            if bytes > self.max_table_bytes {
                return Err(PowerError::TooLarge { bytes });
            }
        }
        Ok(table)
    }

    fn wins(&self, size: usize, sums: &[u64]) -> bool {
        let n = self.r.n;
        if n.saturating_sub(size) < self.game.rule.min_blocking {
            return true;
        }
        size >= self.game.rule.min_members
            && sums
                .iter()
                .zip(&self.r.quotas)
                .all(|(&s, &q)| u128::from(s) >= q)
    }
}

impl Job for MultiJob<'_> {
    /// Layout: per player `n` counts `c[i][k]`, then the winning count.
    fn run<C: Cell>(&self) -> Result<Vec<C>, PowerError> {
        let n = self.r.n;
        let mut out = vec![C::default(); n * n + 1];
        let mut done: HashMap<&[u64], usize> = HashMap::new();
        for i in 0..n {
            let wi = &self.r.weights[i][..];
            if let Some(&j) = done.get(wi) {
                out.copy_within(j * n..(j + 1) * n, i * n);
                continue;
            }
            let table = self.table::<C>(Some(i))?;
            for (sums, counts) in &table {
                let with: Vec<u64> = sums
                    .iter()
                    .zip(wi)
                    .map(|(&s, &x)| s.saturating_add(x))
                    .collect();
                for k in 0..n {
                    if !self.wins(k, sums) && self.wins(k + 1, &with) {
                        out[i * n + k] = out[i * n + k].add(counts[k]);
                    }
                }
            }
            done.insert(wi, i);
        }
        let all = self.table::<C>(None)?;
        let mut winning = C::default();
        for (sums, counts) in &all {
            for (k, &c) in counts.iter().enumerate() {
                if self.wins(k, sums) {
                    winning = winning.add(c);
                }
            }
        }
        out[n * n] = winning;
        Ok(out)
    }
}

/// Swings by size (or, without `by_size`, the same: the table has the size dimension anyway)
/// and the winning count.
pub(crate) fn counts(
    game: &Game,
    _by_size: bool,
    max_table_bytes: u128,
) -> Result<ExactCounts, PowerError> {
    let n = game.players();
    let job = MultiJob {
        game,
        r: Reduced::new(game),
        max_table_bytes,
    };
    let mut flat = exact(&job, n as u32 + 1)?;
    let winning = flat.pop().unwrap_or_default();
    Ok(ExactCounts {
        swings_by_size: flat.chunks(n.max(1)).map(<[BigUint]>::to_vec).collect(),
        winning,
        minimal: None,
        johnston: None,
    })
}
