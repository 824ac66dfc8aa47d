//! `burrow-crypto`: the only process that holds keys. See README.md.
#![forbid(unsafe_code)]

mod conversations;
mod policy;
mod sasl;
mod store;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use conversations::Conversations;

use ipc::crypto::{FromCrypto, ToCrypto};
use ipc::otr::OtrEvent;
use ipc::{handshake, Channel, ChannelError, ConfinementReport, Role};

/// How often messages waiting for a private conversation are checked.
const TICK: Duration = Duration::from_secs(1);

fn main() -> ExitCode {
    confine::child::main("burrow-crypto", policy::policy, |_, report| serve(report))
}

async fn serve(report: ConfinementReport) -> confine::child::ServeResult {
    let (mut reader, mut writer) = Channel::new(confine::sys::take_ipc_socket()?)?.split();
    handshake::answer_broker(&mut reader, &mut writer, Role::Crypto, report).await?;
    let mut store = store::MemoryStore::default();
    let mut sasl = sasl::Sasl::default();
    let mut conversations = Conversations::default();
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let request = tokio::select! {
            received = reader.recv::<ToCrypto>() => match received {
                Ok(request) => request,
                Err(ChannelError::Closed) => return Ok(()),
                Err(error) => return Err(error.into()),
            },
            _ = ticks.tick(), if conversations.has_waiting() => {
                for reply in conversations.tick(Instant::now()) {
                    writer.send(&reply).await?;
                }
                continue;
            }
        };
        let mut replies = Vec::new();
        match request {
            ToCrypto::Unlock { passphrase } => replies.push(match store.unlock(&passphrase) {
                Ok(accounts) => FromCrypto::Unlocked { accounts, settings: store.connection_settings() },
                Err(failure) => FromCrypto::UnlockFailed(failure),
            }),
            ToCrypto::Ping(probe) => replies.push(FromCrypto::Ping(probe)),
            ToCrypto::Pong(probe) => replies.push(FromCrypto::Pong(probe)),
            ToCrypto::AddAccount(account) => match store.add_account(account) {
                Ok((summary, settings)) => {
                    let account = summary.jid.clone();
                    writer.send(&FromCrypto::AccountAdded { summary, settings }).await?;
                    // The account is usable at once; its OTR key follows
                    // (generation takes seconds, and the UI is told).
                    let policy = store.account(&account).map(|stored| stored.policy.clone()).unwrap_or_default();
                    let mut generated = Vec::new();
                    conversations.add_account(&account, &policy, true, None, &mut |event| generated.push(event));
                    for event in generated {
                        writer.send(&event).await?;
                    }
                }
                Err(failure) => replies.push(FromCrypto::AccountRefused(failure)),
            },
            ToCrypto::Send { account, peer, text, request } => match store.account(&account) {
                Ok(_) => replies.extend(conversations.send(&account, &peer, &text, request, Instant::now())),
                Err(failure) => replies.push(FromCrypto::SendFailed { account, peer, request, failure }),
            },
            ToCrypto::Incoming { seq, account, from, body } => replies.extend(conversations.incoming(seq, &account, &from, &body, Instant::now())),
            ToCrypto::Otr { account, request } => match store.account(&account) {
                Ok(_) => replies.extend(conversations.request(&account, request, Instant::now())),
                Err(failure) => replies.push(FromCrypto::Otr { account, event: OtrEvent::Failed { peer: None, failure } }),
            },
            ToCrypto::SaslStart { account, attempt, offer } => {
                let step = sasl.start(store.account(&account), &account, attempt, offer);
                replies.push(FromCrypto::Sasl { account, attempt, step });
            }
            ToCrypto::SaslServer { account, attempt, message } => {
                let step = sasl.server(&account, attempt, message);
                replies.push(FromCrypto::Sasl { account, attempt, step });
            }
            ToCrypto::SaslEnd { account, attempt } => sasl.end(&account, attempt),
            ToCrypto::NetStarted => {
                // The new net has no exchange open.
                sasl.forget_all();
                replies.push(FromCrypto::NetAccounts(store.connection_settings()));
            }
        }
        for reply in replies {
            writer.send(&reply).await?;
        }
    }
}
