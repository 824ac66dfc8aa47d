//! The routing table: which message, from which process, goes to whom.
//!
//! Read it as a table: one arm per (sender, variant), its receiver(s), and
//! the state in which it is permitted. Replies are permitted only while the
//! request they answer is outstanding, as OpenSSH's monitor permits a request
//! only in the state that justifies it. A frame that matches no arm is
//! dropped and counted, and its sender is restarted: a correct process never
//! sends one.

use std::collections::{HashMap, HashSet, VecDeque};

use ipc::crypto::{FromCrypto, ToCrypto};
use ipc::net::{FromNet, ToNet};
use ipc::ui::{FromUi, ToUi};
use ipc::import::ImportRequest;
use ipc::register::{RegistrationEvent, MAX_REGISTRATIONS};
use ipc::xmpp::{AccountRequest, NewAccount, SaslStep};

/// A decoded frame and the process it came from.
#[derive(Debug)]
pub enum Inbound {
    Ui(FromUi),
    Crypto(FromCrypto),
    Net(FromNet),
}

/// A message on its way to one process.
#[derive(Debug)]
pub enum Outbound {
    Ui(ToUi),
    Crypto(ToCrypto),
    Net(ToNet),
}

/// What the broker answers itself.
#[derive(Debug, PartialEq, Eq)]
pub enum BrokerRequest {
    Status,
    Quit,
    /// An account (to add, or to register) whose `ca=` file the launcher
    /// must read before crypto sees the account.
    ReadCertificates(NewAccount, CertificatesFor),
    /// Files another client keeps, which the launcher must read before
    /// crypto parses them.
    ReadImport(ImportRequest),
}

/// What an account's certificates are read for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificatesFor {
    Add,
    Register,
}

