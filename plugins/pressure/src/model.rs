//! The lead-nation pressure model, free of any protocol or SDK type.
//!
//! A *scenario tool*, not a validated model of how the alliance behaves: every coefficient below
//! is an assumption stated so that it can be argued with, and no part of it has been fitted to or
//! tested against real alliance decisions.
//!
//! # Who is pressed
//!
//! One member, the *lead* (the United States by default), has a stance on the proposal: support,
//! object or abstain. Every eligible member whose own stance differs from the lead's is a
//! *dissenter* and is pressed to switch to the lead's stance. A member that has not voted is taken
//! to follow the lead ("silence = consent") and is not pressed. A lead that abstains has no side to
//! press for: nobody is pressed.
//!
//! # Susceptibility
//!
//! Each dissenter `i` has a susceptibility `s_i ∈ [0, 1]`: how far pressure from the lead moves it.
//! The default ([`default_susceptibility`]) combines three components, each in `[0, 1]`:
//!
//! * dependence on the lead's troops (only when the lead is the United States, whose troops the
//!   `us_troops_hosted` attribute counts): with `x = us_troops_hosted /
//!   (armed_forces_personnel_thousands · 1000)`, `d = x / (x + 0.1)` — a saturating curve that
//!   reaches ½ when US troops are a tenth of the member's own forces (`d = 1` when the member has
//!   no forces of its own but hosts US troops);
//! * the gap to the 2 % spending target: `g = min(1, max(0, 2 − defence_pct_gdp) / 2)`;
//! * economic smallness next to the lead: `m = 1 − √min(1, gdp_usd_bn / gdp_lead)`.
//!
//! `s_i = (0.5·d + 0.3·g + 0.2·m) / (sum of the weights of the known components)`, clamped to
//! `[0, 1]`. A component whose inputs are missing (or negative, or not finite) is left out and the
//! remaining weights are rescaled; with no component known, `s_i = 0.5`.
//!
//! # Resistance
//!
//! `r_i ∈ [0, 1]` is the salience of the issue to the dissenter (how much it matters to it), taken
//! from its ballot or from a default.
//!
//! # The cascade (Granovetter thresholds)
//!
//! Each dissenter has a threshold `θ_i ∈ (0, 1]`. Rounds `t = 1, 2, …` are synchronous. Let
//! `D` be the number of dissenters and `c(t−1)` the share of the `D` dissenters that have conceded
//! by the end of round `t − 1` (`c(0) = 0`). The pull on a dissenter that has not conceded is
//!
//! ```text
//! pull_i(t) = (1 − r_i) · (pressure · s_i + spread · c(t−1))
//! ```
//!
//! and it concedes in round `t` (switches to the lead's stance, for good) if `pull_i(t) ≥ θ_i`.
//! Equivalently, resistance raises the threshold: it concedes once
//! `pressure · s_i + spread · c(t−1) ≥ θ_i / (1 − r_i)`; a member for which the issue is vital
//! (`r_i = 1`) never concedes. The cascade stops after the first round in which nobody concedes,
//! or after `max_rounds` rounds. The number of rounds of a run is the number of rounds in which at
//! least one member conceded (0 when nobody does).
//!
//! # Monte Carlo mode
//!
//! `θ_i ~ Uniform(0, 1]`, independently per dissenter and trial. Trials are split into blocks of
//! [`BLOCK_TRIALS`]; block `b` draws from its own xoshiro256++ stream whose state is outputs
//! `4b … 4b+3` of SplitMix64 seeded with the request's seed. Each trial draws one 64-bit number
//! per dissenter, in dissenter order, and maps it to `θ = ((x >> 11) + 1) · 2⁻⁵³`. All tallies
//! are integers, so the result depends only on the seed and the scenario: not on the number of
//! threads, nor on which thread ran which block.
//!
//! # Deterministic mode (mean field)
//!
//! The expected cascade: `P_i(t)` is the probability that dissenter `i` has conceded by the end of
//! round `t`, with `P_i(0) = 0` and
//!
//! ```text
//! c̄_i(t−1) = Σ_{j ≠ i} P_j(t−1) / D
//! P_i(t)   = P(θ_i ≤ pull_i(t)) = clamp((1 − r_i) · (pressure · s_i + spread · c̄_i(t−1)), 0, 1)
//! ```
//!
//! iterated until no probability moves by more than 10⁻¹² (or for `max_rounds` rounds). The
//! expected share leaves `i` itself out: a member still deciding has not conceded, so it never
//! pulls itself. Using the expected share in place of the random one is the mean-field
//! approximation; the two modes agree exactly when `spread = 0` (and whenever the other
//! dissenters' concessions are certain either way).
//!
//! In this mode members are taken to concede independently of one another (with their final
//! probabilities `P_i`): the adoption probability is the probability of the base rule being met
//! under that independence (under unanimity with a supporting lead: the product, over the
//! dissenters that object, of their concede probabilities), and the expected number of rounds is
//! `Σ_t [1 − Π_i (1 − (P_i(t) − P_i(t−1)))]`, the sum over rounds of the probability that somebody
//! concedes in that round.
//!
//! # Base rules
//!
//! * Unanimity (consensus): adopted iff no member's final stance is an objection and at least one
//!   member supports; abstention does not stand in the way.
//! * Qualified majority with quota `q`: adopted iff at least `⌈q · n⌉` of the `n` eligible members
//!   finally support.

use std::num::NonZeroUsize;
use std::thread;

/// Trials per block; each block has its own random stream (see the module documentation).
pub const BLOCK_TRIALS: u64 = 4096;
/// Weight of the troop-dependence component of the default susceptibility.
pub const WEIGHT_DEPENDENCE: f64 = 0.5;
/// Weight of the spending-gap component of the default susceptibility.
pub const WEIGHT_SPENDING_GAP: f64 = 0.3;
/// Weight of the economic-smallness component of the default susceptibility.
pub const WEIGHT_SMALLNESS: f64 = 0.2;
/// Ratio of US troops hosted to own forces at which the dependence component is ½.
pub const DEPENDENCE_HALF_SATURATION: f64 = 0.1;
/// The alliance's defence spending target, per cent of GDP.
pub const SPENDING_TARGET_PCT_GDP: f64 = 2.0;
/// Susceptibility of a member none of whose attributes are known.
pub const FALLBACK_SUSCEPTIBILITY: f64 = 0.5;
/// The deterministic iteration stops when no probability moves by more than this.
pub const FIXED_POINT_TOLERANCE: f64 = 1e-12;
/// The most dissenters for which the Monte Carlo kernel tabulates every pull (`D × (D + 3)`
/// numbers, 8 MiB here); above it the kernel computes the few pulls each draw needs, with the
/// same result, and the memory stays linear in the number of members.
pub const TABLE_MAX_DISSENTERS: usize = 1_000;

/// A member's stance on the proposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stance {
    /// Supports the proposal.
    Support,
    /// Objects to it (breaks silence).
    Object,
    /// Abstains: neither supports nor stands in the way.
    Abstain,
}

/// The attributes of a member that the default susceptibility uses; `None` means unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Profile {
    /// US military personnel stationed in the member.
    pub us_troops_hosted: Option<f64>,
    /// The member's own active armed forces, thousands.
    pub armed_forces_personnel_thousands: Option<f64>,
    /// Defence spending, per cent of GDP.
    pub defence_pct_gdp: Option<f64>,
    /// GDP, billions of US dollars.
    pub gdp_usd_bn: Option<f64>,
}

