//! Public vectors (with the Deegan–Packel, Holler and Johnston values derived by hand below), a
//! brute-force oracle from the definitions, and property tests of every index and of rules with
//! several criteria against it.

use num_bigint::BigUint;
use num_traits::ToPrimitive;
use proptest::prelude::*;

use super::*;

const EPS: f64 = 1e-12;

fn close(actual: &[f64], expected: &[f64]) {
    assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
    for (a, e) in actual.iter().zip(expected) {
        assert!((a - e).abs() < EPS, "{actual:?} vs {expected:?}");
    }
}

fn all_exact(game: &Game) -> PowerIndices {
    analyse(
        game,
        &Options {
            method: MethodChoice::Exact,
            ..Options::default()
        },
    )
    .unwrap()
}

fn indices(weights: &[u64], quota: u64) -> PowerIndices {
    all_exact(&Game::weighted(weights.to_vec(), quota))
}

fn big(v: &[u64]) -> Vec<BigUint> {
    v.iter().map(|&x| BigUint::from(x)).collect()
}

fn values(e: &Option<Estimate>) -> &[f64] {
    e.as_ref().expect("computed")
}

/// EEC 1958 (France, Germany, Italy 4; Belgium, Netherlands 2; Luxembourg 1; quota 12 of 17).
///
/// Winning coalitions (14 of 64): the three big ones with any subset of the three small ones
/// (8), and two big ones with Belgium and the Netherlands, with or without Luxembourg (3 × 2).
///
/// Minimal winning: {F, D, I} (size 3) and {two big, B, N} (three of size 4): |M| = 4.
/// - Holler: F, D, I are in 3 each (FDI and two of the size-4 ones), B and N in 3, L in 0;
///   Σ = 15: ⅕ each for the five, 0 for L.
/// - Deegan–Packel: F gets 1/3 + 1/4 + 1/4 = 5/6, over |M| = 4: 5/24; B gets 3 × 1/4 = 3/4, over 4:
///   3/16; L 0 (3·5/24 + 2·3/16 = 1).
///
/// Johnston (1/number of swingers, per winning coalition):
/// - FDI, FDI+L, FDI+B, FDI+N, FDI+B+L, FDI+N+L: the three big ones are the only swingers: 1/3
///   each (6 coalitions).
/// - FDI+B+N, FDI+B+N+L: nobody is a swing (any one can leave).
/// - two big + B + N, with or without L: four swingers (L never is): 1/4 each (6 coalitions).
///
/// So F: 6·1/3 + 4·1/4 = 3 (likewise D, I), B: 6·1/4 = 3/2 (likewise N), L: 0; Σ = 12:
/// Johnston = 1/4, 1/4, 1/4, 1/8, 1/8, 0. Coleman: act 14/64; prevent = swings/14 (5/7, 3/7);
/// initiate = swings/50 (1/5, 3/25).
#[test]
fn eec_1958() {
    let p = indices(&[4, 4, 4, 2, 2, 1], 12);
    assert_eq!(p.swings, Some(big(&[10, 10, 10, 6, 6, 0])));
    close(
        &p.banzhaf,
        &[5. / 21., 5. / 21., 5. / 21., 1. / 7., 1. / 7., 0.],
    );
    close(
        &p.banzhaf_absolute,
        &[5. / 16., 5. / 16., 5. / 16., 3. / 16., 3. / 16., 0.],
    );
    let ss = [7. / 30., 7. / 30., 7. / 30., 3. / 20., 3. / 20., 0.];
    close(values(&p.shapley_shubik), &ss);
    close(values(&p.holler), &[0.2, 0.2, 0.2, 0.2, 0.2, 0.]);
    close(
        values(&p.deegan_packel),
        &[5. / 24., 5. / 24., 5. / 24., 3. / 16., 3. / 16., 0.],
    );
    close(values(&p.johnston), &[0.25, 0.25, 0.25, 0.125, 0.125, 0.]);
    close(
        &p.coleman_prevent,
        &[5. / 7., 5. / 7., 5. / 7., 3. / 7., 3. / 7., 0.],
    );
    close(
        &p.coleman_initiate,
        &[0.2, 0.2, 0.2, 3. / 25., 3. / 25., 0.],
    );
    assert_eq!(p.winning_coalitions, Some(BigUint::from(14u32)));
    assert_eq!(p.minimal_winning_coalitions, Some(BigUint::from(4u32)));
    assert_eq!(p.coleman_power, 14. / 64.);
    assert_eq!(p.dummies, Some(vec![5]));
    assert_eq!(p.dictator, None);
    assert!(p.veto_players.is_empty());
    for e in [&p.banzhaf, values_estimate(&p.shapley_shubik)] {
        assert_eq!(e.method, Method::Exact);
    }

    // The dual game has the same Banzhaf and Shapley–Shubik indices.
    let dual = indices(&[4, 4, 4, 2, 2, 1], 6);
    close(&dual.banzhaf, &p.banzhaf);
    close(values(&dual.shapley_shubik), &ss);

    let b = banzhaf_indices(&Game::weighted(vec![4, 4, 4, 2, 2, 1], 12)).unwrap();
    assert_eq!(b.swings, p.swings);
    assert_eq!(b.winning_coalitions, Some(BigUint::from(14u32)));
    assert_eq!(b.shapley_shubik, None);
    assert_eq!(b.deegan_packel, None);
}

