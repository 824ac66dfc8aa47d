//! `burrow-net`: the only process with network access. See README.md.
#![forbid(unsafe_code)]

mod policy;

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use confine::args::ChildArgs;
use ipc::net::{FromNet, ToNet};
use ipc::xmpp::{AccountRequest, AccountStatus, ConnectionSettings, ConnectionState, NetEvent};
use ipc::{handshake, Channel, ChannelError, ConfinementReport, ErrorCode, Failure, Role};
use net_sandbox::account::{Account, Command, Shared};
use net_sandbox::dialer::Dialers;
use net_sandbox::register::{self, RegisterCommand};
use net_sandbox::embedded::EmbeddedTor;
use net_sandbox::socks::Offer;
use net_sandbox::spacing::{self, Spacing};
use net_sandbox::tls::SystemRoots;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

fn main() -> ExitCode {
    confine::child::main("burrow-net", policy_after_lookups, serve)
}

/// The policy, once arti's questions to the system are answered (see
/// `embedded::look_up_before_confinement`): this runs before confinement.
fn policy_after_lookups(args: &ChildArgs) -> Result<confine::Policy, String> {
    if policy::allowed_ports(args)?.is_empty() {
        net_sandbox::embedded::look_up_before_confinement();
    }
    policy::policy(args)
}

/// Commands one account may have waiting; past this, the UI is told.
const ACCOUNT_INBOX: usize = 4096;

struct Running {
    inbox: mpsc::Sender<Command>,
    task: JoinHandle<()>,
}

async fn serve(args: ChildArgs, report: ConfinementReport) -> confine::child::ServeResult {
    let (mut reader, mut writer) = Channel::new(confine::sys::take_ipc_socket()?)?.split();
    handshake::answer_broker(&mut reader, &mut writer, Role::Net, report).await?;
    let roots = SystemRoots::load();
    if let Some(warning) = &roots.warning {
        eprintln!("burrow-net: system certificate authorities: {warning}");
    }
    let (to_broker, mut outgoing) = mpsc::channel::<FromNet>(1024);
    let sender = tokio::spawn(async move {
        while let Some(message) = outgoing.recv().await {
            if writer.send(&message).await.is_err() {
                break;
            }
        }
    });
    let shared = Shared {
        dialers: dialers_from_environment(&args, to_broker.clone())?,
        resolver: resolver_from_environment(),
        roots,
        to_broker: to_broker.clone(),
        next_incoming: Arc::new(AtomicU64::new(0)),
        spacing: Arc::new(spacing_from_environment()),
    };
    let mut accounts: HashMap<String, (ConnectionSettings, Option<Running>)> = HashMap::new();
    let mut registrations: HashMap<u64, (mpsc::Sender<RegisterCommand>, JoinHandle<()>)> = HashMap::new();
    loop {
        let request = match reader.recv::<ToNet>().await {
            Ok(request) => request,
            Err(ChannelError::Closed) => break,
            Err(error) => {
                stop_all(&mut accounts).await;
                return Err(error.into());
            }
        };
        match request {
            ToNet::Accounts(list) => {
                eprintln!("burrow-net: the store lists {} account(s)", list.len());
                let names: Vec<String> = list.iter().map(|settings| settings.jid.clone()).collect();
                let gone: Vec<String> = accounts.keys().filter(|name| !names.contains(name)).cloned().collect();
                for name in gone {
                    if let Some((_, Some(running))) = accounts.remove(&name) {
                        let _ = running.inbox.send(Command::Stop).await;
                    }
                }
                for settings in list {
                    update(&mut accounts, settings).await;
                }
            }
            ToNet::AccountAdded(settings) => update(&mut accounts, settings).await,
            ToNet::Ping(probe) => {
                let _ = to_broker.send(FromNet::Pong(probe)).await;
            }
            // An account with no task is offline; its task, if any, knows.
            ToNet::Request { account, request: AccountRequest::Status } if !accounts.get(&account).is_some_and(|(_, running)| running.as_ref().is_some_and(|running| !running.task.is_finished())) => {
                let _ = to_broker.send(offline_status(&accounts, &account)).await;
            }
            ToNet::Request { account, request } => {
                let connect = request == AccountRequest::Connect;
                deliver(&mut accounts, &shared, &account, None, Command::Request(request), connect).await;
            }
            ToNet::Transmit { account, peer, body, request, encrypted } => {
                let peer_for_error = Some(peer.clone());
                deliver(&mut accounts, &shared, &account, peer_for_error, Command::Transmit { peer, body, request, encrypted }, false).await;
            }
            ToNet::Register { registration, settings } => {
                registrations.retain(|_, (_, task)| !task.is_finished());
                if registrations.len() >= ipc::register::MAX_REGISTRATIONS {
                    let failure = Failure::new(ErrorCode::Busy, "No account was created: too many are being created at once.");
                    let _ = to_broker.send(FromNet::RegisterFailed { registration, domain: settings.jid, failure }).await;
                    continue;
                }
                let (inbox, commands) = mpsc::channel(4);
                let task = tokio::spawn(register::run(registration, settings, shared.clone(), commands));
                registrations.insert(registration, (inbox, task));
            }
            ToNet::RegisterAnswers { registration, answers } => hand_over(&registrations, registration, RegisterCommand::Answers(answers)),
            ToNet::RegisterSubmit { registration, stanza } => hand_over(&registrations, registration, RegisterCommand::Submit(stanza)),
            ToNet::RegisterAbandon { registration } => hand_over(&registrations, registration, RegisterCommand::Abandon),
            ToNet::Sasl { account, attempt, step } => {
                if let Some((_, Some(running))) = accounts.get(&account) {
                    let _ = running.inbox.try_send(Command::Sasl { attempt, step });
                }
            }
        }
    }
    stop_all(&mut accounts).await;
    for (_, (_, task)) in registrations.drain() {
        task.abort();
    }
    drop(to_broker);
    sender.abort();
    Ok(())
}