/// A default susceptibility with the components it was made of (`None`: input unknown).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Susceptibility {
    /// Dependence on the lead's troops, `x / (x + 0.1)`.
    pub dependence: Option<f64>,
    /// Gap to the 2 % spending target, `min(1, max(0, 2 − pct) / 2)`.
    pub spending_gap: Option<f64>,
    /// Economic smallness next to the lead, `1 − √min(1, gdp / gdp_lead)`.
    pub smallness: Option<f64>,
    /// The weighted combination, in `[0, 1]`.
    pub value: f64,
}

fn known(value: Option<f64>) -> Option<f64> {
    value.filter(|v| v.is_finite() && *v >= 0.0)
}

/// The default susceptibility of `member` to pressure from a lead whose GDP is `lead_gdp_usd_bn`.
/// The dependence component is used only when `lead_is_us` (the troop attribute counts US troops).
pub fn default_susceptibility(
    member: &Profile,
    lead_gdp_usd_bn: Option<f64>,
    lead_is_us: bool,
) -> Susceptibility {
    let dependence = if lead_is_us {
        match (
            known(member.us_troops_hosted),
            known(member.armed_forces_personnel_thousands),
        ) {
            (Some(troops), Some(forces)) => Some(if forces > 0.0 {
                let x = troops / (forces * 1000.0);
                x / (x + DEPENDENCE_HALF_SATURATION)
            } else if troops > 0.0 {
                1.0
            } else {
                0.0
            }),
            _ => None,
        }
    } else {
        None
    };
    let spending_gap = known(member.defence_pct_gdp)
        .map(|pct| ((SPENDING_TARGET_PCT_GDP - pct).max(0.0) / SPENDING_TARGET_PCT_GDP).min(1.0));
    let smallness = match (
        known(member.gdp_usd_bn),
        known(lead_gdp_usd_bn).filter(|g| *g > 0.0),
    ) {
        (Some(gdp), Some(lead)) => Some(1.0 - (gdp / lead).min(1.0).sqrt()),
        _ => None,
    };
    let mut weighted = 0.0;
    let mut weights = 0.0;
    for (component, weight) in [
        (dependence, WEIGHT_DEPENDENCE),
        (spending_gap, WEIGHT_SPENDING_GAP),
        (smallness, WEIGHT_SMALLNESS),
    ] {
        if let Some(c) = component {
            weighted += weight * c;
            weights += weight;
        }
    }
    let value = if weights > 0.0 {
        (weighted / weights).clamp(0.0, 1.0)
    } else {
        FALLBACK_SUSCEPTIBILITY
    };
    Susceptibility {
        dependence,
        spending_gap,
        smallness,
        value,
    }
}

/// One eligible member in a scenario.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ally {
    /// Its stance as cast; `None` when it has not voted (it then follows the lead).
    pub stance: Option<Stance>,
    /// `s_i`, in `[0, 1]`.
    pub susceptibility: f64,
    /// `r_i`, in `[0, 1]`.
    pub resistance: f64,
}

/// The parameters of the cascade.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dynamics {
    /// Strength of the lead's pressure, `≥ 0`.
    pub pressure: f64,
    /// Weight of the share of dissenters already conceding, `≥ 0`.
    pub spread: f64,
    /// Most rounds played, `≥ 1`.
    pub max_rounds: u32,
}

/// The rule the proposal is decided by once the cascade is over.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BaseRule {
    /// No final objection (and at least one supporter).
    Unanimity,
    /// At least `⌈quota · n⌉` of the `n` eligible members support; `quota ∈ (0, 1]`.
    QualifiedMajority {
        /// The fraction of members that must support.
        quota: f64,
    },
}

/// A scenario: the lead's stance, every eligible member (the lead among them), the dynamics and
/// the base rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// The lead's stance.
    pub lead: Stance,
    /// The eligible members, in a fixed order (results come back in that order).
    pub allies: Vec<Ally>,
    /// How the cascade runs.
    pub dynamics: Dynamics,
    /// How the outcome is decided.
    pub rule: BaseRule,
}

/// How a Monte Carlo run is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MonteCarlo {
    /// Number of trials, `≥ 1`.
    pub trials: u64,
    /// The seed of every random stream.
    pub seed: u64,
    /// Worker threads; 0 means one per available core. Does not change the result.
    pub threads: usize,
}

/// A value the model cannot work with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelError {
    /// What is wrong: a parameter name, or `allies[i].field` for the ally at index `i`.
    pub field: String,
    /// Why.
    pub reason: String,
}

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for ModelError {}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ModelError {
    ModelError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// What the model forecasts.
#[derive(Clone, Debug, PartialEq)]
pub struct Forecast {
    /// Probability that the proposal is adopted under the base rule.
    pub adoption_probability: f64,
    /// Per ally (scenario order): whether it is a dissenter (pressed).
    pub dissenter: Vec<bool>,
    /// Per ally: probability of conceding (0 for members that are not pressed).
    pub concede_probability: Vec<f64>,
    /// Per ally: its expected final stance — the lead's for non-voters and for dissenters that
    /// concede with probability ≥ ½, its own otherwise.
    pub expected_stance: Vec<Stance>,
    /// Expected number of rounds in which somebody concedes.
    pub expected_rounds: f64,
    /// Expected share of the eligible members that finally support.
    pub expected_support_share: f64,
    /// Monte Carlo trials run (0 in deterministic mode).
    pub trials: u64,
}

impl Forecast {
    /// Number of dissenters.
    pub fn dissenters(&self) -> usize {
        self.dissenter.iter().filter(|d| **d).count()
    }

    /// Every dissenter, by probability of *not* conceding, highest first (ties in scenario order).
    pub fn holdout_ranking(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.dissenter.len())
            .filter(|i| self.dissenter[*i])
            .collect();
        order.sort_by(|a, b| self.concede_probability[*a].total_cmp(&self.concede_probability[*b]));
        order
    }

    /// The dissenters that concede with probability below ½, most likely holdout first.
    pub fn likely_holdouts(&self) -> Vec<usize> {
        let mut order = self.holdout_ranking();
        order.retain(|i| self.concede_probability[*i] < 0.5);
        order
    }
}

/// The outcome of one cascade with given thresholds (see [`Scenario::cascade`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cascade {
    /// Per dissenter (in scenario order of the dissenters): whether it conceded.
    pub conceded: Vec<bool>,
    /// Rounds in which somebody conceded.
    pub rounds: u32,
}

/// The pull on a dissenter when a share `conceded_share` of the dissenters has conceded.
#[inline]
fn pull(ally: &Ally, dynamics: &Dynamics, conceded_share: f64) -> f64 {
    (1.0 - ally.resistance)
        * (dynamics.pressure * ally.susceptibility + dynamics.spread * conceded_share)
}

fn check_unit(field: String, value: f64) -> Result<(), ModelError> {
    if value.is_finite() && (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("must be between 0 and 1, not {value}"),
        ))
    }
}

