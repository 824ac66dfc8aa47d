//! The bytes of a store file: an authenticated header, then the AES-256-GCM
//! ciphertext of the contents. Pure functions over byte slices; no files.
//!
//! ```text
//! offset len  field
//!  0     13   magic "BURROW-STORE\0"
//! 13      2   format version, big-endian (1)
//! 15      1   flags: bit 0 = no passphrase; the other bits must be 0
//! 16      1   key derivation: 1 = argon2id, version 0x13
//! 17      4   argon2 m_cost in KiB, big-endian
//! 21      4   argon2 t_cost (passes), big-endian
//! 25      4   argon2 p_cost (lanes), big-endian
//! 29      4   argon2 output length, big-endian (32)
//! 33     16   salt (random; new with every passphrase)
//! 49     12   nonce (random; new with every write)
//! 61      4   body length in bytes (ciphertext and tag), big-endian
//! 65      …   body: AES-256-GCM(key, nonce, aad = bytes 0..65) of
//!             contents version (u16, big-endian) ‖ bincode(Contents), then the 16-byte tag
//! ```
//!
//! The whole header is the associated data, so a change to any byte of it
//! (a parameter, the flag, the salt, the length) fails authentication just
//! as a change to the ciphertext does. The header is checked before any key
//! is derived: absurd argon2 parameters from a hostile file are refused
//! before any memory is allocated or any time spent.

use aes_gcm::aead::{AeadInOut, KeyInit, Nonce, Tag};
use aes_gcm::Aes256Gcm;
use bincode::error::DecodeError;
use zeroize::Zeroizing;

use super::contents::{Contents, CONTENTS_VERSION};
use super::kdf::{KdfParams, Key, KEY_LEN};

/// The first bytes of every store file.
pub const MAGIC: &[u8; 13] = b"BURROW-STORE\0";
/// The layout of the header and body described in this module.
pub const FORMAT_VERSION: u16 = 1;
/// Key derivation: argon2id, version 0x13.
pub const KDF_ARGON2ID_13: u8 = 1;
/// Header flag: the key is derived from an empty passphrase.
pub const FLAG_NO_PASSPHRASE: u8 = 0x01;
pub const SALT_LEN: usize = 16;
pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;
pub const HEADER_LEN: usize = 65;
/// The bincode limit for the contents: 16 MiB.
pub const MAX_CONTENTS_LEN: usize = 16 * 1024 * 1024;
/// The longest body a header may declare: version, contents, tag.
pub const MAX_BODY_LEN: usize = 2 + MAX_CONTENTS_LEN + TAG_LEN;
/// The longest store file.
pub const MAX_FILE_LEN: usize = HEADER_LEN + MAX_BODY_LEN;

/// Why bytes are not a store that opens. No variant carries a secret or a
/// byte of the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("this file is not a Burrow store")]
    NotAStore,
    #[error("the store file is cut short (it may have been copied or written incompletely)")]
    Truncated,
    #[error("the store file is in format version {found}, which this Burrow cannot read (it reads version {FORMAT_VERSION})")]
    UnsupportedVersion { found: u16 },
    #[error("the store holds contents of version {found}, which this Burrow cannot read (it reads up to version {CONTENTS_VERSION})")]
    UnsupportedContentsVersion { found: u16 },
    #[error("the store file's key-derivation settings are out of range ({what}); it was not written by Burrow, or it is damaged")]
    ParametersOutOfRange { what: &'static str },
    #[error(
        "wrong passphrase, or the store file is damaged: the encryption cannot tell the two apart. \
         If the passphrase is right, open the backup of the previous version instead"
    )]
    WrongPassphraseOrDamaged,
    #[error("the store file is damaged: {reason}")]
    Damaged { reason: &'static str },
    #[error("the contents are too large for a store (over 16 MiB)")]
    ContentsTooLarge,
    #[error("the encryption failed")]
    Encryption,
}

/// The header's fields, none of them secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub no_passphrase: bool,
    pub kdf: KdfParams,
    pub salt: [u8; SALT_LEN],
    pub nonce: [u8; NONCE_LEN],
    /// Length of the ciphertext with its tag.
    pub body_len: u32,
}

