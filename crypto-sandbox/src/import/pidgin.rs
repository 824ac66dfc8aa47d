//! Pidgin (`~/.purple`) and Adium, both libpurple and libotr clients.
//!
//! Pidgin:
//! - `accounts.xml` (libpurple's account.c, `purple_accounts_load`): `<account><account>` with
//!   `<protocol>`, `<name>` (XMPP: user@domain/resource), `<password>` (plaintext, optional),
//!   `<settings><setting name='connect_server' type='string'>` and `<setting name='port'
//!   type='int'>` (the Jabber prpl's "Connect server" and "Connect port" options). Only
//!   `prpl-jabber` accounts are XMPP.
//! - `otr.private_key`, `otr.fingerprints`: libotr's files (see libotr.rs), keyed by the same
//!   (name, protocol) pair as accounts.xml.
//! - `prefs.xml` (libpurple prefs.c: nested `<pref name=…>`; bools as `type='bool' value='0|1'`):
//!   pidgin-otr's global settings `/OTR/enabled`, `/OTR/automatic`, `/OTR/onlyprivate`
//!   (`otrg_gtk_ui_global_prefs_load` in pidgin-otr's gtk-ui.c; when `/OTR/enabled` is absent the
//!   plugin uses its built-in defaults, which we do not turn into a policy, so Burrow's own default
//!   applies).
//! - `blist.xml` (libpurple blist.c: `<buddy account=… proto=…><name>` with
//!   `<setting name='OTR/…' type='bool'>0|1</setting>`): pidgin-otr's per-buddy settings
//!   `OTR/overridedefault`, `OTR/enabled`, `OTR/automatic`, `OTR/onlyprivate`
//!   (`otrg_gtk_ui_buddy_prefs_load`; a missing bool reads as false, as
//!   `purple_blist_node_get_bool` returns). Its `<chat>` entries are the saved rooms
//!   (`<component name='room'|'server'|'handle'>`, `gtk-autojoin`), imported as bookmarks; a room
//!   password is not kept.
//!
//! The policy is what `otrg_gtk_ui_get_prefs` computes: not enabled → never; enabled, automatic
//! and only-private → require (OTRL_POLICY_ALWAYS); enabled and automatic → opportunistic;
//! enabled only → manual.
//!
//! Adium (`~/Library/Application Support/Adium 2.0/Users/Default`): the same libotr files, but
//! libotr's accountname is Adium's numeric ObjectID, mapped to the JID through `Accounts.plist`
//! (`Accounts` = array of dicts with `ObjectID`, `Type`, `UID`); XMPP accounts have a `Type` of
//! `libpurple-Jabber`, `libpurple-jabber-gtalk` and the like. `Accounts.plist` is normally a
//! binary plist (plist.rs reads both forms). Adium keeps passwords in the macOS keychain, not in
//! these files. Its `libpurple` folder holds libpurple's own `accounts.xml`, `blist.xml` and
//! `prefs.xml` (Adium's libpurple user directory, set in its CBPurpleAdapter), read as Pidgin's
//! are: the connect server of an account, and OTR settings where they are present.

use otr::policy::Policy;
use zeroize::Zeroizing;

use super::xml::{self, Element};
use super::{bare_jid, host, libotr, plist, port, shown, ImportedAccount, ImportedBookmark, ImportedPolicy, Imported, SourceView, MAX_JID_BYTES};

const JABBER: &str = "prpl-jabber";

fn not_xmpp(protocol: &str) -> String {
    format!("{} is not XMPP", shown(protocol))
}

/// Pidgin's mapping: prpl-jabber and a JID (resource stripped).
fn pidgin_account(account: &str, protocol: &str) -> Result<String, String> {
    if protocol != JABBER {
        return Err(not_xmpp(protocol));
    }
    bare_jid(account).ok_or_else(|| format!("{} is not an XMPP address", shown(account)))
}

pub fn import(files: &SourceView<'_>, imported: &mut Imported) {
    let mut jids = Vec::new();
    match files.get("accounts.xml") {
        Some(bytes) => accounts("Pidgin's accounts.xml", bytes, imported, &mut jids),
        None => imported.skip("Pidgin's accounts.xml", "it was not among the files found, so no account or password is imported"),
    }
    if let Some(bytes) = files.get("otr.private_key") {
        libotr::import_keys("Pidgin", bytes, &pidgin_account, imported);
    }
    if let Some(bytes) = files.get("otr.fingerprints") {
        libotr::import_fingerprints("Pidgin", bytes, &pidgin_account, imported);
    }
    if let Some(bytes) = files.get("prefs.xml") {
        global_policy("Pidgin's prefs.xml", bytes, &jids, imported);
    }
    if let Some(bytes) = files.get("blist.xml") {
        buddy_policies("Pidgin's blist.xml", bytes, imported);
        bookmarks("Pidgin's blist.xml", bytes, imported);
    }
}