impl Scenario {
    /// Checks every value against its documented range.
    pub fn validate(&self) -> Result<(), ModelError> {
        let d = &self.dynamics;
        if !(d.pressure.is_finite() && d.pressure >= 0.0) {
            return Err(invalid(
                "pressure",
                format!("must be a finite number ≥ 0, not {}", d.pressure),
            ));
        }
        if !(d.spread.is_finite() && d.spread >= 0.0) {
            return Err(invalid(
                "spread",
                format!("must be a finite number ≥ 0, not {}", d.spread),
            ));
        }
        if d.max_rounds == 0 {
            return Err(invalid("max_rounds", "must be at least 1"));
        }
        match self.rule {
            BaseRule::QualifiedMajority { quota }
                if !(quota.is_finite() && quota > 0.0 && quota <= 1.0) =>
            {
                return Err(invalid(
                    "base_quota",
                    format!("must be in (0, 1], not {quota}"),
                ));
            }
            _ => {}
        }
        for (i, ally) in self.allies.iter().enumerate() {
            check_unit(format!("allies[{i}].susceptibility"), ally.susceptibility)?;
            check_unit(format!("allies[{i}].resistance"), ally.resistance)?;
        }
        Ok(())
    }

    /// The indices of the dissenters, in scenario order.
    pub fn dissenters(&self) -> Vec<usize> {
        if self.lead == Stance::Abstain {
            return Vec::new();
        }
        self.allies
            .iter()
            .enumerate()
            .filter(|(_, a)| matches!(a.stance, Some(s) if s != self.lead))
            .map(|(i, _)| i)
            .collect()
    }

    /// Plays one cascade with the given thresholds, one per dissenter (in the order of
    /// [`Scenario::dissenters`]), round by round exactly as the module documentation says. This is
    /// the reference the fast Monte Carlo kernel is tested against.
    pub fn cascade(&self, thresholds: &[f64]) -> Cascade {
        let dissenters = self.dissenters();
        assert_eq!(
            thresholds.len(),
            dissenters.len(),
            "one threshold per dissenter"
        );
        let n = dissenters.len();
        let mut conceded = vec![false; n];
        let mut count = 0usize;
        let mut rounds = 0u32;
        for _ in 0..self.dynamics.max_rounds {
            let share = count as f64 / n as f64;
            let mut now = conceded.clone();
            for (j, &i) in dissenters.iter().enumerate() {
                if !conceded[j] && pull(&self.allies[i], &self.dynamics, share) >= thresholds[j] {
                    now[j] = true;
                }
            }
            let new_count = now.iter().filter(|c| **c).count();
            if new_count == count {
                break;
            }
            rounds += 1;
            count = new_count;
            conceded = now;
        }
        Cascade { conceded, rounds }
    }

    /// The expected cascade (mean field), with the adoption probability computed under the
    /// assumption that members concede independently. See the module documentation.
    pub fn deterministic(&self) -> Result<Forecast, ModelError> {
        self.validate()?;
        let prep = Prepared::with_table(self, false);
        let d = prep.dissenters.len();
        let mut p = vec![0.0f64; d];
        let mut next = vec![0.0f64; d];
        let mut expected_rounds = 0.0;
        for _ in 0..self.dynamics.max_rounds {
            let total: f64 = p.iter().sum();
            let mut nobody = 1.0;
            let mut moved = 0.0f64;
            for (j, &i) in prep.dissenters.iter().enumerate() {
                let share = ((total - p[j]) / d as f64).max(0.0);
                let q = pull(&self.allies[i], &self.dynamics, share)
                    .clamp(0.0, 1.0)
                    .max(p[j]);
                nobody *= 1.0 - (q - p[j]);
                moved = moved.max(q - p[j]);
                next[j] = q;
            }
            expected_rounds += 1.0 - nobody;
            std::mem::swap(&mut p, &mut next);
            if moved <= FIXED_POINT_TOLERANCE {
                break;
            }
        }

        // Distribution of the final number of supporters and probability of no objection, with
        // independent dissenters.
        let mut support_dist = vec![0.0f64; d + 1];
        support_dist[0] = 1.0;
        // Every entry outside `lo..=hi` is exactly 0 and would stay 0 (0·x + 0·y): the loop
        // below skips them. With many dissenters the tails underflow to 0, so the window is
        // a few thousand entries wide instead of D. Two buffers let the loop vectorise; each
        // entry is computed with the same operations as the in-place update
        // `dist[k] = dist[k]·(1 − s) + dist[k − 1]·s`, so the values are the same.
        let mut next_dist = vec![0.0f64; d + 1];
        let (mut lo, mut hi) = (0usize, 0usize);
        let mut no_objection = indicator(prep.fixed_objections == 0);
        let mut expected_support = prep.fixed_support as f64;
        let (lead_s, lead_o) = (indicator(prep.lead_support), indicator(prep.lead_object));
        let kept = prep.kept_support.iter().zip(&prep.kept_object);
        for (j, (&pj, (&kept_support, &kept_object))) in p.iter().zip(kept).enumerate() {
            let (kept_s, kept_o) = (indicator(kept_support == 1), indicator(kept_object == 1));
            let supports = pj * lead_s + (1.0 - pj) * kept_s;
            let objects = pj * lead_o + (1.0 - pj) * kept_o;
            expected_support += supports;
            no_objection *= 1.0 - objects;
            if prep.rule == Rule::Unanimity {
                // Unanimity reads no distribution: leave out the O(D²) convolution.
                continue;
            }
            let top = hi + 1; // at most j + 1
            debug_assert!(top <= j + 1);
            let (cur, next) = (&support_dist, &mut next_dist);
            let keep = 1.0 - supports;
            // k = lo: nothing moves in from below (an exact 0, or nothing at k = 0).
            next[lo] = cur[lo] * keep + 0.0;
            // lo < k ≤ hi.
            for ((n, &c), &below) in next[lo + 1..=hi]
                .iter_mut()
                .zip(&cur[lo + 1..=hi])
                .zip(&cur[lo..hi])
            {
                *n = c * keep + below * supports;
            }
            // k = hi + 1: nothing stays (an exact 0).
            next[top] = 0.0 * keep + cur[hi] * supports;
            std::mem::swap(&mut support_dist, &mut next_dist);
            hi = top;
            while lo < hi && support_dist[lo] == 0.0 {
                lo += 1;
            }
            while hi > lo && support_dist[hi] == 0.0 {
                hi -= 1;
            }
        }
        // Each step wrote only its window: the entries outside the last one are exactly 0 (and
        // may hold an older step's values in this buffer).
        support_dist[..lo].fill(0.0);
        support_dist[hi + 1..].fill(0.0);
        let adoption_probability = match prep.rule {
            Rule::Unanimity => {
                // P(no objection and at least one supporter).
                let none_support: f64 = if prep.fixed_support > 0 {
                    0.0
                } else {
                    // All dissenters end without support and nobody objects: only possible if
                    // the dissenters' final stances are all abstentions.
                    (0..d)
                        .map(|j| {
                            let abstain_if_conceded =
                                indicator(!prep.lead_support && !prep.lead_object);
                            let abstain_if_kept =
                                indicator(prep.kept_support[j] == 0 && prep.kept_object[j] == 0);
                            p[j] * abstain_if_conceded + (1.0 - p[j]) * abstain_if_kept
                        })
                        .product::<f64>()
                        * indicator(prep.fixed_objections == 0)
                };
                (no_objection - none_support).clamp(0.0, 1.0)
            }
            Rule::Quota(required) => {
                let need = required.saturating_sub(prep.fixed_support);
                if need as usize > d {
                    0.0
                } else {
                    support_dist[need as usize..]
                        .iter()
                        .sum::<f64>()
                        .clamp(0.0, 1.0)
                }
            }
        };
        let mut concede = vec![0.0; self.allies.len()];
        for (j, &i) in prep.dissenters.iter().enumerate() {
            concede[i] = p[j];
        }
        Ok(self.forecast(
            &prep,
            concede,
            adoption_probability,
            expected_rounds,
            expected_support / self.allies.len().max(1) as f64,
            0,
        ))
    }

