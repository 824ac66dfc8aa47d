//! Events of the text front end: one JSON object per line with `--json`
//! (the contract in TEXT-FRONTEND.md), or short human-readable lines.

use std::io::Write;

use ipc::{AccountSummary, Failure, ProcessReport};
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
            human
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

    pub fn unlocked(&self) {
        self.emit("unlocked", json!({}), "Store unlocked.".into());
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

    pub fn account(&self, account: &AccountSummary) {
        self.emit(
            "account",
            json!({ "account": account.jid, "state": "offline", "tor": "none", "tls": null, "sasl": null }),
            format!("account {} offline", account.jid),
        );
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
}
