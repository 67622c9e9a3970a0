//! Influence dynamics on positions, free of any protocol type: DeGroot averaging, the
//! Friedkin–Johnsen model, and the lead-nation network the `pressure` policy builds from
//! measurable ties.
//!
//! Guarantee: every equilibrium is computed in closed form by solving a linear system (Gaussian
//! elimination with partial pivoting, no iteration to a tolerance); a singular system is an
//! error, never a silent guess.
//!
//! # DeGroot
//!
//! `x(t+1) = W x(t)` with `W` row-stochastic. When the chain is irreducible and aperiodic the
//! positions reach consensus `πᵀ x(0)`, where the *social power* `π` is the left unit
//! eigenvector: `πᵀ W = πᵀ`, `Σ π = 1` ([`social_power`] solves `(Wᵀ − I) π = 0` with one
//! equation replaced by `Σ π = 1`).
//!
//! # Friedkin–Johnsen
//!
//! `x(t+1) = Λ W x(t) + (I − Λ) x(0)`, with `Λ = diag(λ_i)`, `λ_i ∈ [0, 1]` the susceptibility
//! (1: pliable, 0: stubborn). When `ΛW` has spectral radius below 1 the positions converge to
//! `x* = (I − ΛW)⁻¹ (I − Λ) x(0)` ([`friedkin_johnsen`]).
//!
//! # The lead-nation network ([`LeadNetwork`])
//!
//! The lead `L` is fully stubborn (`λ_L = 0`, row `e_L`). Every other member `i` listens to the
//! lead with influence weight `w_i = min(1, pressure · tie_i)` and to itself with `1 − w_i`:
//! row `i` of `W` is `(1 − w_i) e_i + w_i e_L`. `tie_i ∈ [0, 1]` is the member's measurable
//! dependence on the lead (the pressure policy's documented susceptibility: US troops hosted
//! relative to own forces, gap to the 2 % spending target, economic size next to the lead).
//! Its susceptibility is `λ_i = 1 − σ_i`, where the salience `σ_i` of the issue to it is its
//! stubbornness. Then `x_L* = x_L(0)` and, solving row `i`,
//!
//! ```text
//! x_i* = (1 − α_i) x_i(0) + α_i x_L,   α_i = λ_i w_i / (1 − λ_i + λ_i w_i)   (α_i = 0 if w_i = 0)
//! ```
//!
//! (a member with `w_i = 0` keeps its position; the system takes its `λ_i` as 0, which gives the
//! same trajectory and keeps `I − ΛW` regular when `σ_i = 0`), so a member moves along the
//! segment towards the lead, at most `α_i = λ_i` of the way (at
//! `w_i = 1`): a member with salience `σ_i` keeps at least `σ_i` of its distance whatever the
//! pressure. The policy solves the full system; the closed form is what makes the *smallest
//! pressure* exact: member `i` accepts the tabled value `T` iff `|x_i* − T| ≤ d`, a condition
//! on `α_i` that is an interval, hence (since `α_i` increases with `w_i`, and `w_i` with the
//! pressure until it saturates at `pressure = 1/tie_i`) an interval of pressures. The smallest
//! pressure at which nobody blocks is the lower end of the intersection of every member's
//! interval, when it is not empty.

/// A system the model cannot solve, or values outside their ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InfluenceError(pub String);

impl std::fmt::Display for InfluenceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InfluenceError {}

fn err<T>(reason: impl Into<String>) -> Result<T, InfluenceError> {
    Err(InfluenceError(reason.into()))
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting. `a` is `n × n`, row-major.
pub fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Result<Vec<f64>, InfluenceError> {
    let n = b.len();
    if a.len() != n || a.iter().any(|row| row.len() != n) {
        return err("the system is not square");
    }
    let scale = a
        .iter()
        .flatten()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(f64::MIN_POSITIVE);
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&p, &q| a[p][col].abs().total_cmp(&a[q][col].abs()))
            .unwrap_or(col);
        let magnitude = a[pivot][col].abs();
        if magnitude.is_nan() || magnitude <= 1e-12 * scale {
            return err("the system is singular: no unique equilibrium");
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..n {
            let factor = a[row][col] / a[col][col];
            if factor != 0.0 {
                let (top, bottom) = a.split_at_mut(row);
                for (target, source) in bottom[0][col..].iter_mut().zip(&top[col][col..]) {
                    *target -= factor * source;
                }
                b[row] -= factor * b[col];
            }
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let tail: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - tail) / a[row][row];
    }
    Ok(x)
}

