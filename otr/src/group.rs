//! The Diffie-Hellman group of the spec (RFC 3526's 1536-bit MODP group,
//! generator 2), used by the AKE, data-message key exchange and SMP.
//!
//! Which big-integer code runs where, and why:
//! - Every exponentiation or multiplication that involves a secret (a DH
//!   private key, an SMP exponent, the SMP secret, the shared secret) uses
//!   `crypto-bigint`'s fixed-size Montgomery arithmetic, whose running time
//!   does not depend on the values. `num-bigint`, which the design names, is
//!   not constant-time (its modpow branches on exponent bits and its limb
//!   counts follow the value), so it never touches a secret.
//! - Checking an SMP proof uses only public values (the peer's elements, the
//!   hash c, the response D): that path uses `num-bigint`'s faster
//!   variable-time modpow ([`Element::pow_public`]).

use std::sync::OnceLock;

use crypto_bigint::modular::ConstMontyForm;
use crypto_bigint::{const_monty_params, CtAssign, CtEq, U1536};
use num_bigint::BigUint;
use thiserror::Error;
use zeroize::Zeroize;

use crate::rng::Rng;

const MODULUS_HEX: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF";
/// q = (p - 1) / 2, the order of the subgroup SMP works in.
const ORDER_HEX: &str = "7FFFFFFFFFFFFFFFE487ED5110B4611A62633145C06E0E68948127044533E63A0105DF531D89CD9128A5043CC71A026EF7CA8CD9E69D218D98158536F92F8A1BA7F09AB6B6A8E122F242DABB312F3F637A262174D31BF6B585FFAE5B7A035BF6F71C35FDAD44CFD2D74F9208BE258FF324943328F6722D9EE1003E5C50B1DF82CC6D241B0E2AE9CD348B1FD47E9267AFC1B2AE91EE51D6CB0E3179AB1042A95DCF6A9483B84B4B36B3861AA7255E4C0278BA36046511B993FFFFFFFFFFFFFFFF";

const_monty_params!(Modulus, U1536, MODULUS_HEX, "p, the 1536-bit MODP prime");
const_monty_params!(Order, U1536, ORDER_HEX, "q = (p-1)/2");

type ModP = ConstMontyForm<Modulus, { U1536::LIMBS }>;
type ModQ = ConstMontyForm<Order, { U1536::LIMBS }>;

/// Bytes in a group value at full width.
pub const ELEMENT_BYTES: usize = 192;
/// Bits in a DH private key: libotr draws 320 (the spec: "at least 320").
pub const DH_SECRET_BITS: u32 = 320;
/// Bits in an SMP exponent: libotr draws the modulus's full 1536.
pub const SMP_SECRET_BITS: u32 = 1536;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GroupError {
    #[error("a group value is out of range (it must be between 2 and p-2)")]
    OutOfRange,
    #[error("an exponent is out of range (it must be between 1 and q-1)")]
    ExponentOutOfRange,
}

fn modulus() -> U1536 {
    U1536::from_be_hex(MODULUS_HEX)
}

fn order() -> U1536 {
    U1536::from_be_hex(ORDER_HEX)
}

/// `bytes` (big-endian, any length) as a 1536-bit value, or `None` when it
/// does not fit.
fn uint_from_be(bytes: &[u8]) -> Option<U1536> {
    let leading = bytes.iter().take_while(|&&byte| byte == 0).count();
    let bytes = &bytes[leading..];
    if bytes.len() > ELEMENT_BYTES {
        return None;
    }
    let mut padded = [0u8; ELEMENT_BYTES];
    padded[ELEMENT_BYTES - bytes.len()..].copy_from_slice(bytes);
    let value = U1536::from_be_slice(&padded);
    padded.zeroize();
    Some(value)
}

/// The minimal big-endian magnitude of a value.
fn minimal_be(value: &U1536) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let leading = bytes.iter().take_while(|&&byte| byte == 0).count();
    bytes[leading..].to_vec()
}

/// Bits of the exponent per row of the fixed-base table of g.
const G_WINDOW: u32 = 4;
const G_ROW: usize = 1 << G_WINDOW;
/// Rows: one per window of the longest exponent.
const G_ROWS: usize = (SMP_SECRET_BITS / G_WINDOW) as usize;

/// The fixed-base table of the generator: row i holds g^(j·16^i) for
/// j = 0..16, in Montgomery form (384 rows, 1.2 MB, built on first use with
/// 6144 multiplications). g^e is then the product over e's 4-bit digits
/// e_i of row i's entry e_i: one multiplication per digit and no squaring,
/// a quarter of the work of a square-and-multiply exponentiation. The entry
/// is picked by reading the whole row with `ct_assign`, so which entry was
/// used does not show in the time or in the memory accessed.
fn g_table() -> &'static [[ModP; G_ROW]] {
    static TABLE: OnceLock<Vec<[ModP; G_ROW]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut rows = Vec::with_capacity(G_ROWS);
        // g^(16^i)
        let mut base = ModP::new(&U1536::from_u8(2));
        for _ in 0..G_ROWS {
            let mut row = [ModP::ONE; G_ROW];
            for j in 1..G_ROW {
                row[j] = row[j - 1] * base;
            }
            base = row[G_ROW - 1] * base;
            rows.push(row);
        }
        rows
    })
}

