//! xmpp-client (agl/xmpp-client), and the account object it shares with CoyIM.
//!
//! agl/xmpp-client config.go, `type Config`: one account per JSON file (`~/.xmpp-client`),
//! encoded by Go's encoding/json: `Account` (user@domain), `Server`, `Port`, `Password`,
//! `PrivateKey` (`[]byte`, so base64, holding `otr.PrivateKey.Serialize` from
//! golang.org/x/crypto/otr: see otr_key.rs), `KnownFingerprints` (`[{UserId, FingerprintHex}]`,
//! the fingerprints the user authorised with /otr-auth, so trusted by hand), and, in later
//! versions (mirrored in coyim/coyim config/importer/xmpp_client.go, `xmppClientConfig`),
//! `AlwaysEncrypt`, `AlwaysEncryptWith`, `OTRAutoAppendTag`, `OTRAutoStartSession`.
//!
//! Policy, as CoyIM's config/account.go `SetOTRPoliciesFor` reads the same fields: AlwaysEncrypt
//! → require (for everyone), else OTRAutoAppendTag → opportunistic, else manual; every JID in
//! AlwaysEncryptWith → require for that peer.

use otr::policy::Policy;
use otr::trust::Trust;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::{bare_jid, host, json, otr_key, port, shown, ImportedAccount, ImportedFingerprint, ImportedPolicy, Imported, SourceView};

/// Which dialect of the account object.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    XmppClient,
    Coyim,
}

impl Dialect {
    fn client(self) -> &'static str {
        match self {
            Dialect::XmppClient => "xmpp-client",
            Dialect::Coyim => "CoyIM",
        }
    }
}

pub fn import(files: &SourceView<'_>, imported: &mut Imported) {
    for (path, bytes) in files.all() {
        let what = format!("xmpp-client configuration {}", shown(path));
        let mut value = match json::parse(bytes) {
            Ok(value) => value,
            Err(why) => {
                imported.skip(what, why);
                continue;
            }
        };
        match &value {
            Value::Object(object) => account(object, Dialect::XmppClient, &what, imported),
            _ => imported.skip(what, "it is not a JSON object, as xmpp-client's configuration is"),
        }
        json::wipe(&mut value);
    }
}