impl Header {
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..13].copy_from_slice(MAGIC);
        out[13..15].copy_from_slice(&FORMAT_VERSION.to_be_bytes());
        out[15] = if self.no_passphrase { FLAG_NO_PASSPHRASE } else { 0 };
        out[16] = KDF_ARGON2ID_13;
        out[17..21].copy_from_slice(&self.kdf.m_cost_kib.to_be_bytes());
        out[21..25].copy_from_slice(&self.kdf.t_cost.to_be_bytes());
        out[25..29].copy_from_slice(&self.kdf.p_cost.to_be_bytes());
        out[29..33].copy_from_slice(&(KEY_LEN as u32).to_be_bytes());
        out[33..49].copy_from_slice(&self.salt);
        out[49..61].copy_from_slice(&self.nonce);
        out[61..65].copy_from_slice(&self.body_len.to_be_bytes());
        out
    }
}

fn be_u16(bytes: &[u8], at: usize) -> Result<u16, FormatError> {
    match bytes.get(at..at + 2) {
        Some(&[a, b]) => Ok(u16::from_be_bytes([a, b])),
        _ => Err(FormatError::Truncated),
    }
}

fn be_u32(bytes: &[u8], at: usize) -> Result<u32, FormatError> {
    match bytes.get(at..at + 4) {
        Some(&[a, b, c, d]) => Ok(u32::from_be_bytes([a, b, c, d])),
        _ => Err(FormatError::Truncated),
    }
}

fn array<const N: usize>(bytes: &[u8], at: usize) -> Result<[u8; N], FormatError> {
    bytes.get(at..at + N).and_then(|slice| <[u8; N]>::try_from(slice).ok()).ok_or(FormatError::Truncated)
}

/// A store file taken apart and its header checked, not yet decrypted.
#[derive(Debug, Clone, Copy)]
pub struct Parsed<'a> {
    pub header: Header,
    header_bytes: &'a [u8],
    body: &'a [u8],
}

