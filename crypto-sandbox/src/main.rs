//! `burrow-crypto`: the only process that holds keys. See README.md.
#![forbid(unsafe_code)]

mod policy;
mod store;

use std::process::ExitCode;

use confine::args::ChildArgs;
use ipc::crypto::{FromCrypto, ToCrypto};
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
    eprintln!("burrow-crypto: {problem}");
    ExitCode::FAILURE
}

async fn serve(report: ConfinementReport) -> Result<(), Box<dyn std::error::Error>> {
    let (mut reader, mut writer) = Channel::new(confine::sys::take_ipc_socket()?)?.split();
    handshake::answer_broker(&mut reader, &mut writer, Role::Crypto, report).await?;
    let mut store = store::MemoryStore::default();
    loop {
        let request = match reader.recv::<ToCrypto>().await {
            Ok(request) => request,
            Err(ChannelError::Closed) => return Ok(()),
            Err(error) => return Err(error.into()),
        };
        let reply = match request {
            ToCrypto::Unlock { passphrase } => match store.unlock(&passphrase) {
                Ok(accounts) => FromCrypto::Unlocked { accounts },
                Err(failure) => FromCrypto::UnlockFailed(failure),
            },
            ToCrypto::Ping(probe) => FromCrypto::Ping(probe),
            ToCrypto::Pong(probe) => FromCrypto::Pong(probe),
        };
        writer.send(&reply).await?;
    }
}
