//! The start of every child's `main`: read the launcher's arguments, put
//! the process's policy in force before anything else, then either run one
//! sandbox self-test action or serve IPC on a single-threaded runtime.

use std::future::Future;
use std::process::ExitCode;

use ipc::ConfinementReport;

use crate::args::ChildArgs;
use crate::Policy;

pub type ServeResult = Result<(), Box<dyn std::error::Error>>;

/// `binary` names the process in error messages; `policy` is the
/// process's own `policy.rs`.
pub fn main<Serve, Served>(
    binary: &str,
    policy: fn(&ChildArgs) -> Result<Policy, String>,
    serve: Serve,
) -> ExitCode
where
    Serve: FnOnce(ChildArgs, ConfinementReport) -> Served,
    Served: Future<Output = ServeResult>,
{
    let fail = |problem: &str| {
        eprintln!("{binary}: {problem}");
        ExitCode::FAILURE
    };
    let args = match ChildArgs::from_env() {
        Ok(args) => args,
        Err(problem) => return fail(&problem),
    };
    let policy = match policy(&args) {
        Ok(policy) => policy,
        Err(problem) => return fail(&problem),
    };
    let report = match crate::confine(&policy) {
        Ok(report) => report,
        Err(error) => return fail(&error.to_string()),
    };
    if let Some((action, argument)) = &args.self_test {
        return crate::selftest::run(action, argument.as_deref());
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return fail(&error.to_string()),
    };
    let served = runtime.block_on(serve(args, report));
    // A read of stdin may still sit in a blocking thread; dropping the
    // runtime would wait for it forever.
    runtime.shutdown_background();
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error.to_string()),
    }
}