impl<'a> Parsed<'a> {
    /// Checks the magic, the version, the flags, the key-derivation
    /// settings (within [`KdfParams::check`]'s bounds) and the body length,
    /// in that order, before anything costly.
    pub fn parse(file: &'a [u8]) -> Result<Parsed<'a>, FormatError> {
        let magic_len = file.len().min(MAGIC.len());
        if file[..magic_len] != MAGIC[..magic_len] {
            return Err(FormatError::NotAStore);
        }
        if file.len() < MAGIC.len() {
            return Err(FormatError::Truncated);
        }
        let version = be_u16(file, 13)?;
        if version != FORMAT_VERSION {
            return Err(FormatError::UnsupportedVersion { found: version });
        }
        let flags = *file.get(15).ok_or(FormatError::Truncated)?;
        if flags & !FLAG_NO_PASSPHRASE != 0 {
            return Err(FormatError::Damaged { reason: "its header has flags this version does not know" });
        }
        let kdf = *file.get(16).ok_or(FormatError::Truncated)?;
        if kdf != KDF_ARGON2ID_13 {
            return Err(FormatError::ParametersOutOfRange { what: "unknown key derivation" });
        }
        let params = KdfParams { m_cost_kib: be_u32(file, 17)?, t_cost: be_u32(file, 21)?, p_cost: be_u32(file, 25)? };
        params.check()?;
        if be_u32(file, 29)? != KEY_LEN as u32 {
            return Err(FormatError::ParametersOutOfRange { what: "key length other than 32 bytes" });
        }
        let salt = array::<SALT_LEN>(file, 33)?;
        let nonce = array::<NONCE_LEN>(file, 49)?;
        let body_len = be_u32(file, 61)?;
        let body_len_usize = usize::try_from(body_len).map_err(|_| FormatError::Damaged { reason: "its header declares an impossible length" })?;
        if body_len_usize > MAX_BODY_LEN {
            return Err(FormatError::Damaged { reason: "its header declares a body over the size limit" });
        }
        if body_len_usize < 2 + TAG_LEN {
            return Err(FormatError::Damaged { reason: "its header declares a body too short to hold anything" });
        }
        let rest = &file[HEADER_LEN.min(file.len())..];
        if rest.len() < body_len_usize {
            return Err(FormatError::Truncated);
        }
        if rest.len() > body_len_usize {
            return Err(FormatError::Damaged { reason: "there are bytes after its end" });
        }
        let header = Header { no_passphrase: flags & FLAG_NO_PASSPHRASE != 0, kdf: params, salt, nonce, body_len };
        Ok(Parsed { header, header_bytes: &file[..HEADER_LEN], body: rest })
    }

    /// Authenticates and decrypts the body with `key`, then decodes it.
    pub fn open(&self, key: &Key) -> Result<Contents, FormatError> {
        let cipher = Aes256Gcm::new_from_slice(&key[..]).map_err(|_| FormatError::Encryption)?;
        let split = self.body.len().checked_sub(TAG_LEN).ok_or(FormatError::Truncated)?;
        let (ciphertext, tag) = self.body.split_at(split);
        let tag = Tag::<Aes256Gcm>::try_from(tag).map_err(|_| FormatError::Truncated)?;
        let nonce = Nonce::<Aes256Gcm>::from(self.header.nonce);
        let mut plaintext = Zeroizing::new(ciphertext.to_vec());
        cipher
            .decrypt_inout_detached(&nonce, self.header_bytes, plaintext.as_mut_slice().into(), &tag)
            .map_err(|_| FormatError::WrongPassphraseOrDamaged)?;
        decode_plaintext(&plaintext)
    }
}

/// Encrypts `contents` under `key` into a whole store file. `header`'s
/// nonce must be fresh (never used with this key before); its `body_len`
/// is set here.
pub fn seal(key: &Key, mut header: Header, contents: &Contents) -> Result<Vec<u8>, FormatError> {
    let plaintext = encode_plaintext(contents)?;
    header.body_len = u32::try_from(plaintext.len() + TAG_LEN).map_err(|_| FormatError::ContentsTooLarge)?;
    let header_bytes = header.encode();
    let cipher = Aes256Gcm::new_from_slice(&key[..]).map_err(|_| FormatError::Encryption)?;
    let nonce = Nonce::<Aes256Gcm>::from(header.nonce);
    // Exactly sized, so that no reallocation leaves a copy behind; the
    // plaintext is encrypted in place here and never exists elsewhere but in
    // the zeroized buffer it was encoded into.
    let mut file = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
    file.extend_from_slice(&header_bytes);
    file.extend_from_slice(&plaintext);
    drop(plaintext);
    let tag = cipher
        .encrypt_inout_detached(&nonce, &header_bytes, (&mut file[HEADER_LEN..]).into())
        .map_err(|_| FormatError::Encryption)?;
    file.extend_from_slice(tag.as_slice());
    Ok(file)
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_CONTENTS_LEN>()
}

/// contents version ‖ bincode(contents), in a buffer of exactly that size
/// that is zeroized on drop.
pub fn encode_plaintext(contents: &Contents) -> Result<Zeroizing<Vec<u8>>, FormatError> {
    let mut sizer = bincode::enc::EncoderImpl::new(bincode::enc::write::SizeWriter::default(), config());
    bincode::Encode::encode(contents, &mut sizer).map_err(|_| FormatError::ContentsTooLarge)?;
    let len = sizer.into_writer().bytes_written;
    if len > MAX_CONTENTS_LEN {
        return Err(FormatError::ContentsTooLarge);
    }
    let mut out = Zeroizing::new(vec![0u8; 2 + len]);
    out[..2].copy_from_slice(&CONTENTS_VERSION.to_be_bytes());
    let written = bincode::encode_into_slice(contents, &mut out[2..], config()).map_err(|_| FormatError::ContentsTooLarge)?;
    if written != len {
        return Err(FormatError::Encryption);
    }
    Ok(out)
}

/// Decodes a decrypted body: its contents version, then that version's
/// encoding.
pub fn decode_plaintext(plaintext: &[u8]) -> Result<Contents, FormatError> {
    match plaintext {
        [a, b, rest @ ..] => decode_contents(u16::from_be_bytes([*a, *b]), rest),
        _ => Err(FormatError::Damaged { reason: "its contents are missing" }),
    }
}

/// Decodes the contents of one version and brings them to the current
/// version. Version 3 is [`Contents`] as it is; version 2 (no kept imports)
/// and version 1 (accounts without an onion override, either) keep their
/// decoders in `contents::v2` and `contents::v1` and are migrated, 1 → 2 → 3.
pub fn decode_contents(version: u16, bytes: &[u8]) -> Result<Contents, FormatError> {
    let contents = match version {
        1 => Contents::from(super::contents::v2::Contents::from(decode_exactly::<super::contents::v1::Contents>(bytes)?)),
        2 => Contents::from(decode_exactly::<super::contents::v2::Contents>(bytes)?),
        3 => decode_exactly::<Contents>(bytes)?,
        found => return Err(FormatError::UnsupportedContentsVersion { found }),
    };
    validate(&contents)?;
    Ok(contents)
}

fn decode_exactly<T: bincode::Decode<()>>(bytes: &[u8]) -> Result<T, FormatError> {
    let (contents, used): (T, usize) = bincode::decode_from_slice(bytes, config()).map_err(|error| FormatError::Damaged { reason: decode_reason(&error) })?;
    if used != bytes.len() {
        return Err(FormatError::Damaged { reason: "there are bytes after its contents" });
    }
    Ok(contents)
}

/// Bincode's own messages may quote bytes of the input; these never do.
fn decode_reason(error: &DecodeError) -> &'static str {
    match error {
        DecodeError::UnexpectedEnd { .. } => "its contents end early",
        DecodeError::LimitExceeded => "its contents exceed the size limit",
        DecodeError::Utf8 { .. } => "its contents hold text that is not UTF-8",
        DecodeError::UnexpectedVariant { .. } => "its contents hold a value of an unknown kind",
        DecodeError::InvalidBooleanValue(_) => "its contents hold an invalid yes/no value",
        _ => "its contents do not decode",
    }
}

