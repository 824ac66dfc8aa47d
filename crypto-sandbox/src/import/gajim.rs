//! Gajim and its OTR plugin ("gotr", built on python-potr).
//!
//! - `config` (`~/.config/gajim/config`, Gajim < 1.0's optparser.py: one `name = value` per line;
//!   per-account options are `accounts.<LABEL>.<option>`, where the label may itself hold dots,
//!   e.g. `accounts.ventwo22@jabber.org.name = ventwo22`): `name` and `hostname` make the JID,
//!   `password` (kept when `savepass` is not False), `use_custom_host`, `custom_host`,
//!   `custom_port` the server; `is_zeroconf = True` marks Gajim's serverless "Local" account.
//! - `<LABEL>.key3` (`~/.local/share/gajim`, gotr's otrmodule.py `get_key_filename` + potr's
//!   `DSAKey.serializePrivateKey`): the binary serialisation read by otr_key.rs.
//! - `<LABEL>.fpr` (gotr's `loadTrusts`/`saveTrusts`): libotr's fingerprint layout,
//!   `theirjid \t ourjid \t xmpp \t 40 hex \t trust`, trust "", "verified" or "smp".
//!
//! Gajim 1.x keeps its settings in SQLite (settings.sqlite), which this importer does not read;
//! then the keys and fingerprints are skipped, each saying that no account label maps to a JID.

use otr::keyfile;
use zeroize::Zeroizing;

use super::{bare_jid, host, libotr, otr_key, port, shown, ImportedAccount, Imported, SourceView};

#[derive(Default)]
struct GajimAccount {
    label: String,
    name: Option<String>,
    hostname: Option<String>,
    password: Option<Zeroizing<String>>,
    save_password: Option<bool>,
    use_custom_host: Option<bool>,
    custom_host: Option<String>,
    custom_port: Option<String>,
    zeroconf: bool,
}

fn python_bool(text: &str) -> Option<bool> {
    match text {
        "True" => Some(true),
        "False" => Some(false),
        _ => None,
    }
}

fn read_config(bytes: &[u8], imported: &mut Imported) -> Vec<GajimAccount> {
    let mut accounts: Vec<GajimAccount> = Vec::new();
    let Ok(text) = std::str::from_utf8(bytes) else {
        imported.skip("Gajim's config", "it is not UTF-8 text");
        return accounts;
    };
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else { continue };
        let key = key.trim();
        // optparser writes "name = value": one space each side of "=".
        let value_exact = value.strip_prefix(' ').unwrap_or(value).trim_end_matches('\r');
        let value = value.trim();
        let Some(rest) = key.strip_prefix("accounts.") else { continue };
        let Some((label, option)) = rest.rsplit_once('.') else { continue };
        if label.is_empty() {
            continue;
        }
        let index = match accounts.iter().position(|account| account.label == label) {
            Some(index) => index,
            None if accounts.len() >= super::MAX_ITEMS => continue,
            None => {
                accounts.push(GajimAccount { label: label.to_string(), ..GajimAccount::default() });
                accounts.len() - 1
            }
        };
        let account = &mut accounts[index];
        match option {
            "name" => account.name = Some(value.to_string()),
            "hostname" => account.hostname = Some(value.to_string()),
            "password" => account.password = Some(Zeroizing::new(value_exact.to_string())).filter(|text| !text.is_empty()),
            "savepass" => account.save_password = python_bool(value),
            "use_custom_host" => account.use_custom_host = python_bool(value),
            "custom_host" => account.custom_host = Some(value.to_string()),
            "custom_port" => account.custom_port = Some(value.to_string()),
            "is_zeroconf" => account.zeroconf = python_bool(value) == Some(true),
            _ => {}
        }
    }
    accounts
}

pub fn import(files: &SourceView<'_>, imported: &mut Imported) {
    // label → JID, or why there is none.
    let mut labels: Vec<(String, Result<String, String>)> = Vec::new();
    match files.get("config") {
        None => imported.skip("Gajim's config", "it was not among the files found, so no account label can be mapped to a JID"),
        Some(bytes) => {
            for account in read_config(bytes, imported) {
                let what = format!("Gajim account {}", shown(&account.label));
                let jid = if account.zeroconf {
                    Err("it is Gajim's serverless (zeroconf) account, not XMPP".to_string())
                } else {
                    match (&account.name, &account.hostname) {
                        (Some(name), Some(hostname)) => {
                            bare_jid(&format!("{name}@{hostname}")).ok_or_else(|| "its name and hostname do not make an XMPP address".to_string())
                        }
                        _ => Err("its name or hostname is missing".to_string()),
                    }
                };
                match &jid {
                    Ok(jid) => {
                        let password = if account.save_password == Some(false) { None } else { account.password };
                        let server = if account.use_custom_host == Some(true) {
                            let server_port = account.custom_port.as_deref().and_then(|text| text.parse::<i64>().ok()).and_then(port);
                            account.custom_host.as_deref().and_then(host).map(|name| (name, server_port.unwrap_or(5222)))
                        } else {
                            None
                        };
                        imported.add_account(ImportedAccount { jid: jid.clone(), password, server });
                    }
                    Err(why) => imported.skip(what, why.clone()),
                }
                labels.push((account.label, jid));
            }
        }
    }
    let jid_of_label = |label: &str| -> Result<String, String> {
        match labels.iter().find(|(known, _)| known == label) {
            Some((_, Ok(jid))) => Ok(jid.clone()),
            Some((_, Err(why))) => Err(format!("its account is skipped: {why}")),
            None => Err(format!("Gajim's config has no account {}, so the key's JID is unknown", shown(label))),
        }
    };
    for (path, bytes) in files.matching("*.key3") {
        let label = path.strip_suffix(".key3").unwrap_or(path);
        let what = format!("the OTR key of Gajim account {}", shown(label));
        let jid = match jid_of_label(label) {
            Ok(jid) => jid,
            Err(why) => {
                imported.skip(what, why);
                continue;
            }
        };
        match otr_key::parse(bytes) {
            Ok(key) => imported.add_key(jid, key),
            Err(error) => imported.skip(what, error.to_string()),
        }
    }
    let fpr_account = |account: &str, protocol: &str| -> Result<String, String> {
        if protocol != "xmpp" {
            return Err(format!("its protocol is {}, not xmpp", shown(protocol)));
        }
        bare_jid(account).ok_or_else(|| format!("{} is not an XMPP address", shown(account)))
    };
    for (path, bytes) in files.matching("*.fpr") {
        let (entries, skipped) = keyfile::read_fingerprints_reporting(bytes);
        for line in skipped {
            imported.skip(format!("line {} of {}", line.line, shown(path)), line.reason);
        }
        for entry in entries {
            libotr::add_fingerprint_entry(&entry, &fpr_account, imported);
        }
    }
}
