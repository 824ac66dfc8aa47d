//! `burrow-net`: the only process with network access. See README.md.
#![forbid(unsafe_code)]

mod policy;

use std::process::ExitCode;

use ipc::net::{FromNet, ToNet};
use ipc::{handshake, Channel, ChannelError, ConfinementReport, Role};

fn main() -> ExitCode {
    confine::child::main("burrow-net", policy::policy, |_, report| serve(report))
}

async fn serve(report: ConfinementReport) -> confine::child::ServeResult {
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
