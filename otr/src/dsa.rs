//! OTR's long-term keys: DSA with a 1024-bit p and a 160-bit q, the PUBKEY
//! encoding, SIG (r||s) and fingerprints ("Public keys, signatures, and
//! fingerprints" in the spec).
//!
//! # What is signed (the prehash trap)
//! OTR signs the 32-byte HMAC-SHA256 value M_A/M_B. libotr hands those 32
//! bytes to libgcrypt as a plain MPI, and libgcrypt does not truncate a plain
//! MPI: the value signed is int(M) mod q. Go's crypto/dsa (x/crypto/otr,
//! coyim/otr3) and pycrypto (potr) do the same. FIPS 186-4, and the `dsa`
//! crate's prehash API, instead keep the leftmost 160 bits of the hash, which
//! gives a different z whenever int(M) >= q — about always. So we compute
//! z = int(M) mod q ourselves and give the crate those 20 bytes as the
//! "prehash"; keeping the leftmost 20 bytes of a 20-byte value changes
//! nothing.
//!
//! # Constant time (read in dsa 0.7.0 and crypto-bigint 0.7.11)
//! Signing (`SigningKey::sign_prehashed`) computes r = (g^k mod p) mod q with
//! `BoxedMontyForm::pow` (fixed-window exponentiation over all bits of k's
//! precision, powers picked with `ct_assign`; no `_vartime` call), and
//! s = k^-1 (z + x r) mod q with `concatenating_mul`, `concatenating_add`
//! and `mul_mod`/`rem`, whose division (`UintRef::div_rem`) is constant-time
//! in the dividend and varies only with the divisor q, which is public.
//! The random nonce (`generate::secret_number`) draws 224 random bits,
//! reduces them mod q-1 with the same constant-time `rem`, and inverts with
//! `invert_mod` (safegcd, the constant-time variant). The comparisons that
//! follow only reject values with probability about 2^-160. Key generation
//! draws x with `try_random_mod_vartime`, which is variable-time only in the
//! number of rejected draws (not in the accepted x), and computes y = g^x
//! with the same constant-time `pow`. The `_vartime` calls in the crate
//! (`BoxedMontyParams::new_vartime`, `from_be_slice_vartime`) take only
//! public values (p, DER input). So signing is constant-time in x and k and
//! we use it as is. One thing it does not do: the temporaries holding k,
//! k^-1 and the widened copy of x are plain `BoxedUint`s, freed without
//! being wiped. Only the long-lived x (in `Zeroizing`) is wiped.
//!
//! # Nonce
//! We use the crate's random nonce (`sign_prehash_with_rng`), drawn from the
//! injected [`Rng`]: that is what libotr does (libgcrypt draws k at random),
//! it keeps the signature's randomness under the caller's control (tests use
//! a seeded generator), and the crypto process's `OsRng` aborts rather than
//! hand out predictable bytes. RFC 6979 would also give valid signatures.
//!
//! # Which sizes are accepted
//! Our own keys ([`PrivateKey`]) must be exactly 1024/160: that is all
//! libotr generates ("(genkey (dsa (nbits 4:1024)))"), and anything else
//! would surprise a peer. A peer's key ([`PublicKey::decode`]) may have a p
//! of 1024 to 3072 bits (libotr's verification takes any size; 3072 caps the
//! work a peer can make us do, and a p below 1024 bits gives no security),
//! but q must have 160 bits, because the spec's SIG carries r and s as 20
//! bytes each and libotr refuses any other signature length.

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Odd};
use dsa::signature::hazmat::RandomizedPrehashSigner;
use dsa::signature::rand_core::{TryCryptoRng, TryRng};
use dsa::{Components, KeySize, SigningKey, VerifyingKey};
use num_bigint::BigUint;
use sha1::Digest;
use thiserror::Error;
use zeroize::Zeroizing;

use crate::encoding::{DecodeError, Reader, Writer, MAX_MPI_BYTES};
use crate::rng::Rng;

