//! Events of the text front end: one JSON object per line with `--json`
//! (the contract in TEXT-FRONTEND.md), or short human-readable lines.

use std::io::Write;

use ipc::otr::OtrEvent;
use ipc::xmpp::{AccountStatus, RosterEntry, SubscriptionKind};
use ipc::{Failure, ProcessReport};
use serde_json::{json, Value};

pub struct Output {
    json: bool,
}

impl Output {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    fn emit(&self, event: &str, fields: Value, human: String) {
        let mut stdout = std::io::stdout().lock();
        let line = if self.json {
            let mut object = json!({ "event": event });
            if let (Some(target), Value::Object(extra)) = (object.as_object_mut(), fields) {
                target.extend(extra);
            }
            object.to_string()
        } else {
            // Peers and servers choose much of this text: no terminal escape
            // sequence of theirs may reach the terminal.
            human.chars().map(|character| if character.is_control() { '\u{FFFD}' } else { character }).collect()
        };
        // stdout going away means nobody is listening; there is no one to
        // tell, and the broker shuts down when the UI exits.
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    }

    pub fn ready(&self) {
        let version = env!("CARGO_PKG_VERSION");
        self.emit("ready", json!({ "version": version }), format!("Burrow {version} ready. Type /unlock PASSPHRASE to begin."));
    }

    /// Burrow's extension: `accounts`, the store's accounts, so that a
    /// front end restarted by the broker learns them again.
    pub fn unlocked(&self, accounts: &[String]) {
        let human = match accounts.len() {
            0 => "Store unlocked.".to_owned(),
            count => format!("Store unlocked; {count} account(s): {}.", accounts.join(", ")),
        };
        self.emit("unlocked", json!({ "accounts": accounts }), human);
    }

    /// Burrow's extension: the key is being derived from the passphrase.
    pub fn unlocking(&self) {
        self.emit("unlocking", json!({}), "Deriving the store's key from the passphrase (about a second)…".into());
    }

    /// Burrow's extension: the front end's preferences, as the store keeps them.
    pub fn preferences(&self, preferences: &ipc::ui::Preferences) {
        let human = format!("Preferences: larger text {}.", if preferences.larger_text { "on" } else { "off" });
        self.emit("preferences", json!({ "larger_text": preferences.larger_text }), human);
    }

    pub fn imported(&self, report: &ipc::import::ImportReport) {
        let human = format!(
            "imported from {}: {} accounts, {} OTR keys, {} fingerprints, {} rooms{}{}",
            report.source.name(),
            report.accounts,
            report.keys,
            report.fingerprints,
            report.bookmarks,
            if report.kept.is_empty() { String::new() } else { format!("; {}", report.kept.join("; ")) },
            if report.skipped.is_empty() { String::new() } else { format!("; skipped: {}", report.skipped.join("; ")) }
        );
        self.emit(
            "imported",
            json!({ "source": report.source.name(), "accounts": report.accounts, "keys": report.keys, "fingerprints": report.fingerprints, "skipped": report.skipped, "kept": report.kept, "added": report.added, "bookmarks": report.bookmarks }),
            human,
        );
    }

