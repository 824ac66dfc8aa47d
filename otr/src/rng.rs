//! Randomness, injected so that tests run with fixed bytes and produce the
//! same messages every time (as coyim/otr3 does), while the crypto process
//! uses the kernel's generator.

/// A source of random bytes.
pub trait Rng {
    fn fill(&mut self, buffer: &mut [u8]);
}

/// The kernel's generator (getrandom(2)). It cannot fail on Linux once the
/// pool is initialised; a failure means no safe key can be made, so it aborts
/// the process rather than continue with predictable bytes.
#[derive(Default, Clone, Copy)]
pub struct OsRng;

impl Rng for OsRng {
    fn fill(&mut self, buffer: &mut [u8]) {
        if getrandom::fill(buffer).is_err() {
            std::process::abort();
        }
    }
}

/// A deterministic generator for tests and vectors: SHA-256 of a seed and a
/// counter. Never used for real keys.
#[derive(Clone)]
pub struct SeededRng {
    seed: [u8; 32],
    counter: u64,
}

impl SeededRng {
    pub fn new(seed: &[u8]) -> Self {
        use sha2::Digest;
        Self { seed: sha2::Sha256::digest(seed).into(), counter: 0 }
    }
}

impl Rng for SeededRng {
    fn fill(&mut self, buffer: &mut [u8]) {
        use sha2::Digest;
        for chunk in buffer.chunks_mut(32) {
            let mut hasher = sha2::Sha256::new();
            hasher.update(self.seed);
            hasher.update(self.counter.to_be_bytes());
            self.counter += 1;
            let block: [u8; 32] = hasher.finalize().into();
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
    }
}