    /// The Monte Carlo cascade. The result depends only on the scenario, `trials` and `seed`.
    pub fn monte_carlo(&self, config: &MonteCarlo) -> Result<Forecast, ModelError> {
        self.validate()?;
        if config.trials == 0 {
            return Err(invalid("trials", "must be at least 1"));
        }
        let prep = Prepared::new(self);
        let blocks = config.trials.div_ceil(BLOCK_TRIALS);
        let threads = if config.threads == 0 {
            thread::available_parallelism().map_or(1, NonZeroUsize::get)
        } else {
            config.threads
        };
        let threads = threads
            .min(usize::try_from(blocks).unwrap_or(usize::MAX))
            .max(1);
        let run = |worker: usize| {
            let mut tally = Tally::new(prep.dissenters.len());
            let mut scratch = Scratch::new(prep.dissenters.len());
            let mut block = worker as u64;
            while block < blocks {
                let start = block * BLOCK_TRIALS;
                let count = BLOCK_TRIALS.min(config.trials - start);
                let mut rng = block_rng(config.seed, block);
                for _ in 0..count {
                    prep.trial(&mut rng, &mut scratch, &mut tally);
                }
                block += threads as u64;
            }
            tally
        };
        let tally = if threads == 1 {
            run(0)
        } else {
            thread::scope(|scope| {
                let handles: Vec<_> = (1..threads)
                    .map(|w| {
                        let run = &run;
                        scope.spawn(move || run(w))
                    })
                    .collect();
                let mut total = run(0);
                for handle in handles {
                    match handle.join() {
                        Ok(t) => total.add(&t),
                        Err(panic) => std::panic::resume_unwind(panic),
                    }
                }
                total
            })
        };
        let trials = config.trials as f64;
        let mut concede = vec![0.0; self.allies.len()];
        for (j, &i) in prep.dissenters.iter().enumerate() {
            concede[i] = tally.conceded[j] as f64 / trials;
        }
        Ok(self.forecast(
            &prep,
            concede,
            tally.adopted as f64 / trials,
            tally.rounds as f64 / trials,
            tally.support as f64 / trials / self.allies.len().max(1) as f64,
            config.trials,
        ))
    }

