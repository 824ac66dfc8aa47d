//! `burrow-net`: the only process with network access. See README.md.
#![forbid(unsafe_code)]

mod policy;

use std::process::ExitCode;

use confine::args::ChildArgs;
use ipc::net::{FromNet, ToNet};
use ipc::{handshake, Channel, ChannelError, ConfinementReport, Role};

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
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build() {
        Ok(runtime) => runtime,
        Err(error) => return fail(&error.to_string()),
    };
    match runtime.block_on(serve(report)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error.to_string()),
    }
}

fn fail(problem: &str) -> ExitCode {
    eprintln!("burrow-net: {problem}");
    ExitCode::FAILURE
}

async fn serve(report: ConfinementReport) -> Result<(), Box<dyn std::error::Error>> {
    let (mut reader, mut writer) = Channel::new(confine::sys::take_ipc_socket()?)?.split();
    handshake::answer_broker(&mut reader, &mut writer, Role::Net, report).await?;
    loop {
        let request = match reader.recv::<ToNet>().await {
            Ok(request) => request,
            Err(ChannelError::Closed) => return Ok(()),
            Err(error) => return Err(error.into()),
        };
        match request {
            // The XMPP issue connects these; for now net only learns them.
            ToNet::Accounts(accounts) => {
                eprintln!("burrow-net: the store lists {} account(s)", accounts.len());
            }
            ToNet::Ping(probe) => writer.send(&FromNet::Pong(probe)).await?,
        }
    }
}
