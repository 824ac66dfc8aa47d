//! Tor v3 onion addresses (rend-spec-v3 §6, "Encoding onion addresses"):
//! `base32(PUBKEY ‖ CHECKSUM ‖ VERSION) + ".onion"`, where PUBKEY is the
//! 32-byte ed25519 identity key, VERSION is 3 and CHECKSUM is the first two
//! bytes of SHA3-256(".onion checksum" ‖ PUBKEY ‖ VERSION).
//!
//! Checked here, in the crate every process shares, so that the UI refuses
//! a mistyped `onion=` at once and net refuses one from anywhere else: a
//! typo would otherwise only show as a Tor stream that never connects.

use sha3::{Digest, Sha3_256};

/// The 56 base32 characters of a v3 address.
pub const V3_LABEL_LEN: usize = 56;
const VERSION: u8 = 3;
const CHECKSUM_PREFIX: &[u8] = b".onion checksum";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OnionError {
    #[error("an onion address ends in .onion")]
    NotOnion,
    #[error("a v3 onion address has 56 letters and digits before .onion, and this one has {0}; older 16-letter (v2) addresses no longer work in Tor")]
    WrongLength(usize),
    #[error("an onion address holds only the letters a to z and the digits 2 to 7 before .onion")]
    NotBase32,
    #[error("this onion address says version {0}, and only version 3 exists")]
    WrongVersion(u8),
    #[error("this onion address's checksum does not match: a character is mistyped")]
    BadChecksum,
}

/// Whether `host` names an onion service at all (so that it is never dialed
/// but through Tor), valid or not.
pub fn is_onion(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    host.len() >= ".onion".len() && host[host.len() - ".onion".len()..].eq_ignore_ascii_case(".onion")
}

/// Checks a v3 onion host name, as `NAME.onion` (a subdomain such as
/// `xmpp.NAME.onion` is allowed, as Tor allows it). Returns it lowercased.
pub fn validate_v3(host: &str) -> Result<String, OnionError> {
    if !is_onion(host) {
        return Err(OnionError::NotOnion);
    }
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    let without_suffix = &host[..host.len() - ".onion".len()];
    let label = without_suffix.rsplit('.').next().unwrap_or(without_suffix);
    if label.len() != V3_LABEL_LEN {
        return Err(OnionError::WrongLength(label.len()));
    }
    let decoded = data_encoding::BASE32_NOPAD.decode(label.to_ascii_uppercase().as_bytes()).map_err(|_| OnionError::NotBase32)?;
    // 56 base32 characters are exactly 35 bytes.
    let (pubkey, rest) = decoded.split_at(32);
    let (checksum, version) = (&rest[..2], rest[2]);
    if version != VERSION {
        return Err(OnionError::WrongVersion(version));
    }
    let mut hash = Sha3_256::new();
    hash.update(CHECKSUM_PREFIX);
    hash.update(pubkey);
    hash.update([VERSION]);
    if hash.finalize()[..2] != *checksum {
        return Err(OnionError::BadChecksum);
    }
    Ok(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Tor Project's own onion site, as torproject.org publishes it.
    const TORPROJECT: &str = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion";

    fn encode(pubkey: [u8; 32], version: u8, checksum: Option<[u8; 2]>) -> String {
        let mut hash = Sha3_256::new();
        hash.update(CHECKSUM_PREFIX);
        hash.update(pubkey);
        hash.update([version]);
        let digest = hash.finalize();
        let mut bytes = pubkey.to_vec();
        bytes.extend_from_slice(&checksum.unwrap_or([digest[0], digest[1]]));
        bytes.push(version);
        format!("{}.onion", data_encoding::BASE32_NOPAD.encode(&bytes).to_ascii_lowercase())
    }

    #[test]
    fn real_addresses_pass() {
        assert_eq!(validate_v3(TORPROJECT).unwrap(), TORPROJECT);
        assert_eq!(validate_v3(&TORPROJECT.to_ascii_uppercase()).unwrap(), TORPROJECT);
        assert_eq!(validate_v3(&format!("{TORPROJECT}.")).unwrap(), TORPROJECT);
        assert_eq!(validate_v3(&format!("xmpp.{TORPROJECT}")).unwrap(), format!("xmpp.{TORPROJECT}"));
        let zero = encode([0; 32], 3, None);
        assert!(zero.starts_with("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), "{zero}");
        assert!(validate_v3(&zero).is_ok());
    }

    #[test]
    fn every_kind_of_mistake_is_named() {
        assert_eq!(validate_v3("example.org"), Err(OnionError::NotOnion));
        assert_eq!(validate_v3("jabber63t4r2qi57.onion"), Err(OnionError::WrongLength(16)));
        assert_eq!(validate_v3(".onion"), Err(OnionError::WrongLength(0)));
        let not_base32 = TORPROJECT.replacen('2', "1", 1);
        assert_eq!(validate_v3(&not_base32), Err(OnionError::NotBase32));
        // One character changed: the checksum catches it.
        let typo = TORPROJECT.replacen("gzyx", "gzyy", 1);
        assert_eq!(validate_v3(&typo), Err(OnionError::BadChecksum));
        assert_eq!(validate_v3(&encode([7; 32], 3, Some([0, 0]))), Err(OnionError::BadChecksum));
        assert_eq!(validate_v3(&encode([7; 32], 2, None)), Err(OnionError::WrongVersion(2)));
        assert!(is_onion("X.ONION") && is_onion("a.onion.") && !is_onion("onion") && !is_onion("a.onion.example"));
    }
}