/// Checks that `w` is square and row-stochastic (entries ≥ 0, rows summing to 1 within 10⁻⁹).
pub fn check_stochastic(w: &[Vec<f64>]) -> Result<(), InfluenceError> {
    let n = w.len();
    for (i, row) in w.iter().enumerate() {
        if row.len() != n {
            return err(format!("row {i} has {} entries, not {n}", row.len()));
        }
        if row.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
            return err(format!(
                "row {i} has an entry that is negative or not finite"
            ));
        }
        let sum: f64 = row.iter().sum();
        if (sum - 1.0).abs() > 1e-9 {
            return err(format!("row {i} sums to {sum}, not 1"));
        }
    }
    Ok(())
}

/// DeGroot social power: the left unit eigenvector `π` of `w` (`πᵀ w = πᵀ`, `Σ π = 1`).
pub fn social_power(w: &[Vec<f64>]) -> Result<Vec<f64>, InfluenceError> {
    check_stochastic(w)?;
    let n = w.len();
    if n == 0 {
        return err("no actor");
    }
    // Rows of (Wᵀ − I), the last replaced by Σ π = 1.
    let mut a: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| w[j][i] - if i == j { 1.0 } else { 0.0 })
                .collect()
        })
        .collect();
    a[n - 1] = vec![1.0; n];
    let mut b = vec![0.0; n];
    b[n - 1] = 1.0;
    solve(a, b)
}

/// The DeGroot consensus `πᵀ x(0)`.
pub fn degroot_consensus(w: &[Vec<f64>], x0: &[f64]) -> Result<f64, InfluenceError> {
    if x0.len() != w.len() {
        return err("one initial position per actor");
    }
    Ok(social_power(w)?.iter().zip(x0).map(|(p, x)| p * x).sum())
}

/// The Friedkin–Johnsen equilibrium `x* = (I − ΛW)⁻¹ (I − Λ) x(0)`, `Λ = diag(lambda)`.
pub fn friedkin_johnsen(
    w: &[Vec<f64>],
    lambda: &[f64],
    x0: &[f64],
) -> Result<Vec<f64>, InfluenceError> {
    check_stochastic(w)?;
    let n = w.len();
    if lambda.len() != n || x0.len() != n {
        return err("one susceptibility and one initial position per actor");
    }
    if lambda
        .iter()
        .any(|l| !(l.is_finite() && (0.0..=1.0).contains(l)))
    {
        return err("every susceptibility must lie in [0, 1]");
    }
    let a = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| if i == j { 1.0 } else { 0.0 } - lambda[i] * w[i][j])
                .collect()
        })
        .collect();
    let b = (0..n).map(|i| (1.0 - lambda[i]) * x0[i]).collect();
    solve(a, b)
}

/// One member of a [`LeadNetwork`] other than the lead.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Follower {
    /// Initial position `x_i(0)`.
    pub position: f64,
    /// `tie_i ∈ [0, 1]`: measurable dependence on the lead.
    pub tie: f64,
    /// `σ_i ∈ [0, 1]`: salience, the member's stubbornness.
    pub salience: f64,
}

/// The lead-nation network: a fully stubborn lead and followers (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct LeadNetwork {
    /// The lead's position.
    pub lead_position: f64,
    /// Everyone else.
    pub followers: Vec<Follower>,
}

/// The pressures, within `[lo, hi]`, at which a member accepts the tabled value. `hi` may be
/// `+∞`; `lo` is `0` when it accepts without pressure. `open_at_zero` marks a member with
/// salience 0 that accepts at every *positive* pressure but not at 0 (a member that listens to
/// the lead at all then takes the lead's position outright).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Acceptance {
    /// Least pressure.
    pub lo: f64,
    /// Greatest pressure.
    pub hi: f64,
    /// The interval is `(0, hi]` rather than `[0, hi]`.
    pub open_at_zero: bool,
}