    /// Burrow's extension: a server's registration form, for the user to
    /// answer with `/register-answer` (or `/register-cancel`).
    pub fn register_form(&self, registration: u64, domain: &str, form: &ipc::register::RegistrationForm) {
        use ipc::register::FieldKind;
        let kind = |kind: FieldKind| match kind {
            FieldKind::Text => "text",
            FieldKind::Private => "private",
            FieldKind::Multi => "multi",
            FieldKind::Boolean => "boolean",
            FieldKind::List => "list",
            FieldKind::Fixed => "fixed",
            FieldKind::Hidden => "hidden",
        };
        let shown: Vec<&ipc::register::FormField> = form.fields.iter().filter(|field| field.kind != FieldKind::Hidden).collect();
        let fields: Vec<Value> = shown
            .iter()
            .map(|field| {
                json!({
                    "var": field.var,
                    "type": kind(field.kind),
                    "label": field.shown_label(),
                    "description": field.description,
                    "required": field.required,
                    "values": field.values,
                    "options": field.options.iter().map(|(label, value)| json!({ "label": label, "value": value })).collect::<Vec<_>>(),
                })
            })
            .collect();
        // One line: the human form replaces control characters, newlines too.
        let mut parts: Vec<String> = form.instructions.iter().map(|text| text.replace('\n', " ")).collect();
        for field in &shown {
            let mut part = match field.kind {
                FieldKind::Fixed => field.values.join(" "),
                _ => format!(
                    "{}={} ({}{}){}",
                    field.var,
                    field.values.first().map(String::as_str).unwrap_or(""),
                    field.shown_label(),
                    if field.required { ", required" } else { "" },
                    field.description.as_deref().map(|desc| format!(": {desc}")).unwrap_or_default()
                ),
            };
            if !field.options.is_empty() {
                let choices: Vec<String> = field.options.iter().map(|(label, value)| format!("{value} ({label})")).collect();
                part.push_str(&format!(", choices: {}", choices.join(", ")));
            }
            parts.push(part);
        }
        let human = format!(
            "{domain} asks for more before it creates the account (form {registration}): {}. Answer with /register-answer {registration} FIELD=VALUE …, or /register-cancel {registration}.",
            parts.join(" | ")
        );
        self.emit("register", json!({ "registration": registration, "domain": domain, "instructions": form.instructions, "fields": fields }), human);
    }

    /// Burrow's extension: the new account exists and is in the store.
    pub fn registered(&self, registration: u64, account: &str) {
        self.emit(
            "registered",
            json!({ "registration": registration, "account": account }),
            format!("created {account}, with a strong random password kept in the encrypted store; it logs in now"),
        );
    }

    /// A registration that failed: an `error` with the domain (and number).
    pub fn register_error(&self, registration: Option<u64>, domain: &str, failure: &Failure) {
        self.emit(
            "error",
            json!({ "code": failure.code.name(), "message": failure.message, "domain": domain, "registration": registration }),
            format!("error ({}) [{domain}]: {}", failure.code.name(), failure.message),
        );
    }

    pub fn passphrase_changed(&self) {
        self.emit("passphrase-changed", json!({}), "The store's passphrase was changed.".into());
    }

    /// Something the user chose that makes them less safe.
    pub fn warning(&self, message: &str) {
        self.emit("warning", json!({ "message": message }), format!("WARNING: {message}"));
    }

    pub fn error(&self, failure: &Failure) {
        self.emit(
            "error",
            json!({ "code": failure.code.name(), "message": failure.message }),
            format!("error ({}): {}", failure.code.name(), failure.message),
        );
    }

    pub fn child(&self, report: &ProcessReport) {
        let confinement = &report.confinement;
        self.emit(
            "child",
            json!({
                "name": report.role.name(),
                "pid": report.pid,
                "seccomp": confinement.seccomp,
                "landlock": confinement.landlock.name(),
                "netns": confinement.netns.name(),
                "no_new_privs": confinement.no_new_privs,
                "restarts": report.restarts,
                "dropped": report.dropped,
            }),
            format!(
                "{:<6} pid {:<7} seccomp {:<3} landlock {:<7} netns {:<8} restarts {} dropped {}",
                report.role.name(),
                report.pid,
                if confinement.seccomp { "on" } else { "OFF" },
                confinement.landlock.name(),
                confinement.netns.name(),
                report.restarts,
                report.dropped,
            ),
        );
    }

    pub fn account(&self, status: &AccountStatus) {
        let mut fields = json!({
            "account": status.account,
            "state": status.state.name(),
            "tor": status.tor,
            "tls": status.tls,
            "sasl": status.sasl,
        });
        if let (Some(circuit), Some(object)) = (&status.circuit, fields.as_object_mut()) {
            object.insert("circuit".into(), circuit.as_str().into());
        }
        let circuit = status.circuit.as_deref().map(|circuit| format!(", circuit: {circuit}")).unwrap_or_default();
        self.emit(
            "account",
            fields,
            format!(
                "account {} {} (tor: {}{circuit}, tls: {}, sasl: {})",
                status.account,
                status.state.name(),
                status.tor,
                status.tls.as_deref().unwrap_or("-"),
                status.sasl.as_deref().unwrap_or("-")
            ),
        );
    }