/// What decodes but cannot be a store Burrow wrote: the loader could not
/// tell which of two records is meant.
fn validate(contents: &Contents) -> Result<(), FormatError> {
    for (index, account) in contents.accounts.iter().enumerate() {
        if account.jid.is_empty() {
            return Err(FormatError::Damaged { reason: "it holds an account without an address" });
        }
        if contents.accounts[..index].iter().any(|other| other.jid == account.jid) {
            return Err(FormatError::Damaged { reason: "it holds the same account twice" });
        }
    }
    for (index, key) in contents.otr_keys.iter().enumerate() {
        if contents.otr_keys[..index].iter().any(|other| other.account == key.account) {
            return Err(FormatError::Damaged { reason: "it holds two OTR keys for one account" });
        }
    }
    for (index, kept) in contents.kept_imports.iter().enumerate() {
        if contents.kept_imports[..index].iter().any(|other| other.jid == kept.jid) {
            return Err(FormatError::Damaged { reason: "it holds two kept imports for one address" });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn header() -> Header {
        Header {
            no_passphrase: false,
            kdf: KdfParams { m_cost_kib: 262_144, t_cost: 3, p_cost: 1 },
            salt: *b"0123456789abcdef",
            nonce: *b"nonce-nonce!",
            body_len: 0,
        }
    }

    /// Pins the version-1 header byte for byte: a change here is a change of
    /// format, which needs a new FORMAT_VERSION and a reader for the old one.
    #[test]
    fn version_1_header_layout_is_pinned() {
        let mut h = header();
        h.body_len = 0x0102_0304;
        let expected: Vec<u8> = [
            &b"BURROW-STORE\0"[..],
            &[0x00, 0x01],             // format version
            &[0x00],                   // flags
            &[0x01],                   // argon2id v0x13
            &[0x00, 0x04, 0x00, 0x00], // m_cost 262144 KiB
            &[0x00, 0x00, 0x00, 0x03], // t_cost
            &[0x00, 0x00, 0x00, 0x01], // p_cost
            &[0x00, 0x00, 0x00, 0x20], // output 32
            &b"0123456789abcdef"[..],
            &b"nonce-nonce!"[..],
            &[0x01, 0x02, 0x03, 0x04], // body length
        ]
        .concat();
        assert_eq!(h.encode().to_vec(), expected);
        h.no_passphrase = true;
        assert_eq!(h.encode()[15], 0x01);
    }

    /// Pins a whole file of empty contents under a fixed key: header,
    /// contents version, bincode and AES-256-GCM together.
    #[test]
    fn empty_file_is_pinned() {
        let key = Zeroizing::new([7u8; 32]);
        let file = seal(&key, header(), &Contents::default()).unwrap();
        let hex: String = file[HEADER_LEN..].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(file.len(), HEADER_LEN + 2 + 7 + TAG_LEN);
        assert_eq!(&file[61..65], &[0, 0, 0, 25]);
        assert_eq!(hex, PINNED_EMPTY_BODY_V3);
        assert_eq!(Parsed::parse(&file).unwrap().open(&key).unwrap(), Contents::default());
    }

    /// A file that an older Burrow wrote (contents versions 1 and 2) still opens.
    #[test]
    fn version_1_and_2_files_still_open() {
        let key = Zeroizing::new([7u8; 32]);
        for pinned in [PINNED_EMPTY_BODY_V1, PINNED_EMPTY_BODY_V2] {
            let mut old = header();
            old.body_len = (pinned.len() / 2) as u32;
            let mut file = old.encode().to_vec();
            file.extend((0..pinned.len()).step_by(2).map(|at| u8::from_str_radix(&pinned[at..at + 2], 16).unwrap()));
            assert_eq!(Parsed::parse(&file).unwrap().open(&key).unwrap(), Contents::default());
        }
    }
    // Each checked against Python's `cryptography` AESGCM over the same header, key and nonce.
    const PINNED_EMPTY_BODY_V1: &str = "61be5be615adeac13fcfa2ba60644a950001ecff4badfe88";
    const PINNED_EMPTY_BODY_V2: &str = "61bd5be615adeac1ecfa9f5594b852ab5c9e333ff750b2e9";
    const PINNED_EMPTY_BODY_V3: &str = "61bc5be615adeac1555e2a982b99121bc3ca122779afab84f9";

    /// A version-2 store moves to version 3 whole, with nothing kept from an import.
    #[test]
    fn version_2_contents_migrate() {
        use super::super::contents::{v2, BookmarkRecord, FingerprintRecord, TrustRecord};
        let old = v2::Contents {
            accounts: vec![],
            otr_keys: vec![],
            fingerprints: vec![FingerprintRecord { account: "a@b.org".into(), peer: "c@d.org".into(), fingerprint: [5; 20], trust: TrustRecord::VerifiedBySmp }],
            peer_policies: vec![],
            bookmarks: vec![BookmarkRecord { account: "a@b.org".into(), room: "r@muc.b.org".into(), nick: None, autojoin: true }],
            preferences: vec![("theme".into(), "dark".into())],
        };
        let bytes = bincode::encode_to_vec(&old, config()).unwrap();
        let migrated = decode_contents(2, &bytes).unwrap();
        assert_eq!((migrated.fingerprints.clone(), migrated.bookmarks.clone(), migrated.preferences.clone()), (old.fingerprints.clone(), old.bookmarks.clone(), old.preferences.clone()));
        assert!(migrated.kept_imports.is_empty());
        assert!(decode_contents(3, &bytes).is_err(), "the shapes differ");
    }

    /// A version-1 account moves to version 2 whole, without an onion.
    #[test]
    fn version_1_accounts_migrate() {
        use super::super::contents::v1;
        let old = v1::Contents {
            accounts: vec![v1::AccountRecord {
                jid: "alice@example.org".into(),
                password: "secret".into(),
                server: Some(("xmpp.example.org".into(), 5223)),
                transport: "direct".into(),
                tor: "system".into(),
                spki_pin: Some("sha256/AAAA".into()),
                extra_anchors_pem: Some(b"PEM".to_vec()),
                otr_policy: "manual".into(),
                otr_allow_v2: false,
                allow_plain: true,
            }],
            otr_keys: vec![],
            fingerprints: vec![],
            peer_policies: vec![],
            bookmarks: vec![],
            preferences: vec![("theme".into(), "dark".into())],
        };
        let bytes = bincode::encode_to_vec(&old, config()).unwrap();
        let migrated = decode_contents(1, &bytes).unwrap();
        let account = &migrated.accounts[0];
        assert_eq!((account.jid.as_str(), account.password.as_str(), account.server.clone()), ("alice@example.org", "secret", Some(("xmpp.example.org".into(), 5223))));
        assert_eq!((account.transport.as_str(), account.tor.as_str(), account.otr_policy.as_str()), ("direct", "system", "manual"));
        assert_eq!((account.spki_pin.as_deref(), account.extra_anchors_pem.as_deref()), (Some("sha256/AAAA"), Some(&b"PEM"[..])));
        assert!(!account.otr_allow_v2 && account.allow_plain && account.onion.is_none());
        assert_eq!(migrated.preferences, old.preferences);
        // The same bytes are not a version-2 store: the shapes differ.
        assert!(decode_contents(2, &bytes).is_err());
        assert!(decode_contents(3, &bytes).is_err());
    }

    /// Two kept imports for one address would leave it unclear which key the account gets.
    #[test]
    fn two_kept_imports_for_one_address_are_refused() {
        use super::super::contents::KeptImportRecord;
        let kept = || KeptImportRecord { jid: "a@b.org".into(), source: "adium".into(), otr_key: None, fingerprints: vec![], peer_policies: vec![], otr_policy: None, bookmarks: vec![] };
        let mut contents = Contents::default();
        contents.kept_imports.push(kept());
        let plaintext = encode_plaintext(&contents).unwrap();
        assert_eq!(decode_plaintext(&plaintext).unwrap(), contents);
        contents.kept_imports.push(kept());
        let plaintext = encode_plaintext(&contents).unwrap();
        assert!(matches!(decode_plaintext(&plaintext), Err(FormatError::Damaged { reason }) if reason.contains("kept imports")));
    }

    #[test]
    fn plaintext_layout() {
        let plaintext = encode_plaintext(&Contents::default()).unwrap();
        assert_eq!(plaintext.as_slice(), &[0, 3, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(decode_plaintext(&plaintext).unwrap(), Contents::default());
    }

    #[test]
    fn contents_versions() {
        assert_eq!(decode_contents(4, &[0; 7]), Err(FormatError::UnsupportedContentsVersion { found: 4 }));
        assert_eq!(decode_contents(1, &[0; 6]), Ok(Contents::default()));
        assert_eq!(decode_contents(2, &[0; 6]), Ok(Contents::default()));
        assert_eq!(decode_contents(3, &[0; 7]), Ok(Contents::default()));
        assert!(matches!(decode_contents(3, &[0; 6]), Err(FormatError::Damaged { .. })));
        assert_eq!(decode_contents(0, &[0; 6]), Err(FormatError::UnsupportedContentsVersion { found: 0 }));
        assert!(matches!(decode_contents(1, &[0; 7]), Err(FormatError::Damaged { .. })));
        assert!(matches!(decode_contents(1, &[0; 5]), Err(FormatError::Damaged { .. })));
        assert!(matches!(decode_plaintext(&[0]), Err(FormatError::Damaged { .. })));
        // A vector claiming 2^60 elements is refused by the limit, not allocated.
        assert!(matches!(decode_contents(1, &[0xfd, 0, 0, 0, 0, 0, 0, 0, 0x10]), Err(FormatError::Damaged { .. })));
    }

    #[test]
    fn header_refusals() {
        let key = Zeroizing::new([7u8; 32]);
        let file = seal(&key, header(), &Contents::default()).unwrap();
        assert_eq!(Parsed::parse(b"hello").unwrap_err(), FormatError::NotAStore);
        assert_eq!(Parsed::parse(b"").unwrap_err(), FormatError::Truncated);
        assert_eq!(Parsed::parse(&file[..5]).unwrap_err(), FormatError::Truncated);
        let mut other = file.clone();
        other[14] = 2;
        assert_eq!(Parsed::parse(&other).unwrap_err(), FormatError::UnsupportedVersion { found: 2 });
        let mut flags = file.clone();
        flags[15] = 0x02;
        assert!(matches!(Parsed::parse(&flags), Err(FormatError::Damaged { .. })));
        let mut longer = file.clone();
        longer.push(0);
        assert!(matches!(Parsed::parse(&longer), Err(FormatError::Damaged { .. })));
        for (at, value, what) in [(17, u32::MAX, "m"), (21, 101, "t"), (21, 0, "t0"), (25, 0, "p0"), (25, 17, "p"), (29, 16, "len")] {
            let mut absurd = file.clone();
            absurd[at..at + 4].copy_from_slice(&value.to_be_bytes());
            assert!(matches!(Parsed::parse(&absurd), Err(FormatError::ParametersOutOfRange { .. })), "{what}");
        }
        let mut big = file.clone();
        big[61..65].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(Parsed::parse(&big), Err(FormatError::Damaged { .. })));
    }

    #[test]
    fn errors_say_no_bytes() {
        let message = FormatError::WrongPassphraseOrDamaged.to_string();
        assert!(message.contains("cannot tell") && message.contains("backup"), "{message}");
    }
}
