//! `/import`: the launcher's bytes of another client's files, parsed here
//! (`crypto_sandbox::import`, every field hostile input) and merged into the
//! store. Nothing already in the store is replaced: an account that exists
//! keeps its password and its OTR key, and the report says what was left
//! out and why.

use ipc::import::{ImportFile, ImportReport, ImportSource};
use ipc::secret::{SecretText, SecretBytes};
use ipc::xmpp::{NewAccount, TorMode, Transport};
use ipc::{ErrorCode, Failure};

use crypto_sandbox::import::{self, SourceFiles};
use crypto_sandbox::vault::contents::OtrKeyRecord;

use crate::conversations::Conversations;
use crate::store::Store;

/// Parses and merges; the report for the UI, or why nothing came in.
pub fn import(
    store: &mut Store,
    conversations: &mut Conversations,
    source: ImportSource,
    files: Vec<ImportFile>,
    passphrase: Option<&SecretText>,
    unread: Vec<String>,
    report_otr: &mut dyn FnMut(ipc::crypto::FromCrypto),
) -> Result<ImportReport, Failure> {
    if !store.is_open() {
        return Err(Failure::new(ErrorCode::Locked, "The store is locked; unlock it first."));
    }
    let mut source_files = SourceFiles::new();
    for file in files {
        let ImportFile { name, bytes } = file;
        source_files.add(name, SecretBytes::expose(&bytes).to_vec());
    }
    let imported = import::import(source, &source_files, passphrase.map(SecretText::expose));
    let mut report = ImportReport { source, added: Vec::new(), accounts: 0, keys: 0, fingerprints: 0, skipped: unread };
    report.skipped.extend(imported.skipped.iter().map(|skipped| format!("{}: {}", skipped.what, skipped.why)));

    for account in &imported.accounts {
        let Some(password) = &account.password else {
            report.skipped.push(format!("account {}: no password was saved; add it with /account add", account.jid));
            continue;
        };
        if store.account(&account.jid).is_ok() {
            report.skipped.push(format!("account {}: already in the store, kept as it is", account.jid));
            continue;
        }
        let policy = imported.policies.iter().find(|policy| policy.account_jid == account.jid && policy.peer.is_none()).map(|policy| policy.policy.name().to_owned());
        let new = NewAccount {
            jid: account.jid.clone(),
            password: SecretText::new(password.to_string()),
            server: account.server.clone(),
            onion: None,
            transport: Transport::StartTls,
            ca_path: None,
            ca_pem: None,
            spki_pin: None,
            tor: TorMode::Auto,
            policy,
            allow_plain: false,
        };
        match store.add_account(new) {
            Ok(_) => {
                report.accounts += 1;
                report.added.push(account.jid.clone());
            }
            Err(failure) => report.skipped.push(format!("account {}: {}", account.jid, failure.message)),
        }
    }

    // Keys go to the accounts just added; an account that was already
    // here keeps its own key (its contacts know that fingerprint).
    for key in &imported.keys {
        if !report.added.contains(&key.account_jid) {
            report.skipped.push(format!("OTR key of {}: the account already had its key, or was not imported", key.account_jid));
            continue;
        }
        let Ok(stored) = store.account(&key.account_jid) else { continue };
        let (policy, allow_v2) = (stored.policy.clone(), stored.allow_v2);
        let public = key.key.public_key();
        let record = OtrKeyRecord {
            account: key.account_jid.clone(),
            p: public.p().to_vec(),
            q: public.q().to_vec(),
            g: public.g().to_vec(),
            y: public.y().to_vec(),
            x: key.key.x_bytes().to_vec(),
            // Replaced by a fresh one: this is a new client of the account's.
            instance_tag: 0,
        };
        conversations.add_imported_key(&key.account_jid, &policy, allow_v2, &record, report_otr);
        report.keys += 1;
    }
    // Accounts that came without a key get one made here.
    for jid in &report.added {
        if !imported.keys.iter().any(|key| &key.account_jid == jid) {
            if let Ok(stored) = store.account(jid) {
                let (policy, allow_v2) = (stored.policy.clone(), stored.allow_v2);
                conversations.add_account(jid, &policy, allow_v2, None, report_otr);
            }
        }
    }
    for fingerprint in &imported.fingerprints {
        if store.account(&fingerprint.account_jid).is_err() {
            report.skipped.push(format!("fingerprint of {} for {}: that account is not in the store", fingerprint.peer, fingerprint.account_jid));
            continue;
        }
        if conversations.import_fingerprint(&fingerprint.account_jid, &fingerprint.peer, fingerprint.fingerprint, fingerprint.trust) {
            report.fingerprints += 1;
        } else {
            report.skipped.push(format!("fingerprint of {} for {}: already known, its trust kept", fingerprint.peer, fingerprint.account_jid));
        }
    }
    for policy in &imported.policies {
        if let Some(peer) = &policy.peer {
            conversations.import_peer_policy(&policy.account_jid, peer, policy.policy);
        }
    }
    Ok(report)
}