fn values_estimate(e: &Option<Estimate>) -> &Estimate {
    e.as_ref().unwrap()
}

/// 4, 3, 2, 1 at 6 (players A, B, C, D). Winning: AB, AC, ABC, ABD, ACD, ABCD, BCD.
/// Minimal winning: AB, AC, BCD. Holler: A 2, B 2, C 2, D 1 of 7. Deegan–Packel: A ½ + ½ = 1,
/// B ½ + ⅓ = 5/6, C 5/6, D ⅓, over 3: 1/3, 5/18, 5/18, 1/9. Johnston: AB, AC (two swingers
/// each: ½), ABC (A alone: 1), ABD (A, B: ½), ACD (A, C: ½), ABCD (none), BCD (⅓ each): A 3,
/// B 4/3, C 4/3, D 1/3 of 6: 1/2, 2/9, 2/9, 1/18.
#[test]
fn four_three_two_one() {
    let p = indices(&[4, 3, 2, 1], 6);
    let expected = [5. / 12., 1. / 4., 1. / 4., 1. / 12.];
    close(&p.banzhaf, &expected);
    close(values(&p.shapley_shubik), &expected);
    close(values(&p.holler), &[2. / 7., 2. / 7., 2. / 7., 1. / 7.]);
    close(
        values(&p.deegan_packel),
        &[1. / 3., 5. / 18., 5. / 18., 1. / 9.],
    );
    close(values(&p.johnston), &[0.5, 2. / 9., 2. / 9., 1. / 18.]);
    assert_eq!(p.minimal_winning_coalitions, Some(BigUint::from(3u32)));

    let p = indices(&[3, 2, 1, 1], 4);
    close(values(&p.shapley_shubik), &[0.5, 1. / 6., 1. / 6., 1. / 6.]);
}

/// 50, 30, 20 at 40 (improper: {A} and {B, C} both win). Minimal winning: {A}, {B, C}: Holler
/// ⅓ each, Deegan–Packel (1, ½, ½)/2. Johnston: A (1), AB and AC (A alone: 1 each), ABC (none),
/// BC (½ each): 3, ½, ½ of 4.
#[test]
fn improper_quota() {
    let p = indices(&[50, 30, 20], 40);
    close(&p.banzhaf, &[0.6, 0.2, 0.2]);
    close(values(&p.shapley_shubik), &[2. / 3., 1. / 6., 1. / 6.]);
    close(values(&p.holler), &[1. / 3., 1. / 3., 1. / 3.]);
    close(values(&p.deegan_packel), &[0.5, 0.25, 0.25]);
    close(values(&p.johnston), &[0.75, 0.125, 0.125]);
    assert_eq!(p.winning_coalitions, Some(BigUint::from(5u32)));
    let b = banzhaf_indices(&Game::weighted(vec![50, 30, 20], 40)).unwrap();
    close(&b.banzhaf, &[0.6, 0.2, 0.2]);
}