/// The PUBKEY type of DSA keys, the only type OTR defines.
pub const DSA_KEY_TYPE: u16 = 0x0000;
/// Bytes in a SIG: r and s, 20 bytes each.
pub const SIGNATURE_BYTES: usize = 40;
/// Bits in q.
pub const Q_BITS: u64 = 160;
/// Bits in the p of our own keys.
pub const P_BITS: u64 = 1024;
/// The widest p accepted from a peer.
pub const MAX_PEER_P_BITS: u64 = 3072;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DsaError {
    #[error("the public key is cut short or malformed: {0}")]
    Decode(#[from] DecodeError),
    #[error("the public key has type {0}, but OTR only knows DSA keys (type 0)")]
    NotDsa(u16),
    #[error("the {0} value of the key is written with leading zero bytes, which OTR forbids")]
    NotMinimal(&'static str),
    #[error("p has {0} bits; OTR keys have 1024 (and a peer's key at most 3072)")]
    PrimeSize(u64),
    #[error("q has {0} bits; OTR keys have 160")]
    SubgroupSize(u64),
    #[error("p is even, so it is not a prime")]
    EvenModulus,
    #[error("{0} is out of range for this key")]
    OutOfRange(&'static str),
    #[error("{0} is not in the subgroup of order q")]
    NotInSubgroup(&'static str),
    #[error("y is not g^x mod p: the private and public halves do not belong together")]
    KeyMismatch,
}

/// A DSA public key (p, q, g, y), validated enough that verifying a
/// signature against it is safe.
#[derive(Clone)]
pub struct PublicKey {
    /// Minimal big-endian magnitudes, as the PUBKEY encoding carries them.
    p: Vec<u8>,
    q: Vec<u8>,
    g: Vec<u8>,
    y: Vec<u8>,
    key: VerifyingKey,
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        (&self.p, &self.q, &self.g, &self.y) == (&other.p, &other.q, &other.g, &other.y)
    }
}

impl Eq for PublicKey {}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("PublicKey").field("fingerprint", &fingerprint_human(&self.fingerprint())).finish()
    }
}

/// Drops leading zero bytes.
fn minimal(bytes: &[u8]) -> &[u8] {
    let leading = bytes.iter().take_while(|&&byte| byte == 0).count();
    &bytes[leading..]
}

fn bit_length(magnitude: &[u8]) -> u64 {
    let magnitude = minimal(magnitude);
    match magnitude.first() {
        None => 0,
        Some(first) => (magnitude.len() as u64 - 1) * 8 + u64::from(8 - first.leading_zeros()),
    }
}

/// The number of bits a `BoxedUint` needs to hold `bits` bits: a whole
/// number of 64-bit limbs, as the `dsa` crate's size checks expect.
fn precision(bits: u64) -> u32 {
    u32::try_from(bits.max(1).div_ceil(64) * 64).unwrap_or(u32::MAX)
}

/// A big-endian magnitude as a `BoxedUint` of the given precision. The
/// callers have already checked the value fits.
fn boxed(magnitude: &[u8], bits: u32) -> Result<BoxedUint, DsaError> {
    BoxedUint::from_be_slice(minimal(magnitude), bits).map_err(|_| DsaError::OutOfRange("a key value"))
}

/// 1 < value < p, compared as integers.
fn strictly_between_one_and(value: &[u8], p: &BigUint, what: &'static str) -> Result<BigUint, DsaError> {
    let value = BigUint::from_bytes_be(value);
    if value <= BigUint::from(1u32) || &value >= p {
        return Err(DsaError::OutOfRange(what));
    }
    Ok(value)
}

impl PublicKey {
    /// A public key from its four values (big-endian, leading zeros
    /// allowed). The checks: p odd, 1024..=3072 bits; q of 160 bits;
    /// 1 < g < p and 1 < y < p; g and y in the subgroup of order q (so a
    /// peer cannot hand us a key for which signatures mean nothing).
    pub fn from_components(p: &[u8], q: &[u8], g: &[u8], y: &[u8]) -> Result<Self, DsaError> {
        Self::build(p, q, g, y, 1024..=MAX_PEER_P_BITS)
    }

    fn build(p: &[u8], q: &[u8], g: &[u8], y: &[u8], p_bits_allowed: std::ops::RangeInclusive<u64>) -> Result<Self, DsaError> {
        let (p, q, g, y) = (minimal(p), minimal(q), minimal(g), minimal(y));
        let p_bits = bit_length(p);
        if !p_bits_allowed.contains(&p_bits) {
            return Err(DsaError::PrimeSize(p_bits));
        }
        let q_bits = bit_length(q);
        if q_bits != Q_BITS {
            return Err(DsaError::SubgroupSize(q_bits));
        }
        if p.last().is_some_and(|last| last & 1 == 0) {
            return Err(DsaError::EvenModulus);
        }
        // All public values: num-bigint's variable-time arithmetic is fine.
        let big_p = BigUint::from_bytes_be(p);
        let big_q = BigUint::from_bytes_be(q);
        let one = BigUint::from(1u32);
        let big_g = strictly_between_one_and(g, &big_p, "g")?;
        let big_y = strictly_between_one_and(y, &big_p, "y")?;
        if big_g.modpow(&big_q, &big_p) != one {
            return Err(DsaError::NotInSubgroup("g"));
        }
        if big_y.modpow(&big_q, &big_p) != one {
            return Err(DsaError::NotInSubgroup("y"));
        }

        let p_precision = precision(p_bits);
        let components =
            Components::from_components_unchecked(boxed(p, p_precision)?, boxed(q, precision(Q_BITS))?, boxed(g, p_precision)?)
                .map_err(|_| DsaError::OutOfRange("p, q or g"))?;
        let key = VerifyingKey::from_components(components, boxed(y, p_precision)?).map_err(|_| DsaError::NotInSubgroup("y"))?;
        Ok(Self { p: p.to_vec(), q: q.to_vec(), g: g.to_vec(), y: y.to_vec(), key })
    }

    /// PUBKEY: SHORT type 0x0000, then MPI p, q, g, y.
    pub fn encode(&self) -> Vec<u8> {
        let mut writer = Writer::new();
        writer.short(DSA_KEY_TYPE).mpi(&self.p).mpi(&self.q).mpi(&self.g).mpi(&self.y);
        writer.into_bytes()
    }

    /// Reads a PUBKEY. MPIs must be minimal (no leading zero bytes): libotr
    /// hashes the received bytes for the fingerprint, so a padded key would
    /// have one fingerprint there and another here.
    pub fn decode(reader: &mut Reader<'_>) -> Result<Self, DsaError> {
        let kind = reader.short("public key type")?;
        if kind != DSA_KEY_TYPE {
            return Err(DsaError::NotDsa(kind));
        }
        let p = strict_mpi(reader, "p")?;
        let q = strict_mpi(reader, "q")?;
        let g = strict_mpi(reader, "g")?;
        let y = strict_mpi(reader, "y")?;
        Self::from_components(p, q, g, y)
    }

    /// The fingerprint: SHA-1 over the PUBKEY encoding without its 2-byte
    /// type, as libotr's otrl_privkey_fingerprint_raw computes it.
    pub fn fingerprint(&self) -> [u8; 20] {
        let encoded = self.encode();
        sha1::Sha1::digest(&encoded[2..]).into()
    }

    /// Checks a SIG (r||s, 20 bytes each) over the 32-byte MAC value `m`,
    /// with z = int(m) mod q like libotr. False for any other length, or r
    /// or s outside (0, q).
    ///
    /// Everything here is public (the peer's key, the MAC value, the
    /// signature), so it is computed with num-bigint's variable-time
    /// arithmetic, as the subgroup checks are. The `dsa` crate's verification
    /// raises g and y to u1 and u2 in constant time over all 1024 bits of p's
    /// precision, about six times the work of their 160 bits, for no secret.
    /// It gives the same answer: FIPS 186-4 section 4.7 with z the whole
    /// 20-byte prehash, as the crate takes it when q has 160 bits.
    pub fn verify(&self, m: &[u8], signature: &[u8]) -> bool {
        if signature.len() != SIGNATURE_BYTES {
            return false;
        }
        let (r, s) = signature.split_at(SIGNATURE_BYTES / 2);
        let (r, s) = (BigUint::from_bytes_be(r), BigUint::from_bytes_be(s));
        let q = BigUint::from_bytes_be(&self.q);
        let zero = BigUint::ZERO;
        if r == zero || s == zero || r >= q || s >= q {
            return false;
        }
        let Some(w) = s.modinv(&q) else {
            return false;
        };
        let p = BigUint::from_bytes_be(&self.p);
        let z = BigUint::from_bytes_be(&reduced_prehash(m, &self.q));
        let u1 = (&z * &w) % &q;
        let u2 = (&r * &w) % &q;
        let g = BigUint::from_bytes_be(&self.g);
        let y = BigUint::from_bytes_be(&self.y);
        let v = (g.modpow(&u1, &p) * y.modpow(&u2, &p)) % &p % &q;
        v == r
    }

    /// The `dsa` crate's verification of the same thing, which [`verify`]
    /// replaced; the tests hold the two to the same answers.
    #[cfg(test)]
    fn verify_with_crate(&self, m: &[u8], signature: &[u8]) -> bool {
        use dsa::signature::hazmat::PrehashVerifier;
        use dsa::Signature;
        if signature.len() != SIGNATURE_BYTES {
            return false;
        }
        let (r, s) = signature.split_at(SIGNATURE_BYTES / 2);
        let q_precision = precision(Q_BITS);
        let (Ok(r), Ok(s)) = (BoxedUint::from_be_slice(r, q_precision), BoxedUint::from_be_slice(s, q_precision)) else {
            return false;
        };
        let Some(signature) = Signature::from_components(r, s) else {
            return false;
        };
        self.key.verify_prehash(&reduced_prehash(m, &self.q), &signature).is_ok()
    }

    pub fn p(&self) -> &[u8] {
        &self.p
    }

    pub fn q(&self) -> &[u8] {
        &self.q
    }

    pub fn g(&self) -> &[u8] {
        &self.g
    }

    pub fn y(&self) -> &[u8] {
        &self.y
    }
}

/// An MPI that must be at its minimum length.
fn strict_mpi<'a>(reader: &mut Reader<'a>, what: &'static str) -> Result<&'a [u8], DsaError> {
    let length = reader.int(what)? as usize;
    if length > MAX_MPI_BYTES {
        return Err(DecodeError::MpiTooLong(length).into());
    }
    let bytes = reader.fixed(length, what)?;
    if bytes.first() == Some(&0) {
        return Err(DsaError::NotMinimal(what));
    }
    Ok(bytes)
}

/// z = int(m) mod q as 20 big-endian bytes: the value libgcrypt signs for
/// libotr (m is a public MAC value, so num-bigint is fine here).
fn reduced_prehash(m: &[u8], q: &[u8]) -> [u8; 20] {
    let z = BigUint::from_bytes_be(m) % BigUint::from_bytes_be(q);
    let bytes = z.to_bytes_be();
    let mut out = [0u8; 20];
    // z < q < 2^160, so it has at most 20 bytes.
    let start = 20usize.saturating_sub(bytes.len());
    out[start..].copy_from_slice(&bytes[bytes.len().saturating_sub(20)..]);
    out
}

/// Left-pads a value below q to 20 bytes.
fn twenty_bytes(value: &BoxedUint) -> [u8; 20] {
    let bytes = value.to_be_bytes();
    let bytes = minimal(&bytes);
    let mut out = [0u8; 20];
    let start = 20usize.saturating_sub(bytes.len());
    out[start..].copy_from_slice(&bytes[bytes.len().saturating_sub(20)..]);
    out
}

/// Our `Rng` as the rand_core 0.10 generator the `dsa` crate takes.
struct RngAdapter<'a>(&'a mut dyn Rng);