    /// Embedded Tor's progress in joining the Tor network.
    pub fn tor_bootstrap(&self, percent: u8, summary: &str) {
        self.emit(
            "tor",
            json!({ "source": "embedded", "progress": percent, "summary": summary }),
            format!("embedded Tor {percent}%: {summary}"),
        );
    }

    /// An error about one account (and maybe one peer).
    pub fn account_error(&self, account: &str, peer: Option<&str>, failure: &Failure) {
        let mut fields = json!({ "code": failure.code.name(), "message": failure.message, "account": account });
        if let (Some(peer), Some(object)) = (peer, fields.as_object_mut()) {
            object.insert("peer".into(), peer.into());
        }
        let about = peer.map(|peer| format!("{account} → {peer}")).unwrap_or_else(|| account.to_owned());
        self.emit("error", fields, format!("error ({}) [{about}]: {}", failure.code.name(), failure.message));
    }

    pub fn connected(&self, account: &str) {
        self.emit("connected", json!({ "account": account }), format!("{account} connected"));
    }

    pub fn disconnected(&self, account: &str, reason: &str) {
        self.emit("disconnected", json!({ "account": account, "reason": reason }), format!("{account} disconnected: {reason}"));
    }

    pub fn roster(&self, account: &str, entry: &RosterEntry) {
        self.emit(
            "roster",
            json!({ "account": account, "peer": entry.peer, "subscription": entry.subscription, "presence": entry.presence }),
            format!("  {} ({}, {})", entry.peer, entry.presence, entry.subscription),
        );
    }

    pub fn presence(&self, account: &str, peer: &str, show: &str) {
        self.emit("presence", json!({ "account": account, "peer": peer, "show": show }), format!("{peer} is {show}"));
    }

    /// An extension of the contract: subscription requests and answers.
    pub fn subscription(&self, account: &str, peer: &str, kind: SubscriptionKind) {
        let human = match kind {
            SubscriptionKind::Request => format!("{peer} asks to see {account}'s presence; /approve {account} {peer} to agree"),
            SubscriptionKind::Approved => format!("{peer} approved {account}'s request"),
            SubscriptionKind::Revoked => format!("{peer} withdrew or refused a subscription of {account}"),
        };
        self.emit("subscription", json!({ "account": account, "peer": peer, "kind": kind.name() }), human);
    }

    pub fn message(&self, account: &str, peer: &str, text: &str, encrypted: bool) {
        self.emit(
            "message",
            json!({ "account": account, "peer": peer, "encrypted": encrypted, "text": text }),
            format!("{peer}{}: {text}", if encrypted { " (private)" } else { " (NOT encrypted)" }),
        );
    }

    pub fn sent(&self, account: &str, peer: &str, encrypted: bool) {
        self.emit("sent", json!({ "account": account, "peer": peer, "encrypted": encrypted }), format!("sent to {peer}"));
    }

    pub fn ping(&self, summary: &crate::ping::PingSummary) {
        self.emit(
            "ping",
            json!({
                "count": summary.count,
                "size": summary.size,
                "p50_us": summary.p50_us,
                "p99_us": summary.p99_us,
                "max_us": summary.max_us,
                "per_second": summary.per_second,
            }),
            format!(
                "{} round trips of {} bytes through crypto and net: p50 {} µs, p99 {} µs, max {} µs; {} per second pipelined",
                summary.count, summary.size, summary.p50_us, summary.p99_us, summary.max_us, summary.per_second
            ),
        );
    }

    pub fn refused(&self, account: &str, peer: &str, reason: &str) {
        self.emit("refused", json!({ "account": account, "peer": peer, "reason": reason }), format!("NOT SENT to {peer}: {reason}"));
    }