impl LeadNetwork {
    /// `w_i = min(1, pressure · tie_i)`.
    pub fn influence(&self, pressure: f64, i: usize) -> f64 {
        (pressure * self.followers[i].tie).clamp(0.0, 1.0)
    }

    /// Checks the ranges of every value.
    pub fn validate(&self) -> Result<(), InfluenceError> {
        if !self.lead_position.is_finite() {
            return err("the lead's position is not finite");
        }
        for (i, f) in self.followers.iter().enumerate() {
            if !f.position.is_finite() {
                return err(format!("follower {i}: position is not finite"));
            }
            for (name, v) in [("tie", f.tie), ("salience", f.salience)] {
                if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                    return err(format!("follower {i}: {name} {v} is outside [0, 1]"));
                }
            }
        }
        Ok(())
    }

    /// The equilibrium positions of the followers under `pressure`, solving the full
    /// Friedkin–Johnsen system (the lead is actor 0 of the system).
    pub fn equilibrium(&self, pressure: f64) -> Result<Vec<f64>, InfluenceError> {
        self.validate()?;
        if !(pressure.is_finite() && pressure >= 0.0) {
            return err(format!("pressure {pressure} is not a finite number ≥ 0"));
        }
        let n = self.followers.len() + 1;
        let mut w = vec![vec![0.0; n]; n];
        let mut lambda = vec![0.0; n];
        let mut x0 = vec![self.lead_position; n];
        w[0][0] = 1.0;
        for (k, f) in self.followers.iter().enumerate() {
            let i = k + 1;
            let wi = self.influence(pressure, k);
            w[i][0] = wi;
            w[i][i] = 1.0 - wi;
            // A member that listens only to itself keeps its position whatever λ: its
            // trajectory is the same with λ = 0, which keeps the system regular when λ = 1.
            lambda[i] = if wi > 0.0 { 1.0 - f.salience } else { 0.0 };
            x0[i] = f.position;
        }
        let x = friedkin_johnsen(&w, &lambda, &x0)?;
        Ok(x[1..].to_vec())
    }

    /// The share `α_i` of the way to the lead that follower `i` moves under `pressure`.
    pub fn pull_share(&self, pressure: f64, i: usize) -> f64 {
        let lambda = 1.0 - self.followers[i].salience;
        let w = self.influence(pressure, i);
        let den = 1.0 - lambda + lambda * w;
        if w == 0.0 || den <= 0.0 {
            if w > 0.0 { 1.0 } else { 0.0 }
        } else {
            lambda * w / den
        }
    }

    /// The pressures at which follower `i` lies within `distance` of `tabled`, or `None` if none.
    pub fn acceptance(&self, i: usize, tabled: f64, distance: f64) -> Option<Acceptance> {
        let f = &self.followers[i];
        let lambda = 1.0 - f.salience;
        let u = self.lead_position - f.position;
        let ok = |alpha: f64| (f.position + alpha * u - tabled).abs() <= distance * (1.0 + 1e-12);
        // The α at which the member stands within `distance` of `tabled`: [a1, a2].
        let (a1, a2) = if u == 0.0 {
            if ok(0.0) {
                (0.0, 1.0)
            } else {
                return None;
            }
        } else {
            let p = (tabled - distance - f.position) / u;
            let q = (tabled + distance - f.position) / u;
            (p.min(q), p.max(q))
        };
        // α ranges over [0, λ] as the pressure goes from 0 to 1/tie (then stays at λ).
        if f.tie == 0.0 || lambda == 0.0 {
            return ok(0.0).then_some(Acceptance {
                lo: 0.0,
                hi: f64::INFINITY,
                open_at_zero: false,
            });
        }
        if lambda == 1.0 {
            // α is 0 at pressure 0 and 1 at any positive pressure.
            let at_zero = ok(0.0);
            let moved = ok(1.0);
            return match (at_zero, moved) {
                (true, true) => Some(Acceptance {
                    lo: 0.0,
                    hi: f64::INFINITY,
                    open_at_zero: false,
                }),
                (true, false) => Some(Acceptance {
                    lo: 0.0,
                    hi: 0.0,
                    open_at_zero: false,
                }),
                (false, true) => Some(Acceptance {
                    lo: 0.0,
                    hi: f64::INFINITY,
                    open_at_zero: true,
                }),
                (false, false) => None,
            };
        }
        let lo_alpha = a1.max(0.0);
        let hi_alpha = a2.min(lambda);
        if lo_alpha > hi_alpha {
            return None;
        }
        // Invert α(w) = λw / (1 − λ + λw): w = α(1 − λ) / (λ(1 − α)); then pressure = w / tie.
        let to_pressure = |alpha: f64| alpha * (1.0 - lambda) / (lambda * (1.0 - alpha)) / f.tie;
        let lo = to_pressure(lo_alpha);
        let hi = if hi_alpha >= lambda {
            f64::INFINITY
        } else {
            to_pressure(hi_alpha)
        };
        Some(Acceptance {
            lo,
            hi,
            open_at_zero: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn degroot_social_power_vector() {
        let w = vec![
            vec![1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0],
            vec![0.5, 0.5, 0.0],
            vec![0.0, 0.25, 0.75],
        ];
        let pi = social_power(&w).unwrap();
        for (p, e) in pi.iter().zip([3.0 / 11.0, 4.0 / 11.0, 4.0 / 11.0]) {
            assert!(close(*p, e, 1e-14), "{pi:?}");
        }
    }

    #[test]
    fn degroot_consensus_vector() {
        let w = vec![
            vec![0.0, 0.2, 0.4, 0.4],
            vec![0.5, 0.0, 0.5, 0.0],
            vec![1.0, 0.0, 0.0, 0.0],
            vec![4.0 / 6.0, 2.0 / 6.0, 0.0, 0.0],
        ];
        let x0 = [0.0, 0.0, 5.0, 0.0];
        let c = degroot_consensus(&w, &x0).unwrap();
        assert!(close(c, 85.0 / 69.0, 1e-13), "{c}");
        assert!(close(c, 1.231884, 5e-7));
        // The iteration reaches the same consensus.
        let mut x = x0.to_vec();
        for _ in 0..2000 {
            x = w
                .iter()
                .map(|row| row.iter().zip(&x).map(|(a, b)| a * b).sum())
                .collect();
        }
        assert!(x.iter().all(|v| close(*v, c, 1e-9)), "{x:?}");
    }

    #[test]
    fn friedkin_johnsen_four_agent_vector() {
        let w = vec![
            vec![0.220, 0.120, 0.360, 0.300],
            vec![0.147, 0.215, 0.344, 0.294],
            vec![0.0, 0.0, 1.0, 0.0],
            vec![0.090, 0.178, 0.446, 0.286],
        ];
        let lambda: Vec<f64> = (0..4).map(|i| 1.0 - w[i][i]).collect();
        let x = friedkin_johnsen(&w, &lambda, &[25.0, 25.0, 75.0, 85.0]).unwrap();
        for (v, e) in x.iter().zip([60.021, 59.984, 75.000, 74.986]) {
            assert!(close(*v, e, 5e-4), "{x:?}");
        }
    }

    #[test]
    fn singular_and_malformed_systems_are_refused() {
        assert!(solve(vec![vec![1.0, 2.0], vec![2.0, 4.0]], vec![1.0, 2.0]).is_err());
        assert!(check_stochastic(&[vec![0.5, 0.4], vec![0.0, 1.0]]).is_err());
        assert!(check_stochastic(&[vec![1.5, -0.5], vec![0.0, 1.0]]).is_err());
        // Two disconnected DeGroot groups: no unique social power.
        let w = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        assert!(social_power(&w).is_err());
    }

    #[test]
    fn lead_network_matches_the_closed_form() {
        let net = LeadNetwork {
            lead_position: 0.0,
            followers: vec![
                Follower {
                    position: 10.0,
                    tie: 0.5,
                    salience: 0.4,
                },
                Follower {
                    position: -4.0,
                    tie: 0.0,
                    salience: 0.0,
                },
                Follower {
                    position: 8.0,
                    tie: 1.0,
                    salience: 1.0,
                },
            ],
        };
        let x = net.equilibrium(1.0).unwrap();
        // w = 0.5, λ = 0.6: α = 0.3 / (0.4 + 0.3) = 3/7.
        assert!(close(x[0], 10.0 * (1.0 - 3.0 / 7.0), 1e-12), "{x:?}");
        assert_eq!(x[1], -4.0, "no tie: does not move");
        assert_eq!(x[2], 8.0, "salience 1: does not move");
        // At full influence a member keeps σ of its distance.
        let x = net.equilibrium(100.0).unwrap();
        assert!(close(x[0], 4.0, 1e-12));
    }

    #[test]
    fn acceptance_interval_is_where_the_member_is_close_enough() {
        let net = LeadNetwork {
            lead_position: 0.0,
            followers: vec![Follower {
                position: 10.0,
                tie: 0.5,
                salience: 0.4,
            }],
        };
        // Needs x* ≤ 6: α ≥ 0.4 → w = 0.4·0.4/(0.6·0.6) = 4/9 → pressure 8/9.
        let a = net.acceptance(0, 0.0, 6.0).unwrap();
        assert!(close(a.lo, 8.0 / 9.0, 1e-12), "{a:?}");
        assert_eq!(a.hi, f64::INFINITY);
        let x = net.equilibrium(a.lo).unwrap();
        assert!(close(x[0], 6.0, 1e-9), "{x:?}");
        // Never within 3 of 0: it keeps at least 4.
        assert!(net.acceptance(0, 0.0, 3.0).is_none());
        // Tabled at 8 ± 1 with the lead at 0: accepted only for pressures in a window.
        let a = net.acceptance(0, 8.0, 1.0).unwrap();
        assert!(a.lo > 0.0 && a.hi.is_finite() && a.lo < a.hi, "{a:?}");
        for p in [a.lo, (a.lo + a.hi) / 2.0, a.hi] {
            let x = net.equilibrium(p).unwrap()[0];
            assert!((x - 8.0).abs() <= 1.0 + 1e-9, "{p}: {x}");
        }
        let x = net.equilibrium(a.hi * 1.01).unwrap()[0];
        assert!((x - 8.0).abs() > 1.0);
    }

    proptest! {
        #[test]
        fn acceptance_agrees_with_the_solved_system(
            x0 in -100.0f64..100.0,
            lead in -100.0f64..100.0,
            tie in 0.0f64..=1.0,
            salience in 0.0f64..0.99,
            tabled in -100.0f64..100.0,
            distance in 0.0f64..50.0,
            probe in 0.0f64..5.0,
        ) {
            let net = LeadNetwork {
                lead_position: lead,
                followers: vec![Follower { position: x0, tie, salience }],
            };
            let x = net.equilibrium(probe).unwrap()[0];
            let lo = x0.min(lead);
            let hi = x0.max(lead);
            prop_assert!(lo - 1e-9 <= x && x <= hi + 1e-9, "moves along the segment");
            let accepted = (x - tabled).abs() <= distance * (1.0 + 1e-9) + 1e-9;
            let inside = net.acceptance(0, tabled, distance).is_some_and(|a| {
                let above = if a.open_at_zero { probe > 0.0 } else { probe >= a.lo * (1.0 - 1e-9) - 1e-12 };
                above && probe <= a.hi * (1.0 + 1e-9) + 1e-12
            });
            // Away from the interval's ends the two must agree.
            let margin = net.acceptance(0, tabled, distance).map_or(f64::INFINITY, |a| {
                (probe - a.lo).abs().min((probe - a.hi).abs())
            });
            if margin > 1e-6 {
                prop_assert_eq!(accepted, inside, "x* = {}, acceptance {:?}", x, net.acceptance(0, tabled, distance));
            }
        }
    }
}