    fn forecast(
        &self,
        prep: &Prepared,
        concede_probability: Vec<f64>,
        adoption_probability: f64,
        expected_rounds: f64,
        expected_support_share: f64,
        trials: u64,
    ) -> Forecast {
        let mut dissenter = vec![false; self.allies.len()];
        for &i in &prep.dissenters {
            dissenter[i] = true;
        }
        let expected_stance = self
            .allies
            .iter()
            .enumerate()
            .map(|(i, a)| match a.stance {
                None => self.lead,
                Some(_) if dissenter[i] && concede_probability[i] >= 0.5 => self.lead,
                Some(s) => s,
            })
            .collect();
        Forecast {
            adoption_probability,
            dissenter,
            concede_probability,
            expected_stance,
            expected_rounds,
            expected_support_share,
            trials,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    Unanimity,
    /// Supporters needed.
    Quota(u64),
}

/// The scenario compiled for the kernels.
struct Prepared {
    /// Indices of the dissenters in the scenario.
    dissenters: Vec<usize>,
    /// Row `j` (length `D + 3`): `−∞`, then the pull on dissenter `j` when `m = 0..=D` dissenters
    /// have conceded (non-decreasing), then `+∞`. The infinities let [`position`] look one place
    /// either side without bounds checks. Empty when `D` is above [`TABLE_MAX_DISSENTERS`] (the
    /// table would take `8·D²` bytes): the Monte Carlo kernel then computes the few entries each
    /// draw needs ([`position_computed`], the same values) and the mean field needs none.
    table: Vec<f64>,
    /// Per dissenter: the ally (for the pulls computed when there is no table).
    allies: Vec<Ally>,
    /// Without the table: `m / D` for `m = 0..=D`, the share every row is evaluated at (one
    /// division each, shared by the rows).
    shares: Vec<f64>,
    dynamics: Dynamics,
    /// Per dissenter: `D / ((1 − r) · spread)`, the inverse of the step between neighbours in its
    /// row, used to guess where a threshold falls in the row; `+∞` for a flat row.
    inv_step: Vec<f64>,
    /// 1 if dissenter `j` supports when it holds out.
    kept_support: Vec<u64>,
    /// 1 if dissenter `j` objects when it holds out.
    kept_object: Vec<u64>,
    lead_support: bool,
    lead_object: bool,
    /// Supporters among the members that are not pressed.
    fixed_support: u64,
    /// Objectors among the members that are not pressed.
    fixed_objections: u64,
    rule: Rule,
    max_rounds: u32,
}

impl Prepared {
    /// For the Monte Carlo kernel: with the table of pulls when `D` ≤ [`TABLE_MAX_DISSENTERS`].
    fn new(scenario: &Scenario) -> Self {
        let tabulate = scenario.dissenters().len() <= TABLE_MAX_DISSENTERS;
        Self::with_table(scenario, tabulate)
    }

    /// `tabulate`: build the `D × (D + 3)` table of pulls (quadratic in `D`: only for the Monte
    /// Carlo kernel, and only for small `D`).
    fn with_table(scenario: &Scenario, tabulate: bool) -> Self {
        let dissenters = scenario.dissenters();
        let d = dissenters.len();
        let mut table = Vec::with_capacity(if tabulate { d * (d + 3) } else { 0 });
        let mut allies = Vec::with_capacity(d);
        let mut kept_support = Vec::with_capacity(d);
        let mut kept_object = Vec::with_capacity(d);
        let mut inv_step = Vec::with_capacity(d);
        for &i in &dissenters {
            let ally = &scenario.allies[i];
            allies.push(*ally);
            if tabulate {
                table.push(f64::NEG_INFINITY);
                for m in 0..=d {
                    table.push(pull(ally, &scenario.dynamics, m as f64 / d as f64));
                }
                table.push(f64::INFINITY);
            }
            let step = (1.0 - ally.resistance) * scenario.dynamics.spread / d as f64;
            inv_step.push(if step > 0.0 {
                1.0 / step
            } else {
                f64::INFINITY
            });
            kept_support.push(u64::from(ally.stance == Some(Stance::Support)));
            kept_object.push(u64::from(ally.stance == Some(Stance::Object)));
        }
        let mut fixed_support = 0;
        let mut fixed_objections = 0;
        let mut is_dissenter = vec![false; scenario.allies.len()];
        for &i in &dissenters {
            is_dissenter[i] = true;
        }
        for (i, ally) in scenario.allies.iter().enumerate() {
            if is_dissenter[i] {
                continue;
            }
            match ally.stance.unwrap_or(scenario.lead) {
                Stance::Support => fixed_support += 1,
                Stance::Object => fixed_objections += 1,
                Stance::Abstain => {}
            }
        }
        let n = scenario.allies.len() as f64;
        let rule = match scenario.rule {
            BaseRule::Unanimity => Rule::Unanimity,
            // The small allowance keeps a quota written in decimals (0.6667 of 3 members, say)
            // from demanding one member more than meant.
            BaseRule::QualifiedMajority { quota } => Rule::Quota((quota * n - 1e-9).ceil() as u64),
        };
        let shares = if tabulate {
            Vec::new()
        } else {
            (0..=d).map(|m| m as f64 / d as f64).collect()
        };
        Prepared {
            dissenters,
            table,
            allies,
            shares,
            dynamics: scenario.dynamics,
            inv_step,
            kept_support,
            kept_object,
            lead_support: scenario.lead == Stance::Support,
            lead_object: scenario.lead == Stance::Object,
            fixed_support,
            fixed_objections,
            rule,
            max_rounds: scenario.dynamics.max_rounds,
        }
    }

    /// One Monte Carlo trial; allocation-free.
    #[inline]
    fn trial(&self, rng: &mut Xoshiro256PlusPlus, scratch: &mut Scratch, tally: &mut Tally) {
        let d = self.dissenters.len();
        let Scratch { need, counts } = scratch;
        counts.fill(0);
        // The number of conceded dissenters each dissenter needs: the least m with pull(m) ≥ θ
        // (d + 1: never). Counted in two interleaved halves so that consecutive increments of the
        // same count do not wait on each other.
        let (even, odd) = counts.split_at_mut(d + 2);
        if self.table.is_empty() && d > 0 {
            // No table (many dissenters): the same entries, computed where the search looks.
            let (dynamics, shares) = (&self.dynamics, &self.shares);
            for (j, ((ally, &step), n)) in self
                .allies
                .iter()
                .zip(&self.inv_step)
                .zip(need.iter_mut())
                .enumerate()
            {
                let row = |m: usize| pull(ally, dynamics, shares[m]);
                let k = position_computed(d + 1, row, step, unit(rng.next_u64()));
                *n = k as u32;
                if j % 2 == 0 {
                    even[k] += 1;
                } else {
                    odd[k] += 1;
                }
            }
        } else {
            self.tabulated_needs(rng, need, even, odd);
        }
        self.finish_trial(need, even, odd, tally);
    }

    /// The needs of one trial from the table (see [`Prepared::trial`]).
    #[inline]
    fn tabulated_needs(
        &self,
        rng: &mut Xoshiro256PlusPlus,
        need: &mut [u32],
        even: &mut [u32],
        odd: &mut [u32],
    ) {
        let width = self.dissenters.len() + 3;
        let mut rows = self
            .table
            .chunks_exact(width)
            .zip(&self.inv_step)
            .zip(need.iter_mut());
        while let (Some(((r0, &s0), n0)), next) = (rows.next(), rows.next()) {
            let k0 = position(r0, s0, unit(rng.next_u64()));
            *n0 = k0 as u32;
            even[k0] += 1;
            if let Some(((r1, &s1), n1)) = next {
                let k1 = position(r1, s1, unit(rng.next_u64()));
                *n1 = k1 as u32;
                odd[k1] += 1;
            }
        }
    }

    /// The cascade of one trial from its needs and their counts, added to `tally`.
    #[inline]
    fn finish_trial(&self, need: &[u32], even: &[u32], odd: &[u32], tally: &mut Tally) {
        // The cascade on the counts: m(t) = #{j : need_j ≤ m(t−1)}.
        let mut m = 0usize;
        let mut cumulative = 0usize;
        let mut summed = 0usize;
        let mut rounds = 0u32;
        // `m` is the number conceded before the round; those with need ≤ m concede by its end.
        loop {
            while summed <= m {
                cumulative += (even[summed] + odd[summed]) as usize;
                summed += 1;
            }
            if cumulative == m {
                break;
            }
            rounds += 1;
            if rounds == self.max_rounds {
                break;
            }
            m = cumulative;
        }
        let threshold = m as u32;
        let mut support = self.fixed_support;
        let mut objections = self.fixed_objections;
        let (lead_s, lead_o) = (u64::from(self.lead_support), u64::from(self.lead_object));
        let kept = self.kept_support.iter().zip(&self.kept_object);
        for ((&n, count), (&kept_s, &kept_o)) in need.iter().zip(&mut tally.conceded).zip(kept) {
            let conceded = u64::from(n <= threshold);
            *count += conceded;
            // Branch-free: the lead's stance if conceded, the member's own otherwise.
            support += conceded * lead_s + (1 - conceded) * kept_s;
            objections += conceded * lead_o + (1 - conceded) * kept_o;
        }
        let adopted = match self.rule {
            Rule::Unanimity => objections == 0 && support > 0,
            Rule::Quota(required) => support >= required,
        };
        tally.adopted += u64::from(adopted);
        tally.support += support;
        tally.rounds += u64::from(rounds);
    }
}

/// For a padded row `[−∞, row…, +∞]` of a non-decreasing `row`: the first index `k` with
/// `row[k] ≥ theta` (`row.len()` if none), exactly `row.partition_point(|p| p < theta)`.
///
/// The row lies on a straight line (up to rounding), so `(theta − row[0]) · inv_step` guesses the
/// answer to within one place; one step down and one step up correct the guess without branches,
/// and a check (which holds unless the rounding was far worse than one place) falls back to a
/// binary search.
#[inline]
fn position(padded: &[f64], inv_step: f64, theta: f64) -> usize {
    let len = padded.len() - 2;
    // `as usize` truncates and saturates (a negative or NaN guess gives 0); + 1 makes it a
    // ceiling except on whole numbers, which the steps below correct. k is in 1..=len.
    let mut k = (((theta - padded[1]) * inv_step) as usize).min(len - 1) + 1;
    // padded[k] is row[k − 1] and padded[k + 1] is row[k].
    k -= usize::from(padded[k] >= theta);
    k += usize::from(padded[k + 1] < theta);
    if padded[k] < theta && padded[k + 1] >= theta {
        k
    } else {
        padded[1..=len].partition_point(|&p| p < theta)
    }
}

/// [`position`] on the row `row(0), …, row(len − 1)` given as a function (padded on both sides
/// with `∓∞`), evaluating only the entries the search looks at: the same comparisons on the same
/// values, so the same answer, `(0..len).partition_point(|m| row(m) < theta)`.
#[inline]
fn position_computed(len: usize, row: impl Fn(usize) -> f64, inv_step: f64, theta: f64) -> usize {
    let padded = |k: usize| {
        if k == 0 {
            f64::NEG_INFINITY
        } else if k > len {
            f64::INFINITY
        } else {
            row(k - 1)
        }
    };
    let mut k = (((theta - padded(1)) * inv_step) as usize).min(len - 1) + 1;
    k -= usize::from(padded(k) >= theta);
    k += usize::from(padded(k + 1) < theta);
    if padded(k) < theta && padded(k + 1) >= theta {
        k
    } else {
        let (mut lo, mut hi) = (0, len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if row(mid) < theta {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// Buffers reused from trial to trial.
struct Scratch {
    need: Vec<u32>,
    counts: Vec<u32>,
}

impl Scratch {
    fn new(d: usize) -> Self {
        Scratch {
            need: vec![0; d],
            counts: vec![0; 2 * (d + 2)],
        }
    }
}

/// Integer tallies of a run (so that their sum does not depend on the order of blocks).
struct Tally {
    conceded: Vec<u64>,
    adopted: u64,
    support: u64,
    rounds: u64,
}

impl Tally {
    fn new(d: usize) -> Self {
        Tally {
            conceded: vec![0; d],
            adopted: 0,
            support: 0,
            rounds: 0,
        }
    }

    fn add(&mut self, other: &Tally) {
        for (a, b) in self.conceded.iter_mut().zip(&other.conceded) {
            *a += b;
        }
        self.adopted += other.adopted;
        self.support += other.support;
        self.rounds += other.rounds;
    }
}

fn indicator(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// A uniform number in `(0, 1]` from the top 53 bits of `x`.
#[inline]
fn unit(x: u64) -> f64 {
    ((x >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
}

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// Output `k` (from 0) of SplitMix64 seeded with `seed`.
fn splitmix64(seed: u64, k: u64) -> u64 {
    let mut z = seed.wrapping_add(k.wrapping_add(1).wrapping_mul(GOLDEN_GAMMA));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The random stream of block `block`: xoshiro256++ whose state is SplitMix64(seed) outputs
/// `4·block … 4·block + 3`.
fn block_rng(seed: u64, block: u64) -> Xoshiro256PlusPlus {
    let base = block.wrapping_mul(4);
    Xoshiro256PlusPlus {
        s: [0, 1, 2, 3].map(|j| splitmix64(seed, base.wrapping_add(j))),
    }
}

/// xoshiro256++ 1.0 (Blackman and Vigna), written out so that results never change with a
/// dependency's version.
struct Xoshiro256PlusPlus {
    s: [u64; 4],
}

impl Xoshiro256PlusPlus {
    #[inline]
    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ally(stance: Option<Stance>, s: f64, r: f64) -> Ally {
        Ally {
            stance,
            susceptibility: s,
            resistance: r,
        }
    }

    fn dynamics(pressure: f64, spread: f64) -> Dynamics {
        Dynamics {
            pressure,
            spread,
            max_rounds: 100,
        }
    }

    fn mc(trials: u64, seed: u64, threads: usize) -> MonteCarlo {
        MonteCarlo {
            trials,
            seed,
            threads,
        }
    }

    /// The lead (index 0) supports; `dissent` members object with the given (s, r).
    fn scenario(dissent: &[(f64, f64)], pressure: f64, spread: f64) -> Scenario {
        let mut allies = vec![ally(Some(Stance::Support), 0.0, 0.5)];
        allies.extend(
            dissent
                .iter()
                .map(|&(s, r)| ally(Some(Stance::Object), s, r)),
        );
        Scenario {
            lead: Stance::Support,
            allies,
            dynamics: dynamics(pressure, spread),
            rule: BaseRule::Unanimity,
        }
    }

    #[test]
    fn prngs_match_reference_vectors() {
        // SplitMix64 seeded with 1234567 (the reference sequence).
        let expected = [
            6457827717110365317u64,
            3203168211198807973,
            9817491932198370423,
            4593380528125082431,
            16408922859458223821,
        ];
        for (k, e) in expected.iter().enumerate() {
            assert_eq!(splitmix64(1234567, k as u64), *e);
        }
        // xoshiro256++ from state (0, 0, 0, 1).
        let mut rng = Xoshiro256PlusPlus { s: [0, 0, 0, 1] };
        let expected = [
            0x0000_0000_0080_0000u64,
            0x0000_0000_0080_0011,
            0x0002_2000_0080_0011,
            0x0002_2000_4400_0020,
            0x0002_2000_4480_08A1,
            0x0110_2100_8022_08A0,
            0x0114_0022_8420_0880,
            0x0402_8966_44A6_4095,
            0x8A14_A0A2_44AC_C891,
            0x8C88_BA46_80B2_0495,
        ];
        for e in expected {
            assert_eq!(rng.next_u64(), e);
        }
        assert_eq!(unit(0), 1.0 / (1u64 << 53) as f64);
        assert_eq!(unit(u64::MAX), 1.0);
    }

    #[test]
    fn default_susceptibility_follows_the_documented_formula() {
        // Germany-like: 36 436 US troops, 185 641 own forces, 2.12 % of GDP, GDP 4 610 of 28 720.
        let deu = Profile {
            us_troops_hosted: Some(36436.0),
            armed_forces_personnel_thousands: Some(185.641),
            defence_pct_gdp: Some(2.12),
            gdp_usd_bn: Some(4610.0),
        };
        let s = default_susceptibility(&deu, Some(28720.0), true);
        let x = 36436.0 / 185641.0;
        let d = x / (x + 0.1);
        let m = 1.0 - (4610.0f64 / 28720.0).sqrt();
        assert!((s.dependence.unwrap() - d).abs() < 1e-15);
        assert_eq!(s.spending_gap, Some(0.0));
        assert!((s.value - (0.5 * d + 0.2 * m)).abs() < 1e-12);

        // Spending gap alone.
        let low = Profile {
            defence_pct_gdp: Some(1.3),
            ..Profile::default()
        };
        let s = default_susceptibility(&low, None, true);
        assert!((s.spending_gap.unwrap() - 0.35).abs() < 1e-12);
        assert!(
            (s.value - 0.35).abs() < 1e-12,
            "renormalised to the known component"
        );

        // Without a US lead the troop component is left out.
        let s = default_susceptibility(&deu, Some(28720.0), false);
        assert_eq!(s.dependence, None);
        assert!((s.value - (0.2 * m) / 0.5).abs() < 1e-12);

        // No own forces but US troops: fully dependent; nothing known: the fallback.
        let none = Profile {
            us_troops_hosted: Some(1.0),
            armed_forces_personnel_thousands: Some(0.0),
            ..Profile::default()
        };
        assert_eq!(default_susceptibility(&none, None, true).value, 1.0);
        assert_eq!(
            default_susceptibility(&Profile::default(), None, true).value,
            FALLBACK_SUSCEPTIBILITY
        );
        let bad = Profile {
            defence_pct_gdp: Some(f64::NAN),
            gdp_usd_bn: Some(-3.0),
            ..Profile::default()
        };
        assert_eq!(
            default_susceptibility(&bad, Some(1.0), true).value,
            FALLBACK_SUSCEPTIBILITY
        );
    }

    #[test]
    fn no_pressure_no_concession() {
        let sc = scenario(&[(0.9, 0.0), (0.5, 0.2), (1.0, 0.0)], 0.0, 0.0);
        let f = sc.monte_carlo(&mc(20_000, 7, 1)).unwrap();
        assert!(f.concede_probability.iter().all(|p| *p == 0.0));
        assert_eq!(f.adoption_probability, 0.0);
        assert_eq!(f.expected_rounds, 0.0);
        assert_eq!(f.likely_holdouts(), vec![1, 2, 3]);
        let g = sc.deterministic().unwrap();
        assert!(g.concede_probability.iter().all(|p| *p == 0.0));
        assert_eq!(g.adoption_probability, 0.0);
        assert_eq!(g.expected_rounds, 0.0);
        assert!((g.expected_support_share - 0.25).abs() < 1e-15);
    }

    #[test]
    fn full_pressure_and_no_resistance_everyone_concedes() {
        let sc = scenario(&[(1.0, 0.0), (1.0, 0.0), (1.0, 0.0)], 1.0, 0.0);
        let f = sc.monte_carlo(&mc(10_000, 1, 1)).unwrap();
        assert_eq!(f.concede_probability, vec![0.0, 1.0, 1.0, 1.0]);
        assert_eq!(f.adoption_probability, 1.0);
        assert_eq!(f.expected_rounds, 1.0);
        assert_eq!(f.expected_support_share, 1.0);
        assert!(f.likely_holdouts().is_empty());
        assert_eq!(f.expected_stance, vec![Stance::Support; 4]);
        let g = sc.deterministic().unwrap();
        assert_eq!(g.concede_probability, vec![0.0, 1.0, 1.0, 1.0]);
        assert_eq!(g.adoption_probability, 1.0);
        assert!((g.expected_rounds - 1.0).abs() < 1e-15);
    }

    #[test]
    fn vital_issue_never_concedes() {
        let sc = scenario(&[(1.0, 1.0), (1.0, 0.0)], 5.0, 5.0);
        let f = sc.monte_carlo(&mc(5_000, 3, 1)).unwrap();
        assert_eq!(f.concede_probability[1], 0.0);
        assert_eq!(f.concede_probability[2], 1.0);
        assert_eq!(f.adoption_probability, 0.0);
        assert_eq!(f.likely_holdouts(), vec![1]);
    }

    #[test]
    fn cascade_carries_a_member_that_would_not_concede_alone() {
        // Dissenter A (index 0 among dissenters) is fully pliable; B alone feels pull 0.1.
        let sc = scenario(&[(1.0, 0.0), (0.1, 0.0)], 1.0, 1.0);
        // θ_B = 0.5: 0.1 < 0.5 alone, but after A concedes pull = 0.1 + 1.0 · ½ = 0.6 ≥ 0.5.
        let c = sc.cascade(&[0.3, 0.5]);
        assert_eq!(c.conceded, vec![true, true]);
        assert_eq!(c.rounds, 2);
        // Without spread B holds out.
        let mut no_spread = sc.clone();
        no_spread.dynamics.spread = 0.0;
        let c = no_spread.cascade(&[0.3, 0.5]);
        assert_eq!(c.conceded, vec![true, false]);
        assert_eq!(c.rounds, 1);
        // With max_rounds = 1 the cascade is cut short.
        let mut short = sc.clone();
        short.dynamics.max_rounds = 1;
        assert_eq!(short.cascade(&[0.3, 0.5]).conceded, vec![true, false]);

        // In expectation: B concedes with 0.1 alone, and with 0.6 once A (certain) has conceded.
        let f = sc.monte_carlo(&mc(200_000, 11, 1)).unwrap();
        assert_eq!(f.concede_probability[1], 1.0);
        assert!((f.concede_probability[2] - 0.6).abs() < 0.01, "{f:?}");
        assert!((f.expected_rounds - (0.1 + 2.0 * 0.5 + 0.4)).abs() < 0.01);
        // Mean field: A concedes for sure, so B's pull is 0.1 + ½ and the modes agree.
        let g = sc.deterministic().unwrap();
        assert!((g.concede_probability[2] - 0.6).abs() < 1e-12, "{g:?}");
        assert!((g.expected_rounds - 1.5).abs() < 1e-12, "{g:?}");
    }

    #[test]
    fn fast_kernel_matches_the_round_by_round_cascade() {
        let sc = Scenario {
            lead: Stance::Support,
            allies: vec![
                ally(Some(Stance::Support), 0.0, 0.5),
                ally(Some(Stance::Object), 0.4, 0.3),
                ally(Some(Stance::Abstain), 0.2, 0.1),
                ally(None, 0.9, 0.9),
                ally(Some(Stance::Object), 0.7, 0.6),
                ally(Some(Stance::Object), 0.1, 0.0),
                ally(Some(Stance::Abstain), 0.3, 0.8),
            ],
            dynamics: Dynamics {
                pressure: 0.8,
                spread: 0.9,
                max_rounds: 3,
            },
            rule: BaseRule::QualifiedMajority { quota: 0.7 },
        };
        let prep = Prepared::new(&sc);
        let d = prep.dissenters.len();
        assert_eq!(prep.dissenters, vec![1, 2, 4, 5, 6]);
        let mut scratch = Scratch::new(d);
        let mut fast_rng = block_rng(99, 0);
        let mut slow_rng = block_rng(99, 0);
        for _ in 0..20_000 {
            let mut tally = Tally::new(d);
            prep.trial(&mut fast_rng, &mut scratch, &mut tally);
            let thresholds: Vec<f64> = (0..d).map(|_| unit(slow_rng.next_u64())).collect();
            let c = sc.cascade(&thresholds);
            let conceded: Vec<bool> = tally.conceded.iter().map(|n| *n == 1).collect();
            assert_eq!(conceded, c.conceded, "thresholds {thresholds:?}");
            assert_eq!(tally.rounds, u64::from(c.rounds));
            let support = 1 + 1 + c.conceded.iter().filter(|x| **x).count() as u64;
            assert_eq!(tally.support, support);
            assert_eq!(tally.adopted, u64::from(support >= 5));
        }
    }

    #[test]
    fn kernel_without_the_table_draws_the_same_trials() {
        // Spreads with a normal guess, one lost in rounding (binary search) and flat rows.
        for spread in [0.7, 1e-17, 0.0] {
            let dissent: Vec<(f64, f64)> = (0..40)
                .map(|j| ((j as f64 * 0.37) % 1.0, (j as f64 * 0.61) % 1.0))
                .collect();
            let sc = scenario(&dissent, 0.9, spread);
            let tabulated = Prepared::with_table(&sc, true);
            let computed = Prepared::with_table(&sc, false);
            assert!(!tabulated.table.is_empty() && computed.table.is_empty());
            let d = tabulated.dissenters.len();
            let (mut a, mut b) = (Tally::new(d), Tally::new(d));
            let (mut sa, mut sb) = (Scratch::new(d), Scratch::new(d));
            let (mut ra, mut rb) = (block_rng(7, 3), block_rng(7, 3));
            for _ in 0..5_000 {
                tabulated.trial(&mut ra, &mut sa, &mut a);
                computed.trial(&mut rb, &mut sb, &mut b);
                assert_eq!(sa.need, sb.need, "spread {spread}");
            }
            assert_eq!(
                (a.conceded, a.adopted, a.support, a.rounds),
                (b.conceded, b.adopted, b.support, b.rounds)
            );
        }
    }

    #[test]
    fn many_dissenters_are_decided_without_the_table() {
        let dissent: Vec<(f64, f64)> = (0..TABLE_MAX_DISSENTERS + 1)
            .map(|j| (0.1 + (j % 7) as f64 * 0.05, 0.2 + (j % 5) as f64 * 0.1))
            .collect();
        let sc = scenario(&dissent, 0.9, 0.5);
        assert!(Prepared::new(&sc).table.is_empty());
        let f = sc.monte_carlo(&mc(64, 5, 1)).unwrap();
        assert_eq!(f.dissenters(), TABLE_MAX_DISSENTERS + 1);
        // The same 64 trials (one block) with the table give the same forecast.
        let tabulated = Prepared::with_table(&sc, true);
        let d = tabulated.dissenters.len();
        let (mut tally, mut scratch, mut rng) = (Tally::new(d), Scratch::new(d), block_rng(5, 0));
        for _ in 0..64 {
            tabulated.trial(&mut rng, &mut scratch, &mut tally);
        }
        for (j, &i) in tabulated.dissenters.iter().enumerate() {
            assert_eq!(f.concede_probability[i], tally.conceded[j] as f64 / 64.0);
        }
        assert_eq!(f.adoption_probability, tally.adopted as f64 / 64.0);
    }

    #[test]
    fn the_support_distribution_skips_only_exact_zeros() {
        // 3,000 dissenters: the tails of the distribution underflow to 0 on the way.
        let dissent: Vec<(f64, f64)> = (0..3_000)
            .map(|j| (0.2 + (j % 13) as f64 * 0.05, (j % 7) as f64 * 0.1))
            .collect();
        let mut sc = scenario(&dissent, 0.8, 0.3);
        for quota in [0.3, 0.5, 0.7] {
            sc.rule = BaseRule::QualifiedMajority { quota };
            let f = sc.deterministic().unwrap();
            // The full convolution, every entry every time, as it was written before.
            let d = dissent.len();
            let mut dist = vec![0.0f64; d + 1];
            dist[0] = 1.0;
            for j in 0..d {
                let pj = f.concede_probability[j + 1];
                let supports = pj * 1.0 + (1.0 - pj) * 0.0;
                for k in (0..=j + 1).rev() {
                    let stay = dist[k] * (1.0 - supports);
                    let moved_in = if k > 0 { dist[k - 1] * supports } else { 0.0 };
                    dist[k] = stay + moved_in;
                }
            }
            assert_eq!(dist[0], 0.0, "the lower tail underflows");
            let required = (quota * (d + 1) as f64 - 1e-9).ceil() as usize;
            let expected = dist[required - 1..].iter().sum::<f64>().clamp(0.0, 1.0);
            assert_eq!(f.adoption_probability, expected, "quota {quota}");
        }
    }

    #[test]
    fn position_is_the_partition_point() {
        // No cascade (flat rows), a spread lost in rounding (the guess is far off), a normal one.
        for spread in [0.0, 1e-17, 0.7] {
            check_position(spread);
        }
    }

    fn check_position(spread: f64) {
        let sc = scenario(
            &[(0.3, 0.2), (0.0, 0.5), (1.0, 1.0), (0.7, 0.0), (0.5, 0.9)],
            0.9,
            spread,
        );
        let prep = Prepared::new(&sc);
        let width = prep.dissenters.len() + 3;
        let mut rng = block_rng(1, 2);
        for (j, padded) in prep.table.chunks_exact(width).enumerate() {
            let row = &padded[1..width - 1];
            let mut probes: Vec<f64> = (0..20_000).map(|_| unit(rng.next_u64())).collect();
            // The row's own values and their neighbours are the hard cases.
            for &p in row {
                if p > 0.0 && p < 1.0 {
                    let bits = p.to_bits();
                    probes.extend([p, f64::from_bits(bits - 1), f64::from_bits(bits + 1)]);
                }
            }
            for theta in probes {
                assert_eq!(
                    position(padded, prep.inv_step[j], theta),
                    row.partition_point(|&p| p < theta),
                    "spread {spread}, row {j}, theta {theta}"
                );
            }
        }
    }

    #[test]
    fn same_seed_same_result_other_seed_other_result() {
        let sc = scenario(&[(0.4, 0.5), (0.6, 0.2), (0.3, 0.7), (0.8, 0.4)], 1.0, 0.6);
        let a = sc.monte_carlo(&mc(50_000, 42, 1)).unwrap();
        let b = sc.monte_carlo(&mc(50_000, 42, 1)).unwrap();
        assert_eq!(a, b);
        let c = sc.monte_carlo(&mc(50_000, 43, 1)).unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn result_does_not_depend_on_threads() {
        let sc = scenario(&[(0.4, 0.5), (0.6, 0.2), (0.3, 0.7), (0.8, 0.4)], 1.0, 0.6);
        // Not a multiple of the block size, so the last block is partial.
        let trials = 5 * BLOCK_TRIALS + 123;
        let one = sc.monte_carlo(&mc(trials, 5, 1)).unwrap();
        for threads in [2, 3, 4, 7, 0] {
            assert_eq!(
                one,
                sc.monte_carlo(&mc(trials, 5, threads)).unwrap(),
                "{threads}"
            );
        }
    }

    #[test]
    fn deterministic_and_monte_carlo_agree_without_cascade() {
        let dissent = [(0.4, 0.5), (0.6, 0.2), (0.9, 0.1), (0.8, 0.4), (0.2, 0.0)];
        for rule in [
            BaseRule::Unanimity,
            BaseRule::QualifiedMajority { quota: 0.8 },
        ] {
            let mut sc = scenario(&dissent, 1.0, 0.0);
            sc.rule = rule;
            // One abstaining dissenter and one non-voter, so every kind of member is there.
            sc.allies.push(ally(Some(Stance::Abstain), 0.5, 0.5));
            sc.allies.push(ally(None, 0.5, 0.5));
            let trials = 400_000;
            let m = sc.monte_carlo(&mc(trials, 2026, 2)).unwrap();
            let g = sc.deterministic().unwrap();
            let tol = 4.0 * (0.25 / trials as f64).sqrt();
            for (a, b) in m.concede_probability.iter().zip(&g.concede_probability) {
                assert!((a - b).abs() < tol, "{a} vs {b}");
            }
            assert!(
                (m.adoption_probability - g.adoption_probability).abs() < tol,
                "{rule:?}: {} vs {}",
                m.adoption_probability,
                g.adoption_probability
            );
            assert!((m.expected_rounds - g.expected_rounds).abs() < tol);
            assert!((m.expected_support_share - g.expected_support_share).abs() < tol);
        }
        // Unanimity: the product of the objectors' concede probabilities (the abstainer does not
        // block).
        let sc = scenario(&dissent, 1.0, 0.0);
        let g = sc.deterministic().unwrap();
        let product: f64 = dissent.iter().map(|(s, r)| s * (1.0 - r)).product();
        assert!((g.adoption_probability - product).abs() < 1e-15);
    }

    #[test]
    fn objecting_lead_presses_supporters_and_blocks_under_unanimity() {
        let mut sc = scenario(&[], 1.0, 0.0);
        sc.lead = Stance::Object;
        sc.allies = vec![
            ally(Some(Stance::Object), 0.0, 0.0),
            ally(Some(Stance::Support), 1.0, 0.5),
            ally(None, 0.5, 0.5),
        ];
        let f = sc.monte_carlo(&mc(10_000, 1, 1)).unwrap();
        assert_eq!(f.adoption_probability, 0.0);
        assert!((f.concede_probability[1] - 0.5).abs() < 0.03);
        assert_eq!(f.expected_stance[2], Stance::Object);
        sc.rule = BaseRule::QualifiedMajority { quota: 0.3 };
        let f = sc.deterministic().unwrap();
        // Adopted iff the one supporter holds out: 1 of 3 ≥ 0.3.
        assert!((f.adoption_probability - 0.5).abs() < 1e-15);
    }

    #[test]
    fn abstaining_lead_presses_nobody() {
        let mut sc = scenario(&[(1.0, 0.0)], 1.0, 1.0);
        sc.lead = Stance::Abstain;
        let f = sc.monte_carlo(&mc(100, 1, 1)).unwrap();
        assert_eq!(f.dissenters(), 0);
        assert_eq!(f.adoption_probability, 0.0, "the remaining member objects");
    }

    #[test]
    fn invalid_values_are_refused() {
        let mut sc = scenario(&[(0.5, 0.5)], -1.0, 0.0);
        assert_eq!(sc.deterministic().unwrap_err().field, "pressure");
        sc.dynamics.pressure = 1.0;
        sc.dynamics.max_rounds = 0;
        assert_eq!(sc.deterministic().unwrap_err().field, "max_rounds");
        sc.dynamics.max_rounds = 5;
        sc.allies[1].resistance = 1.5;
        assert_eq!(
            sc.deterministic().unwrap_err().field,
            "allies[1].resistance"
        );
        sc.allies[1].resistance = 0.5;
        assert_eq!(sc.monte_carlo(&mc(0, 1, 1)).unwrap_err().field, "trials");
        sc.rule = BaseRule::QualifiedMajority { quota: 0.0 };
        assert_eq!(sc.deterministic().unwrap_err().field, "base_quota");
    }
}
