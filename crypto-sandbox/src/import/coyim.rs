//! CoyIM (coyim/coyim): `~/.config/coyim/accounts.json`, or, when the user set a master password,
//! `accounts.json.enc` (config/file.go `findConfigFile` prefers the `.enc` file; so do we).
//!
//! Plain file (config/accounts.go, `type Accounts`): `{"Accounts": [Account…], …}`, each Account as
//! in config/account.go (read by xmpp_client.rs's shared `account`).
//!
//! Encrypted file (config/encrypted_config.go): JSON
//! `{"Params": {"Nonce": hex, "Salt": hex, "N": int, "R": int, "P": int}, "Data": hex}`.
//! `GenerateKeys`: scrypt(passphrase, Salt, N, R, P, 48 bytes); the first 32 bytes are the
//! AES-256 key, the last 16 the "MAC key", which `encryptData`/`decryptData` pass to AES-GCM
//! (`cipher.NewGCM`, 12-byte nonce, 16-byte tag) as the additional authenticated data. The
//! plaintext is the plain file's JSON. CoyIM writes N = 2^18, R = 8, P = 1, a 16-byte salt and a
//! 12-byte nonce (`newEncryptionParameters`).
//!
//! AES-GCM cannot tell a wrong passphrase from a changed file: either way the tag does not verify,
//! and the error says both.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use serde_json::Value;
use thiserror::Error;
use zeroize::Zeroizing;

use super::xmpp_client::{self, Dialect};
use super::{json, Imported, Limits, SourceView};

/// What an encrypted file may make us spend on scrypt. CoyIM's own parameters (N 2^18, r 8, p 1:
/// 256 MiB, about a second) fit the defaults.
#[derive(Debug, Clone, Copy)]
pub struct ScryptLimits {
    /// 128·r·N bytes of scrypt's working memory, at most.
    pub max_memory_bytes: u64,
    /// N·r·p, the work, at most.
    pub max_work: u64,
}