/// A dictator has every index; 50, 50 at 51 needs both (one minimal winning coalition).
#[test]
fn dictator_and_veto_players() {
    for (weights, quota) in [(vec![60, 30, 10], 51), (vec![51, 49], 51)] {
        let p = indices(&weights, quota);
        let mut one = vec![0.; weights.len()];
        one[0] = 1.;
        for index in [
            &p.banzhaf.values,
            values(&p.shapley_shubik),
            values(&p.deegan_packel),
            values(&p.holler),
            values(&p.johnston),
            &p.coleman_prevent.values,
            &p.coleman_initiate.values,
        ] {
            close(index, &one);
        }
        assert_eq!(p.dictator, Some(0));
        assert_eq!(p.veto_players, vec![0]);
        assert_eq!(p.coleman_power, 0.5);
    }
    let p = indices(&[60, 30, 10], 51);
    assert_eq!(p.dummies, Some(vec![1, 2]));

    let p = indices(&[50, 50], 51);
    for index in [
        &p.banzhaf.values,
        values(&p.shapley_shubik),
        values(&p.deegan_packel),
        values(&p.holler),
        values(&p.johnston),
    ] {
        close(index, &[0.5, 0.5]);
    }
    close(&p.coleman_prevent, &[1., 1.]);
    close(&p.coleman_initiate, &[1. / 3., 1. / 3.]);
    assert_eq!(p.dictator, None);
    assert_eq!(p.veto_players, vec![0, 1]);
    assert_eq!(p.winning_coalitions, Some(BigUint::from(1u32)));
}

#[test]
fn degenerate_games() {
    // Nobody can win: every player is (vacuously) a veto player and a dummy.
    let p = indices(&[1, 2], 10);
    assert_eq!(p.winning_coalitions, Some(BigUint::from(0u32)));
    assert_eq!(p.swings, Some(big(&[0, 0])));
    assert_eq!(p.banzhaf.values, vec![0., 0.]);
    assert_eq!(p.veto_players, vec![0, 1]);
    assert_eq!(p.minimal_winning_coalitions, Some(BigUint::from(0u32)));
    // Everybody wins, even the empty coalition (the only minimal winning coalition).
    let p = indices(&[1, 2], 0);
    assert_eq!(p.winning_coalitions, Some(BigUint::from(4u32)));
    assert_eq!(p.dummies, Some(vec![0, 1]));
    assert_eq!(p.minimal_winning_coalitions, Some(BigUint::from(1u32)));
    close(values(&p.holler), &[0., 0.]);
    // No players.
    let p = indices(&[], 1);
    assert_eq!(p.winning_coalitions, Some(BigUint::from(0u32)));
    assert_eq!(p.swings, Some(Vec::new()));
    // Weights with a common factor and zero weights.
    let p = indices(&[0, 40, 20, 0], 50);
    assert_eq!(p.swings, Some(big(&[0, 4, 4, 0])));
    assert_eq!(p.winning_coalitions, Some(BigUint::from(4u32)));
    // Strict quota.
    let rule = WinningRule {
        quota: 6,
        strict: true,
        ..WinningRule::default()
    };
    let p = all_exact(&Game::new(vec![4, 3, 2, 1], rule));
    assert_eq!(p.swings, indices(&[4, 3, 2, 1], 7).swings);
    // A criterion of the wrong length.
    let game = Game::weighted(vec![1, 2], 2).with_criterion(Criterion::new(vec![1], 1));
    assert!(matches!(
        analyse(&game, &Options::default()),
        Err(PowerError::Mismatch { .. })
    ));
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
    check_against_oracle(&game);
    // The three big ones cannot block alone (they are fewer than four), so the three small
    // ones win with 15% of the weight…
    assert!(game.wins([3, 4, 5]));
    // …while two big ones (60%, two members) lose, and with two small ones (70%, four
    // members) win.
    assert!(!game.wins([0, 1]));
    assert!(game.wins([0, 1, 3, 4]));
}

