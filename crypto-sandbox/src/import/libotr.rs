//! libotr's `otr.private_key` and `otr.fingerprints`, as Pidgin and Adium keep them, read with the
//! otr crate's own readers (`otr::keyfile`, which follow libotr 4.1's privkey.c). What differs
//! between the two clients is how libotr's (accountname, protocol) pair names an XMPP account;
//! each importer passes that mapping in.

use otr::keyfile;
use otr::trust::Trust;

use super::{shown, ImportedFingerprint, Imported};

/// How an importer turns libotr's (accountname, protocol) into our bare JID, or says why not.
pub type AccountMapper<'a> = dyn Fn(&str, &str) -> Result<String, String> + 'a;

/// Keys from `otr.private_key`.
pub fn import_keys(client: &str, bytes: &[u8], account_of: &AccountMapper<'_>, imported: &mut Imported) {
    let keys = match keyfile::read_private_keys(bytes) {
        Ok(keys) => keys,
        Err(error) => return imported.skip(format!("{client}'s otr.private_key"), error.to_string()),
    };
    for skipped in &keys.skipped {
        let what = match (&skipped.account, &skipped.protocol) {
            (Some(account), Some(protocol)) => format!("the key of {} ({})", shown(account), shown(protocol)),
            (Some(account), None) => format!("the key of {}", shown(account)),
            _ => format!("entry {} of {client}'s otr.private_key", skipped.position),
        };
        imported.skip(what, skipped.reason.to_string());
    }
    for entry in keys.keys {
        match account_of(&entry.account, &entry.protocol) {
            Ok(jid) => imported.add_key(jid, entry.key),
            Err(why) => imported.skip(format!("the key of {} ({})", shown(&entry.account), shown(&entry.protocol)), why),
        }
    }
}

/// Fingerprints from `otr.fingerprints`: peer \t account \t protocol \t hex \t trust.
pub fn import_fingerprints(client: &str, bytes: &[u8], account_of: &AccountMapper<'_>, imported: &mut Imported) {
    let (entries, skipped) = keyfile::read_fingerprints_reporting(bytes);
    for line in skipped {
        imported.skip(format!("line {} of {client}'s fingerprints", line.line), line.reason);
    }
    for entry in entries {
        add_fingerprint_entry(&entry, account_of, imported);
    }
}

pub fn add_fingerprint_entry(entry: &keyfile::FingerprintEntry, account_of: &AccountMapper<'_>, imported: &mut Imported) {
    let what = || format!("the fingerprint of {} seen by {}", shown(&entry.peer), shown(&entry.account));
    let account_jid = match account_of(&entry.account, &entry.protocol) {
        Ok(jid) => jid,
        Err(why) => return imported.skip(what(), why),
    };
    let Some(peer) = super::bare_jid(&entry.peer) else {
        return imported.skip(what(), "the peer's name is not an XMPP address");
    };
    imported.add_fingerprint(ImportedFingerprint {
        account_jid,
        peer,
        fingerprint: entry.fingerprint,
        trust: Trust::from_libotr_str(&entry.trust),
    });
}