/// g^value over the low `bits` bits of value, in constant time for a given
/// `bits` (which is public): one table read and one multiplication per
/// 4-bit digit.
fn g_pow_fixed_base(value: &U1536, bits: u32) -> ModP {
    let table = g_table();
    let bits = bits.min(SMP_SECRET_BITS);
    let words = value.as_words();
    let mut result = ModP::ONE;
    for (index, row) in table.iter().enumerate().take(bits.div_ceil(G_WINDOW) as usize) {
        let at = index as u32 * G_WINDOW;
        // The last digit may hold fewer bits (a public count).
        let mask = (1u64 << G_WINDOW.min(bits - at)) - 1;
        let digit = (words[(at / 64) as usize] >> (at % 64)) & mask;
        let mut entry = row[0];
        for (j, candidate) in row.iter().enumerate().skip(1) {
            entry.ct_assign(candidate, (j as u64).ct_eq(&digit));
        }
        result *= entry;
    }
    result
}

/// An element of the group, `0 < value < p`. Wiped on drop, since the DH
/// shared secret is one too.
#[derive(Clone, PartialEq, Eq)]
pub struct Element(U1536);

impl std::fmt::Debug for Element {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Element(..)")
    }
}

impl Drop for Element {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl Element {
    pub fn generator() -> Self {
        Self(U1536::from_u8(2))
    }

    /// A value from the wire (an MPI's magnitude): the spec's check that
    /// 2 <= value <= p-2 rejects 0, 1 and p-1 (which would force the shared
    /// secret into a subgroup of order 1 or 2) and anything >= p.
    pub fn from_peer(magnitude: &[u8]) -> Result<Self, GroupError> {
        let value = uint_from_be(magnitude).ok_or(GroupError::OutOfRange)?;
        let two = U1536::from_u8(2);
        let upper = modulus().wrapping_sub(&two);
        if value < two || value > upper {
            return Err(GroupError::OutOfRange);
        }
        Ok(Self(value))
    }

    /// g^exponent, in constant time (the time depends only on the
    /// exponent's public bit bound), with the fixed-base table.
    pub fn g_pow(exponent: &Exponent) -> Self {
        Self(g_pow_fixed_base(&exponent.value, exponent.bits).retrieve())
    }

    /// self^exponent in constant time (the time depends only on the
    /// exponent's public bit bound).
    pub fn pow_secret(&self, exponent: &Exponent) -> Self {
        let base = ModP::new(&self.0);
        Self(base.pow_bounded_exp(&exponent.value, exponent.bits).retrieve())
    }

    /// self^exponent for a public exponent (SMP proof checks). Variable
    /// time: never call it with a secret.
    pub fn pow_public(&self, exponent: &[u8]) -> Self {
        if *self == Self::generator() {
            // The exponent is public, so its length may set the work.
            if let Some(value) = uint_from_be(exponent) {
                return Self(g_pow_fixed_base(&value, value.bit_width_vartime()).retrieve());
            }
        }
        let base = BigUint::from_bytes_be(&self.to_bytes());
        let exponent = BigUint::from_bytes_be(exponent);
        let modulus = BigUint::from_bytes_be(&minimal_be(&modulus()));
        let result = base.modpow(&exponent, &modulus);
        // The result of a modpow is below p, so it always fits.
        Self(uint_from_be(&result.to_bytes_be()).unwrap_or(U1536::ONE))
    }

    /// self * other mod p, in constant time.
    pub fn mul(&self, other: &Element) -> Self {
        Self((ModP::new(&self.0) * ModP::new(&other.0)).retrieve())
    }

    /// self^-1 mod p. p is prime and 0 < self < p, so the inverse exists.
    pub fn inverse(&self) -> Self {
        let inverse = ModP::new(&self.0).invert();
        Self(Option::<ModP>::from(inverse).map(|value| value.retrieve()).unwrap_or(U1536::ONE))
    }

    /// The minimal big-endian magnitude, as MPIs carry it.
    pub fn to_bytes(&self) -> Vec<u8> {
        minimal_be(&self.0)
    }