fn accounts(file: &str, bytes: &[u8], imported: &mut Imported, jids: &mut Vec<String>) {
    let root = match xml::parse(bytes) {
        Ok(root) => root,
        Err(error) => return imported.skip(file, error.to_string()),
    };
    if root.name != "account" {
        return imported.skip(file, "its root element is not <account>, so it is not libpurple's account list");
    }
    for (index, entry) in root.children_named("account").enumerate() {
        let name = entry.child_text("name").unwrap_or("");
        let what = if name.is_empty() { format!("account {} of accounts.xml", index + 1) } else { format!("account {}", shown(name)) };
        let protocol = entry.child_text("protocol").unwrap_or("");
        if protocol != JABBER {
            imported.skip(what, if protocol.is_empty() { "it names no protocol".to_string() } else { not_xmpp(protocol) });
            continue;
        }
        let Some(jid) = bare_jid(name) else {
            imported.skip(what, "its name is not an XMPP address");
            continue;
        };
        // The password element's text, untrimmed: spaces may be part of a password.
        let password = entry.child("password").map(|element| element.text.clone()).filter(|text| !text.is_empty());
        let mut server_name = None;
        let mut server_port = None;
        for settings in entry.children_named("settings").filter(|settings| settings.attribute("ui").is_none()) {
            for setting in settings.children_named("setting") {
                match (setting.attribute("name"), setting.attribute("type")) {
                    (Some("connect_server"), Some("string")) => server_name = host(&setting.text),
                    (Some("port"), Some("int")) => server_port = setting.text.trim().parse::<i64>().ok().and_then(port),
                    _ => {}
                }
            }
        }
        // Pidgin connects to the connect server at the connect port (5222 unless set); without a
        // connect server it resolves the domain, and a port alone changes nothing we keep.
        let server = server_name.map(|name| (name, server_port.unwrap_or(5222)));
        jids.push(jid.clone());
        imported.add_account(ImportedAccount { jid, password: password.map(Zeroizing::new), server });
    }
}

/// pidgin-otr's mapping of its check boxes to a libotr policy (otrg_gtk_ui_get_prefs).
fn policy_of(enabled: bool, automatic: bool, only_private: bool) -> Policy {
    match (enabled, automatic, only_private) {
        (false, _, _) => Policy::Never,
        (true, true, true) => Policy::Require,
        (true, true, false) => Policy::Opportunistic,
        (true, false, _) => Policy::Manual,
    }
}

fn bool_text(text: &str) -> Option<bool> {
    match text.trim() {
        "1" | "true" => Some(true),
        "0" | "false" => Some(false),
        _ => None,
    }
}

fn global_policy(file: &str, bytes: &[u8], jids: &[String], imported: &mut Imported) {
    let root = match xml::parse(bytes) {
        Ok(root) => root,
        Err(error) => return imported.skip(format!("{file} (the OTR settings)"), error.to_string()),
    };
    // <pref version='1' name='/'> <pref name='OTR'> <pref name='enabled' type='bool' value='1'/>
    let Some(otr) = root.children_named("pref").find(|pref| pref.attribute("name") == Some("OTR")) else {
        return;
    };
    let read = |name: &str| -> Result<Option<bool>, String> {
        match otr.children_named("pref").find(|pref| pref.attribute("name") == Some(name)) {
            None => Ok(None),
            Some(pref) if pref.attribute("type") == Some("bool") => pref
                .attribute("value")
                .and_then(bool_text)
                .map(Some)
                .ok_or_else(|| format!("/OTR/{name} is not 0 or 1")),
            Some(_) => Err(format!("/OTR/{name} is not a bool")),
        }
    };
    let values = (|| Ok::<_, String>((read("enabled")?, read("automatic")?, read("onlyprivate")?)))();
    let (enabled, automatic, only_private) = match values {
        Ok(values) => values,
        Err(why) => return imported.skip(format!("the default OTR settings in {file}"), why),
    };
    // pidgin-otr reads the rest only when /OTR/enabled exists; purple_prefs_get_bool of a
    // missing pref is false.
    let Some(enabled) = enabled else { return };
    let policy = policy_of(enabled, automatic.unwrap_or(false), only_private.unwrap_or(false));
    for jid in jids {
        imported.add_policy(ImportedPolicy { account_jid: jid.clone(), peer: None, policy });
    }
}