#[derive(Debug)]
pub enum Verdict {
    Deliver(Vec<Outbound>),
    Broker(BrokerRequest),
    /// Not in the table, or not permitted now: the variant's name.
    Drop(&'static str),
}

pub fn route(message: Inbound, gates: &mut Gates) -> Verdict {
    use Inbound as From;
    use Outbound as To;
    match message {
        // sender     variant                                permitted when               receiver(s)
        From::Ui(FromUi::Unlock { passphrase, mode })        if gates.begin_unlock()      => deliver([To::Crypto(ToCrypto::Unlock { passphrase, mode })]),
        From::Ui(FromUi::ChangePassphrase { passphrase })    if gates.begin_passphrase_change() => deliver([To::Crypto(ToCrypto::ChangePassphrase { passphrase })]),
        From::Ui(FromUi::Status)                                                          => Verdict::Broker(BrokerRequest::Status),
        From::Ui(FromUi::Quit)                                                            => Verdict::Broker(BrokerRequest::Quit),
        From::Ui(FromUi::Ping(probe))                        if gates.open_probe(probe.seq) => deliver([To::Crypto(ToCrypto::Ping(probe))]),
        From::Ui(FromUi::AddAccount(account))                if account.ca_pem.is_some()  => Verdict::Drop("AddAccount"),
        From::Ui(FromUi::AddAccount(account))                if account.ca_path.is_some() && gates.begin_add() => Verdict::Broker(BrokerRequest::ReadCertificates(account, CertificatesFor::Add)),
        From::Ui(FromUi::AddAccount(account))                if gates.begin_add()         => deliver([To::Crypto(ToCrypto::AddAccount(account))]),
        From::Ui(FromUi::Account { account, request })                                    => deliver([To::Net(ToNet::Request { account, request })]),
        From::Ui(FromUi::Send { account, peer, text, request }) if gates.open_send(request) => deliver([To::Crypto(ToCrypto::Send { account, peer, text, request })]),
        From::Ui(FromUi::Otr { account, request })                                        => deliver([To::Crypto(ToCrypto::Otr { account, request })]),
        From::Ui(FromUi::Import(request))                    if gates.begin_import()      => Verdict::Broker(BrokerRequest::ReadImport(request)),
        From::Crypto(FromCrypto::Imported { report, settings }) if gates.end_import()     => deliver([To::Ui(ToUi::Imported(report)), To::Net(ToNet::Accounts(settings))]),
        From::Crypto(FromCrypto::Unlocked { accounts, settings }) if gates.end_unlock()   => deliver([To::Ui(ToUi::Unlocked { accounts }), To::Net(ToNet::Accounts(settings))]),
        From::Crypto(FromCrypto::UnlockFailed(failure))      if gates.end_unlock()        => deliver([To::Ui(ToUi::Failed(failure))]),
        From::Crypto(FromCrypto::Unlocking)                  if gates.unlock_pending      => deliver([To::Ui(ToUi::Unlocking)]),
        From::Crypto(FromCrypto::PassphraseChanged(result))  if gates.end_passphrase_change() => deliver([To::Ui(ToUi::PassphraseChanged(result))]),
        From::Crypto(FromCrypto::Ping(probe))                if gates.advance(probe.seq, Stage::AtCrypto, Stage::AtNet) => deliver([To::Net(ToNet::Ping(probe))]),
        From::Net(FromNet::Pong(probe))                      if gates.advance(probe.seq, Stage::AtNet, Stage::Returning) => deliver([To::Crypto(ToCrypto::Pong(probe))]),
        From::Crypto(FromCrypto::Pong(probe))                if gates.close_probe(probe.seq) => deliver([To::Ui(ToUi::Pong(probe))]),
        From::Crypto(FromCrypto::AccountAdded { summary, settings }) if gates.end_add()   => deliver([To::Ui(ToUi::AccountAdded(summary)), To::Net(ToNet::AccountAdded(settings))]),
        From::Crypto(FromCrypto::AccountRefused(failure))    if gates.end_add()           => deliver([To::Ui(ToUi::AccountRefused(failure))]),
        From::Crypto(FromCrypto::NetAccounts(settings))      if gates.end_net_accounts()  => deliver([To::Net(ToNet::Accounts(settings))]),
        From::Crypto(FromCrypto::UiAccounts(Some(accounts))) if gates.end_ui_accounts()   => deliver([To::Ui(ToUi::Unlocked { accounts })]),
        From::Crypto(FromCrypto::UiAccounts(None))           if gates.end_ui_accounts()   => Verdict::Deliver(Vec::new()),
        From::Ui(FromUi::SetPreferences(preferences))                                     => deliver([To::Crypto(ToCrypto::SetPreferences(preferences))]),
        // Two booleans' worth of settings, no secret: crypto may say them.
        From::Crypto(FromCrypto::Preferences(preferences))                                => deliver([To::Ui(ToUi::Preferences(preferences))]),
        From::Crypto(FromCrypto::PreferencesFailed(failure))                              => deliver([To::Ui(ToUi::Failed(failure))]),
        From::Crypto(FromCrypto::Transmit { account, peer, body, request, encrypted }) if gates.close_send(request) => deliver([To::Net(ToNet::Transmit { account, peer, body, request: Some(request), encrypted })]),
        From::Crypto(FromCrypto::Protocol { account, peer, body }) if is_otr_protocol(body.expose()) => deliver([To::Net(ToNet::Transmit { account, peer, body, request: None, encrypted: false })]),
        From::Crypto(FromCrypto::Refused { account, peer, request, reason }) if gates.close_send(request) => deliver([To::Ui(ToUi::Refused { account, peer, request, reason })]),
        From::Crypto(FromCrypto::SendFailed { account, peer, request, failure }) if gates.close_send(request) => deliver([To::Ui(ToUi::SendFailed { account, peer, request, failure })]),
        From::Net(FromNet::Incoming { seq, account, from, body }) if gates.open_incoming(seq) => deliver([To::Crypto(ToCrypto::Incoming { seq, account, from, body })]),
        From::Crypto(FromCrypto::Deliver { seq, account, peer, text, encrypted }) if gates.close_incoming(seq) => deliver([To::Ui(ToUi::Message { account, peer, text, encrypted })]),
        From::Crypto(FromCrypto::Absorbed { seq })           if gates.close_incoming(seq) => Verdict::Deliver(Vec::new()),
        From::Crypto(FromCrypto::Otr { account, event })                                  => deliver([To::Ui(ToUi::Otr { account, event })]),
        From::Net(FromNet::Event(event))                                                  => deliver([To::Ui(ToUi::Net(event))]),
        From::Net(FromNet::SaslStart { account, attempt, offer }) if gates.sasl_open(&account, attempt) => deliver([To::Crypto(ToCrypto::SaslStart { account, attempt, offer })]),
        From::Crypto(FromCrypto::Sasl { account, attempt, step }) if gates.sasl_crypto_step(&account, attempt, &step) => deliver([To::Net(ToNet::Sasl { account, attempt, step })]),
        From::Net(FromNet::SaslServer { account, attempt, message }) if gates.sasl_net_step(&account, attempt) => deliver([To::Crypto(ToCrypto::SaslServer { account, attempt, message })]),
        From::Net(FromNet::SaslEnd { account, attempt })     if gates.sasl_end(&account, attempt) => deliver([To::Crypto(ToCrypto::SaslEnd { account, attempt })]),
        // Registration (XEP-0077): UI → crypto (name, password) → net (form) → UI (answers) → net → crypto (the submission) → net → crypto (store) → UI and net (login).
        From::Ui(FromUi::Register(account))                  if account.ca_pem.is_some()  => Verdict::Drop("Register"),
        From::Ui(FromUi::Register(account))                  if account.ca_path.is_some() && gates.begin_register() => Verdict::Broker(BrokerRequest::ReadCertificates(account, CertificatesFor::Register)),
        From::Ui(FromUi::Register(account))                  if gates.begin_register()    => deliver([To::Crypto(ToCrypto::Register(account))]),
        From::Crypto(FromCrypto::RegisterRefused { domain, failure }) if gates.refuse_register() => deliver([To::Ui(ToUi::Registration(RegistrationEvent::Failed { registration: None, domain, failure }))]),
        From::Crypto(FromCrypto::RegisterStart { registration, settings }) if gates.assign_register(registration, &settings.jid) => deliver([To::Net(ToNet::Register { registration, settings })]),
        From::Net(FromNet::RegisterForm { registration, domain, form }) if gates.register_turn(registration, Turn::Net, Turn::User) => deliver([To::Ui(ToUi::Registration(RegistrationEvent::Form { registration, domain, form }))]),
        From::Ui(FromUi::RegisterAnswers { registration, answers }) if gates.register_turn(registration, Turn::User, Turn::Net) => deliver([To::Net(ToNet::RegisterAnswers { registration, answers })]),
        From::Net(FromNet::RegisterReady { registration, iq_id, domain, form, answers, conflict }) if gates.register_turn(registration, Turn::Net, Turn::Crypto) => deliver([To::Crypto(ToCrypto::RegisterReady { registration, iq_id, domain, form, answers, conflict })]),
        From::Crypto(FromCrypto::RegisterSubmit { registration, stanza }) if gates.register_turn(registration, Turn::Crypto, Turn::Net) => deliver([To::Net(ToNet::RegisterSubmit { registration, stanza })]),
        From::Crypto(FromCrypto::RegisterAbandon { registration, domain, failure }) if gates.end_register(registration, &[Turn::Crypto]) => deliver([To::Net(ToNet::RegisterAbandon { registration }), To::Ui(ToUi::Registration(RegistrationEvent::Failed { registration: Some(registration), domain, failure }))]),
        From::Net(FromNet::Registered { registration })      if gates.register_turn(registration, Turn::Net, Turn::Storing) => deliver([To::Crypto(ToCrypto::Registered { registration })]),
        From::Crypto(FromCrypto::RegisterDone { registration, result: Ok((summary, settings)), .. }) if gates.end_register(registration, &[Turn::Storing]) => {
            let account = summary.jid.clone();
            deliver([To::Ui(ToUi::Registration(RegistrationEvent::Registered { registration, account: summary })), To::Net(ToNet::AccountAdded(settings)), To::Net(ToNet::Request { account, request: AccountRequest::Connect })])
        }
        From::Crypto(FromCrypto::RegisterDone { registration, domain, result: Err(failure) }) if gates.end_register(registration, &[Turn::Storing]) => deliver([To::Ui(ToUi::Registration(RegistrationEvent::Failed { registration: Some(registration), domain, failure }))]),
        From::Net(FromNet::RegisterFailed { registration, domain, failure }) if gates.end_register(registration, &[Turn::Net, Turn::User, Turn::Crypto]) => deliver([To::Crypto(ToCrypto::RegisterFailed { registration }), To::Ui(ToUi::Registration(RegistrationEvent::Failed { registration: Some(registration), domain, failure }))]),
        // A registration that ended while another process was answering it
        // (the stream failed while crypto wrote the submission, the user
        // answered a form that timed out, a process restarted): the late
        // answer is absorbed, not held against its sender.
        From::Ui(FromUi::RegisterAnswers { registration, .. }) if gates.register_over(registration) => Verdict::Deliver(Vec::new()),
        From::Crypto(FromCrypto::RegisterSubmit { registration, .. } | FromCrypto::RegisterAbandon { registration, .. } | FromCrypto::RegisterDone { registration, .. }) if gates.register_over(registration) => Verdict::Deliver(Vec::new()),
        From::Net(FromNet::RegisterForm { registration, .. } | FromNet::RegisterReady { registration, .. } | FromNet::Registered { registration } | FromNet::RegisterFailed { registration, .. }) if gates.register_over(registration) => Verdict::Deliver(Vec::new()),
        refused => Verdict::Drop(refused.kind()),
    }
}

/// What the broker tells a process by itself, not on anyone's behalf: net
/// started and must learn the accounts from crypto.
pub fn net_started(gates: &mut Gates) -> Option<Outbound> {
    gates.begin_net_accounts().then_some(Outbound::Crypto(ToCrypto::NetStarted))
}

/// The front end was restarted: it starts locked and empty, so crypto
/// (which may hold an open store) is asked for the accounts again.
pub fn ui_started(gates: &mut Gates) -> Option<Outbound> {
    gates.begin_ui_accounts().then_some(Outbound::Crypto(ToCrypto::UiStarted))
}

/// What crypto may send on its own: OTR's own messages (queries, AKE and
/// data messages, fragments, OTR errors), never a plaintext of its choosing
/// outside a user's request.
fn is_otr_protocol(body: &str) -> bool {
    body.starts_with("?OTR")
}

fn deliver<const N: usize>(messages: [Outbound; N]) -> Verdict {
    Verdict::Deliver(messages.into())
}

impl Inbound {
    pub fn kind(&self) -> &'static str {
        match self {
            Inbound::Ui(message) => message.kind(),
            Inbound::Crypto(message) => message.kind(),
            Inbound::Net(message) => message.kind(),
        }
    }
}