/// The EU Council's rule as two criteria (55% of members as a head count vector, 65% of
/// population) with the blocking minority, against a single-vector rule with a member quota.
#[test]
fn several_criteria_agree_with_a_member_quota() {
    let population = vec![84, 68, 59, 48, 38, 19, 18, 11, 10, 10, 10, 9];
    let n = population.len() as u64;
    let total: u64 = population.iter().sum();
    let quota = (total * 65).div_ceil(100);
    let members = (n * 55).div_ceil(100);
    let as_rule = Game::new(
        population.clone(),
        WinningRule {
            quota,
            strict: false,
            min_members: members as usize,
            min_blocking: 4,
        },
    );
    let as_criteria = Game::new(
        population,
        WinningRule {
            quota,
            min_blocking: 4,
            ..WinningRule::default()
        },
    )
    .with_criterion(Criterion::new(vec![1; n as usize], members));
    let a = all_exact(&as_rule);
    let b = all_exact(&as_criteria);
    assert_eq!(a.swings, b.swings);
    assert_eq!(a.winning_coalitions, b.winning_coalitions);
    assert_eq!(a.minimal_winning_coalitions, b.minimal_winning_coalitions);
    for (x, y) in [
        (&a.shapley_shubik, &b.shapley_shubik),
        (&a.deegan_packel, &b.deegan_packel),
        (&a.holler, &b.holler),
        (&a.johnston, &b.johnston),
    ] {
        close(values(x), values(y));
    }
    // The tuple-state programme (no enumeration) gives the same Shapley–Shubik.
    let ss_only = analyse(
        &as_criteria,
        &Options {
            indices: IndexSet {
                shapley_shubik: true,
                ..IndexSet::BANZHAF
            },
            method: MethodChoice::Exact,
            ..Options::default()
        },
    )
    .unwrap();
    close(values(&ss_only.shapley_shubik), values(&a.shapley_shubik));
    check_against_oracle(&as_criteria);
}

#[test]
fn too_many_players_and_too_large_tables_are_refused_or_estimated() {
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
    // Auto falls back to sampling, and says so.
    let p = analyse(&huge, &Options::default()).unwrap();
    assert!(!p.banzhaf.method.is_exact());
    assert!(p.swings.is_none());
    // Several criteria and too many players to enumerate: no exact Deegan–Packel.
    let game = Game::weighted(vec![1; 30], 16).with_criterion(Criterion::new(vec![2; 30], 20));
    assert_eq!(
        analyse(
            &game,
            &Options {
                method: MethodChoice::Exact,
                ..Options::default()
            }
        )
        .unwrap_err(),
        PowerError::NotExact("Deegan–Packel and Holler")
    );
    let p = analyse(&game, &Options::default()).unwrap();
    assert!(p.banzhaf.method.is_exact());
    assert!(p.deegan_packel.is_none());
    assert!(!values_estimate(&p.johnston).method.is_exact());
}

fn binomial(n: usize, k: usize) -> BigUint {
    let mut b = BigUint::from(1u32);
    for j in 0..k {
        b = b * BigUint::from(n - j) / BigUint::from(j + 1);
    }
    b
}

#[test]
fn many_players_use_wide_counts() {
    // Equal players, simple majority: each swings in C(n−1, ⌊n/2⌋) coalitions and has
    // Shapley–Shubik 1/n, past 64, 128 and 192 bits.
    for n in [33, 34, 67, 100, 130, 190, 257] {
        let p = power_indices(&Game::weighted(vec![1; n], n as u64 / 2 + 1)).unwrap();
        let c = binomial(n - 1, n / 2);
        assert!(p.swings.as_ref().unwrap().iter().all(|s| *s == c), "{n}");
        let ss = values(&p.shapley_shubik);
        assert!(ss.iter().all(|&x| (x - 1. / n as f64).abs() < EPS), "{n}");
        let b = banzhaf_indices(&Game::weighted(vec![1; n], n as u64 / 2 + 1)).unwrap();
        assert_eq!(b.swings, p.swings);
        let expected = ratio(&c, &(BigUint::from(1u32) << (n - 1)));
        assert_eq!(p.banzhaf_absolute[0], expected);
    }
    // 150 players with weights 1 to 10: the two methods agree, S-S sums to 1.
    let weights: Vec<u64> = (0..150).map(|i| 1 + i % 10).collect();
    let game = Game::weighted(weights, 825 * 2 / 3);
    let p = power_indices(&game).unwrap();
    let b = banzhaf_indices(&game).unwrap();
    assert_eq!(p.swings, b.swings);
    assert_eq!(p.winning_coalitions, b.winning_coalitions);
    let sum: f64 = values(&p.shapley_shubik).iter().sum();
    assert!((sum - 1.0).abs() < 1e-9, "{sum}");
}

#[test]
fn dynamic_programmes_agree_with_each_other_on_medium_games() {
    let mut rng = sampling::SplitMix::new(7);
    for _ in 0..3 {
        let n = 24 + (rng.next_u64() % 8) as usize;
        let weights: Vec<u64> = (0..n).map(|_| rng.next_u64() % 40).collect();
        let total: u64 = weights.iter().sum();
        let quota = total / 2 + rng.next_u64() % (total / 2 + 1);
        let game = Game::weighted(weights, quota);
        let p = all_exact(&game);
        let b = banzhaf_indices(&game).unwrap();
        assert_eq!(p.swings, b.swings, "{game:?}");
        for index in [&p.shapley_shubik, &p.deegan_packel, &p.holler, &p.johnston] {
            let sum: f64 = values(index).iter().sum();
            assert!((sum - 1.0).abs() < 1e-9, "{sum} {game:?}");
        }
        // Johnston's swings by number of swingers add up to the swings.
        // (Checked through the normalisation above and against the oracle in the properties.)
    }
}

