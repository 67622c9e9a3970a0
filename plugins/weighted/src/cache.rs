//! A small cache of power analyses, so that the same electorate under the same rule is analysed
//! once: the `weighted` policy decides every ballot of a proposal again, and the a-priori power
//! of its members does not change with the ballots.
//!
//! The key is everything [`power::analyse`] reads: the game (weights, quota, member quota,
//! blocking minority, further criteria) and the options (indices, method, samples, seed, limits).
//! A hash of the weights finds the candidates and the whole key is compared, so a hit is always
//! the analysis of the same game: a changed weight or rule is a different key, and nothing ever
//! has to be invalidated. At most [`CAPACITY`] analyses are kept, the least recently used is
//! dropped first. The analysis is deterministic (the Monte Carlo seed is in the options), so a
//! cached answer is exactly what computing it again would give.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use crate::power::{self, Game, Options, PowerError, PowerIndices};

/// The most analyses kept.
pub const CAPACITY: usize = 8;

type Analysis = Result<PowerIndices, PowerError>;

struct Entry {
    hash: u64,
    game: Game,
    options: Options,
    analysis: Arc<Analysis>,
}

/// Most recently used last.
static CACHE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

fn entries() -> std::sync::MutexGuard<'static, Vec<Entry>> {
    // A panic while holding the lock leaves the list consistent (pushes and removals only).
    CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn key_hash(game: &Game) -> u64 {
    let mut h = DefaultHasher::new();
    game.weights.hash(&mut h);
    game.rule.quota.hash(&mut h);
    game.criteria.len().hash(&mut h);
    for c in &game.criteria {
        c.weights.hash(&mut h);
        c.quota.hash(&mut h);
    }
    h.finish()
}

/// The cached analysis of `game` with `options`, if any (and marks it as recently used).
pub fn lookup(game: &Game, options: &Options) -> Option<Arc<Analysis>> {
    let hash = key_hash(game);
    let mut list = entries();
    let at = list
        .iter()
        .position(|e| e.hash == hash && e.options == *options && e.game == *game)?;
    let entry = list.remove(at);
    let analysis = Arc::clone(&entry.analysis);
    list.push(entry);
    Some(analysis)
}

/// [`power::analyse`], from the cache when the same game was analysed with the same options.
/// The analysis runs outside the lock: two threads asking at once may both compute it.
pub fn analyse(game: &Game, options: &Options) -> Arc<Analysis> {
    if let Some(hit) = lookup(game, options) {
        return hit;
    }
    let analysis = Arc::new(power::analyse(game, options));
    let hash = key_hash(game);
    let mut list = entries();
    if !list
        .iter()
        .any(|e| e.hash == hash && e.options == *options && e.game == *game)
    {
        if list.len() >= CAPACITY {
            list.remove(0);
        }
        list.push(Entry {
            hash,
            game: game.clone(),
            options: *options,
            analysis: Arc::clone(&analysis),
        });
    }
    analysis
}

/// Empties the cache (for benchmarks that time a first analysis, and for tests).
pub fn clear() {
    entries().clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::power::WinningRule;

    fn game(weights: Vec<u64>, quota: u64) -> Game {
        Game::new(
            weights,
            WinningRule {
                quota,
                strict: false,
                min_members: 1,
                min_blocking: 0,
            },
        )
    }

    #[test]
    fn the_same_game_is_analysed_once_and_another_rule_is_another_key() {
        // Weights no other test uses (the cache is shared by the tests of this crate).
        let g = game(vec![9_101, 9_102, 9_103, 9_104], 18_000);
        let options = Options::default();
        let first = analyse(&g, &options);
        assert_eq!(*first, power::analyse(&g, &options));
        let again = analyse(&g, &options);
        assert!(Arc::ptr_eq(&first, &again), "the second call is a hit");
        let other_rule = game(g.weights.clone(), 27_000);
        assert!(lookup(&other_rule, &options).is_none());
        let other = analyse(&other_rule, &options);
        assert!(!Arc::ptr_eq(&first, &other));
        assert_eq!(*other, power::analyse(&other_rule, &options));
        let fewer = Options {
            samples: 1_000,
            ..options
        };
        assert!(lookup(&g, &fewer).is_none(), "the options are in the key");
    }

    #[test]
    fn at_most_capacity_analyses_are_kept() {
        let options = Options::default();
        let games: Vec<Game> = (0..CAPACITY as u64 + 2)
            .map(|k| game(vec![7_000 + k, 7_100, 7_200], 14_000))
            .collect();
        for g in &games {
            analyse(g, &options);
        }
        assert!(entries().len() <= CAPACITY);
    }
}