/// Where a probe is on its way UI → crypto → net → crypto → UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    AtCrypto,
    AtNet,
    Returning,
}

/// The state that permits replies.
#[derive(Debug, Default)]
pub struct Gates {
    unlock_pending: bool,
    passphrase_change_pending: bool,
    import_pending: bool,
    probes: HashMap<u64, Stage>,
    adds_pending: usize,
    net_accounts_pending: bool,
    /// The broker asked crypto to tell a restarted UI the accounts.
    ui_accounts_pending: bool,
    /// Messages from the UI that crypto has not answered yet.
    sends: HashSet<u64>,
    /// Messages from net that crypto has not answered yet.
    incoming: HashSet<u64>,
    /// One open SASL exchange per account: its attempt and whose turn it is.
    sasl: HashMap<String, (u64, SaslTurn)>,
    /// Registrations sent to crypto that have no number yet.
    registers_unnumbered: usize,
    /// Open registrations: whose turn it is, and the domain.
    registrations: HashMap<u64, (Turn, String)>,
    /// The last registrations that ended, whose late answers are absorbed.
    registrations_ended: VecDeque<u64>,
}

/// Whose turn it is in a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// Net fetches the form, or submits and waits for the server.
    Net,
    /// The user has the form.
    User,
    /// Crypto writes the submission.
    Crypto,
    /// The server created the account; crypto stores it.
    Storing,
}

/// Ended registrations remembered for their late answers.
const REGISTRATIONS_REMEMBERED: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SaslTurn {
    Crypto,
    Net,
}

/// Probes in flight at once; more is a flood.
pub const MAX_PROBES_IN_FLIGHT: usize = 4096;
/// Messages in flight through crypto at once, each way.
pub const MAX_MESSAGES_IN_FLIGHT: usize = 4096;
/// Account additions waiting for crypto.
pub const MAX_ADDS_IN_FLIGHT: usize = 16;
/// Accounts with a SASL exchange open at once.
pub const MAX_SASL_EXCHANGES: usize = 256;