    /// The MPI encoding (length included), as hashed into keys and MACs.
    pub fn to_mpi(&self) -> Vec<u8> {
        crate::encoding::mpi(&self.to_bytes())
    }
}

/// A secret exponent: a DH private key or an SMP exponent. Wiped on drop,
/// never printed.
#[derive(Clone)]
pub struct Exponent {
    value: U1536,
    /// A public upper bound on the exponent's bit length.
    bits: u32,
}

impl std::fmt::Debug for Exponent {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Exponent(..)")
    }
}

impl Drop for Exponent {
    fn drop(&mut self) {
        self.value.zeroize();
    }
}

impl Exponent {
    /// A fresh random exponent of `bits` bits.
    pub fn random(rng: &mut dyn Rng, bits: u32) -> Self {
        let bits = bits.min(SMP_SECRET_BITS);
        let length = bits.div_ceil(8) as usize;
        let mut bytes = zeroize::Zeroizing::new(vec![0u8; length]);
        rng.fill(&mut bytes);
        let spare = (length as u32) * 8 - bits;
        if let Some(first) = bytes.first_mut() {
            *first &= 0xff >> spare;
        }
        Self::from_bytes(&bytes, bits)
    }

    /// A new DH private key, as libotr draws them.
    pub fn random_dh(rng: &mut dyn Rng) -> Self {
        Self::random(rng, DH_SECRET_BITS)
    }

    /// A new SMP exponent, as libotr draws them.
    pub fn random_smp(rng: &mut dyn Rng) -> Self {
        Self::random(rng, SMP_SECRET_BITS)
    }

    /// An exponent from big-endian bytes (an SMP secret's hash, or a stored
    /// key); wider than 1536 bits is truncated to the low 1536, which OTR
    /// never produces.
    pub fn from_bytes(bytes: &[u8], bits: u32) -> Self {
        let tail = &bytes[bytes.len().saturating_sub(ELEMENT_BYTES)..];
        Self { value: uint_from_be(tail).unwrap_or(U1536::ZERO), bits: bits.min(SMP_SECRET_BITS) }
    }

    /// The minimal big-endian magnitude, for a secret that must be stored.
    pub fn to_secret_bytes(&self) -> zeroize::Zeroizing<Vec<u8>> {
        zeroize::Zeroizing::new(minimal_be(&self.value))
    }
}

/// An integer mod q, for SMP's zero-knowledge proofs (D = r - x·c mod q).
/// Constant time, because r and x are secret. Wiped on drop.
#[derive(Clone)]
pub struct Scalar(ModQ);

impl Drop for Scalar {
    fn drop(&mut self) {
        // ConstMontyForm holds only its Montgomery-form limbs.
        self.0 = ModQ::ZERO;
    }
}

impl std::fmt::Debug for Scalar {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Scalar(..)")
    }
}

impl Scalar {
    /// An exponent reduced mod q.
    pub fn from_exponent(exponent: &Exponent) -> Self {
        Self(ModQ::new(&exponent.value))
    }

    /// A public big-endian value (a hash) reduced mod q.
    pub fn from_public(bytes: &[u8]) -> Self {
        let tail = &bytes[bytes.len().saturating_sub(ELEMENT_BYTES)..];
        Self(ModQ::new(&uint_from_be(tail).unwrap_or(U1536::ZERO)))
    }

    pub fn mul(&self, other: &Scalar) -> Self {
        Self(self.0 * other.0)
    }

    pub fn sub(&self, other: &Scalar) -> Self {
        Self(self.0 - other.0)
    }

    pub fn add(&self, other: &Scalar) -> Self {
        Self(self.0 + other.0)
    }

    /// The value in [0, q), minimal big-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        minimal_be(&self.0.retrieve())
    }

    /// As an exponent (for g^scalar), bounded by q's bit length.
    pub fn to_exponent(&self) -> Exponent {
        Exponent { value: self.0.retrieve(), bits: SMP_SECRET_BITS }
    }
}