fn buddy_policies(file: &str, bytes: &[u8], imported: &mut Imported) {
    let root = match xml::parse(bytes) {
        Ok(root) => root,
        Err(error) => return imported.skip(format!("{file} (per-buddy OTR settings)"), error.to_string()),
    };
    let mut buddies = Vec::new();
    collect_named(&root, "buddy", &mut buddies);
    for buddy in buddies {
        let setting = |name: &str| {
            buddy
                .children_named("setting")
                .find(|setting| setting.attribute("name") == Some(name))
                .map(|setting| (setting.attribute("type") == Some("bool")).then(|| bool_text(&setting.text)).flatten())
        };
        // Only buddies whose settings override the default have a policy of their own.
        match setting("OTR/overridedefault") {
            Some(Some(true)) => {}
            _ => continue,
        }
        let peer_name = buddy.child_text("name").unwrap_or("");
        let account = buddy.attribute("account").unwrap_or("");
        let what = format!("the OTR settings for {} of {}", shown(peer_name), shown(account));
        let protocol = buddy.attribute("proto").unwrap_or("");
        let account_jid = match pidgin_account(account, protocol) {
            Ok(jid) => jid,
            Err(why) => {
                imported.skip(what, why);
                continue;
            }
        };
        let Some(peer) = bare_jid(peer_name) else {
            imported.skip(what, "the buddy's name is not an XMPP address");
            continue;
        };
        let mut flags = [false; 3];
        let mut malformed = false;
        for (slot, name) in flags.iter_mut().zip(["OTR/enabled", "OTR/automatic", "OTR/onlyprivate"]) {
            match setting(name) {
                None => {}
                Some(Some(value)) => *slot = value,
                Some(None) => malformed = true,
            }
        }
        if malformed {
            imported.skip(what, "one of its OTR settings is not a bool of 0 or 1");
            continue;
        }
        let policy = policy_of(flags[0], flags[1], flags[2]);
        imported.add_policy(ImportedPolicy { account_jid, peer: Some(peer), policy });
    }
}

// Bounded by the XML reader's depth cap.
fn collect_named<'a>(element: &'a Element, name: &str, out: &mut Vec<&'a Element>) {
    for child in &element.children {
        if child.name == name {
            out.push(child);
        } else {
            collect_named(child, name, out);
        }
    }
}

/// libpurple's saved group chats (blist.c `<chat proto=… account=…>` with `<component
/// name='room'|'server'|'handle'|'password'>`, the Jabber prpl's chat fields, and Pidgin's
/// `<setting name='gtk-autojoin' type='bool'>`).
fn bookmarks(file: &str, bytes: &[u8], imported: &mut Imported) {
    let root = match xml::parse(bytes) {
        Ok(root) => root,
        Err(error) => return imported.skip(format!("{file} (saved rooms)"), error.to_string()),
    };
    let mut chats = Vec::new();
    collect_named(&root, "chat", &mut chats);
    for chat in chats {
        let component = |name: &str| {
            chat.children_named("component").find(|component| component.attribute("name") == Some(name)).map(|component| component.text.trim().to_owned()).filter(|text| !text.is_empty())
        };
        let (room, server) = (component("room").unwrap_or_default(), component("server").unwrap_or_default());
        let account = chat.attribute("account").unwrap_or("");
        let what = format!("the room {}@{} of {}", shown(&room), shown(&server), shown(account));
        let account_jid = match pidgin_account(account, chat.attribute("proto").unwrap_or("")) {
            Ok(jid) => jid,
            Err(why) => {
                imported.skip(what, why);
                continue;
            }
        };
        let Some(room_jid) = bare_jid(&format!("{room}@{server}")) else {
            imported.skip(what, "its room and server do not make an XMPP address");
            continue;
        };
        if component("password").is_some() {
            imported.skip(format!("the password of {what}"), "Burrow keeps no room passwords; type it when joining");
        }
        let nick = component("handle").filter(|nick| nick.len() <= MAX_JID_BYTES / 3 && !nick.chars().any(char::is_control));
        let autojoin = chat
            .children_named("setting")
            .any(|setting| setting.attribute("name") == Some("gtk-autojoin") && setting.attribute("type") == Some("bool") && bool_text(&setting.text) == Some(true));
        imported.add_bookmark(ImportedBookmark { account_jid, room: room_jid, nick, autojoin });
    }
}