impl Gates {
    fn begin_unlock(&mut self) -> bool {
        !std::mem::replace(&mut self.unlock_pending, true)
    }

    fn end_unlock(&mut self) -> bool {
        std::mem::replace(&mut self.unlock_pending, false)
    }

    fn begin_import(&mut self) -> bool {
        !std::mem::replace(&mut self.import_pending, true)
    }

    /// The launcher could not read the files: that import is over.
    pub fn end_import(&mut self) -> bool {
        std::mem::replace(&mut self.import_pending, false)
    }

    fn begin_passphrase_change(&mut self) -> bool {
        !std::mem::replace(&mut self.passphrase_change_pending, true)
    }

    fn end_passphrase_change(&mut self) -> bool {
        std::mem::replace(&mut self.passphrase_change_pending, false)
    }

    fn open_probe(&mut self, seq: u64) -> bool {
        if self.probes.len() >= MAX_PROBES_IN_FLIGHT || self.probes.contains_key(&seq) {
            return false;
        }
        self.probes.insert(seq, Stage::AtCrypto);
        true
    }

    fn advance(&mut self, seq: u64, from: Stage, to: Stage) -> bool {
        match self.probes.get_mut(&seq) {
            Some(stage) if *stage == from => {
                *stage = to;
                true
            }
            _ => false,
        }
    }

    fn close_probe(&mut self, seq: u64) -> bool {
        if self.probes.get(&seq) == Some(&Stage::Returning) {
            self.probes.remove(&seq);
            true
        } else {
            false
        }
    }

    fn begin_add(&mut self) -> bool {
        self.adds_pending < MAX_ADDS_IN_FLIGHT && {
            self.adds_pending += 1;
            true
        }
    }

    /// The launcher could not read an account's certificates: that
    /// addition is over.
    pub fn abandon_add(&mut self) {
        self.adds_pending = self.adds_pending.saturating_sub(1);
    }

    fn end_add(&mut self) -> bool {
        self.adds_pending > 0 && {
            self.adds_pending -= 1;
            true
        }
    }

    fn begin_net_accounts(&mut self) -> bool {
        !std::mem::replace(&mut self.net_accounts_pending, true)
    }

    fn end_net_accounts(&mut self) -> bool {
        std::mem::replace(&mut self.net_accounts_pending, false)
    }

    fn begin_ui_accounts(&mut self) -> bool {
        !std::mem::replace(&mut self.ui_accounts_pending, true)
    }

    fn end_ui_accounts(&mut self) -> bool {
        std::mem::replace(&mut self.ui_accounts_pending, false)
    }

    fn open_send(&mut self, request: u64) -> bool {
        self.sends.len() < MAX_MESSAGES_IN_FLIGHT && self.sends.insert(request)
    }

    fn close_send(&mut self, request: u64) -> bool {
        self.sends.remove(&request)
    }

    fn open_incoming(&mut self, seq: u64) -> bool {
        self.incoming.len() < MAX_MESSAGES_IN_FLIGHT && self.incoming.insert(seq)
    }

    fn close_incoming(&mut self, seq: u64) -> bool {
        self.incoming.remove(&seq)
    }

    /// Net opens an exchange (again, after a failure or a reconnection: the
    /// old one is over).
    fn sasl_open(&mut self, account: &str, attempt: u64) -> bool {
        if self.sasl.len() >= MAX_SASL_EXCHANGES && !self.sasl.contains_key(account) {
            return false;
        }
        self.sasl.insert(account.to_owned(), (attempt, SaslTurn::Crypto));
        true
    }

    fn sasl_crypto_step(&mut self, account: &str, attempt: u64, step: &SaslStep) -> bool {
        match self.sasl.get_mut(account) {
            Some((open, turn)) if *open == attempt && *turn == SaslTurn::Crypto => {
                if matches!(step, SaslStep::Verified | SaslStep::Abandon(_)) {
                    self.sasl.remove(account);
                } else {
                    *turn = SaslTurn::Net;
                }
                true
            }
            _ => false,
        }
    }

    fn sasl_net_step(&mut self, account: &str, attempt: u64) -> bool {
        match self.sasl.get_mut(account) {
            Some((open, turn)) if *open == attempt && *turn == SaslTurn::Net => {
                *turn = SaslTurn::Crypto;
                true
            }
            _ => false,
        }
    }

    /// Net may end its own exchange at any turn, or one already closed by a
    /// `Verified` whose success it then could not use.
    fn sasl_end(&mut self, account: &str, attempt: u64) -> bool {
        if let Some((open, _)) = self.sasl.get(account) {
            if *open == attempt {
                self.sasl.remove(account);
            }
        }
        true
    }

    fn begin_register(&mut self) -> bool {
        self.registers_unnumbered + self.registrations.len() < MAX_REGISTRATIONS && {
            self.registers_unnumbered += 1;
            true
        }
    }

    /// The launcher could not read a registration's certificates.
    pub fn abandon_register(&mut self) {
        self.registers_unnumbered = self.registers_unnumbered.saturating_sub(1);
    }

    fn refuse_register(&mut self) -> bool {
        self.registers_unnumbered > 0 && {
            self.registers_unnumbered -= 1;
            true
        }
    }

    fn assign_register(&mut self, registration: u64, domain: &str) -> bool {
        if self.registers_unnumbered == 0 || self.registrations.contains_key(&registration) || self.registrations_ended.contains(&registration) {
            return false;
        }
        self.registers_unnumbered -= 1;
        self.registrations.insert(registration, (Turn::Net, domain.to_owned()));
        true
    }