/// The spec's check on an SMP proof's response: 1 <= value < q is not asked
/// of D; libotr's `check_expon` requires 1 <= x < q for exponents a peer
/// sends. Returns the bytes unchanged when in range.
pub fn check_exponent(magnitude: &[u8]) -> Result<&[u8], GroupError> {
    let value = uint_from_be(magnitude).ok_or(GroupError::ExponentOutOfRange)?;
    if value < U1536::ONE || value >= order() {
        return Err(GroupError::ExponentOutOfRange);
    }
    Ok(magnitude)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;

    fn big(value: &U1536) -> BigUint {
        BigUint::from_bytes_be(&value.to_be_bytes())
    }

    #[test]
    fn q_is_half_of_p_minus_one() {
        assert_eq!(big(&order()) * 2u32 + 1u32, big(&modulus()));
    }

    #[test]
    fn constant_time_and_public_exponentiation_agree() {
        let mut rng = SeededRng::new(b"group");
        for bits in [DH_SECRET_BITS, SMP_SECRET_BITS] {
            let exponent = Exponent::random(&mut rng, bits);
            let secret = Element::g_pow(&exponent);
            let public = Element::generator().pow_public(&exponent.to_secret_bytes());
            assert_eq!(secret, public);
            let expected = BigUint::from(2u32).modpow(&BigUint::from_bytes_be(&exponent.to_secret_bytes()), &big(&modulus()));
            assert_eq!(secret.to_bytes(), expected.to_bytes_be());
        }
    }

    #[test]
    fn the_fixed_base_table_agrees_with_square_and_multiply() {
        let mut rng = SeededRng::new(b"fixed base");
        let p = big(&modulus());
        let two = BigUint::from(2u32);
        for bits in [1, 2, 3, 4, 5, 63, 64, 65, 255, 256, 257, DH_SECRET_BITS, DH_SECRET_BITS + 3, 1535, SMP_SECRET_BITS] {
            for _ in 0..3 {
                let exponent = Exponent::random(&mut rng, bits);
                let expected = two.modpow(&BigUint::from_bytes_be(&exponent.to_secret_bytes()), &p);
                assert_eq!(Element::g_pow(&exponent).to_bytes(), expected.to_bytes_be(), "{bits} bits");
                assert_eq!(Element::g_pow(&exponent), Element::generator().pow_secret(&exponent));
                assert_eq!(Element::generator().pow_public(&exponent.to_secret_bytes()).to_bytes(), expected.to_bytes_be());
            }
        }
        // Bits above the bound are not used, as pow_bounded_exp does not use them.
        let wide = Exponent::from_bytes(&[0xff; 40], 300);
        assert_eq!(Element::g_pow(&wide), Element::generator().pow_secret(&wide));
        for edge in [vec![], vec![0], vec![1], vec![0xff; 192], {
            let mut top = vec![0u8; 192];
            top[0] = 0x80;
            top
        }] {
            let expected = two.modpow(&BigUint::from_bytes_be(&edge), &p);
            assert_eq!(Element::generator().pow_public(&edge).to_bytes(), expected.to_bytes_be());
            let exponent = Exponent::from_bytes(&edge, SMP_SECRET_BITS);
            assert_eq!(Element::g_pow(&exponent).to_bytes(), expected.to_bytes_be());
        }
    }

    #[test]
    fn diffie_hellman_agrees() {
        let mut rng = SeededRng::new(b"dh");
        let (x, y) = (Exponent::random_dh(&mut rng), Exponent::random_dh(&mut rng));
        assert_eq!(Element::g_pow(&y).pow_secret(&x), Element::g_pow(&x).pow_secret(&y));
    }

    #[test]
    fn peer_values_outside_two_to_p_minus_two_are_refused() {
        let p = minimal_be(&modulus());
        let p_minus = |k: u8| minimal_be(&modulus().wrapping_sub(&U1536::from_u8(k)));
        for bad in [vec![], vec![0], vec![1], p_minus(1), p.clone(), vec![0xff; 193], {
            let mut above = p.clone();
            above[191] = 0xff;
            above
        }] {
            assert_eq!(Element::from_peer(&bad), Err(GroupError::OutOfRange));
        }
        assert!(Element::from_peer(&[2]).is_ok());
        assert!(Element::from_peer(&p_minus(2)).is_ok());
    }

    #[test]
    fn scalars_do_arithmetic_mod_q() {
        let q = big(&order());
        let mut rng = SeededRng::new(b"scalar");
        let (a, b) = (Exponent::random_smp(&mut rng), Exponent::random_smp(&mut rng));
        let (big_a, big_b) = (BigUint::from_bytes_be(&a.to_secret_bytes()), BigUint::from_bytes_be(&b.to_secret_bytes()));
        let (sa, sb) = (Scalar::from_exponent(&a), Scalar::from_exponent(&b));
        assert_eq!(BigUint::from_bytes_be(&sa.mul(&sb).to_bytes()), (&big_a * &big_b) % &q);
        assert_eq!(BigUint::from_bytes_be(&sa.sub(&sb).to_bytes()), ((&big_a % &q) + &q - (&big_b % &q)) % &q);
        assert_eq!(BigUint::from_bytes_be(&sa.add(&sb).to_bytes()), (&big_a + &big_b) % &q);
    }

    #[test]
    fn inverse_and_multiplication() {
        let mut rng = SeededRng::new(b"inverse");
        let element = Element::g_pow(&Exponent::random_smp(&mut rng));
        assert_eq!(element.mul(&element.inverse()).to_bytes(), [1]);
    }

    #[test]
    fn exponent_range() {
        assert!(check_exponent(&[]).is_err());
        assert!(check_exponent(&[1]).is_ok());
        assert!(check_exponent(&minimal_be(&order())).is_err());
        assert!(check_exponent(&minimal_be(&order().wrapping_sub(&U1536::ONE))).is_ok());
    }
}
