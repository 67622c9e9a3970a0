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

/// The most analyses kept. An entry holds the weights and a few numbers per member and index
/// (about 5–7 MB at 100,000 members, estimated).
pub const CAPACITY: usize = 8;

type Analysis = Result<PowerIndices, PowerError>;

struct Entry {
    hash: u64,
    game: Game,
    options: Options,
    analysis: Arc<Analysis>,
}

/// A bounded list of analyses, most recently used last.
struct Cache {
    entries: Vec<Entry>,
    capacity: usize,
}

impl Cache {
    const fn new(capacity: usize) -> Self {
        Self {
            entries: Vec::new(),
            capacity,
        }
    }

    fn position(&self, hash: u64, game: &Game, options: &Options) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.hash == hash && e.options == *options && e.game == *game)
    }

    /// The analysis of `game` with `options`, if kept (and marks it as recently used).
    fn get(&mut self, hash: u64, game: &Game, options: &Options) -> Option<Arc<Analysis>> {
        let at = self.position(hash, game, options)?;
        let entry = self.entries.remove(at);
        let analysis = Arc::clone(&entry.analysis);
        self.entries.push(entry);
        Some(analysis)
    }

    /// Keeps `analysis`, dropping the least recently used analysis when full.
    fn put(&mut self, hash: u64, game: &Game, options: &Options, analysis: &Arc<Analysis>) {
        if self.position(hash, game, options).is_some() || self.capacity == 0 {
            return;
        }
        if self.entries.len() >= self.capacity {
            self.entries.remove(0);
        }
        self.entries.push(Entry {
            hash,
            game: game.clone(),
            options: *options,
            analysis: Arc::clone(analysis),
        });
    }

    /// [`analyse`] on this cache, under one borrow (for the tests of a private instance).
    #[cfg(test)]
    fn analyse(&mut self, game: &Game, options: &Options) -> Arc<Analysis> {
        let hash = key_hash(game);
        if let Some(hit) = self.get(hash, game, options) {
            return hit;
        }
        let analysis = Arc::new(power::analyse(game, options));
        self.put(hash, game, options, &analysis);
        analysis
    }
}

/// The policy's cache.
static CACHE: Mutex<Cache> = Mutex::new(Cache::new(CAPACITY));

fn cache() -> std::sync::MutexGuard<'static, Cache> {
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
    cache().get(key_hash(game), game, options)
}

/// [`power::analyse`], from the cache when the same game was analysed with the same options.
/// The analysis runs outside the lock: two threads asking at once may both compute it.
pub fn analyse(game: &Game, options: &Options) -> Arc<Analysis> {
    if let Some(hit) = lookup(game, options) {
        return hit;
    }
    let analysis = Arc::new(power::analyse(game, options));
    cache().put(key_hash(game), game, options, &analysis);
    analysis
}

/// Empties the cache (for benchmarks that time a first analysis).
pub fn clear() {
    cache().entries.clear();
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
        let mut cache = Cache::new(CAPACITY);
        let g = game(vec![9_101, 9_102, 9_103, 9_104], 18_000);
        let options = Options::default();
        let first = cache.analyse(&g, &options);
        assert_eq!(*first, power::analyse(&g, &options));
        let again = cache.analyse(&g, &options);
        assert!(Arc::ptr_eq(&first, &again), "the second call is a hit");
        let other_rule = game(g.weights.clone(), 27_000);
        assert!(
            cache
                .get(key_hash(&other_rule), &other_rule, &options)
                .is_none()
        );
        let other = cache.analyse(&other_rule, &options);
        assert!(!Arc::ptr_eq(&first, &other));
        assert_eq!(*other, power::analyse(&other_rule, &options));
        let fewer = Options {
            samples: 1_000,
            ..options
        };
        assert!(
            cache.get(key_hash(&g), &g, &fewer).is_none(),
            "the options are in the key"
        );
        // The shared cache answers the same.
        assert_eq!(*analyse(&g, &options), *first);
    }

    #[test]
    fn the_least_recently_used_analysis_is_dropped_first() {
        let mut cache = Cache::new(3);
        let options = Options::default();
        let games: Vec<Game> = (0..4u64)
            .map(|k| game(vec![7_000 + k, 7_100, 7_200], 14_000))
            .collect();
        let first = cache.analyse(&games[0], &options);
        cache.analyse(&games[1], &options);
        cache.analyse(&games[2], &options);
        // Using the first makes the second the least recently used.
        assert!(Arc::ptr_eq(&cache.analyse(&games[0], &options), &first));
        cache.analyse(&games[3], &options);
        assert_eq!(cache.entries.len(), 3);
        let kept = |g: &Game| cache.position(key_hash(g), g, &options).is_some();
        assert!(kept(&games[0]) && !kept(&games[1]) && kept(&games[2]) && kept(&games[3]));
    }
}
