//! `burrow-crypto`: the only process that holds keys. See README.md.
#![forbid(unsafe_code)]

mod policy;
mod sasl;
mod store;

use std::process::ExitCode;

use ipc::crypto::{FromCrypto, ToCrypto};
use ipc::jid::BareJid;
use ipc::{handshake, Channel, ChannelError, ConfinementReport, Role};

fn main() -> ExitCode {
    confine::child::main("burrow-crypto", policy::policy, |_, report| serve(report))
}

async fn serve(report: ConfinementReport) -> confine::child::ServeResult {
    let (mut reader, mut writer) = Channel::new(confine::sys::take_ipc_socket()?)?.split();
    handshake::answer_broker(&mut reader, &mut writer, Role::Crypto, report).await?;
    let mut store = store::MemoryStore::default();
    let mut sasl = sasl::Sasl::default();
    loop {
        let request = match reader.recv::<ToCrypto>().await {
            Ok(request) => request,
            Err(ChannelError::Closed) => return Ok(()),
            Err(error) => return Err(error.into()),
        };
        let reply = match request {
            ToCrypto::Unlock { passphrase } => match store.unlock(&passphrase) {
                Ok(accounts) => FromCrypto::Unlocked { accounts, settings: store.connection_settings() },
                Err(failure) => FromCrypto::UnlockFailed(failure),
            },
            ToCrypto::Ping(probe) => FromCrypto::Ping(probe),
            ToCrypto::Pong(probe) => FromCrypto::Pong(probe),
            ToCrypto::AddAccount(account) => match store.add_account(account) {
                Ok((summary, settings)) => FromCrypto::AccountAdded { summary, settings },
                Err(failure) => FromCrypto::AccountRefused(failure),
            },
            // The OTR issue applies the account's policy here (encrypt, wait
            // for a session, or refuse); until then messages go as they are.
            ToCrypto::Send { account, peer, text, request } => match store.account(&account) {
                Ok(_) => FromCrypto::Transmit { account, peer, body: text, request, encrypted: false },
                Err(failure) => FromCrypto::SendFailed { account, peer, request, failure },
            },
            // The OTR issue decrypts here; until then the text is as it came.
            ToCrypto::Incoming { seq, account, from, body } => {
                let peer = BareJid::parse_full(&from).map(|(jid, _)| jid.as_string()).unwrap_or(from);
                FromCrypto::Deliver { seq, account, peer, text: body, encrypted: false }
            }
            ToCrypto::SaslStart { account, attempt, offer } => {
                let step = sasl.start(store.account(&account), &account, attempt, offer);
                FromCrypto::Sasl { account, attempt, step }
            }
            ToCrypto::SaslServer { account, attempt, message } => {
                let step = sasl.server(&account, attempt, message);
                FromCrypto::Sasl { account, attempt, step }
            }
            ToCrypto::SaslEnd { account, attempt } => {
                sasl.end(&account, attempt);
                continue;
            }
            ToCrypto::NetStarted => {
                // The new net has no exchange open.
                sasl.forget_all();
                FromCrypto::NetAccounts(store.connection_settings())
            }
        };
        writer.send(&reply).await?;
    }
}
