//! Exact counting arithmetic: counts modulo `2^bits` or modulo 62-bit primes, rebuilt into big
//! integers by the Chinese remainder theorem, and big ratios rounded to the nearest `f64`.
//!
//! Guarantee: every count a [`Job`] returns is rebuilt exactly, provided the job's counts are
//! all below `2^bits` for the `bits` it is run with. The dynamic programmes only add and
//! subtract (deconvolution is an alternating sum), so they are ring homomorphisms: a count
//! computed modulo `m` is the true count modulo `m`. Up to 128 bits one native word holds it
//! (wrapping arithmetic modulo `2^32`, `2^64` or `2^128`); past that the job runs once per prime
//! of [`PRIMES`] (each pass independent, `k` passes for `62k ≥ bits`) and the residues are
//! combined with Garner's algorithm.

use num_bigint::BigUint;
use num_traits::{One, ToPrimitive, Zero};

use super::PowerError;

/// Sixteen primes just below `2^62` (checked by a Miller–Rabin test in the unit tests): sums of
/// two residues stay below `2^63`, and their product exceeds `2^991`.
pub(crate) const PRIMES: [u64; 16] = [
    0x3fff_ffff_ffff_ffc7,
    0x3fff_ffff_ffff_ffa9,
    0x3fff_ffff_ffff_ff8b,
    0x3fff_ffff_ffff_ff71,
    0x3fff_ffff_ffff_ff67,
    0x3fff_ffff_ffff_ff59,
    0x3fff_ffff_ffff_ff55,
    0x3fff_ffff_ffff_ff3d,
    0x3fff_ffff_ffff_ff35,
    0x3fff_ffff_ffff_feef,
    0x3fff_ffff_ffff_fee1,
    0x3fff_ffff_ffff_fec3,
    0x3fff_ffff_ffff_fe45,
    0x3fff_ffff_ffff_fe1d,
    0x3fff_ffff_ffff_fe11,
    0x3fff_ffff_ffff_fdc1,
];

/// The largest count width the primes cover: the product of the sixteen primes exceeds `2^991`.
pub(crate) const MAX_BITS: u32 = 991;

/// A count modulo some `m` (`2^32`, `2^64`, `2^128` or a prime).
pub(crate) trait Cell: Copy + Default + PartialEq + std::fmt::Debug + 'static {
    fn add(self, other: Self) -> Self;
    fn sub(self, other: Self) -> Self;
    fn from_u64(v: u64) -> Self;
    /// The residue, `0 ≤ r < m`.
    fn residue(self) -> u128;

    fn one() -> Self {
        Self::from_u64(1)
    }

    /// `2^k mod m`.
    fn pow2(k: usize) -> Self {
        let mut v = Self::one();
        for _ in 0..k {
            v = v.add(v);
        }
        v
    }

    /// `self · 2^k mod m`.
    fn shl(self, k: usize) -> Self {
        let mut v = self;
        for _ in 0..k {
            v = v.add(v);
        }
        v
    }
}

