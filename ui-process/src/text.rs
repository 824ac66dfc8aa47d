//! The text front end: commands on stdin, events on stdout.

use std::collections::HashMap;

use zeroize::Zeroize;
use ipc::register::{RegistrationEvent, RegistrationForm};
use ipc::ui::{FromUi, ToUi};
use ipc::xmpp::{AccountRequest, AccountStatus, ConnectionState, NetEvent};
use ipc::{handshake, AccountSummary, Channel, ChannelError, ConfinementReport, ErrorCode, Failure, Probe, Role, UnlockMode};
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

use crate::command::{self, Command};
use crate::output::Output;

#[derive(PartialEq, Eq)]
enum StoreState {
    Locked,
    Unlocking,
    Unlocked,
}

struct FrontEnd {
    output: Output,
    outgoing: mpsc::Sender<FromUi>,
    store: StoreState,
    accounts: Vec<AccountSummary>,
    /// Set while a `/ping` run waits for its probes.
    pongs: Option<mpsc::Sender<Probe>>,
    next_seq: u64,
    status_pending: bool,
    quitting: bool,
    /// Each account's last reported state, for `/status`.
    statuses: Vec<AccountStatus>,
    adding_account: bool,
    changing_passphrase: bool,
    importing: bool,
    /// The account whose `/roster` answer is awaited.
    roster_pending: Option<String>,
    next_request: u64,
    /// A `/register` (or its answers) waits for the form, the new account
    /// or the failure.
    registering: bool,
    /// Registration forms shown and not yet answered, by number.
    forms: HashMap<u64, RegistrationForm>,
}

impl FrontEnd {
    /// Commands are taken one at a time: the next line is read only once
    /// the last command has its answer, so a script reads like a dialogue.
    fn awaiting_answer(&self) -> bool {
        self.store == StoreState::Unlocking
            || self.status_pending
            || self.pongs.is_some()
            || self.adding_account
            || self.changing_passphrase
            || self.importing
            || self.roster_pending.is_some()
            || self.registering
    }
}

pub async fn run(report: ConfinementReport, json: bool) -> confine::child::ServeResult {
    let (mut reader, mut writer) = Channel::new(confine::sys::take_ipc_socket()?)?.split();
    handshake::answer_broker(&mut reader, &mut writer, Role::Ui, report).await?;

    let (outgoing, mut to_broker) = mpsc::channel::<FromUi>(64);
    let sender = tokio::spawn(async move {
        while let Some(message) = to_broker.recv().await {
            if writer.send(&message).await.is_err() {
                break;
            }
        }
    });
    let (ping_done_tx, mut ping_done) = mpsc::channel(1);
    let mut front = FrontEnd {
        output: Output::new(json),
        outgoing,
        store: StoreState::Locked,
        accounts: Vec::new(),
        pongs: None,
        next_seq: 0,
        status_pending: false,
        quitting: false,
        statuses: Vec::new(),
        adding_account: false,
        changing_passphrase: false,
        importing: false,
        roster_pending: None,
        next_request: 0,
        registering: false,
        forms: HashMap::new(),
    };
    front.output.ready();
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    // Ctrl-C reaches the front end with the launcher (both share the
    // terminal); here it means /quit, not a crash to restart from.
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    loop {
        tokio::select! {
            _ = interrupt.recv() => front.quit().await,
            line = lines.next_line(), if stdin_open && !front.quitting && !front.awaiting_answer() => match line {
                Ok(Some(mut line)) => {
                    front.command(&line, &ping_done_tx).await;
                    // The line may have held the passphrase.
                    line.zeroize();
                }
                // End of input means the same as /quit.
                Ok(None) | Err(_) => {
                    stdin_open = false;
                    front.quit().await;
                }
            },
            message = reader.recv::<ToUi>() => match message {
                Ok(message) => front.message(message).await,
                Err(ChannelError::Closed) => break,
                Err(error) => return Err(error.into()),
            },
            Some(result) = ping_done.recv() => {
                front.pongs = None;
                match result {
                    Ok(summary) => front.output.ping(&summary),
                    Err(failure) => front.output.error(&failure),
                }
            }
        }
    }
    sender.abort();
    Ok(())
}