#[test]
fn monte_carlo_estimates_are_within_their_error_bounds() {
    let game = Game::weighted(vec![9, 8, 7, 6, 5, 4, 3, 2, 1, 1, 1, 1], 30);
    let exact = all_exact(&game);
    let options = Options {
        method: MethodChoice::MonteCarlo,
        samples: 40_000,
        seed: 11,
        ..Options::default()
    };
    let mc = analyse(&game, &options).unwrap();
    let Method::MonteCarlo {
        samples,
        hoeffding_95,
        ..
    } = mc.banzhaf.method
    else {
        panic!("not sampled")
    };
    assert_eq!(samples, 40_000);
    assert!((hoeffding_95 - (40f64.ln() / 80_000.0).sqrt()).abs() < 1e-15);
    for (estimate, truth) in [
        (&mc.banzhaf_absolute, &exact.banzhaf_absolute.values),
        (
            values_estimate(&mc.shapley_shubik),
            values(&exact.shapley_shubik).to_vec().as_ref(),
        ),
    ] {
        for i in 0..game.players() {
            let err = (estimate[i] - truth[i]).abs();
            assert!(err <= hoeffding_95, "{i}: {err} > {hoeffding_95}");
            assert!(err <= 5.0 * estimate.standard_errors[i] + 1e-3, "{i}");
        }
    }
    for i in 0..game.players() {
        assert!((mc.johnston.as_ref().unwrap()[i] - values(&exact.johnston)[i]).abs() < 0.02);
        assert!((mc.banzhaf[i] - exact.banzhaf[i]).abs() < 0.02);
    }
    assert!((mc.coleman_power - exact.coleman_power).abs() < hoeffding_95);
    assert!(mc.deegan_packel.is_none() && mc.holler.is_none());
    // Deterministic for a seed.
    assert_eq!(analyse(&game, &options).unwrap(), mc);
}

/// An IMF-like board: 190 members, the largest ~16.5% of ~5 million votes, 85% supermajority.
fn imf_like() -> Game {
    let mut rng = sampling::SplitMix::new(2024);
    let mut weights = vec![
        831_407u64, 309_670, 265_995, 220_000, 200_000, 190_000, 150_000,
    ];
    while weights.len() < 190 {
        // Basic votes plus a heavy-tailed quota share.
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        weights.push(1_450 + (65_000.0 * u.powi(4) + 2_000.0 * u) as u64);
    }
    let total: u64 = weights.iter().sum();
    Game::weighted(weights, (total * 85).div_ceil(100))
}

#[test]
fn imf_like_board_banzhaf_is_exact_and_the_us_holds_a_veto() {
    // In hundreds of votes, to keep the unoptimised test quick (the example times the full one).
    let full = imf_like();
    let game = Game::weighted(
        full.weights.iter().map(|w| w / 100).collect(),
        full.rule.quota / 100,
    );
    let share = game.weights[0] as f64 / game.total_weight() as f64;
    assert!(share > 0.15 && share < 0.2, "{share}");
    let p = analyse(
        &game,
        &Options {
            indices: IndexSet::BANZHAF,
            ..Options::default()
        },
    )
    .unwrap();
    assert!(p.banzhaf.method.is_exact());
    assert_eq!(p.veto_players, vec![0]);
    assert!(p.banzhaf[0] > p.banzhaf[1]);
    let sum: f64 = p.banzhaf.iter().sum();
    assert!((sum - 1.0).abs() < 1e-9);
}

// ---------------------------------------------------------------------------------------------
// The oracle: every index from its definition, over all 2ⁿ coalitions.

struct Oracle {
    swings: Vec<u64>,
    shapley: Vec<f64>,
    winning: u64,
    minimal: u64,
    deegan_packel: Vec<f64>,
    holler: Vec<f64>,
    johnston: Vec<f64>,
    veto: Vec<usize>,
    dictator: Option<usize>,
}

fn factorial(n: usize) -> f64 {
    (1..=n).map(|k| k as f64).product()
}

