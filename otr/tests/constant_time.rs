//! A dudect-style timing test of the secret exponentiations
//! (`Element::pow_secret`, `Element::g_pow`), with a control that shows the
//! test can see a leak: the same measurement on `num_bigint::BigUint::modpow`,
//! which is variable-time.
//!
//! dudect ("Dude, is my code constant time?", Reparaz, Balasch, Verbauwhede
//! 2017): time the operation many times, each time with an input drawn from
//! one of two classes chosen at random — here a *fixed* secret exponent of
//! low weight (the value 1, all other bits zero) and a fresh *random* one,
//! both with the same public bit bound — and run Welch's t-test on the two
//! sets of times. |t| above 4.5 means the classes are told apart by timing.
//! As dudect does, the test is also run on the measurements cropped at
//! several percentiles (outliers from interrupts and other processes
//! dominate the variance otherwise), and the largest |t| is taken.
//!
//! The `dudect-bencher` crate is not used: it builds on stable, but it is a
//! benchmark harness (`ctbench_main!` makes `main`, reads its own command
//! line, prints its result) whose statistics are private, so a `cargo test`
//! cannot get the t value to assert on. The statistics here are the same as
//! its `stats.rs` (Welch's t over running means and variances, percentile
//! crops).
//!
//! Made robust for a loaded two-core machine: classes are interleaved in a
//! random order (so load hits both alike), the inputs are prepared before
//! the timed call, and each test runs several rounds and asserts on the
//! median of their |t|. The sample counts keep the whole file under about
//! 10 s (the otr package is built at opt-level 3 in the dev profile too).

use std::hint::black_box;
use std::time::Instant;

use num_bigint::BigUint;
use otr::group::{Element, Exponent, DH_SECRET_BITS, SMP_SECRET_BITS};
use otr::rng::{OsRng, Rng};

/// dudect's threshold.
const THRESHOLD: f64 = 4.5;
/// Rounds per test; the median |t| is asserted.
const ROUNDS: usize = 5;

/// `OTR_DUDECT_SCALE=N` multiplies every sample count by N, for a longer,
/// more sensitive run by hand (a leak's |t| grows with the square root of
/// the samples; noise does not).
fn scaled(samples: usize) -> usize {
    let scale = std::env::var("OTR_DUDECT_SCALE").ok().and_then(|value| value.parse::<usize>().ok()).unwrap_or(1);
    samples * scale.max(1)
}

/// RFC 3526's 1536-bit prime, the OTR group's p.
const P_HEX: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Fixed,
    Random,
}

/// Welch's t-test over running sums (Welford), as dudect keeps it.
#[derive(Default, Clone, Copy)]
struct Welch {
    n: [f64; 2],
    mean: [f64; 2],
    m2: [f64; 2],
}

impl Welch {
    fn push(&mut self, class: Class, x: f64) {
        let i = class as usize;
        self.n[i] += 1.0;
        let delta = x - self.mean[i];
        self.mean[i] += delta / self.n[i];
        self.m2[i] += delta * (x - self.mean[i]);
    }

    fn t(&self) -> f64 {
        let var = |i: usize| self.m2[i] / (self.n[i] - 1.0);
        (self.mean[0] - self.mean[1]) / (var(0) / self.n[0] + var(1) / self.n[1]).sqrt()
    }
}

/// dudect's statistic for one set of measurements: the largest |t| over
/// the whole set and the set cropped above each of dudect's percentiles
/// 1 - 0.5^(10k/100) (here every tenth k, 10 crops).
fn max_t(samples: &[(Class, f64)]) -> f64 {
    let mut sorted: Vec<f64> = samples.iter().map(|&(_, x)| x).collect();
    sorted.sort_by(f64::total_cmp);
    let mut thresholds = vec![f64::INFINITY];
    for k in (10..=100).step_by(10) {
        let fraction = 1.0 - 0.5f64.powf(f64::from(k) / 10.0);
        thresholds.push(sorted[((sorted.len() - 1) as f64 * fraction) as usize]);
    }
    thresholds
        .iter()
        .map(|&limit| {
            let mut welch = Welch::default();
            for &(class, x) in samples.iter().filter(|&&(_, x)| x < limit) {
                welch.push(class, x);
            }
            welch.t()
        })
        .filter(|t| t.is_finite())
        .fold(0.0, |max: f64, t| max.max(t.abs()))
}

fn coin(rng: &mut OsRng) -> Class {
    let mut byte = [0u8];
    rng.fill(&mut byte);
    if byte[0] & 1 == 0 {
        Class::Fixed
    } else {
        Class::Random
    }
}

