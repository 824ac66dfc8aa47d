//! `burrow-ui`: the front end. See README.md.
#![forbid(unsafe_code)]

mod command;
mod output;
mod ping;
mod policy;
mod text;

use std::process::ExitCode;

use confine::args::ChildArgs;

fn main() -> ExitCode {
    let args = match ChildArgs::from_env() {
        Ok(args) => args,
        Err(problem) => return fail(&problem),
    };
    let policy = match policy::policy(&args) {
        Ok(policy) => policy,
        Err(problem) => return fail(&problem),
    };
    let report = match confine::confine(&policy) {
        Ok(report) => report,
        Err(error) => return fail(&error.to_string()),
    };
    if let Some((action, argument)) = &args.self_test {
        return confine::selftest::run(action, argument.as_deref());
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return fail(&error.to_string()),
    };
    match runtime.block_on(text::run(report, args.has_flag("--json"))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error.to_string()),
    }
}

fn fail(problem: &str) -> ExitCode {
    eprintln!("burrow-ui: {problem}");
    ExitCode::FAILURE
}