impl TryRng for RngAdapter<'_> {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut bytes = [0u8; 4];
        self.0.fill(&mut bytes);
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut bytes = [0u8; 8];
        self.0.fill(&mut bytes);
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, destination: &mut [u8]) -> Result<(), Self::Error> {
        self.0.fill(destination);
        Ok(())
    }
}

/// Our generators are cryptographic (`OsRng`) or test-only (`SeededRng`).
impl TryCryptoRng for RngAdapter<'_> {}

/// Our long-term DSA key. x lives inside the `dsa` crate's `SigningKey`,
/// which holds it in `Zeroizing` and wipes it on drop. Debug shows only the
/// fingerprint.
#[derive(Clone)]
pub struct PrivateKey {
    signing: SigningKey,
    public: PublicKey,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PrivateKey")
            .field("fingerprint", &fingerprint_human(&self.public.fingerprint()))
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// A new 1024/160 key. Finding the primes takes a while, and how long
    /// varies from key to key: measured over 20 keys, a median of 0.15 s
    /// and up to about 1 s, in release and in debug alike (this crate is
    /// built at opt-level 3 even in debug). Call it off the UI thread.
    pub fn generate(rng: &mut dyn Rng) -> Result<Self, DsaError> {
        let mut adapter = RngAdapter(rng);
        loop {
            // 1024/160 is deprecated for new DSA uses, but it is the only
            // size OTR v3 peers accept for our key.
            #[allow(deprecated)]
            let size = KeySize::DSA_1024_160;
            let Ok(components) = Components::try_generate_from_rng_with_key_size(&mut adapter, size);
            let Ok(signing) = SigningKey::try_generate_from_rng_with_components(&mut adapter, components);
            let verifying = signing.verifying_key();
            let parts = verifying.components();
            let x = Zeroizing::new(signing.x().to_be_bytes());
            match Self::from_components(
                &parts.p().to_be_bytes(),
                &parts.q().to_be_bytes(),
                &parts.g().to_be_bytes(),
                &verifying.y().to_be_bytes(),
                &x,
            ) {
                Ok(key) => return Ok(key),
                // The crate's p can, rarely, come out a bit short of 1024
                // bits; draw again rather than keep a key libotr never makes.
                Err(DsaError::PrimeSize(_)) => continue,
                Err(other) => return Err(other),
            }
        }
    }