fn oracle(game: &Game) -> Oracle {
    let n = game.players();
    let members = |mask: u32| (0..n).filter(move |&i| mask >> i & 1 == 1);
    let vectors: Vec<&[u64]> = std::iter::once(&game.weights[..])
        .chain(game.criteria.iter().map(|c| &c.weights[..]))
        .collect();
    let wins = |mask: u32| {
        let mut sums = [0u128; 4];
        for i in members(mask) {
            for (s, v) in sums.iter_mut().zip(&vectors) {
                *s += u128::from(v[i]);
            }
        }
        game.wins_with(mask.count_ones() as usize, &sums[..vectors.len()])
    };
    let mut o = Oracle {
        swings: vec![0; n],
        shapley: vec![0.; n],
        winning: 0,
        minimal: 0,
        deegan_packel: vec![0.; n],
        holler: vec![0.; n],
        johnston: vec![0.; n],
        veto: Vec::new(),
        dictator: None,
    };
    let mut in_minimal = vec![0u64; n];
    let mut dp_raw = vec![0f64; n];
    let all = if n == 32 { u32::MAX } else { (1u32 << n) - 1 };
    for mask in 0..=all {
        if !wins(mask) {
            continue;
        }
        o.winning += 1;
        let size = mask.count_ones() as usize;
        let critical: Vec<usize> = members(mask).filter(|&i| !wins(mask & !(1 << i))).collect();
        for &i in &critical {
            o.swings[i] += 1;
            o.shapley[i] += factorial(size - 1) * factorial(n - size) / factorial(n);
            o.johnston[i] += 1.0 / critical.len() as f64;
        }
        if critical.len() == size {
            o.minimal += 1;
            for &i in &critical {
                in_minimal[i] += 1;
                dp_raw[i] += 1.0 / size as f64;
            }
        }
    }
    let norm = |v: &mut Vec<f64>| {
        let t: f64 = v.iter().sum();
        v.iter_mut()
            .for_each(|x| *x = if t > 0. { *x / t } else { 0. });
    };
    norm(&mut o.johnston);
    o.holler = in_minimal.iter().map(|&m| m as f64).collect();
    norm(&mut o.holler);
    o.deegan_packel = dp_raw
        .iter()
        .map(|&x| {
            if o.minimal > 0 {
                x / o.minimal as f64
            } else {
                0.
            }
        })
        .collect();
    o.veto = (0..n)
        .filter(|&i| (0..=all).all(|m| !wins(m) || m >> i & 1 == 1))
        .collect();
    o.dictator = o.veto.iter().copied().find(|&i| wins(1 << i));
    o
}

fn check_close(name: &str, actual: &[f64], expected: &[f64], game: &Game) {
    assert_eq!(actual.len(), expected.len());
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() < 1e-9,
            "{name}[{i}]: {a} vs {e}\n{actual:?}\n{expected:?}\n{game:?}"
        );
    }
}