// ---------------------------------------------------------------------------------------------
// Adium

fn is_xmpp_type(account_type: &str) -> bool {
    let lower = account_type.to_ascii_lowercase();
    lower.contains("jabber") || lower.contains("gtalk") || lower.contains("xmpp")
}

pub fn import_adium(files: &SourceView<'_>, imported: &mut Imported) {
    // ObjectID → (Type, JID or why not)
    let mut by_id: Vec<(String, String, Result<String, String>)> = Vec::new();
    let mut plist_problem = None;
    match files.get("Accounts.plist") {
        None => plist_problem = Some("Accounts.plist, which names the account behind each of Adium's account numbers, was not found".to_string()),
        Some(bytes) => match plist::parse(bytes) {
            Err(error) => {
                imported.skip("Adium's Accounts.plist", error.to_string());
                plist_problem = Some(format!("Accounts.plist could not be read ({error})"));
            }
            Ok(root) => match root.get("Accounts") {
                Some(plist::Value::Array(accounts)) => {
                    for (index, account) in accounts.iter().enumerate() {
                        let id = account.get("ObjectID").and_then(plist::Value::as_text);
                        let uid = account.get("UID").and_then(plist::Value::as_text).unwrap_or_default();
                        let account_type = account.get("Type").and_then(plist::Value::as_text).unwrap_or_default();
                        let what = if uid.is_empty() { format!("account {} of Accounts.plist", index + 1) } else { format!("account {}", shown(&uid)) };
                        let Some(id) = id else {
                            imported.skip(what, "it has no ObjectID");
                            continue;
                        };
                        let jid = if !is_xmpp_type(&account_type) {
                            Err(if account_type.is_empty() { "it names no account type".to_string() } else { not_xmpp(&account_type) })
                        } else {
                            bare_jid(&uid).ok_or_else(|| "its UID is not an XMPP address".to_string())
                        };
                        match &jid {
                            Ok(jid) => imported.add_account(ImportedAccount { jid: jid.clone(), password: None, server: None }),
                            Err(why) => imported.skip(what, why.clone()),
                        }
                        by_id.push((id, account_type, jid));
                    }
                }
                _ => {
                    imported.skip("Adium's Accounts.plist", "it has no Accounts list");
                    plist_problem = Some("Accounts.plist has no Accounts list".to_string());
                }
            },
        },
    }
    let account_of = |account: &str, protocol: &str| -> Result<String, String> {
        if let Some(problem) = &plist_problem {
            return Err(problem.clone());
        }
        match by_id.iter().find(|(id, _, _)| id == account) {
            Some((_, _, Ok(jid))) if is_xmpp_type(protocol) => Ok(jid.clone()),
            Some((_, _, Ok(_))) => Err(not_xmpp(protocol)),
            Some((_, _, Err(why))) => Err(format!("Adium account {} is skipped: {why}", shown(account))),
            None => Err(format!("Accounts.plist has no account number {}", shown(account))),
        }
    };
    if let Some(bytes) = files.get("otr.private_key") {
        libotr::import_keys("Adium", bytes, &account_of, imported);
    }
    if let Some(bytes) = files.get("otr.fingerprints") {
        libotr::import_fingerprints("Adium", bytes, &account_of, imported);
    }
    // libpurple's own files, which Adium keeps in its `libpurple` folder under libpurple's
    // account names (the JID, prpl-jabber): connect servers, and OTR settings where present.
    let mut jids: Vec<String> = by_id.iter().filter_map(|(_, _, jid)| jid.clone().ok()).collect();
    if let Some(bytes) = files.get("libpurple/accounts.xml") {
        accounts("Adium's libpurple/accounts.xml", bytes, imported, &mut jids);
    }
    if let Some(bytes) = files.get("libpurple/prefs.xml") {
        global_policy("Adium's libpurple/prefs.xml", bytes, &jids, imported);
    }
    if let Some(bytes) = files.get("libpurple/blist.xml") {
        buddy_policies("Adium's libpurple/blist.xml", bytes, imported);
        bookmarks("Adium's libpurple/blist.xml", bytes, imported);
    }
}