/// A registration's next step; one that has ended takes nothing (the
/// broker absorbs the late answer's reply).
fn hand_over(registrations: &HashMap<u64, (mpsc::Sender<RegisterCommand>, JoinHandle<()>)>, registration: u64, command: RegisterCommand) {
    if let Some((inbox, _)) = registrations.get(&registration) {
        let _ = inbox.try_send(command);
    }
}

/// The gap between different accounts' connection attempts
/// (`spacing.rs`); a bad setting keeps the default, which is the safe side.
fn spacing_from_environment() -> Spacing {
    let setting = std::env::var(spacing::VARIABLE).ok();
    Spacing::from_setting(setting.as_deref()).unwrap_or_else(|problem| {
        eprintln!("burrow-net: {problem}; the default spacing is used");
        Spacing::new(spacing::DEFAULT_RANGE)
    })
}

/// The system Tor found before confinement (`policy::tor_at_start`). The
/// SOCKS greeting offers username/password alone: "no authentication"
/// would let a connection share a circuit with others. Embedded Tor lives
/// in net's directory of the profile, unless Landlock lets net reach the
/// SOCKS port alone, where no relay could be reached.
fn dialers_from_environment(args: &ChildArgs, to_broker: mpsc::Sender<FromNet>) -> Result<Dialers, String> {
    let found = policy::tor_at_start();
    match (&found.tor, found.only_port) {
        (Ok(tor), Some(port)) => eprintln!("burrow-net: system Tor's SOCKS port at {}; net may connect to port {port} alone", tor.candidates.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")),
        (Ok(tor), None) => eprintln!("burrow-net: no system Tor answered at {}; it is looked for again at each connection", tor.candidates.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(" or ")),
        (Err(problem), _) => eprintln!("burrow-net: {problem}; tor=system is refused until it is fixed"),
    }
    let held = found.only_port.is_some() || !policy::allowed_ports(args)?.is_empty();
    let embedded = if held {
        eprintln!("burrow-net: may connect to the system Tor's SOCKS port alone, so embedded Tor is off");
        None
    } else {
        let net_directory = confine::profile_subdirectory(&args.profile_dir()?, Role::Net);
        Some(EmbeddedTor::new(net_directory, to_broker))
    };
    Ok(Dialers::new(found.tor.clone(), Offer::UsernameOnly, embedded).held_to_system_tor(held))
}

/// The DNS resolver asked through Tor for SRV records:
/// `BURROW_DNS_RESOLVER` (`ADDRESS:PORT`), which the launcher passes on, for
/// a network whose Tor exits cannot reach the default, else the default.
fn resolver_from_environment() -> Result<std::net::SocketAddr, String> {
    let value = std::env::var("BURROW_DNS_RESOLVER").ok();
    let resolver = net_sandbox::resolve::resolver_from_environment(value.as_deref()).map_err(|error| error.to_string());
    match &resolver {
        Ok(address) => eprintln!("burrow-net: SRV records are asked of {address} through Tor"),
        Err(problem) => eprintln!("burrow-net: {problem}; SRV records will not be looked up"),
    }
    resolver
}

async fn update(accounts: &mut HashMap<String, (ConnectionSettings, Option<Running>)>, settings: ConnectionSettings) {
    match accounts.get_mut(&settings.jid) {
        Some((known, running)) => {
            *known = settings.clone();
            if let Some(running) = running {
                let _ = running.inbox.send(Command::Settings(settings)).await;
            }
        }
        None => {
            accounts.insert(settings.jid.clone(), (settings, None));
        }
    }
}

/// Hands a command to the account's task, starting the task on `/connect`.
async fn deliver(
    accounts: &mut HashMap<String, (ConnectionSettings, Option<Running>)>,
    shared: &Shared,
    account: &str,
    peer: Option<String>,
    command: Command,
    start: bool,
) {
    let fail = |code, message: &str| FromNet::Event(NetEvent::Failed { account: account.to_owned(), peer: peer.clone(), failure: Failure::new(code, message) });
    let Some((settings, running)) = accounts.get_mut(account) else {
        let _ = shared.to_broker.send(fail(ErrorCode::UnknownAccount, "Burrow's network process does not know this account; unlock the store first.")).await;
        return;
    };
    if running.as_ref().is_some_and(|running| running.task.is_finished()) {
        *running = None;
    }
    if running.is_none() {
        if !start {
            let _ = shared.to_broker.send(fail(ErrorCode::Offline, "The account is not connected; /connect it first.")).await;
            return;
        }
        let (inbox, commands) = mpsc::channel(ACCOUNT_INBOX);
        match Account::new(settings.clone(), shared.clone(), commands) {
            Ok(task) => *running = Some(Running { inbox, task: tokio::spawn(task.run()) }),
            Err(problem) => {
                let _ = shared.to_broker.send(fail(ErrorCode::BadCommand, &problem)).await;
                return;
            }
        }
    }
    if let Some(running) = running {
        if running.inbox.try_send(command).is_err() {
            let _ = shared.to_broker.send(fail(ErrorCode::Busy, "Too many requests are waiting for this account; try again.")).await;
        }
    }
}

/// The status of an account that has no task: offline, or unknown.
fn offline_status(accounts: &HashMap<String, (ConnectionSettings, Option<Running>)>, account: &str) -> FromNet {
    if !accounts.contains_key(account) {
        let failure = Failure::new(ErrorCode::UnknownAccount, "Burrow's network process does not know this account; unlock the store first.");
        return FromNet::Event(NetEvent::Failed { account: account.to_owned(), peer: None, failure });
    }
    FromNet::Event(NetEvent::Status(AccountStatus {
        account: account.to_owned(),
        state: ConnectionState::Offline,
        tor: "none".into(),
        tls: None,
        sasl: None,
        circuit: None,
    }))
}

async fn stop_all(accounts: &mut HashMap<String, (ConnectionSettings, Option<Running>)>) {
    let mut tasks = Vec::new();
    for (_, (_, running)) in accounts.drain() {
        if let Some(running) = running {
            let _ = running.inbox.send(Command::Stop).await;
            tasks.push(running.task);
        }
    }
    // Each closes its stream properly, within a bound.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), futures_join(tasks)).await;
}

async fn futures_join(tasks: Vec<JoinHandle<()>>) {
    for task in tasks {
        let _ = task.await;
    }
}