fn check_against_oracle(game: &Game) {
    let o = oracle(game);
    let p = all_exact(game);
    let n = game.players();
    let swings: Vec<u64> = p
        .swings
        .as_ref()
        .unwrap()
        .iter()
        .map(|s| s.to_u64().unwrap())
        .collect();
    assert_eq!(swings, o.swings, "{game:?}");
    assert_eq!(
        p.winning_coalitions,
        Some(BigUint::from(o.winning)),
        "{game:?}"
    );
    assert_eq!(
        p.minimal_winning_coalitions,
        Some(BigUint::from(o.minimal)),
        "{game:?}"
    );
    assert_eq!(p.veto_players, o.veto, "{game:?}");
    assert_eq!(p.dictator, o.dictator, "{game:?}");
    let dummies: Vec<usize> = (0..n).filter(|&i| o.swings[i] == 0).collect();
    assert_eq!(p.dummies, Some(dummies), "{game:?}");
    let total: u64 = o.swings.iter().sum();
    let banzhaf: Vec<f64> = o
        .swings
        .iter()
        .map(|&s| {
            if total > 0 {
                s as f64 / total as f64
            } else {
                0.
            }
        })
        .collect();
    check_close("banzhaf", &p.banzhaf, &banzhaf, game);
    let absolute: Vec<f64> = o
        .swings
        .iter()
        .map(|&s| s as f64 / 2f64.powi(n as i32 - 1))
        .collect();
    check_close("absolute", &p.banzhaf_absolute, &absolute, game);
    let losing = 2f64.powi(n as i32) - o.winning as f64;
    let prevent: Vec<f64> = o
        .swings
        .iter()
        .map(|&s| {
            if o.winning > 0 {
                s as f64 / o.winning as f64
            } else {
                0.
            }
        })
        .collect();
    let initiate: Vec<f64> = o
        .swings
        .iter()
        .map(|&s| if losing > 0. { s as f64 / losing } else { 0. })
        .collect();
    check_close("prevent", &p.coleman_prevent, &prevent, game);
    check_close("initiate", &p.coleman_initiate, &initiate, game);
    assert!((p.coleman_power - o.winning as f64 / 2f64.powi(n as i32)).abs() < EPS);
    check_close("shapley", values(&p.shapley_shubik), &o.shapley, game);
    check_close(
        "deegan_packel",
        values(&p.deegan_packel),
        &o.deegan_packel,
        game,
    );
    check_close("holler", values(&p.holler), &o.holler, game);
    check_close("johnston", values(&p.johnston), &o.johnston, game);
    for index in [&p.shapley_shubik, &p.deegan_packel, &p.holler, &p.johnston] {
        assert!(values_estimate(index).method.is_exact());
    }
    // Banzhaf alone (the weight-only table where the rule allows) agrees.
    let b = banzhaf_indices(game).unwrap();
    assert_eq!(b.swings, p.swings, "banzhaf_indices {game:?}");
    assert_eq!(b.winning_coalitions, p.winning_coalitions);
    // With several criteria, the tuple-state programme (no enumeration) agrees too.
    if !game.criteria.is_empty() {
        let s = power_indices(game).unwrap();
        assert_eq!(s.swings, p.swings, "tuple states {game:?}");
        check_close(
            "shapley (tuple states)",
            values(&s.shapley_shubik),
            &o.shapley,
            game,
        );
    }
}

/// Shapley–Shubik by counting pivots over all n! orderings (a second definition).
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
            if !game.wins(order[..pos].iter().copied()) && game.wins(order[..=pos].iter().copied())
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

/// Random games: `n` players, up to `extra` further criteria, weights up to `max_weight`, and
/// random quotas (including unreachable and zero ones), strictness, member quota and blocking
/// minority.
fn games(max_players: usize, extra: usize) -> impl Strategy<Value = Game> {
    (
        1..=max_players,
        0..=extra,
        prop::sample::select(vec![1u64, 3, 10, 100, 5000]),
    )
        .prop_flat_map(|(n, criteria, max_weight)| {
            let vector = prop::collection::vec(0..=max_weight, n);
            (
                prop::collection::vec(vector, 1 + criteria),
                prop::collection::vec((0.0..1.1f64, prop::bool::weighted(0.25)), 1 + criteria),
                prop::option::of(0..=n + 1),
                prop::option::of(0..=n + 1),
            )
        })
        .prop_map(|(vectors, quotas, min_members, min_blocking)| {
            let quota = |v: &[u64], share: f64| (v.iter().sum::<u64>() as f64 * share) as u64;
            let mut vectors = vectors.into_iter();
            let first = vectors.next().unwrap();
            let rule = WinningRule {
                quota: quota(&first, quotas[0].0),
                strict: quotas[0].1,
                min_members: min_members.unwrap_or(0),
                min_blocking: min_blocking.unwrap_or(0),
            };
            let mut game = Game::new(first, rule);
            for (v, &(share, strict)) in vectors.zip(&quotas[1..]) {
                game = game.with_criterion(Criterion {
                    quota: quota(&v, share),
                    weights: v,
                    strict,
                });
            }
            game
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// One weight vector, up to 10 players: every index, and Shapley–Shubik by orderings.
    #[test]
    fn every_index_matches_the_definitions_on_small_games(game in games(10, 0)) {
        check_against_oracle(&game);
        if game.players() <= 6 {
            let p = power_indices(&game).unwrap();
            check_close("orderings", values(&p.shapley_shubik), &shapley_by_orderings(&game), &game);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Up to three criteria, up to 10 players.
    #[test]
    fn several_criteria_match_the_definitions(game in games(10, 2)) {
        check_against_oracle(&game);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Up to 20 players, one or two weight vectors.
    #[test]
    fn every_index_matches_the_definitions_up_to_twenty_players(game in games(20, 1)) {
        check_against_oracle(&game);
    }
}
