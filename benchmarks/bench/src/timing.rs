//! The report's timer: warm up, then time batches of calls (each batch long enough for the clock)
//! and take the median time per call. Also the process CPU time, so that a rate per core can be
//! read even when other work shares the cores.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// CPU time used so far by this process, all threads, including threads that have ended.
pub fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_PROCESS_CPUTIME_ID is always available on
    // Linux. On failure `ts` stays zero.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// How long and how often to measure one case.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Warm up for at least this long (and at least one call).
    pub warm_up: Duration,
    /// Each sample runs enough calls to take at least this long.
    pub min_sample: Duration,
    /// Stop after this many samples…
    pub max_samples: usize,
    /// …or once this much time has been spent sampling, but never before `min_samples`.
    pub budget: Duration,
    /// The fewest samples.
    pub min_samples: usize,
}

impl Plan {
    /// Microsecond- to millisecond-scale calls: 0.2 s warm-up, samples of ≥ 20 ms, up to 21
    /// samples or 1 s.
    pub const FAST: Plan = Plan {
        warm_up: Duration::from_millis(200),
        min_sample: Duration::from_millis(20),
        max_samples: 21,
        budget: Duration::from_secs(1),
        min_samples: 5,
    };
    /// Calls of a tenth of a second or more: one warm-up call, up to 7 samples or 3 s, at least 3.
    pub const SLOW: Plan = Plan {
        warm_up: Duration::ZERO,
        min_sample: Duration::ZERO,
        max_samples: 7,
        budget: Duration::from_secs(3),
        min_samples: 3,
    };
}

impl Plan {
    /// [`Plan::FAST`] for a call that took less than 50 ms once, [`Plan::SLOW`] otherwise.
    pub fn for_call(once: Duration) -> Plan {
        if once < Duration::from_millis(50) {
            Plan::FAST
        } else {
            Plan::SLOW
        }
    }
}

/// The result of measuring one case.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Median wall time per call over the samples.
    pub median: Duration,
    /// Fastest and slowest sample, per call.
    pub min: Duration,
    /// See `min`.
    pub max: Duration,
    /// Samples taken.
    pub samples: usize,
    /// Calls per sample.
    pub batch: u64,
    /// Process CPU time per call (all threads), averaged over every sampled call.
    pub cpu_per_call: Duration,
}

struct Sampler<F> {
    f: F,
    batch: u64,
    per_call: Vec<Duration>,
    cpu: Duration,
    calls: u64,
}

impl<F: FnMut()> Sampler<F> {
    fn warm_up(mut f: F, plan: &Plan) -> Self {
        let start = Instant::now();
        let mut calls = 0u64;
        loop {
            f();
            calls += 1;
            if start.elapsed() >= plan.warm_up {
                break;
            }
        }
        let per_call = start.elapsed() / calls.max(1) as u32;
        let batch = if plan.min_sample.is_zero() || per_call.is_zero() {
            1
        } else {
            plan.min_sample
                .as_nanos()
                .div_ceil(per_call.as_nanos().max(1))
                .max(1) as u64
        };
        Sampler {
            f,
            batch,
            per_call: Vec::new(),
            cpu: Duration::ZERO,
            calls: 0,
        }
    }

    fn sample(&mut self) {
        let cpu = cpu_time();
        let start = Instant::now();
        for _ in 0..self.batch {
            (self.f)();
        }
        let elapsed = start.elapsed();
        self.cpu += cpu_time().saturating_sub(cpu);
        self.calls += self.batch;
        self.per_call.push(elapsed / self.batch as u32);
    }

    fn finish(mut self) -> Measurement {
        self.per_call.sort();
        let n = self.per_call.len();
        let median = if n % 2 == 1 {
            self.per_call[n / 2]
        } else {
            (self.per_call[n / 2 - 1] + self.per_call[n / 2]) / 2
        };
        Measurement {
            median,
            min: self.per_call[0],
            max: self.per_call[n - 1],
            samples: n,
            batch: self.batch,
            cpu_per_call: self.cpu / self.calls.max(1) as u32,
        }
    }
}

fn done(plan: &Plan, samples: usize, start: Instant) -> bool {
    samples >= plan.max_samples || (samples >= plan.min_samples && start.elapsed() >= plan.budget)
}

/// Measures `f` (its result is passed through [`black_box`]).
pub fn measure<T>(plan: &Plan, mut f: impl FnMut() -> T) -> Measurement {
    let mut s = Sampler::warm_up(
        || {
            black_box(f());
        },
        plan,
    );
    let start = Instant::now();
    while !done(plan, s.per_call.len(), start) {
        s.sample();
    }
    s.finish()
}

/// Measures `a` and `b` in alternating samples, so that both see the same conditions (other work
/// on the machine, clock speed) — for a ratio of the two. The budget is shared.
pub fn measure_pair<A, B>(
    plan: &Plan,
    mut a: impl FnMut() -> A,
    mut b: impl FnMut() -> B,
) -> (Measurement, Measurement) {
    let mut sa = Sampler::warm_up(
        || {
            black_box(a());
        },
        plan,
    );
    let mut sb = Sampler::warm_up(
        || {
            black_box(b());
        },
        plan,
    );
    let start = Instant::now();
    let twice = Plan {
        budget: plan.budget * 2,
        ..*plan
    };
    while !done(&twice, sa.per_call.len().min(sb.per_call.len()), start) {
        sa.sample();
        sb.sample();
    }
    (sa.finish(), sb.finish())
}
