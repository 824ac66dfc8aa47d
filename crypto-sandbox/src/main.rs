//! `burrow-crypto`: the only process that holds keys. See README.md.
#![forbid(unsafe_code)]

mod conversations;
mod importing;
mod policy;
mod registration;
mod sasl;
mod store;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use conversations::Conversations;

use ipc::crypto::{FromCrypto, ToCrypto};
use confine::args::ChildArgs;
use ipc::otr::OtrEvent;
use ipc::{handshake, Channel, ChannelError, ConfinementReport, Role, UnlockMode};

/// How often messages waiting for a private conversation are checked.
const TICK: Duration = Duration::from_secs(1);

fn main() -> ExitCode {
    confine::child::main("burrow-crypto", policy::policy, serve)
}

async fn serve(args: ChildArgs, report: ConfinementReport) -> confine::child::ServeResult {
    let (mut reader, mut writer) = Channel::new(confine::sys::take_ipc_socket()?)?.split();
    handshake::answer_broker(&mut reader, &mut writer, Role::Crypto, report).await?;
    let directory = confine::profile_subdirectory(&args.profile_dir()?, Role::Crypto);
    let mut store = store::Store::new(directory);
    let mut sasl = sasl::Sasl::default();
    let mut registrations = registration::Registrations::default();
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
        let about = account_named(&request);
        match request {
            ToCrypto::Unlock { passphrase, mode } => {
                // Deriving the key takes about a second: the UI says so.
                writer.send(&FromCrypto::Unlocking).await?;
                let opened = match mode {
                    UnlockMode::Store => store.unlock(&passphrase),
                    UnlockMode::Backup => store.unlock_backup(&passphrase),
                    UnlockMode::NoPassphrase => store.unlock_without_passphrase(),
                };
                match opened {
                    Ok(accounts) => {
                        let mut restored = Vec::new();
                        restore(&mut store, &mut conversations, &mut |event| restored.push(event));
                        replies.push(FromCrypto::Unlocked { accounts, settings: store.connection_settings() });
                        replies.push(FromCrypto::Preferences(store.preferences()));
                        replies.extend(restored);
                    }
                    Err(failure) => replies.push(FromCrypto::UnlockFailed(failure)),
                }
            }
            ToCrypto::ChangePassphrase { passphrase } => replies.push(FromCrypto::PassphraseChanged(store.change_passphrase(&passphrase))),
            ToCrypto::Ping(probe) => replies.push(FromCrypto::Ping(probe)),
            ToCrypto::Pong(probe) => replies.push(FromCrypto::Pong(probe)),
            ToCrypto::AddAccount(mut account) => {
                // An import kept this address's OTR policy: the user named none.
                if account.policy.is_none() {
                    let jid = ipc::jid::BareJid::parse(&account.jid).map(|jid| jid.as_string()).unwrap_or_default();
                    account.policy = store.kept_import(&jid).and_then(|kept| kept.otr_policy.clone());
                }
                match store.add_account(account) {
                Ok((summary, settings)) => {
                    let account = summary.jid.clone();
                    writer.send(&FromCrypto::AccountAdded { summary, settings }).await?;
                    // The account is usable at once; its OTR key follows
                    // (the imported one kept for it, or one made now, the UI
                    // told while it is made).
                    importing::give_otr_identity(&mut store, &mut conversations, &account, &mut |event| replies.push(event));
                }
                Err(failure) => replies.push(FromCrypto::AccountRefused(failure)),
                }
            }
            ToCrypto::Send { account, peer, text, request } => match store.account(&account) {
                Ok(_) => replies.extend(conversations.send(&account, &peer, &text, request, Instant::now())),
                Err(failure) => replies.push(FromCrypto::SendFailed { account, peer, request, failure }),
            },
            ToCrypto::Incoming { seq, account, from, body } => replies.extend(conversations.incoming(seq, &account, &from, &body, Instant::now())),
            ToCrypto::Otr { account, request } => match store.account(&account) {
                Ok(_) => replies.extend(conversations.request(&account, request, Instant::now())),
                Err(failure) => replies.push(FromCrypto::Otr { account, event: OtrEvent::Failed { peer: None, failure } }),
            },
            ToCrypto::Import { source, files, passphrase, unread } => {
                let mut otr_news = Vec::new();
                let report = importing::import(&mut store, &mut conversations, source, files, passphrase.as_ref(), unread, &mut |event| otr_news.push(event));
                replies.push(FromCrypto::Imported { report, settings: store.connection_settings() });
                replies.extend(otr_news);
            }
            ToCrypto::SaslStart { account, attempt, offer } => {
                let step = sasl.start(store.account(&account), &account, attempt, offer);
                replies.push(FromCrypto::Sasl { account, attempt, step });
            }
            ToCrypto::SaslServer { account, attempt, message } => {
                let step = sasl.server(&account, attempt, message);
                replies.push(FromCrypto::Sasl { account, attempt, step });
            }
            ToCrypto::SaslEnd { account, attempt } => sasl.end(&account, attempt),
            ToCrypto::SetPreferences(preferences) => match store.set_preferences(preferences) {
                Ok(()) => replies.push(FromCrypto::Preferences(preferences)),
                // Nothing changed: the UI shows what the store still holds.
                Err(failure) => replies.extend([FromCrypto::PreferencesFailed(failure), FromCrypto::Preferences(store.preferences())]),
            },
            ToCrypto::UiStarted => {
                let open = store.contents().is_some();
                replies.push(FromCrypto::UiAccounts(open.then(|| store.summaries())));
                if open {
                    replies.push(FromCrypto::Preferences(store.preferences()));
                    replies.extend(conversations.states());
                }
            }
            ToCrypto::Register(template) => replies.push(registrations.begin(&store, template)),
            ToCrypto::RegisterReady { registration, iq_id, form, answers, conflict, .. } => {
                replies.extend(registrations.ready(registration, &iq_id, &form, &answers, conflict));
            }
            ToCrypto::Registered { registration } => {
                if let Some((done, added)) = registrations.registered(&mut store, registration) {
                    writer.send(&done).await?;
                    // Like any added account: its OTR key follows.
                    if let Some(account) = added {
                        let (policy, allow_v2) = store.account(&account).map(|stored| (stored.policy.clone(), stored.allow_v2)).unwrap_or_default();
                        conversations.add_account(&account, &policy, allow_v2, None, &mut |event| replies.push(event));
                    }
                }
            }
            ToCrypto::RegisterFailed { registration } => registrations.failed(registration),
            ToCrypto::NetStarted => {
                // The new net has no exchange open.
                sasl.forget_all();
                replies.push(FromCrypto::NetAccounts(store.connection_settings()));
            }
        }
        // Keys made, fingerprints seen or verified, policies set: saved
        // before anything that depends on them is told.
        if let Some(saved) = conversations.take_changes() {
            if let Err(failure) = store.save_otr(saved) {
                replies.push(FromCrypto::Otr { account: about, event: OtrEvent::Failed { peer: None, failure } });
            }
        }
        for reply in replies {
            writer.send(&reply).await?;
        }
    }
}

