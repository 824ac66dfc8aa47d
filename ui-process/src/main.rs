//! `burrow-ui`: the front end. See README.md.
#![forbid(unsafe_code)]

mod command;
mod output;
mod ping;
mod policy;
mod text;

use std::process::ExitCode;


fn main() -> ExitCode {
    confine::child::main("burrow-ui", policy::policy, |args, report| text::run(report, args.has_flag("--json")))
}