macro_rules! wrapping_cell {
    ($t:ty) => {
        impl Cell for $t {
            #[inline(always)]
            fn add(self, other: Self) -> Self {
                self.wrapping_add(other)
            }
            #[inline(always)]
            fn sub(self, other: Self) -> Self {
                self.wrapping_sub(other)
            }
            #[inline(always)]
            fn from_u64(v: u64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn residue(self) -> u128 {
                self as u128
            }
        }
    };
}
wrapping_cell!(u32);
wrapping_cell!(u64);
wrapping_cell!(u128);

/// A residue modulo `PRIMES[I]`.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct ModP<const I: usize>(u64);

impl<const I: usize> Cell for ModP<I> {
    #[inline(always)]
    fn add(self, other: Self) -> Self {
        let s = self.0 + other.0;
        Self(if s >= PRIMES[I] { s - PRIMES[I] } else { s })
    }
    #[inline(always)]
    fn sub(self, other: Self) -> Self {
        Self(if self.0 >= other.0 {
            self.0 - other.0
        } else {
            self.0 + PRIMES[I] - other.0
        })
    }
    #[inline(always)]
    fn from_u64(v: u64) -> Self {
        Self(v % PRIMES[I])
    }
    #[inline(always)]
    fn residue(self) -> u128 {
        u128::from(self.0)
    }
}

/// A counting computation that can run in any [`Cell`].
pub(crate) trait Job {
    /// The counts, each reduced modulo the cell's modulus.
    fn run<C: Cell>(&self) -> Result<Vec<C>, PowerError>;
}

/// Runs `job` and rebuilds its counts exactly, given that each is below `2^bits`.
pub(crate) fn exact<J: Job>(job: &J, bits: u32) -> Result<Vec<BigUint>, PowerError> {
    fn native<C: Cell>(v: Vec<C>) -> Vec<BigUint> {
        v.into_iter().map(|c| BigUint::from(c.residue())).collect()
    }
    if bits <= 32 {
        return job.run::<u32>().map(native);
    }
    if bits <= 64 {
        return job.run::<u64>().map(native);
    }
    if bits <= 128 {
        return job.run::<u128>().map(native);
    }
    if bits > MAX_BITS {
        return Err(PowerError::TooManyPlayers(bits as usize - 1));
    }
    let passes = bits.div_ceil(61) as usize; // 61 bits per prime, conservatively
    let mut residues: Vec<Vec<u64>> = Vec::with_capacity(passes);
    for pass in 0..passes {
        residues.push(run_mod(job, pass)?);
    }
    Ok(garner(&residues))
}

fn run_mod<J: Job>(job: &J, pass: usize) -> Result<Vec<u64>, PowerError> {
    fn go<C: Cell, J: Job>(job: &J) -> Result<Vec<u64>, PowerError> {
        Ok(job
            .run::<C>()?
            .into_iter()
            .map(|c| c.residue() as u64)
            .collect())
    }
    match pass {
        0 => go::<ModP<0>, J>(job),
        1 => go::<ModP<1>, J>(job),
        2 => go::<ModP<2>, J>(job),
        3 => go::<ModP<3>, J>(job),
        4 => go::<ModP<4>, J>(job),
        5 => go::<ModP<5>, J>(job),
        6 => go::<ModP<6>, J>(job),
        7 => go::<ModP<7>, J>(job),
        8 => go::<ModP<8>, J>(job),
        9 => go::<ModP<9>, J>(job),
        10 => go::<ModP<10>, J>(job),
        11 => go::<ModP<11>, J>(job),
        12 => go::<ModP<12>, J>(job),
        13 => go::<ModP<13>, J>(job),
        14 => go::<ModP<14>, J>(job),
        _ => go::<ModP<15>, J>(job),
    }
}

fn mul_mod(a: u64, b: u64, p: u64) -> u64 {
    ((u128::from(a) * u128::from(b)) % u128::from(p)) as u64
}

fn pow_mod(mut a: u64, mut e: u64, p: u64) -> u64 {
    let mut r = 1u64;
    a %= p;
    while e > 0 {
        if e & 1 == 1 {
            r = mul_mod(r, a, p);
        }
        a = mul_mod(a, a, p);
        e >>= 1;
    }
    r
}

/// Garner's algorithm: the mixed-radix digits `x = a₀ + a₁p₀ + a₂p₀p₁ + …` of each value from its
/// residues `residues[pass][value]`, then the value by Horner's rule.
#[allow(clippy::needless_range_loop)] // indices into several parallel tables
fn garner(residues: &[Vec<u64>]) -> Vec<BigUint> {
    let k = residues.len();
    let len = residues[0].len();
    // inv[l][j] = p_l⁻¹ mod p_j for l < j.
    let inv: Vec<Vec<u64>> = (0..k)
        .map(|l| {
            (0..k)
                .map(|j| {
                    if l < j {
                        pow_mod(PRIMES[l] % PRIMES[j], PRIMES[j] - 2, PRIMES[j])
                    } else {
                        0
                    }
                })
                .collect()
        })
        .collect();
    let mut out = Vec::with_capacity(len);
    let mut digits = vec![0u64; k];
    for v in 0..len {
        for j in 0..k {
            let p = PRIMES[j];
            let mut t = residues[j][v] % p;
            for l in 0..j {
                let d = digits[l] % p;
                t = if t >= d { t - d } else { t + p - d };
                t = mul_mod(t, inv[l][j], p);
            }
            digits[j] = t;
        }
        let mut x = BigUint::zero();
        for j in (0..k).rev() {
            x = x * PRIMES[j] + digits[j];
        }
        out.push(x);
    }
    out
}

/// `num / den` rounded to the nearest `f64` (ties to even); 0 when `num` is 0 or `den` is 0.
pub(crate) fn ratio(num: &BigUint, den: &BigUint) -> f64 {
    if num.is_zero() || den.is_zero() {
        return 0.0;
    }
    let diff = i64::try_from(num.bits()).unwrap_or(i64::MAX)
        - i64::try_from(den.bits()).unwrap_or(i64::MAX);
    // num/den ∈ (2^(diff−1), 2^(diff+1)): scaled by 2^shift the quotient has 55 or 56 bits.
    let shift = 55 - diff;
    let (n2, d2) = if shift >= 0 {
        (num << shift as u64, den.clone())
    } else {
        (num.clone(), den << (-shift) as u64)
    };
    let q = &n2 / &d2;
    let sticky = !(&n2 % &d2).is_zero();
    let q = q.to_u64().expect("the scaled quotient has at most 56 bits");
    let extra = 64 - q.leading_zeros() - 53;
    let rem = q & ((1u64 << extra) - 1);
    let half = 1u64 << (extra - 1);
    let mut m = q >> extra;
    if rem > half || (rem == half && (sticky || m & 1 == 1)) {
        m += 1;
    }
    let exponent = i64::from(extra) - shift;
    m as f64 * pow2f(exponent)
}

/// `2^e` as an `f64` (exact within the normal range, 0 below it, ∞ above).
fn pow2f(e: i64) -> f64 {
    if e > 1023 {
        f64::INFINITY
    } else if e >= -1022 {
        f64::from_bits(((e + 1023) as u64) << 52)
    } else if e >= -1074 {
        f64::from_bits(1u64 << (e + 1074))
    } else {
        0.0
    }
}

/// `C(m, k)` for `k` in `0..=m`, in a cell.
pub(crate) fn binomials<C: Cell>(m: usize) -> Vec<C> {
    let mut row = vec![C::one()];
    for _ in 0..m {
        let mut next = vec![C::one(); row.len() + 1];
        for k in 1..row.len() {
            next[k] = row[k - 1].add(row[k]);
        }
        row = next;
    }
    row
}

/// `k!` for `k` in `0..=n`.
pub(crate) fn factorials(n: usize) -> Vec<BigUint> {
    let mut out = vec![BigUint::one()];
    for k in 1..=n {
        let next = &out[k - 1] * BigUint::from(k);
        out.push(next);
    }
    out
}

/// `lcm(1, …, n)` (1 for `n = 0`).
pub(crate) fn lcm_upto(n: usize) -> BigUint {
    let mut l = BigUint::one();
    for k in 2..=n {
        let k = BigUint::from(k);
        let g = gcd_big(&l, &k);
        l = &l / &g * &k;
    }
    l
}

fn gcd_big(a: &BigUint, b: &BigUint) -> BigUint {
    let (mut a, mut b) = (a.clone(), b.clone());
    while !b.is_zero() {
        let r = &a % &b;
        a = b;
        b = r;
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_prime(n: u64) -> bool {
        if n < 2 {
            return false;
        }
        for p in [2u64, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37] {
            if n % p == 0 {
                return n == p;
            }
        }
        let (mut d, mut s) = (n - 1, 0);
        while d % 2 == 0 {
            d /= 2;
            s += 1;
        }
        'bases: for a in [2u64, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37] {
            let mut x = pow_mod(a, d, n);
            if x == 1 || x == n - 1 {
                continue;
            }
            for _ in 1..s {
                x = mul_mod(x, x, n);
                if x == n - 1 {
                    continue 'bases;
                }
            }
            return false;
        }
        true
    }

    #[test]
    fn the_moduli_are_distinct_primes_whose_product_covers_max_bits() {
        let mut product = BigUint::one();
        for (i, &p) in PRIMES.iter().enumerate() {
            assert!(is_prime(p), "{p:#x}");
            assert!(p < 1 << 62);
            assert!(!PRIMES[..i].contains(&p));
            product *= p;
        }
        assert!(product.bits() > u64::from(MAX_BITS));
    }

    struct Powers(usize);

    impl Job for Powers {
        fn run<C: Cell>(&self) -> Result<Vec<C>, PowerError> {
            // 2^k − 1 for k up to n, then C(n, k).
            let n = self.0;
            let mut out: Vec<C> = (0..=n).map(|k| C::pow2(k).sub(C::one())).collect();
            out.extend(binomials::<C>(n));
            Ok(out)
        }
    }

    #[test]
    fn counts_are_rebuilt_exactly_in_every_width() {
        for (n, bits) in [(30, 31), (60, 61), (120, 121), (300, 301), (900, 901)] {
            let got = exact(&Powers(n), bits).unwrap();
            let mut b = BigUint::one();
            for k in 0..=n {
                let two = (BigUint::one() << k) - 1u32;
                assert_eq!(got[k], two, "2^{k} − 1 in {bits} bits");
                assert_eq!(got[n + 1 + k], b, "C({n}, {k}) in {bits} bits");
                b = b * BigUint::from(n - k) / BigUint::from(k + 1);
            }
        }
    }

    #[test]
    fn ratios_round_to_nearest() {
        let r = |a: u64, b: u64| ratio(&BigUint::from(a), &BigUint::from(b));
        assert_eq!(r(1, 3), 1.0 / 3.0);
        assert_eq!(r(2, 3), 2.0 / 3.0);
        assert_eq!(r(5, 21), 5.0 / 21.0);
        assert_eq!(r(7, 30), 7.0 / 30.0);
        assert_eq!(r(0, 3), 0.0);
        assert_eq!(r(3, 0), 0.0);
        assert_eq!(r(u64::MAX, 1), u64::MAX as f64);
        assert_eq!(r(1, 1 << 63), 2f64.powi(-63));
        let big = BigUint::from(2u32).pow(900);
        assert_eq!(ratio(&(&big / 3u32), &big), 1.0 / 3.0);
        assert_eq!(ratio(&BigUint::one(), &big), 2f64.powi(-900));
        for a in 1..200u64 {
            for b in 1..50u64 {
                assert_eq!(r(a, b), a as f64 / b as f64, "{a}/{b}");
            }
        }
    }

    #[test]
    fn lcm_and_factorials() {
        assert_eq!(lcm_upto(10), BigUint::from(2520u32));
        assert_eq!(factorials(5)[5], BigUint::from(120u32));
    }
}