/// A random exponent of exactly `bits` bits' bound, big-endian.
fn random_exponent_bytes(rng: &mut OsRng, bits: u32) -> Vec<u8> {
    let mut bytes = vec![0u8; bits.div_ceil(8) as usize];
    rng.fill(&mut bytes);
    bytes
}

/// The fixed class: the value 1, padded to the same length.
fn fixed_exponent_bytes(bits: u32) -> Vec<u8> {
    let mut bytes = vec![0u8; bits.div_ceil(8) as usize];
    *bytes.last_mut().unwrap() = 1;
    bytes
}

/// [`ROUNDS`] dudect runs of `samples` timed calls of `operation` on an
/// exponent of each class (random order); returns each round's max |t|.
/// `prepare` turns the exponent's bytes into the operation's input before
/// the clock starts, and the result is dropped after it stops.
fn dudect<T, R>(name: &str, bits: u32, samples: usize, prepare: impl Fn(&[u8]) -> T, operation: impl Fn(&T) -> R) -> Vec<f64> {
    let samples = scaled(samples);
    let mut rng = OsRng;
    let fixed = fixed_exponent_bytes(bits);
    // Warm up caches, the branch predictor and the CPU's clock.
    for _ in 0..samples / 10 {
        black_box(operation(black_box(&prepare(&random_exponent_bytes(&mut rng, bits)))));
    }
    let started = Instant::now();
    let mut ts = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        // Inputs first, so nothing but the operation is timed.
        let inputs: Vec<(Class, T)> = (0..samples)
            .map(|_| match coin(&mut rng) {
                Class::Fixed => (Class::Fixed, prepare(&fixed)),
                Class::Random => (Class::Random, prepare(&random_exponent_bytes(&mut rng, bits))),
            })
            .collect();
        let mut measured = Vec::with_capacity(samples);
        for (class, exponent) in &inputs {
            let exponent = black_box(exponent);
            let start = Instant::now();
            let result = operation(exponent);
            let nanos = start.elapsed().as_nanos() as f64;
            black_box(result);
            measured.push((*class, nanos));
        }
        ts.push(max_t(&measured));
    }
    let mut sorted = ts.clone();
    sorted.sort_by(f64::total_cmp);
    eprintln!(
        "{name}: {bits}-bit bound, {ROUNDS} rounds of {samples}: max |t| per round {:?}, median {:.2} ({:.1} s)",
        ts.iter().map(|t| (t * 100.0).round() / 100.0).collect::<Vec<_>>(),
        median(&ts),
        started.elapsed().as_secs_f64()
    );
    ts
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// A base that is neither small nor special: a random element, the same for
/// both classes.
fn base() -> Element {
    let mut rng = OsRng;
    Element::g_pow(&Exponent::random_smp(&mut rng))
}

#[test]
fn secret_exponentiation_is_constant_time() {
    let base = base();
    let exponent = |bits: u32| move |bytes: &[u8]| Exponent::from_bytes(bytes, bits);
    // DH private keys (AKE, data-message keys): 320-bit bound.
    let pow = dudect("pow_secret", DH_SECRET_BITS, 2000, exponent(DH_SECRET_BITS), |x| base.pow_secret(x));
    let g = dudect("g_pow", DH_SECRET_BITS, 2000, exponent(DH_SECRET_BITS), Element::g_pow);
    // SMP exponents: the full 1536 bits.
    let smp = dudect("pow_secret", SMP_SECRET_BITS, 400, exponent(SMP_SECRET_BITS), |x| base.pow_secret(x));
    for (name, ts) in [("pow_secret 320-bit", pow), ("g_pow 320-bit", g), ("pow_secret 1536-bit", smp)] {
        let t = median(&ts);
        assert!(t < THRESHOLD, "{name}: median |t| = {t:.2} ≥ {THRESHOLD}: fixed and random exponents are told apart by time ({ts:?})");
    }
}

/// The control: num-bigint's modpow, whose running time follows the
/// exponent's length in words (it skips leading zero words), must be caught
/// by the same measurement.
#[test]
fn the_test_sees_num_bigints_variable_time_modpow() {
    let p = BigUint::parse_bytes(P_HEX.as_bytes(), 16).unwrap();
    let base = BigUint::from_bytes_be(&base().to_bytes());
    let ts = dudect("num-bigint modpow (control)", DH_SECRET_BITS, 2000, BigUint::from_bytes_be, |x| base.modpow(x, &p));
    let t = median(&ts);
    assert!(t > THRESHOLD, "the control's median |t| = {t:.2} ≤ {THRESHOLD}: this test could not see a variable-time modpow ({ts:?})");
}
