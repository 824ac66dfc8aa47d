//! `burrow-crypto`: the only process that holds keys. See README.md.
#![forbid(unsafe_code)]

mod policy;
mod store;

use std::process::ExitCode;

use ipc::crypto::{FromCrypto, ToCrypto};
use ipc::{handshake, Channel, ChannelError, ConfinementReport, Role};

fn main() -> ExitCode {
    confine::child::main("burrow-crypto", policy::policy, |_, report| serve(report))
}

async fn serve(report: ConfinementReport) -> confine::child::ServeResult {
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