    fn register_turn(&mut self, registration: u64, from: Turn, to: Turn) -> bool {
        match self.registrations.get_mut(&registration) {
            Some((turn, _)) if *turn == from => {
                *turn = to;
                true
            }
            _ => false,
        }
    }

    fn end_register(&mut self, registration: u64, allowed: &[Turn]) -> bool {
        match self.registrations.get(&registration) {
            Some((turn, _)) if allowed.contains(turn) => {
                self.registrations.remove(&registration);
                self.remember_ended(registration);
                true
            }
            _ => false,
        }
    }

    fn remember_ended(&mut self, registration: u64) {
        if self.registrations_ended.len() >= REGISTRATIONS_REMEMBERED {
            self.registrations_ended.pop_front();
        }
        self.registrations_ended.push_back(registration);
    }

    fn register_over(&self, registration: u64) -> bool {
        self.registrations_ended.contains(&registration)
    }

    /// Registrations a process took with it when it went away: ended, and
    /// returned (number, domain) for the UI to be told.
    fn end_registrations_where(&mut self, lost: impl Fn(Turn) -> bool) -> Vec<(u64, String)> {
        let ended: Vec<u64> = self.registrations.iter().filter(|(_, (turn, _))| lost(*turn)).map(|(number, _)| *number).collect();
        ended
            .into_iter()
            .filter_map(|number| {
                let (_, domain) = self.registrations.remove(&number)?;
                self.remember_ended(number);
                Some((number, domain))
            })
            .collect()
    }

    /// Crypto went away with the names and passwords: every open
    /// registration is over (net's late messages are absorbed).
    pub fn forget_crypto_registrations(&mut self) -> Vec<(u64, String)> {
        self.end_registrations_where(|_| true)
    }

    /// Net went away: every open registration's stream is gone.
    pub fn forget_net_registrations(&mut self) -> Vec<(u64, String)> {
        self.end_registrations_where(|_| true)
    }

    /// The crypto process went away: its pending answers will never come.
    /// Returns whether an unlock was waiting.
    pub fn forget_crypto(&mut self) -> bool {
        self.probes.clear();
        self.adds_pending = 0;
        self.net_accounts_pending = false;
        self.ui_accounts_pending = false;
        self.sends.clear();
        self.incoming.clear();
        self.sasl.clear();
        self.passphrase_change_pending = false;
        self.import_pending = false;
        self.registers_unnumbered = 0;
        std::mem::replace(&mut self.unlock_pending, false)
    }

    /// Net went away: probes, messages and SASL exchanges through it are lost.
    pub fn forget_net(&mut self) {
        self.probes.clear();
        self.incoming.clear();
        self.sasl.clear();
    }

