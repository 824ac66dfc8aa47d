//! `burrow-ui`: the front end. See README.md.
#![forbid(unsafe_code)]

mod command;
#[cfg(feature = "gtk")]
mod gtk;
#[cfg_attr(not(feature = "gtk"), allow(dead_code))]
mod i18n;
mod output;
mod ping;
mod policy;
#[cfg_attr(not(feature = "gtk"), allow(dead_code))]
mod rating;
mod text;

use std::process::ExitCode;

fn main() -> ExitCode {
    confine::child::main("burrow-ui", policy::policy, |args, report| async move {
        if args.has_flag(policy::GTK_FLAG) {
            return gtk_front_end(report, args.has_flag(FIRST_RUN_FLAG));
        }
        text::run(report, args.has_flag("--json")).await
    })
}

/// The launcher adds it with `--gtk` when the profile has no store yet.
const FIRST_RUN_FLAG: &str = "--first-run";

#[cfg(feature = "gtk")]
fn gtk_front_end(report: ipc::ConfinementReport, first_run: bool) -> confine::child::ServeResult {
    gtk::run(report, first_run)
}

#[cfg(not(feature = "gtk"))]
fn gtk_front_end(_report: ipc::ConfinementReport, _first_run: bool) -> confine::child::ServeResult {
    Err("this burrow-ui was built without the GTK front end (cargo feature `gtk`); use --ui text".into())
}