/// The account a request is about, to name it if saving what it changed
/// fails (an unlock or an import may touch several: none is named then).
fn account_named(request: &ToCrypto) -> String {
    match request {
        ToCrypto::AddAccount(account) => account.jid.clone(),
        ToCrypto::Send { account, .. } | ToCrypto::Incoming { account, .. } | ToCrypto::Otr { account, .. } => account.clone(),
        _ => String::new(),
    }
}

/// The opened store's accounts get their OTR keys (made now for any that
/// has none), their contacts' trust and policies. An account without a key
/// for which an import was kept (the process stopped between saving the
/// account and its OTR state) gets the kept one.
fn restore(store: &mut store::Store, conversations: &mut Conversations, report: &mut dyn FnMut(FromCrypto)) {
    let Some(contents) = store.contents() else { return };
    let mut unkeyed = Vec::new();
    for record in &contents.accounts {
        match contents.otr_keys.iter().find(|key| key.account == record.jid) {
            Some(key) => conversations.add_account(&record.jid, &record.otr_policy, record.otr_allow_v2, Some(key), report),
            None if store.kept_import(&record.jid).is_some() => unkeyed.push(record.jid.clone()),
            None => conversations.add_account(&record.jid, &record.otr_policy, record.otr_allow_v2, None, report),
        }
    }
    let (fingerprints, peer_policies) = (contents.fingerprints.clone(), contents.peer_policies.clone());
    conversations.restore(&fingerprints, &peer_policies);
    for jid in unkeyed {
        importing::give_otr_identity(store, conversations, &jid, report);
    }
}