impl FrontEnd {
    async fn send(&mut self, message: FromUi) {
        // A full or closed queue means the broker is gone; the reader sees
        // that and ends the loop.
        let _ = self.outgoing.send(message).await;
    }

    async fn quit(&mut self) {
        if !self.quitting {
            self.quitting = true;
            self.send(FromUi::Quit).await;
        }
    }

    async fn command(
        &mut self,
        line: &str,
        ping_done: &mpsc::Sender<Result<crate::ping::PingSummary, Failure>>,
    ) {
        let command = match command::parse(line) {
            Ok(Some(command)) => command,
            Ok(None) => return,
            Err(problem) => return self.output.error(&Failure::new(ErrorCode::BadCommand, problem)),
        };
        match command {
            Command::Unlock(passphrase, mode) => match self.store {
                StoreState::Locked => {
                    if mode == UnlockMode::NoPassphrase {
                        self.output.warning("The store will have no passphrase: anyone who can read this computer's files can read your accounts, passwords and OTR keys. Use /passphrase to set one.");
                    }
                    self.store = StoreState::Unlocking;
                    self.send(FromUi::Unlock { passphrase, mode }).await;
                }
                StoreState::Unlocking => self.output.error(&Failure::new(ErrorCode::Busy, "The store is being unlocked; wait for it.")),
                StoreState::Unlocked => self.output.error(&Failure::new(ErrorCode::AlreadyUnlocked, "The store is already unlocked.")),
            },
            Command::ChangePassphrase(passphrase) => {
                if self.store != StoreState::Unlocked {
                    return self.output.error(&Failure::new(ErrorCode::Locked, "Unlock the store first: /unlock PASSPHRASE"));
                }
                self.changing_passphrase = true;
                self.send(FromUi::ChangePassphrase { passphrase }).await;
            }
            Command::Status => {
                self.status_pending = true;
                self.send(FromUi::Status).await;
            }
            Command::Quit => self.quit().await,
            Command::Ping { count, size } => {
                if self.pongs.is_some() {
                    return self.output.error(&Failure::new(ErrorCode::Busy, "A /ping is already running."));
                }
                let (pong_tx, pong_rx) = mpsc::channel(crate::ping::MAX_COUNT.min(1024));
                self.pongs = Some(pong_tx);
                let outgoing = self.outgoing.clone();
                let done = ping_done.clone();
                let first_seq = self.next_seq;
                // Two phases of `count` probes each.
                self.next_seq += 2 * count as u64;
                tokio::spawn(async move {
                    let result = crate::ping::run(count, size, first_seq, outgoing, pong_rx).await;
                    let _ = done.send(result).await;
                });
            }
            Command::AddAccount(account) => {
                if self.store != StoreState::Unlocked {
                    return self.output.error(&Failure::new(ErrorCode::Locked, "Unlock the store first: /unlock PASSPHRASE"));
                }
                self.adding_account = true;
                self.send(FromUi::AddAccount(account)).await;
            }
            Command::Account { account, request } => {
                if !self.knows(&account) {
                    return self.output.account_error(&account, None, &unknown_account(&account));
                }
                if request == AccountRequest::Roster {
                    self.roster_pending = Some(account.clone());
                }
                self.send(FromUi::Account { account, request }).await;
            }
            Command::Send { account, peer, text } => {
                if !self.knows(&account) {
                    return self.output.account_error(&account, Some(&peer), &unknown_account(&account));
                }
                let request = self.next_request;
                self.next_request += 1;
                self.send(FromUi::Send { account, peer, text, request }).await;
            }
            Command::Otr { account, request } => {
                if !self.knows(&account) {
                    return self.output.account_error(&account, None, &unknown_account(&account));
                }
                self.send(FromUi::Otr { account, request }).await;
            }
            Command::Register(account) => {
                if self.store != StoreState::Unlocked {
                    return self.output.error(&Failure::new(ErrorCode::Locked, "Unlock the store first: /unlock PASSPHRASE (the new account is kept in it)"));
                }
                self.registering = true;
                self.send(FromUi::Register(account)).await;
            }
            Command::RegisterAnswers { registration, text } => {
                let Some(form) = self.forms.get(&registration) else {
                    return self.output.error(&Failure::new(ErrorCode::BadCommand, format!("No registration form {registration} is open.")));
                };
                let vars: Vec<&str> = form.fields.iter().filter(|field| field.asks_the_user()).map(|field| field.var.as_str()).collect();
                let answers = match command::split_answers(&text, &vars).and_then(|answers| form.check_answers(&answers).map(|()| answers)) {
                    Ok(answers) => answers,
                    // The form stays open: the user answers again.
                    Err(problem) => return self.output.error(&Failure::new(ErrorCode::BadCommand, format!("{problem}; the form is still open"))),
                };
                self.forms.remove(&registration);
                self.registering = true;
                self.send(FromUi::RegisterAnswers { registration, answers: Some(answers) }).await;
            }
            Command::RegisterCancel { registration } => {
                if self.forms.remove(&registration).is_none() {
                    return self.output.error(&Failure::new(ErrorCode::BadCommand, format!("No registration form {registration} is open.")));
                }
                self.registering = true;
                self.send(FromUi::RegisterAnswers { registration, answers: None }).await;
            }
            Command::LargerText(larger_text) => {
                if self.store != StoreState::Unlocked {
                    return self.output.error(&Failure::new(ErrorCode::Locked, "Unlock the store first: /unlock PASSPHRASE"));
                }
                self.send(FromUi::SetPreferences(ipc::ui::Preferences { larger_text })).await;
            }
            Command::Import(request) => {
                if self.store != StoreState::Unlocked {
                    return self.output.error(&Failure::new(ErrorCode::Locked, "Unlock the store first: /unlock PASSPHRASE"));
                }
                self.importing = true;
                self.send(FromUi::Import(request)).await;
            }
        }
    }