    /// The UI went away: probes through it are lost.
    pub fn forget_probes(&mut self) {
        self.probes.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipc::secret::Passphrase;
    use ipc::{ErrorCode, Failure, Probe};
    use ipc::AccountSummary;

    fn probe(seq: u64) -> Probe {
        Probe { seq, payload: vec![] }
    }

    #[test]
    fn a_probe_travels_the_whole_chain_once() {
        let mut gates = Gates::default();
        assert!(matches!(route(Inbound::Ui(FromUi::Ping(probe(1))), &mut gates), Verdict::Deliver(to) if matches!(to[..], [Outbound::Crypto(ToCrypto::Ping(_))])));
        assert!(matches!(route(Inbound::Crypto(FromCrypto::Ping(probe(1))), &mut gates), Verdict::Deliver(to) if matches!(to[..], [Outbound::Net(ToNet::Ping(_))])));
        assert!(matches!(route(Inbound::Net(FromNet::Pong(probe(1))), &mut gates), Verdict::Deliver(to) if matches!(to[..], [Outbound::Crypto(ToCrypto::Pong(_))])));
        assert!(matches!(route(Inbound::Crypto(FromCrypto::Pong(probe(1))), &mut gates), Verdict::Deliver(to) if matches!(to[..], [Outbound::Ui(ToUi::Pong(_))])));
        // The same reply again is not permitted.
        assert!(matches!(route(Inbound::Crypto(FromCrypto::Pong(probe(1))), &mut gates), Verdict::Drop("Pong")));
    }

    #[test]
    fn net_cannot_answer_a_probe_it_was_never_sent() {
        let mut gates = Gates::default();
        assert!(matches!(route(Inbound::Net(FromNet::Pong(probe(9))), &mut gates), Verdict::Drop("Pong")));
        route(Inbound::Ui(FromUi::Ping(probe(9))), &mut gates);
        // Still at crypto: net has not been sent it yet.
        assert!(matches!(route(Inbound::Net(FromNet::Pong(probe(9))), &mut gates), Verdict::Drop("Pong")));
    }

    #[test]
    fn crypto_may_answer_an_unlock_only_once_and_only_when_asked() {
        let mut gates = Gates::default();
        let unlocked = || Inbound::Crypto(FromCrypto::Unlocked { accounts: vec![], settings: vec![] });
        assert!(matches!(route(unlocked(), &mut gates), Verdict::Drop("Unlocked")));
        route(Inbound::Ui(FromUi::Unlock { passphrase: Passphrase::new("x".into()), mode: ipc::UnlockMode::Store }), &mut gates);
        assert!(matches!(route(unlocked(), &mut gates), Verdict::Deliver(to) if to.len() == 2));
        let failed = Inbound::Crypto(FromCrypto::UnlockFailed(Failure::new(ErrorCode::WrongPassphrase, "no")));
        assert!(matches!(route(failed, &mut gates), Verdict::Drop("UnlockFailed")));
    }

    #[test]
    fn crypto_tells_a_restarted_ui_the_accounts_once_and_only_when_asked() {
        let mut gates = Gates::default();
        let accounts = || Inbound::Crypto(FromCrypto::UiAccounts(Some(vec![AccountSummary { jid: "a@b.org".into() }])));
        assert!(matches!(route(accounts(), &mut gates), Verdict::Drop("UiAccounts")));
        assert!(matches!(ui_started(&mut gates), Some(Outbound::Crypto(ToCrypto::UiStarted))));
        // One question at a time.
        assert!(ui_started(&mut gates).is_none());
        assert!(matches!(route(accounts(), &mut gates), Verdict::Deliver(to) if matches!(to.as_slice(), [Outbound::Ui(ToUi::Unlocked { accounts })] if accounts.len() == 1)));
        assert!(matches!(route(accounts(), &mut gates), Verdict::Drop("UiAccounts")));
        ui_started(&mut gates);
        assert!(matches!(route(Inbound::Crypto(FromCrypto::UiAccounts(None)), &mut gates), Verdict::Deliver(to) if to.is_empty()));
    }

    #[test]
    fn a_second_unlock_while_one_is_pending_is_refused() {
        let mut gates = Gates::default();
        let unlock = || Inbound::Ui(FromUi::Unlock { passphrase: Passphrase::new("x".into()), mode: ipc::UnlockMode::Store });
        assert!(matches!(route(unlock(), &mut gates), Verdict::Deliver(_)));
        assert!(matches!(route(unlock(), &mut gates), Verdict::Drop("Unlock")));
    }

    #[test]
    fn probes_in_flight_are_capped() {
        let mut gates = Gates::default();
        for seq in 0..MAX_PROBES_IN_FLIGHT as u64 {
            assert!(matches!(route(Inbound::Ui(FromUi::Ping(probe(seq))), &mut gates), Verdict::Deliver(_)));
        }
        assert!(matches!(route(Inbound::Ui(FromUi::Ping(probe(u64::MAX))), &mut gates), Verdict::Drop("Ping")));
    }

    fn offer() -> ipc::xmpp::SaslOffer {
        ipc::xmpp::SaslOffer { mechanisms: vec!["SCRAM-SHA-1".into()], binding_types: None, binding: None, binding_refused: false }
    }

    fn crypto_step(attempt: u64, step: SaslStep) -> Inbound {
        Inbound::Crypto(FromCrypto::Sasl { account: "a@b".into(), attempt, step })
    }

    fn respond() -> SaslStep {
        SaslStep::Respond(ipc::secret::SecretText::new("c=biws".into()))
    }

    #[test]
    fn sasl_steps_alternate_and_only_within_the_open_attempt() {
        let mut gates = Gates::default();
        // Crypto cannot speak first, nor for an attempt net never opened.
        assert!(matches!(route(crypto_step(1, respond()), &mut gates), Verdict::Drop("Sasl")));
        let start = Inbound::Net(FromNet::SaslStart { account: "a@b".into(), attempt: 1, offer: offer() });
        assert!(matches!(route(start, &mut gates), Verdict::Deliver(to) if matches!(to[..], [Outbound::Crypto(ToCrypto::SaslStart { .. })])));
        assert!(matches!(route(crypto_step(2, respond()), &mut gates), Verdict::Drop("Sasl")));
        assert!(matches!(route(crypto_step(1, respond()), &mut gates), Verdict::Deliver(to) if matches!(to[..], [Outbound::Net(ToNet::Sasl { .. })])));
        // Not crypto's turn again until the server has spoken.
        assert!(matches!(route(crypto_step(1, respond()), &mut gates), Verdict::Drop("Sasl")));
        let server = || Inbound::Net(FromNet::SaslServer { account: "a@b".into(), attempt: 1, message: ipc::xmpp::SaslServer::Success(vec![]) });
        assert!(matches!(route(server(), &mut gates), Verdict::Deliver(_)));
        assert!(matches!(route(server(), &mut gates), Verdict::Drop("SaslServer")));
        assert!(matches!(route(crypto_step(1, SaslStep::Verified), &mut gates), Verdict::Deliver(_)));
        // Verified closed the exchange.
        assert!(matches!(route(crypto_step(1, SaslStep::Verified), &mut gates), Verdict::Drop("Sasl")));
    }

    #[test]
    fn crypto_transmits_only_what_the_ui_asked_to_send() {
        let mut gates = Gates::default();
        let transmit = |request| Inbound::Crypto(FromCrypto::Transmit { account: "a@b".into(), peer: "c@d".into(), body: ipc::secret::SecretText::new("hi".into()), request, encrypted: false });
        assert!(matches!(route(transmit(7), &mut gates), Verdict::Drop("Transmit")));
        let send = Inbound::Ui(FromUi::Send { account: "a@b".into(), peer: "c@d".into(), text: ipc::secret::SecretText::new("hi".into()), request: 7 });
        assert!(matches!(route(send, &mut gates), Verdict::Deliver(_)));
        assert!(matches!(route(transmit(7), &mut gates), Verdict::Deliver(to) if matches!(to[..], [Outbound::Net(ToNet::Transmit { .. })])));
        assert!(matches!(route(transmit(7), &mut gates), Verdict::Drop("Transmit")));
    }

    #[test]
    fn crypto_delivers_only_messages_net_brought_in() {
        let mut gates = Gates::default();
        let deliver = || Inbound::Crypto(FromCrypto::Deliver { seq: 3, account: "a@b".into(), peer: "c@d".into(), text: ipc::secret::SecretText::new("x".into()), encrypted: false });
        assert!(matches!(route(deliver(), &mut gates), Verdict::Drop("Deliver")));
        let incoming = Inbound::Net(FromNet::Incoming { seq: 3, account: "a@b".into(), from: "c@d/r".into(), body: ipc::secret::SecretText::new("x".into()) });
        assert!(matches!(route(incoming, &mut gates), Verdict::Deliver(_)));
        assert!(matches!(route(deliver(), &mut gates), Verdict::Deliver(to) if matches!(to[..], [Outbound::Ui(ToUi::Message { .. })])));
        assert!(matches!(route(deliver(), &mut gates), Verdict::Drop("Deliver")));
    }

    #[test]
    fn crypto_sends_on_its_own_only_otr_protocol_messages() {
        let mut gates = Gates::default();
        let protocol = |body: &str| Inbound::Crypto(FromCrypto::Protocol { account: "a@b".into(), peer: "c@d".into(), body: ipc::secret::SecretText::new(body.into()) });
        for otr in ["?OTRv23?", "?OTR:AAMDdata.", "?OTR|1a2b3c4d|5e6f7a8b,00001,00002,piece,", "?OTR Error: unreadable"] {
            assert!(matches!(route(protocol(otr), &mut gates), Verdict::Deliver(to) if matches!(to[..], [Outbound::Net(ToNet::Transmit { request: None, .. })])), "{otr}");
        }
        for plaintext in ["the secret plan", " ?OTR:", "", "?otr:lowercase"] {
            assert!(matches!(route(protocol(plaintext), &mut gates), Verdict::Drop("Protocol")), "{plaintext:?}");
        }
    }

    #[test]
    fn a_refusal_answers_one_send_and_an_absorbed_message_one_incoming() {
        let mut gates = Gates::default();
        let refused = || Inbound::Crypto(FromCrypto::Refused { account: "a@b".into(), peer: "c@d".into(), request: 9, reason: "policy".into() });
        assert!(matches!(route(refused(), &mut gates), Verdict::Drop("Refused")));
        let send = Inbound::Ui(FromUi::Send { account: "a@b".into(), peer: "c@d".into(), text: ipc::secret::SecretText::new("hi".into()), request: 9 });
        assert!(matches!(route(send, &mut gates), Verdict::Deliver(_)));
        assert!(matches!(route(refused(), &mut gates), Verdict::Deliver(to) if matches!(to[..], [Outbound::Ui(ToUi::Refused { .. })])));
        assert!(matches!(route(refused(), &mut gates), Verdict::Drop("Refused")));

        let absorbed = || Inbound::Crypto(FromCrypto::Absorbed { seq: 4 });
        assert!(matches!(route(absorbed(), &mut gates), Verdict::Drop("Absorbed")));
        let incoming = Inbound::Net(FromNet::Incoming { seq: 4, account: "a@b".into(), from: "c@d/r".into(), body: ipc::secret::SecretText::new("?OTR:x.".into()) });
        assert!(matches!(route(incoming, &mut gates), Verdict::Deliver(_)));
        assert!(matches!(route(absorbed(), &mut gates), Verdict::Deliver(to) if to.is_empty()));
        assert!(matches!(route(absorbed(), &mut gates), Verdict::Drop("Absorbed")));
    }

    #[test]
    fn the_ui_may_not_smuggle_certificate_bytes() {
        let mut gates = Gates::default();
        let account = ipc::xmpp::NewAccount {
            jid: "a@b".into(),
            password: ipc::secret::SecretText::new("p".into()),
            server: None,
            onion: None,
            transport: ipc::xmpp::Transport::StartTls,
            ca_path: Some("/tmp/ca.pem".into()),
            ca_pem: Some(b"-----BEGIN CERTIFICATE-----".to_vec()),
            spki_pin: None,
            tor: ipc::xmpp::TorMode::Auto,
            policy: None,
            allow_plain: false,
        };
        assert!(matches!(route(Inbound::Ui(FromUi::AddAccount(account.clone())), &mut gates), Verdict::Drop("AddAccount")));
        let honest = ipc::xmpp::NewAccount { ca_pem: None, ..account };
        assert!(matches!(route(Inbound::Ui(FromUi::AddAccount(honest)), &mut gates), Verdict::Broker(BrokerRequest::ReadCertificates(_, CertificatesFor::Add))));
    }

    fn domain_account() -> NewAccount {
        NewAccount {
            jid: "example.org".into(),
            password: ipc::secret::SecretText::new(String::new()),
            server: None,
            onion: None,
            transport: ipc::xmpp::Transport::StartTls,
            ca_path: None,
            ca_pem: None,
            spki_pin: None,
            tor: ipc::xmpp::TorMode::Auto,
            policy: None,
            allow_plain: false,
        }
    }

    fn settings() -> ipc::xmpp::ConnectionSettings {
        ipc::xmpp::ConnectionSettings { jid: "example.org".into(), server: None, onion: None, transport: ipc::xmpp::Transport::StartTls, extra_anchors_pem: None, spki_pin: None, tor: ipc::xmpp::TorMode::Auto }
    }

    fn form() -> ipc::register::RegistrationForm {
        ipc::register::RegistrationForm { kind: ipc::register::FormKind::Legacy, instructions: vec![], fields: vec![], username_var: "username".into(), password_var: "password".into() }
    }

    fn ready(registration: u64) -> Inbound {
        Inbound::Net(FromNet::RegisterReady { registration, iq_id: "i".into(), domain: "example.org".into(), form: form(), answers: vec![], conflict: false })
    }

    fn submit(registration: u64) -> Inbound {
        Inbound::Crypto(FromCrypto::RegisterSubmit { registration, stanza: ipc::secret::SecretText::new("<iq/>".into()) })
    }

    #[test]
    fn a_registration_goes_turn_by_turn_and_only_when_asked() {
        let mut gates = Gates::default();
        let start = |registration| Inbound::Crypto(FromCrypto::RegisterStart { registration, settings: settings() });
        // Crypto cannot open a registration the UI did not ask for.
        assert!(matches!(route(start(1), &mut gates), Verdict::Drop("RegisterStart")));
        assert!(matches!(route(Inbound::Ui(FromUi::Register(domain_account())), &mut gates), Verdict::Deliver(to) if matches!(to[..], [Outbound::Crypto(ToCrypto::Register(_))])));
        assert!(matches!(route(start(1), &mut gates), Verdict::Deliver(to) if matches!(to[..], [Outbound::Net(ToNet::Register { .. })])));
        assert!(matches!(route(start(2), &mut gates), Verdict::Drop("RegisterStart")), "one request, one registration");
        // The submission (with the password) only answers net's readiness.
        assert!(matches!(route(submit(1), &mut gates), Verdict::Drop("RegisterSubmit")));
        let form_shown = Inbound::Net(FromNet::RegisterForm { registration: 1, domain: "example.org".into(), form: form() });
        assert!(matches!(route(form_shown, &mut gates), Verdict::Deliver(to) if matches!(to[..], [Outbound::Ui(ToUi::Registration(_))])));
        // Net waits for the user: it may not ask crypto meanwhile.
        assert!(matches!(route(ready(1), &mut gates), Verdict::Drop("RegisterReady")));
        let answers = || Inbound::Ui(FromUi::RegisterAnswers { registration: 1, answers: Some(vec![]) });
        assert!(matches!(route(answers(), &mut gates), Verdict::Deliver(to) if matches!(to[..], [Outbound::Net(ToNet::RegisterAnswers { .. })])));
        assert!(matches!(route(answers(), &mut gates), Verdict::Drop("RegisterAnswers")));
        assert!(matches!(route(ready(1), &mut gates), Verdict::Deliver(to) if matches!(to[..], [Outbound::Crypto(ToCrypto::RegisterReady { .. })])));
        assert!(matches!(route(submit(1), &mut gates), Verdict::Deliver(to) if matches!(to[..], [Outbound::Net(ToNet::RegisterSubmit { .. })])));
        assert!(matches!(route(submit(1), &mut gates), Verdict::Drop("RegisterSubmit")), "one submission per readiness");
        assert!(matches!(route(Inbound::Net(FromNet::Registered { registration: 1 }), &mut gates), Verdict::Deliver(to) if matches!(to[..], [Outbound::Crypto(ToCrypto::Registered { .. })])));
        let done = Inbound::Crypto(FromCrypto::RegisterDone { registration: 1, domain: "example.org".into(), result: Ok((ipc::AccountSummary { jid: "n@example.org".into() }, settings())) });
        // The UI hears of it; net learns the account and logs it in.
        assert!(matches!(route(done, &mut gates), Verdict::Deliver(to) if matches!(to[..], [Outbound::Ui(ToUi::Registration(_)), Outbound::Net(ToNet::AccountAdded(_)), Outbound::Net(ToNet::Request { request: AccountRequest::Connect, .. })])));
    }

    #[test]
    fn a_late_answer_to_a_failed_registration_is_absorbed_not_punished() {
        let mut gates = Gates::default();
        route(Inbound::Ui(FromUi::Register(domain_account())), &mut gates);
        route(Inbound::Crypto(FromCrypto::RegisterStart { registration: 5, settings: settings() }), &mut gates);
        assert!(matches!(route(ready(5), &mut gates), Verdict::Deliver(_)));
        // The stream broke while crypto wrote the submission.
        let failed = Inbound::Net(FromNet::RegisterFailed { registration: 5, domain: "example.org".into(), failure: Failure::new(ErrorCode::Connect, "gone") });
        assert!(matches!(route(failed, &mut gates), Verdict::Deliver(to) if matches!(to[..], [Outbound::Crypto(ToCrypto::RegisterFailed { .. }), Outbound::Ui(ToUi::Registration(_))])));
        assert!(matches!(route(submit(5), &mut gates), Verdict::Deliver(to) if to.is_empty()));
        // A number never opened is still refused.
        assert!(matches!(route(submit(6), &mut gates), Verdict::Drop("RegisterSubmit")));
    }

    #[test]
    fn registrations_at_once_are_capped_and_certificate_bytes_are_not_the_ui_s() {
        let mut gates = Gates::default();
        for _ in 0..MAX_REGISTRATIONS {
            assert!(matches!(route(Inbound::Ui(FromUi::Register(domain_account())), &mut gates), Verdict::Deliver(_)));
        }
        assert!(matches!(route(Inbound::Ui(FromUi::Register(domain_account())), &mut gates), Verdict::Drop("Register")));
        let mut gates = Gates::default();
        let smuggled = NewAccount { ca_pem: Some(b"x".to_vec()), ..domain_account() };
        assert!(matches!(route(Inbound::Ui(FromUi::Register(smuggled)), &mut gates), Verdict::Drop("Register")));
        let with_file = NewAccount { ca_path: Some("/tmp/ca.pem".into()), ..domain_account() };
        assert!(matches!(route(Inbound::Ui(FromUi::Register(with_file)), &mut gates), Verdict::Broker(BrokerRequest::ReadCertificates(_, CertificatesFor::Register))));
    }
}
