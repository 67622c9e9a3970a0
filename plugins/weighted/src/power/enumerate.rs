//! Every count by enumeration of the `2ⁿ` coalitions (in Gray-code order, one player joining or
//! leaving per step), for games with several criteria and few players.
//!
//! Guarantee: the counts are those of the definitions, for any game the [`Game::wins_with`]
//! predicate describes; the caller keeps `n` small (`2ⁿ·n` steps).

use num_bigint::BigUint;

use super::{ExactCounts, Game};

/// Swings by size, winning coalitions, minimal winning coalitions by size and swings by number
/// of swingers.
pub(crate) fn counts(game: &Game) -> ExactCounts {
    let n = game.players();
    assert!(n < 40, "enumeration of 2^{n} coalitions");
    let vectors: Vec<&[u64]> = game.vectors().collect();
    let d = vectors.len();
    let mut sums = vec![0u128; d];
    let mut scratch = vec![0u128; d];
    let mut member = vec![false; n];
    let mut size = 0usize;
    let mut swings = vec![vec![0u64; n.max(1)]; n];
    let mut minimal = vec![vec![0u64; n + 1]; n];
    let mut minimal_total = 0u64;
    let mut johnston = vec![vec![0u64; n + 1]; n];
    let mut winning = 0u64;
    let mut critical = Vec::with_capacity(n);
    for step in 0u64..1 << n {
        if step > 0 {
            let j = step.trailing_zeros() as usize;
            member[j] = !member[j];
            for (s, v) in sums.iter_mut().zip(&vectors) {
                if member[j] {
                    *s += u128::from(v[j]);
                } else {
                    *s -= u128::from(v[j]);
                }
            }
            if member[j] {
                size += 1;
            } else {
                size -= 1;
            }
        }
        if !game.wins_with(size, &sums) {
            continue;
        }
        winning += 1;
        critical.clear();
        for j in (0..n).filter(|&j| member[j]) {
            for ((t, s), v) in scratch.iter_mut().zip(&sums).zip(&vectors) {
                *t = s - u128::from(v[j]);
            }
            if !game.wins_with(size - 1, &scratch) {
                critical.push(j);
            }
        }
        let c = critical.len();
        for &j in &critical {
            swings[j][size - 1] += 1;
            johnston[j][c] += 1;
        }
        if c == size {
            minimal_total += 1;
            for &j in &critical {
                minimal[j][size] += 1;
            }
        }
    }
    let big = |rows: Vec<Vec<u64>>| -> Vec<Vec<BigUint>> {
        rows.into_iter()
            .map(|r| r.into_iter().map(BigUint::from).collect())
            .collect()
    };
    ExactCounts {
        swings_by_size: big(swings),
        winning: BigUint::from(winning),
        minimal: Some((big(minimal), BigUint::from(minimal_total))),
        johnston: Some(big(johnston)),
    }
}