    async fn message(&mut self, message: ToUi) {
        match message {
            ToUi::Unlocked { accounts } => {
                self.store = StoreState::Unlocked;
                self.accounts = accounts;
                let names: Vec<String> = self.accounts.iter().map(|summary| summary.jid.clone()).collect();
                self.output.unlocked(&names);
            }
            ToUi::Unlocking => self.output.unlocking(),
            ToUi::Preferences(preferences) => self.output.preferences(&preferences),
            ToUi::Imported(result) => {
                self.importing = false;
                match result {
                    Ok(report) => {
                        for jid in &report.added {
                            self.output.account(&offline(jid));
                            self.accounts.push(AccountSummary { jid: jid.clone() });
                        }
                        self.output.imported(&report);
                    }
                    Err(failure) => self.output.error(&failure),
                }
            }
            ToUi::PassphraseChanged(result) => {
                self.changing_passphrase = false;
                match result {
                    Ok(()) => self.output.passphrase_changed(),
                    Err(failure) => self.output.error(&failure),
                }
            }
            ToUi::Failed(failure) => {
                if self.store == StoreState::Unlocking && failure.code != ErrorCode::ChildRestarted {
                    self.store = StoreState::Locked;
                }
                self.output.error(&failure);
            }
            ToUi::Process(report) => self.output.child(&report),
            ToUi::Restarted { report, reason } => {
                self.output.error(&Failure::new(ErrorCode::ChildRestarted, reason));
                self.output.child(&report);
                if report.role == Role::Crypto && self.store != StoreState::Locked {
                    // A restarted crypto process starts locked.
                    self.store = StoreState::Locked;
                    self.output.error(&Failure::new(ErrorCode::Locked, "The key process restarted; unlock the store again."));
                }
            }
            ToUi::StatusComplete => {
                self.status_pending = false;
                for account in &self.accounts {
                    self.output.account(&self.status_of(&account.jid));
                }
            }
            ToUi::AccountAdded(summary) => {
                self.adding_account = false;
                self.output.account(&offline(&summary.jid));
                self.accounts.push(summary);
            }
            ToUi::AccountRefused(failure) => {
                self.adding_account = false;
                self.output.error(&failure);
            }
            ToUi::Net(event) => self.net_event(event),
            ToUi::Message { account, peer, text, encrypted } => self.output.message(&account, &peer, text.expose(), encrypted),
            ToUi::SendFailed { account, peer, failure, .. } => self.output.account_error(&account, Some(&peer), &failure),
            ToUi::Refused { account, peer, reason, .. } => self.output.refused(&account, &peer, &reason),
            ToUi::Otr { account, event } => self.output.otr(&account, event),
            ToUi::Registration(event) => {
                self.registering = false;
                match event {
                    RegistrationEvent::Form { registration, domain, form } => {
                        self.output.register_form(registration, &domain, &form);
                        if self.forms.len() < ipc::register::MAX_REGISTRATIONS {
                            self.forms.insert(registration, form);
                        }
                    }
                    RegistrationEvent::Registered { registration, account } => {
                        self.forms.remove(&registration);
                        self.output.registered(registration, &account.jid);
                        self.output.account(&offline(&account.jid));
                        self.accounts.push(account);
                    }
                    RegistrationEvent::Failed { registration, domain, failure } => {
                        if let Some(registration) = registration {
                            self.forms.remove(&registration);
                        }
                        self.output.register_error(registration, &domain, &failure);
                    }
                }
            }
            ToUi::Pong(probe) => {
                if let Some(pongs) = &self.pongs {
                    let _ = pongs.try_send(probe);
                }
            }
        }
    }