impl Default for ScryptLimits {
    fn default() -> Self {
        ScryptLimits { max_memory_bytes: 256 << 20, max_work: 1 << 22 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CoyimError {
    #[error("it is encrypted with CoyIM's master password, and no passphrase was given")]
    NoPassphrase,
    #[error("it is not CoyIM's encrypted format: {0}")]
    Format(String),
    #[error("its scrypt parameters (N {n}, r {r}, p {p}) are not ones scrypt accepts")]
    BadParams { n: i64, r: i64, p: i64 },
    #[error("its scrypt parameters (N {n}, r {r}, p {p}) would take more memory or time than Burrow allows")]
    TooCostly { n: i64, r: i64, p: i64 },
    #[error("decryption failed: the passphrase is wrong, or the file was changed after CoyIM wrote it")]
    Decryption,
}

pub fn import(files: &SourceView<'_>, passphrase: Option<&str>, limits: &Limits, imported: &mut Imported) {
    if let Some(bytes) = files.get("accounts.json.enc") {
        match decrypt(bytes, passphrase, &limits.scrypt) {
            Ok(plain) => accounts(&plain, "CoyIM's accounts.json.enc", imported),
            Err(error) => imported.skip("CoyIM's accounts.json.enc", error.to_string()),
        }
        if files.get("accounts.json").is_some() {
            imported.skip("CoyIM's accounts.json", "CoyIM uses accounts.json.enc when both are there, and so does Burrow");
        }
        return;
    }
    match files.get("accounts.json") {
        Some(bytes) => accounts(bytes, "CoyIM's accounts.json", imported),
        None => imported.skip("CoyIM's accounts.json", "neither it nor accounts.json.enc was among the files found"),
    }
}

fn accounts(bytes: &[u8], what: &str, imported: &mut Imported) {
    let mut value = match json::parse(bytes) {
        Ok(value) => value,
        Err(why) => return imported.skip(what, why),
    };
    match &value {
        Value::Object(object) => match json::array(object, "Accounts") {
            Ok([]) => imported.skip(what, "it holds no accounts"),
            Ok(items) => {
                for (index, item) in items.iter().enumerate() {
                    let item_what = format!("account {} of {what}", index + 1);
                    match item {
                        Value::Object(account) => xmpp_client::account(account, Dialect::Coyim, &item_what, imported),
                        _ => imported.skip(item_what, "it is not a JSON object"),
                    }
                }
            }
            Err(why) => imported.skip(what, why),
        },
        _ => imported.skip(what, "it is not a JSON object, as CoyIM's configuration is"),
    }
    json::wipe(&mut value);
}

/// Decrypts `accounts.json.enc` to the plain file's bytes.
pub fn decrypt(bytes: &[u8], passphrase: Option<&str>, limits: &ScryptLimits) -> Result<Zeroizing<Vec<u8>>, CoyimError> {
    let value = json::parse(bytes).map_err(CoyimError::Format)?;
    let object = value.as_object().ok_or_else(|| CoyimError::Format("it is not a JSON object".into()))?;
    let params = match json::field(object, "Params") {
        Some(Value::Object(params)) => params,
        _ => return Err(CoyimError::Format("it has no Params object".into())),
    };
    let text = |name: &str| -> Result<String, CoyimError> {
        json::string(params, name).map_err(CoyimError::Format)?.map(str::to_string).ok_or_else(|| CoyimError::Format(format!("its Params have no {name}")))
    };
    let number = |name: &str| -> Result<i64, CoyimError> {
        json::integer(params, name).map_err(CoyimError::Format)?.ok_or_else(|| CoyimError::Format(format!("its Params have no {name}")))
    };
    let nonce = json::hex_bytes(&text("Nonce")?).ok_or_else(|| CoyimError::Format("its Nonce is not hex".into()))?;
    let salt = json::hex_bytes(&text("Salt")?).ok_or_else(|| CoyimError::Format("its Salt is not hex".into()))?;
    if nonce.len() != 12 {
        return Err(CoyimError::Format(format!("its nonce is {} bytes long; AES-GCM's is 12", nonce.len())));
    }
    if salt.is_empty() {
        return Err(CoyimError::Format("its salt is empty".into()));
    }
    let (n, r, p) = (number("N")?, number("R")?, number("P")?);
    let data = match json::field(object, "Data") {
        Some(Value::String(data)) => json::hex_bytes(data).ok_or_else(|| CoyimError::Format("its Data is not hex".into()))?,
        _ => return Err(CoyimError::Format("it has no Data string".into())),
    };
    // Parameters are checked before the passphrase is asked for, so a malformed file says so.
    let params = scrypt_params(n, r, p, limits)?;
    let passphrase = passphrase.ok_or(CoyimError::NoPassphrase)?;
    let mut derived = Zeroizing::new([0u8; 48]);
    scrypt::scrypt(passphrase.as_bytes(), &salt, &params, derived.as_mut_slice()).map_err(|_| CoyimError::BadParams { n, r, p })?;
    let cipher = Aes256Gcm::new_from_slice(&derived[..32]).map_err(|_| CoyimError::Decryption)?;
    let nonce = Nonce::try_from(nonce.as_slice()).map_err(|_| CoyimError::Format("its nonce is not 12 bytes".into()))?;
    let plain = cipher.decrypt(&nonce, Payload { msg: &data, aad: &derived[32..] }).map_err(|_| CoyimError::Decryption)?;
    Ok(Zeroizing::new(plain))
}

fn scrypt_params(n: i64, r: i64, p: i64, limits: &ScryptLimits) -> Result<scrypt::Params, CoyimError> {
    let bad = CoyimError::BadParams { n, r, p };
    // Go's scrypt.Key: N a power of two greater than 1; r, p positive; r·p < 2^30.
    if n < 2 || n & (n - 1) != 0 || r < 1 || p < 1 || r > u32::MAX as i64 || p > u32::MAX as i64 {
        return Err(bad);
    }
    let (n_u, r_u, p_u) = (n as u64, r as u64, p as u64);
    let memory = 128u64.saturating_mul(r_u).saturating_mul(n_u);
    let work = n_u.saturating_mul(r_u).saturating_mul(p_u);
    if memory > limits.max_memory_bytes || work > limits.max_work {
        return Err(CoyimError::TooCostly { n, r, p });
    }
    let log_n = n_u.trailing_zeros() as u8;
    scrypt::Params::new(log_n, r as u32, p as u32).map_err(|_| bad)
}