    /// OTR news: the contract's `otr`, `smp` and `fingerprint` events, and
    /// Burrow's `policy`, `trusted`, `otr-key` and `otr-notice`.
    pub fn otr(&self, account: &str, event: OtrEvent) {
        match event {
            OtrEvent::State { peer, state, fingerprint, verified, key_change } => {
                let mut human = match (state.name(), &fingerprint) {
                    ("private", Some(fingerprint)) => format!(
                        "private conversation with {peer}; their fingerprint {fingerprint} is {}",
                        if verified { "verified" } else { "NOT verified: check it with /smp or compare it with them" }
                    ),
                    ("finished", _) => format!("{peer} ended the private conversation; /otr end {account} {peer} to close yours"),
                    (name, _) => format!("conversation with {peer} is {name}"),
                };
                let earlier_verified = key_change.as_ref().is_some_and(|change| change.earlier_verified());
                if key_change.is_some() {
                    human.push_str(if earlier_verified {
                        " WARNING: this is NOT the key you verified before. It may be a new device or a reinstall, or someone in the middle reading everything. Verify it again before you write anything private."
                    } else {
                        " WARNING: this contact's key is not the one seen before. It may be a new device or a reinstall, or someone in the middle. Verify it before you write anything private."
                    });
                }
                let earlier: Vec<_> = key_change
                    .iter()
                    .flat_map(|change| change.earlier.iter())
                    .map(|earlier| json!({ "fingerprint": earlier.fingerprint, "verified": earlier.verified }))
                    .collect();
                self.emit(
                    "otr",
                    json!({
                        "account": account, "peer": peer, "state": state.name(), "fingerprint": fingerprint, "verified": verified,
                        "fingerprint_changed": key_change.is_some(), "earlier_verified": earlier_verified, "earlier_fingerprints": earlier,
                    }),
                    human,
                );
            }
            OtrEvent::Smp { peer, result, question, reason } => {
                let mut fields = json!({ "account": account, "peer": peer, "result": result.name() });
                if let (Some(object), Some(question)) = (fields.as_object_mut(), &question) {
                    object.insert("question".into(), question.as_str().into());
                }
                if let (Some(object), Some(reason)) = (fields.as_object_mut(), &reason) {
                    object.insert("reason".into(), reason.as_str().into());
                }
                let human = match (result.name(), &question) {
                    ("asked", Some(question)) => format!("{peer} asks you to verify: {question} (answer with /smp-answer {account} {peer} ANSWER)"),
                    ("asked", None) => format!("{peer} asks you to verify a shared secret (answer with /smp-answer {account} {peer} SECRET)"),
                    ("success", _) => format!("{peer} is verified: you share the same secret"),
                    ("failure", _) => format!("verification of {peer} FAILED: the secrets differ, or someone is in the middle"),
                    _ => format!("verification with {peer} was aborted{}", reason.as_deref().map(|why| format!(": {why}")).unwrap_or_default()),
                };
                self.emit("smp", fields, human);
            }
            OtrEvent::Fingerprint { peer, fingerprint } => {
                let mut fields = json!({ "account": account, "fingerprint": fingerprint });
                if let (Some(object), Some(peer)) = (fields.as_object_mut(), &peer) {
                    object.insert("peer".into(), peer.as_str().into());
                }
                let whose = peer.clone().unwrap_or_else(|| format!("{account} (yours)"));
                self.emit("fingerprint", fields, format!("fingerprint of {whose}: {fingerprint}"));
            }
            OtrEvent::Policy { peer, policy, allow_v2 } => {
                let about = peer.clone().unwrap_or_else(|| "all contacts without their own".into());
                let v2 = if allow_v2 { "version 2 allowed for old clients" } else { "version 3 only" };
                self.emit("policy", json!({ "account": account, "peer": peer, "policy": policy, "allow_v2": allow_v2 }), format!("OTR policy for {about}: {policy} ({v2})"));
            }
            OtrEvent::Trusted { peer, fingerprint } => {
                self.emit("trusted", json!({ "account": account, "peer": peer, "fingerprint": fingerprint }), format!("{peer}'s fingerprint {fingerprint} marked verified"));
            }
            OtrEvent::KeyGeneration { done, fingerprint } => {
                let human = match (&fingerprint, done) {
                    (Some(fingerprint), true) => format!("OTR key for {account} ready; its fingerprint is {fingerprint}"),
                    _ => format!("making the OTR key for {account} (this takes a few seconds)…"),
                };
                self.emit("otr-key", json!({ "account": account, "state": if done { "ready" } else { "generating" }, "fingerprint": fingerprint }), human);
            }
            OtrEvent::Notice { peer, message } => {
                self.emit("otr-notice", json!({ "account": account, "peer": peer, "message": message }), format!("[{peer}] {message}"));
            }
            OtrEvent::Failed { peer, failure } => self.account_error(account, peer.as_deref(), &failure),
        }
    }
}