    fn net_event(&mut self, event: NetEvent) {
        match event {
            NetEvent::Status(status) => {
                self.output.account(&status);
                self.statuses.retain(|known| known.account != status.account);
                self.statuses.push(status);
            }
            NetEvent::Connected { account } => self.output.connected(&account),
            NetEvent::Disconnected { account, reason } => self.output.disconnected(&account, &reason),
            NetEvent::Roster { account, entries } => {
                for entry in &entries {
                    self.output.roster(&account, entry);
                }
                if self.roster_pending.as_deref() == Some(account.as_str()) {
                    self.roster_pending = None;
                }
            }
            NetEvent::Presence { account, peer, show } => self.output.presence(&account, &peer, &show),
            NetEvent::Subscription { account, peer, kind } => self.output.subscription(&account, &peer, kind),
            NetEvent::Sent { account, peer, encrypted, .. } => self.output.sent(&account, &peer, encrypted),
            NetEvent::Failed { account, peer, failure } => {
                if self.roster_pending.as_deref() == Some(account.as_str()) {
                    self.roster_pending = None;
                }
                self.output.account_error(&account, peer.as_deref(), &failure);
            }
            NetEvent::TorBootstrap { percent, summary } => self.output.tor_bootstrap(percent.min(100), &summary),
        }
    }

    fn knows(&self, account: &str) -> bool {
        self.accounts.iter().any(|known| known.jid == account)
    }

    fn status_of(&self, account: &str) -> AccountStatus {
        self.statuses.iter().find(|status| status.account == account).cloned().unwrap_or_else(|| offline(account))
    }
}

fn offline(account: &str) -> AccountStatus {
    AccountStatus { account: account.to_owned(), state: ConnectionState::Offline, tor: "none".into(), tls: None, sasl: None, circuit: None }
}

fn unknown_account(account: &str) -> Failure {
    Failure::new(ErrorCode::UnknownAccount, format!("There is no account {account}; add it with /account add."))
}