/// One account object (xmpp-client's whole Config, or one of CoyIM's `Accounts`).
pub fn account(object: &Map<String, Value>, dialect: Dialect, what: &str, imported: &mut Imported) {
    let client = dialect.client();
    let jid = match json::string(object, "Account") {
        Ok(Some(text)) => match bare_jid(text) {
            Some(jid) => jid,
            None => return imported.skip(what, format!("its Account, {}, is not an XMPP address", shown(text))),
        },
        Ok(None) => return imported.skip(what, "it names no Account"),
        Err(why) => return imported.skip(what, why),
    };
    let what = format!("{client} account {jid}");
    // Everything the account itself needs must be well-formed; the rest is skipped piece by piece.
    let fields = (|| {
        let password = json::string(object, "Password")?.filter(|text| !text.is_empty()).map(|text| Zeroizing::new(text.to_string()));
        let server = json::string(object, "Server")?.map(str::to_string);
        let port_number = json::integer(object, "Port")?;
        Ok::<_, String>((password, server, port_number))
    })();
    let (password, server, port_number) = match fields {
        Ok(fields) => fields,
        Err(why) => return imported.skip(what, why),
    };
    let server = match server.as_deref().filter(|name| !name.trim().is_empty()) {
        None => None,
        Some(name) => match (host(name), port_number.map(port)) {
            (Some(name), None) => Some((name, 5222)),
            (Some(name), Some(Some(number))) => Some((name, number)),
            (Some(name), Some(None)) => {
                imported.skip(format!("the port of {what}"), "it is not between 1 and 65535; 5222 is used");
                Some((name, 5222))
            }
            (None, _) => {
                imported.skip(format!("the server of {what}"), "it is not a host name; the JID's domain is used");
                None
            }
        },
    };
    imported.add_account(ImportedAccount { jid: jid.clone(), password, server });

    // Keys: xmpp-client's PrivateKey; CoyIM's PrivateKeys and its older PrivateKey
    // (config/account.go: AllPrivateKeys appends DeprecatedPrivateKey, json "PrivateKey").
    let mut keys: Vec<(&str, &Value)> = Vec::new();
    if let Some(value) = json::field(object, "PrivateKey").filter(|value| !value.is_null()) {
        keys.push(("PrivateKey", value));
    }
    if dialect == Dialect::Coyim {
        match json::array(object, "PrivateKeys") {
            Ok(items) => keys.extend(items.iter().map(|value| ("PrivateKeys", value))),
            Err(why) => imported.skip(format!("the keys of {what}"), why),
        }
    }
    for (field, value) in keys {
        let what = format!("a key of {what} (its {field})");
        let Value::String(text) = value else {
            imported.skip(what, "it is not a base64 string");
            continue;
        };
        if text.is_empty() {
            // Go writes a nil []byte as "" only when asked to; either way there is no key.
            continue;
        }
        let bytes = match json::bytes_from_base64(text) {
            Ok(bytes) => bytes,
            Err(why) => {
                imported.skip(what, why);
                continue;
            }
        };
        match otr_key::parse(&bytes) {
            Ok(key) => imported.add_key(jid.clone(), key),
            Err(error) => imported.skip(what, error.to_string()),
        }
    }

    // Fingerprints. xmpp-client: KnownFingerprints, all authorised by the user. CoyIM: legacy
    // KnownFingerprints with Untrusted (config/fingerprints.go), and Peers[].Fingerprints[] with
    // Trusted (config/peer.go).
    match json::array(object, "KnownFingerprints") {
        Ok(items) => {
            for item in items {
                let Value::Object(entry) = item else {
                    imported.skip(format!("a known fingerprint of {what}"), "it is not a JSON object");
                    continue;
                };
                let untrusted = match dialect {
                    Dialect::XmppClient => Ok(false),
                    Dialect::Coyim => json::boolean(entry, "Untrusted"),
                };
                let peer = json::string(entry, "UserID");
                let hex = json::string(entry, "FingerprintHex");
                add_fingerprint(&jid, &what, peer, hex, untrusted.map(|untrusted| !untrusted), imported);
            }
        }
        Err(why) => imported.skip(format!("the known fingerprints of {what}"), why),
    }
    if dialect == Dialect::Coyim {
        match json::array(object, "Peers") {
            Ok(peers) => {
                for peer in peers {
                    let Value::Object(peer) = peer else {
                        imported.skip(format!("a peer of {what}"), "it is not a JSON object");
                        continue;
                    };
                    let user = json::string(peer, "UserID");
                    match json::array(peer, "Fingerprints") {
                        Ok(fingerprints) => {
                            for fingerprint in fingerprints {
                                let Value::Object(entry) = fingerprint else {
                                    imported.skip(format!("a fingerprint of a peer of {what}"), "it is not a JSON object");
                                    continue;
                                };
                                let hex = json::string(entry, "FingerprintHex");
                                add_fingerprint(&jid, &what, user.clone(), hex, json::boolean(entry, "Trusted"), imported);
                            }
                        }
                        Err(why) => imported.skip(format!("the fingerprints of a peer of {what}"), why),
                    }
                }
            }
            Err(why) => imported.skip(format!("the peers of {what}"), why),
        }
    }

    // Policies.
    let flags = (|| {
        Ok::<_, String>((
            json::boolean(object, "AlwaysEncrypt")?,
            json::boolean(object, "OTRAutoAppendTag")?,
            json::array(object, "AlwaysEncryptWith")?,
        ))
    })();
    match flags {
        Ok((always, append_tag, always_with)) => {
            let policy = if always {
                Policy::Require
            } else if append_tag {
                Policy::Opportunistic
            } else {
                Policy::Manual
            };
            imported.add_policy(ImportedPolicy { account_jid: jid.clone(), peer: None, policy });
            if !always {
                for peer in always_with {
                    match peer.as_str().and_then(bare_jid) {
                        Some(peer) => imported.add_policy(ImportedPolicy { account_jid: jid.clone(), peer: Some(peer), policy: Policy::Require }),
                        None => imported.skip(format!("an AlwaysEncryptWith entry of {what}"), "it is not an XMPP address"),
                    }
                }
            }
        }
        Err(why) => imported.skip(format!("the OTR policy of {what}"), why),
    }
    if dialect == Dialect::Coyim && matches!(json::array(object, "DontEncryptWith"), Ok(items) if !items.is_empty()) {
        imported.skip(format!("the DontEncryptWith list of {what}"), "Burrow does not lower a contact's OTR policy on import; set it with /policy if you want to");
    }
}

fn add_fingerprint(
    account_jid: &str,
    what: &str,
    peer: Result<Option<&str>, String>,
    hex: Result<Option<&str>, String>,
    trusted: Result<bool, String>,
    imported: &mut Imported,
) {
    let entry = (|| {
        let peer_text = peer?.ok_or("it names no UserID")?;
        let peer = bare_jid(peer_text).ok_or_else(|| format!("its UserID, {}, is not an XMPP address", shown(peer_text)))?;
        let hex = hex?.ok_or("it has no FingerprintHex")?;
        let fingerprint = json::fingerprint_hex(hex).ok_or("its FingerprintHex is not 40 hex digits")?;
        let trust = if trusted? { Trust::VerifiedByHand } else { Trust::Unverified };
        Ok::<_, String>(ImportedFingerprint { account_jid: account_jid.to_string(), peer, fingerprint, trust })
    })();
    match entry {
        Ok(entry) => imported.add_fingerprint(entry),
        Err(why) => imported.skip(format!("a fingerprint known to {what}"), why),
    }
}