    /// A key from stored values (big-endian; leading zeros allowed). Checks
    /// everything [`PublicKey::from_components`] does, with p of exactly
    /// 1024 bits, plus 0 < x < q and y == g^x mod p.
    pub fn from_components(p: &[u8], q: &[u8], g: &[u8], y: &[u8], x: &[u8]) -> Result<Self, DsaError> {
        let public = PublicKey::build(p, q, g, y, P_BITS..=P_BITS)?;
        let x = minimal(x);
        if x.is_empty() || x.len() > 20 {
            return Err(DsaError::OutOfRange("x"));
        }
        let p_precision = precision(P_BITS);
        let x_value = Zeroizing::new(boxed(x, precision(Q_BITS))?);
        // g^x with x secret: crypto-bigint's constant-time exponentiation.
        let modulus = Odd::new(boxed(&public.p, p_precision)?).into_option().ok_or(DsaError::EvenModulus)?;
        let params = BoxedMontyParams::new(modulus);
        let g_value = boxed(&public.g, p_precision)?;
        let y_computed = BoxedMontyForm::new(g_value, &params).pow(&x_value).retrieve();
        if y_computed != boxed(&public.y, p_precision)? {
            return Err(DsaError::KeyMismatch);
        }
        // SigningKey checks 0 < x < q.
        let signing =
            SigningKey::from_components(public.key.clone(), (*x_value).clone()).map_err(|_| DsaError::OutOfRange("x"))?;
        Ok(Self { signing, public })
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// x, minimal big-endian, for writing the key file.
    pub fn x_bytes(&self) -> Zeroizing<Vec<u8>> {
        let bytes = Zeroizing::new(self.signing.x().to_be_bytes());
        Zeroizing::new(minimal(&bytes).to_vec())
    }

    /// SIG over the 32-byte MAC value `m` (M_A or M_B): r||s, 20 bytes
    /// each, left zero-padded, with z = int(m) mod q as libotr signs.
    pub fn sign(&self, rng: &mut dyn Rng, m: &[u8]) -> [u8; 40] {
        let prehash = reduced_prehash(m, &self.public.q);
        let mut adapter = RngAdapter(rng);
        // The crate fails only when r or s comes out zero (probability about
        // 2^-160 per nonce); a fresh nonce then succeeds.
        loop {
            if let Ok(signature) = self.signing.sign_prehash_with_rng(&mut adapter, &prehash) {
                let mut out = [0u8; 40];
                out[..20].copy_from_slice(&twenty_bytes(signature.r()));
                out[20..].copy_from_slice(&twenty_bytes(signature.s()));
                return out;
            }
        }
    }
}

/// 5 groups of 8 uppercase hex digits separated by spaces, as libotr's
/// otrl_privkey_hash_to_human writes it.
pub fn fingerprint_human(fingerprint: &[u8; 20]) -> String {
    let mut out = String::with_capacity(44);
    for (index, chunk) in fingerprint.chunks(4).enumerate() {
        if index > 0 {
            out.push(' ');
        }
        for byte in chunk {
            out.push_str(&format!("{byte:02X}"));
        }
    }
    out
}

/// A fingerprint as people paste it: the human form, or 40 hex digits in
/// either case, with or without spaces.
pub fn parse_fingerprint(text: &str) -> Option<[u8; 20]> {
    let digits: Vec<u8> = text.bytes().filter(|byte| *byte != b' ').collect();
    if digits.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (slot, pair) in out.iter_mut().zip(digits.chunks(2)) {
        let text = std::str::from_utf8(pair).ok()?;
        if !pair.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        *slot = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;
    use std::sync::OnceLock;

    /// One generated key for all tests: generation takes seconds.
    fn key() -> &'static PrivateKey {
        static KEY: OnceLock<PrivateKey> = OnceLock::new();
        KEY.get_or_init(|| PrivateKey::generate(&mut SeededRng::new(b"dsa tests")).unwrap())
    }

    #[test]
    fn verification_agrees_with_the_dsa_crate() {
        let key = key();
        let public = key.public_key();
        let mut rng = SeededRng::new(b"verify against the crate");
        let q = BigUint::from_bytes_be(public.q());
        for round in 0..24u8 {
            let mut m = [0u8; 32];
            rng.fill(&mut m);
            if round % 3 == 0 {
                m[0] = 0xff;
            }
            let signature = key.sign(&mut rng, &m);
            assert!(public.verify(&m, &signature) && public.verify_with_crate(&m, &signature));
            let mut other = m;
            other[31] ^= 1;
            assert!(!public.verify(&other, &signature) && !public.verify_with_crate(&other, &signature));
            let mut tampered = signature;
            tampered[usize::from(round) % 40] ^= 0x10;
            assert_eq!(public.verify(&m, &tampered), public.verify_with_crate(&m, &tampered));
            assert!(!public.verify(&m, &tampered));
            // r or s replaced by 0, q, q + r (the same value mod q).
            let (r, s) = (BigUint::from_bytes_be(&signature[..20]), BigUint::from_bytes_be(&signature[20..]));
            let forty = |r: &BigUint, s: &BigUint| {
                let (r, s) = (r.to_bytes_be(), s.to_bytes_be());
                let mut out = vec![0u8; 40];
                if r.len() > 20 || s.len() > 20 {
                    out.extend_from_slice(&r);
                    return out;
                }
                out[20 - r.len()..20].copy_from_slice(&r);
                out[40 - s.len()..].copy_from_slice(&s);
                out
            };
            for bad in [forty(&BigUint::ZERO, &s), forty(&r, &BigUint::ZERO), forty(&q, &s), forty(&r, &q), forty(&(&q + &r), &s)] {
                assert!(!public.verify(&m, &bad), "round {round}");
                assert!(!public.verify_with_crate(&m, &bad), "round {round}");
            }
        }
    }

    /// An m whose integer value is far above q (top byte 0xff).
    fn big_m() -> [u8; 32] {
        let mut m = [0xa5u8; 32];
        m[0] = 0xff;
        m
    }

    #[test]
    fn generated_keys_are_1024_160() {
        let public = key().public_key();
        assert_eq!(bit_length(public.p()), 1024);
        assert_eq!(bit_length(public.q()), 160);
    }

    #[test]
    fn sign_and_verify_round_trip() {
        let mut rng = SeededRng::new(b"nonce");
        let m = [7u8; 32];
        let signature = key().sign(&mut rng, &m);
        assert!(key().public_key().verify(&m, &signature));
    }

    #[test]
    fn the_full_integer_is_signed_not_its_leftmost_160_bits() {
        let mut rng = SeededRng::new(b"trap");
        let m = big_m();
        let q = BigUint::from_bytes_be(key().public_key().q());
        assert!(BigUint::from_bytes_be(&m) >= q);
        let signature = key().sign(&mut rng, &m);
        assert!(key().public_key().verify(&m, &signature));
        // An independent check of the equation with z = int(m) mod q.
        assert!(textbook_verify(key().public_key(), &BigUint::from_bytes_be(&m), &signature));
        // And the FIPS reading (leftmost 160 bits) does not verify.
        assert!(!textbook_verify(key().public_key(), &BigUint::from_bytes_be(&m[..20]), &signature));
    }

    fn textbook_verify(key: &PublicKey, m: &BigUint, signature: &[u8; 40]) -> bool {
        let (p, q, g, y) = (
            BigUint::from_bytes_be(key.p()),
            BigUint::from_bytes_be(key.q()),
            BigUint::from_bytes_be(key.g()),
            BigUint::from_bytes_be(key.y()),
        );
        let r = BigUint::from_bytes_be(&signature[..20]);
        let s = BigUint::from_bytes_be(&signature[20..]);
        let w = s.modinv(&q).unwrap();
        let u1 = (m % &q) * &w % &q;
        let u2 = &r * &w % &q;
        (g.modpow(&u1, &p) * y.modpow(&u2, &p) % &p) % &q == r
    }

    #[test]
    fn wrong_message_or_flipped_bits_fail() {
        let mut rng = SeededRng::new(b"flip");
        let m = big_m();
        let signature = key().sign(&mut rng, &m);
        let public = key().public_key();
        let mut other = m;
        other[31] ^= 1;
        assert!(!public.verify(&other, &signature));
        for bit in [0usize, 7, 19 * 8, 20 * 8, 39 * 8 + 7] {
            let mut bad = signature;
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(!public.verify(&m, &bad), "bit {bit}");
        }
        assert!(!public.verify(&m, &signature[..39]));
        assert!(!public.verify(&m, &[0u8; 40]));
        let mut q_as_r = [0u8; 40];
        q_as_r[..20].copy_from_slice(public.q());
        q_as_r[20..].copy_from_slice(&signature[20..]);
        assert!(!public.verify(&m, &q_as_r));
    }

    #[test]
    fn pubkey_encoding_round_trips() {
        let public = key().public_key();
        let encoded = public.encode();
        assert_eq!(&encoded[..2], &[0, 0]);
        let mut reader = Reader::new(&encoded);
        let decoded = PublicKey::decode(&mut reader).unwrap();
        reader.finish().unwrap();
        assert_eq!(&decoded, public);
        assert_eq!(decoded.fingerprint(), public.fingerprint());
        let expected: [u8; 20] = sha1::Sha1::digest(&encoded[2..]).into();
        assert_eq!(public.fingerprint(), expected);
    }

    #[test]
    fn hostile_public_keys_are_refused() {
        let public = key().public_key();
        let encode = |kind: u16, p: &[u8], q: &[u8], g: &[u8], y: &[u8]| {
            let mut writer = Writer::new();
            writer.short(kind).data(p).data(q).data(g).data(y);
            writer.into_bytes()
        };
        let decode = |bytes: Vec<u8>| PublicKey::decode(&mut Reader::new(&bytes));
        let (p, q, g, y) = (public.p(), public.q(), public.g(), public.y());
        assert_eq!(decode(encode(1, p, q, g, y)).unwrap_err(), DsaError::NotDsa(1));
        let mut padded = vec![0];
        padded.extend_from_slice(q);
        assert_eq!(decode(encode(0, p, &padded, g, y)).unwrap_err(), DsaError::NotMinimal("q"));
        assert_eq!(decode(encode(0, p, q, &[1], y)).unwrap_err(), DsaError::OutOfRange("g"));
        assert_eq!(decode(encode(0, p, q, g, &[1])).unwrap_err(), DsaError::OutOfRange("y"));
        assert_eq!(decode(encode(0, p, q, g, p)).unwrap_err(), DsaError::OutOfRange("y"));
        assert_eq!(decode(encode(0, p, q, g, &[2])).unwrap_err(), DsaError::NotInSubgroup("y"));
        assert_eq!(decode(encode(0, &p[..64], q, g, y)).unwrap_err(), DsaError::PrimeSize(512));
        assert_eq!(decode(encode(0, p, &q[..19], g, y)).unwrap_err(), DsaError::SubgroupSize(152));
        assert!(matches!(decode(encode(0, p, q, g, y)[..100].to_vec()), Err(DsaError::Decode(_))));
        assert!(matches!(decode(vec![0, 0, 0xff, 0xff, 0xff, 0xff]), Err(DsaError::Decode(_))));
    }

    #[test]
    fn private_key_validation() {
        let key = key();
        let public = key.public_key();
        let x = key.x_bytes();
        let rebuilt = PrivateKey::from_components(public.p(), public.q(), public.g(), public.y(), &x).unwrap();
        assert_eq!(rebuilt.public_key(), public);
        let mut other_x = x.to_vec();
        other_x[19] ^= 1;
        assert_eq!(
            PrivateKey::from_components(public.p(), public.q(), public.g(), public.y(), &other_x).unwrap_err(),
            DsaError::KeyMismatch
        );
        assert!(PrivateKey::from_components(public.p(), public.q(), public.g(), public.y(), &[]).is_err());
        assert!(PrivateKey::from_components(public.p(), public.q(), public.g(), public.y(), public.q()).is_err());
    }

    #[test]
    fn debug_shows_no_secret() {
        let text = format!("{:?}", key());
        assert!(text.contains("fingerprint"));
        let x_hex: String = key().x_bytes().iter().map(|byte| format!("{byte:02x}")).collect();
        assert!(!text.to_lowercase().contains(&x_hex[..8]));
    }

    #[test]
    fn fingerprint_text_forms() {
        let fingerprint: [u8; 20] = core::array::from_fn(|index| (index as u8) * 13);
        let human = fingerprint_human(&fingerprint);
        assert_eq!(human.len(), 44);
        assert_eq!(human, "000D1A27 34414E5B 6875828F 9CA9B6C3 D0DDEAF7");
        assert_eq!(parse_fingerprint(&human), Some(fingerprint));
        assert_eq!(parse_fingerprint(&human.replace(' ', "").to_lowercase()), Some(fingerprint));
        assert_eq!(parse_fingerprint("000D1A27 34414E5B"), None);
        assert_eq!(parse_fingerprint(&human.replace('D', "G")), None);
        assert_eq!(parse_fingerprint(&format!("{human}00")), None);
        assert_eq!(parse_fingerprint("+0D1A2734414E5B68758290-DAAB7C4D1DEEBF800"), None);
    }
}
