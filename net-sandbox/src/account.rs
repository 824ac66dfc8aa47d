//! One account's life in the network process: its own task, which connects
//! (see `login.rs`), keeps the session, reconnects with backoff and resumes
//! the stream (XEP-0198), so that what the user sends while a Tor circuit is
//! down leaves exactly once when it is back.
//!
//! It never holds the password: SASL messages come from the crypto process.
//! It logs no contact's address and no message text.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ipc::jid::BareJid;
use ipc::net::FromNet;
use ipc::secret::SecretText;
use ipc::xmpp::{
    AccountRequest, AccountStatus, ConnectionSettings, ConnectionState, NetEvent, RosterEntry, SaslStep, SubscriptionKind,
};
use ipc::{ErrorCode, Failure};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::dialer::Dialers;
use crate::login::{self, LoginError, Session};
use crate::names::Route;
use crate::sm::{Outgoing, SentNote, StreamManagement};
use crate::spacing::Spacing;
use crate::stanza::{self, ns};
use crate::tls::SystemRoots;
use crate::xml::{Element, StreamEvent, STREAM_CLOSE};

/// What the dispatcher hands an account's task.
#[derive(Debug)]
pub enum Command {
    Request(AccountRequest),
    Transmit { peer: String, body: SecretText, request: Option<u64>, encrypted: bool },
    Sasl { attempt: u64, step: SaslStep },
    Settings(ConnectionSettings),
    /// The account left the store, or net is shutting down.
    Stop,
}

/// What an account task needs from the process around it.
#[derive(Clone)]
pub struct Shared {
    pub dialers: Dialers,
    /// The DNS resolver asked, through Tor, for SRV records (or why the
    /// setting was refused).
    pub resolver: Result<std::net::SocketAddr, String>,
    pub roots: SystemRoots,
    pub to_broker: mpsc::Sender<FromNet>,
    /// Numbers `Incoming` messages across all accounts.
    pub next_incoming: Arc<AtomicU64>,
    /// Keeps different accounts from connecting at the same moment.
    pub spacing: Arc<Spacing>,
}

/// How the online phase ended.
enum Ending {
    /// The user asked; the stream was closed properly.
    Disconnected,
    /// The link broke; resume when it is back.
    Lost(String),
    /// Do not reconnect by ourselves (the server replaced or refused us).
    Fatal(Failure),
    Stop,
}

/// Idle time after which we ask the server for an acknowledgement (or send
/// a whitespace keepalive), and the time it has to answer.
const KEEPALIVE_AFTER: Duration = Duration::from_secs(60);
const ANSWER_WITHIN: Duration = Duration::from_secs(45);
/// What may wait for the link before new messages are refused.
const MAX_PENDING: usize = 4096;

pub struct Account {
    settings: ConnectionSettings,
    jid: BareJid,
    shared: Shared,
    inbox: mpsc::Receiver<Command>,
    want_online: bool,
    sm: StreamManagement,
    /// Stanzas not yet written (the link is down, or the session not ready).
    pending: VecDeque<Outgoing>,
    roster: BTreeMap<String, String>,
    /// Per peer (bare address), per resource: the current `show`.
    presence: HashMap<String, HashMap<String, String>>,
    /// The server's -PLUS refused our channel binding before: use the same
    /// hash without it (said so in the `sasl` field).
    pub(crate) binding_refused: bool,
    pub(crate) next_attempt: u64,
    status: AccountStatus,
    /// What carried the current (or last) connection attempt: the dialer's
    /// `tor` name and its circuit, if known.
    carrier: Option<(&'static str, Option<String>)>,
}

impl Account {
    pub fn new(settings: ConnectionSettings, shared: Shared, inbox: mpsc::Receiver<Command>) -> Result<Self, String> {
        let jid = BareJid::parse(&settings.jid)?;
        let status = AccountStatus {
            account: jid.as_string(),
            state: ConnectionState::Offline,
            tor: "none".into(),
            tls: None,
            sasl: None,
            circuit: None,
        };
        let mut account = Self {
            settings,
            jid,
            shared,
            inbox,
            want_online: false,
            sm: StreamManagement::default(),
            pending: VecDeque::new(),
            roster: BTreeMap::new(),
            presence: HashMap::new(),
            binding_refused: false,
            next_attempt: 0,
            status,
            carrier: None,
        };
        account.status.tor = account.tor_name().into();
        Ok(account)
    }

    /// Where the next attempt goes (see `names`): options, known onions,
    /// SRV records, the domain.
    pub fn route(&self) -> Route {
        Route::new(&self.settings, &self.jid.domain, self.shared.dialers.clone(), self.shared.resolver.clone())
    }

    /// The dialer an attempt chose, remembered for the `tor` field; the UI
    /// is told at once when it is not the one it expected (`tor=auto`
    /// without a system Tor).
    pub async fn note_dialer(&mut self, tor: &'static str) {
        let before = self.tor_name();
        self.carrier = Some((tor, None));
        if before != tor && self.status.state == ConnectionState::Connecting {
            self.set_state(ConnectionState::Connecting, None, None).await;
        }
    }

    /// The circuit the new connection rides, for the `account` event.
    pub fn note_circuit(&mut self, circuit: Option<String>) {
        if let Some((_, known)) = &mut self.carrier {
            *known = circuit;
        }
    }

    /// For the `account` event: `system`, `embedded` or `none`, from the
    /// last attempt's dialer, or the one the mode would choose.
    fn tor_name(&self) -> &'static str {
        if let Some((tor, _)) = self.carrier {
            return tor;
        }
        self.shared.dialers.expected(self.settings.tor, &self.route().first_host())
    }

    pub fn account(&self) -> String {
        self.jid.as_string()
    }

    pub fn settings(&self) -> &ConnectionSettings {
        &self.settings
    }

    pub fn jid(&self) -> &BareJid {
        &self.jid
    }

    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    pub async fn emit(&self, event: NetEvent) {
        let _ = self.shared.to_broker.send(FromNet::Event(event)).await;
    }

    pub async fn send_to_broker(&self, message: FromNet) {
        let _ = self.shared.to_broker.send(message).await;
    }

    pub async fn fail(&self, peer: Option<String>, failure: Failure) {
        self.emit(NetEvent::Failed { account: self.account(), peer, failure }).await;
    }

    async fn set_state(&mut self, state: ConnectionState, tls: Option<String>, sasl: Option<String>) {
        self.status.state = state;
        self.status.tls = tls;
        self.status.sasl = sasl;
        self.status.tor = self.tor_name().into();
        // A circuit is named only while it carries the session.
        self.status.circuit = match (&self.carrier, state) {
            (Some((_, circuit)), ConnectionState::Online) => circuit.clone(),
            _ => None,
        };
        self.emit(NetEvent::Status(self.status.clone())).await;
    }

    /// The task's whole life.
    pub async fn run(mut self) {
        let mut failures: u32 = 0;
        loop {
            if !self.want_online {
                match self.inbox.recv().await {
                    Some(command) => {
                        if self.idle_command(command).await {
                            return;
                        }
                    }
                    None => return,
                }
                continue;
            }
            self.set_state(ConnectionState::Connecting, None, None).await;
            let start = self.shared.spacing.reserve(&self.account(), Instant::now(), random_fraction());
            if start > Instant::now() {
                eprintln!("burrow-net: an account waits {} s to connect, apart from another account's login", (start - Instant::now()).as_secs());
                if self.wait_taking_commands(start).await {
                    return;
                }
                if !self.want_online {
                    self.fail_pending("the account was disconnected before it could be sent").await;
                    self.set_state(ConnectionState::Offline, None, None).await;
                    continue;
                }
            }
            match login::connect(&mut self).await {
                Ok(session) => {
                    failures = 0;
                    match self.online(session).await {
                        Ending::Disconnected => {
                            self.want_online = false;
                            self.emit(NetEvent::Disconnected { account: self.account(), reason: "you disconnected".into() }).await;
                            self.forget_session();
                        }
                        Ending::Lost(reason) => {
                            eprintln!("burrow-net: an account lost its connection; reconnecting");
                            self.emit(NetEvent::Disconnected { account: self.account(), reason: format!("{reason}; reconnecting") }).await;
                            self.set_state(ConnectionState::Connecting, None, None).await;
                            // The first retry comes quickly: most cuts are a dropped circuit.
                            if self.back_off(0).await {
                                return;
                            }
                        }
                        Ending::Fatal(failure) => {
                            self.want_online = false;
                            self.emit(NetEvent::Disconnected { account: self.account(), reason: failure.message.clone() }).await;
                            self.fail(None, failure).await;
                            self.forget_session();
                        }
                        Ending::Stop => return,
                    }
                }
                Err(LoginError::Stopped) => {
                    self.want_online = false;
                }
                Err(LoginError::Stop) => return,
                Err(LoginError::Fatal(failure)) => {
                    eprintln!("burrow-net: an account could not log in ({})", failure.code.name());
                    self.want_online = false;
                    self.fail(None, failure).await;
                }
                Err(LoginError::Transient(failure)) => {
                    eprintln!("burrow-net: an account could not connect ({}); will retry", failure.code.name());
                    self.fail(None, failure).await;
                    failures = failures.saturating_add(1);
                    if self.back_off(failures).await {
                        return;
                    }
                }
            }
            if !self.want_online {
                self.fail_pending("the account was disconnected before it could be sent").await;
                self.set_state(ConnectionState::Offline, None, None).await;
            }
        }
    }

    /// Waits before the next attempt: 1 s, doubling up to 5 minutes, each
    /// with up to half again at random so that accounts do not reconnect in
    /// step. Commands keep being taken meanwhile. Returns true to stop.
    async fn back_off(&mut self, failures: u32) -> bool {
        let base = Duration::from_secs(1).saturating_mul(1 << failures.min(9)).min(Duration::from_secs(300));
        let jitter = base.mul_f64(random_fraction() / 2.0);
        self.wait_taking_commands(Instant::now() + base + jitter).await
    }

    /// Waits until `deadline`, taking commands meanwhile; returns early
    /// (false) when the user disconnects, true to stop the task.
    async fn wait_taking_commands(&mut self, deadline: Instant) -> bool {
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return false,
                command = self.inbox.recv() => match command {
                    Some(command) => {
                        if self.idle_command(command).await {
                            return true;
                        }
                        if !self.want_online {
                            return false;
                        }
                    }
                    None => return true,
                },
            }
        }
    }

    /// A command while there is no session. Returns true to stop the task.
    pub async fn idle_command(&mut self, command: Command) -> bool {
        match command {
            Command::Request(AccountRequest::Connect) => self.want_online = true,
            Command::Request(AccountRequest::Disconnect) => {
                if self.want_online {
                    self.want_online = false;
                } else {
                    self.fail(None, Failure::new(ErrorCode::Offline, "The account is not connected.")).await;
                }
            }
            Command::Request(AccountRequest::Roster) => {
                self.fail(None, Failure::new(ErrorCode::Offline, "The account is not online; /connect it first.")).await;
            }
            Command::Request(AccountRequest::Subscribe { peer }) => self.queue_presence(&peer, "subscribe").await,
            Command::Request(AccountRequest::Approve { peer }) => self.queue_presence(&peer, "subscribed").await,
            Command::Request(AccountRequest::Status) => self.emit(NetEvent::Status(self.status.clone())).await,
            Command::Transmit { peer, body, request, encrypted } => self.queue_message(peer, body, request, encrypted).await,
            // An answer to an exchange that is over.
            Command::Sasl { .. } => {}
            Command::Settings(settings) => self.settings = settings,
            Command::Stop => return true,
        }
        false
    }

    async fn queue_presence(&mut self, peer: &str, kind: &str) {
        if !self.want_online {
            return self.fail(Some(peer.to_owned()), Failure::new(ErrorCode::Offline, "The account is not connected; /connect it first.")).await;
        }
        let presence = Element::new("presence", ns::CLIENT).with_attr("to", peer).with_attr("type", kind);
        self.pending.push_back(Outgoing::new(presence.to_xml(ns::CLIENT), None));
    }

    /// `request` is none for crypto's own OTR messages: they are not the
    /// user's, so no `sent` is reported for them.
    async fn queue_message(&mut self, peer: String, body: SecretText, request: Option<u64>, encrypted: bool) {
        if !self.want_online {
            return self
                .fail(Some(peer), Failure::new(ErrorCode::Offline, "The message was not sent: the account is not connected; /connect it first."))
                .await;
        }
        if self.pending.len() >= MAX_PENDING {
            return self.fail(Some(peer), Failure::new(ErrorCode::Busy, "The message was not sent: too many are waiting for the connection.")).await;
        }
        let message = stanza::chat_message(&peer, body.expose());
        let note = request.map(|request| SentNote { peer, request, encrypted });
        self.pending.push_back(Outgoing::new(message.to_xml(ns::CLIENT), note));
    }

    /// Messages that will never leave are reported, never dropped silently.
    async fn fail_pending(&mut self, why: &str) {
        let lost: Vec<Outgoing> = self.pending.drain(..).chain(self.sm.lost(None)).collect();
        for stanza in lost {
            if let Some(note) = stanza.note {
                self.fail(Some(note.peer), Failure::new(ErrorCode::Offline, format!("A message was not delivered: {why}."))).await;
            }
        }
    }

    /// After a deliberate end: the next connection is a new session.
    fn forget_session(&mut self) {
        self.presence.clear();
    }

    /// The stream resumed, or a new session began: put what the server did
    /// not take back in front of what waits.
    pub fn requeue(&mut self, again: Vec<Outgoing>, fresh_session: bool) {
        self.prepend(again);
        if fresh_session {
            self.presence.clear();
        }
    }

    /// Stanzas to write before anything that waits, in this order.
    pub fn prepend(&mut self, stanzas: Vec<Outgoing>) {
        for stanza in stanzas.into_iter().rev() {
            self.pending.push_front(stanza);
        }
    }

    pub fn stream_management(&mut self) -> &mut StreamManagement {
        &mut self.sm
    }

    pub fn inbox(&mut self) -> &mut mpsc::Receiver<Command> {
        &mut self.inbox
    }

    pub fn set_roster(&mut self, items: &Element) {
        self.roster.clear();
        self.apply_roster(items);
    }

    /// The server answered our roster request: a UI that asked before gets
    /// the roster now.
    async fn roster_arrived(&mut self, session: &mut Session) {
        session.roster_awaited = false;
        if std::mem::take(&mut session.roster_owed) {
            self.emit(NetEvent::Roster { account: self.account(), entries: self.roster_entries() }).await;
        }
    }

    fn apply_roster(&mut self, query: &Element) {
        for item in query.find_all("item", ns::ROSTER) {
            let Some(peer) = item.attr("jid").and_then(|jid| BareJid::parse_full(jid).ok()).map(|(jid, _)| jid.as_string()) else {
                continue;
            };
            match item.attr("subscription").unwrap_or("none") {
                "remove" => {
                    self.roster.remove(&peer);
                }
                subscription @ ("none" | "to" | "from" | "both") => {
                    self.roster.insert(peer, subscription.to_owned());
                }
                _ => {}
            }
        }
    }

    fn roster_entries(&self) -> Vec<RosterEntry> {
        self.roster
            .iter()
            .map(|(peer, subscription)| RosterEntry { peer: peer.clone(), subscription: subscription.clone(), presence: self.best_presence(peer) })
            .collect()
    }

    fn best_presence(&self, peer: &str) -> String {
        const RANK: [&str; 5] = ["chat", "available", "away", "xa", "dnd"];
        self.presence
            .get(peer)
            .and_then(|resources| resources.values().min_by_key(|show| RANK.iter().position(|rank| rank == show).unwrap_or(RANK.len())))
            .cloned()
            .unwrap_or_else(|| "unavailable".into())
    }

    /// The session: stanzas in, commands out, until it ends.
    async fn online(&mut self, mut session: Session) -> Ending {
        // Roster request and initial presence go out first: once the UI
        // hears "online", peers can reach us.
        if let Err(ending) = self.flush(&mut session).await {
            return ending;
        }
        let (tls, sasl) = (Some(session.tls_version.clone()), Some(session.sasl.clone()));
        self.set_state(ConnectionState::Online, tls, sasl).await;
        self.emit(NetEvent::Connected { account: self.account() }).await;
        let mut last_heard = Instant::now();
        let mut asked_at: Option<Instant> = None;
        loop {
            let idle_deadline = asked_at.map(|asked| asked + ANSWER_WITHIN).unwrap_or(last_heard + KEEPALIVE_AFTER);
            tokio::select! {
                event = session.events.recv() => {
                    last_heard = Instant::now();
                    asked_at = None;
                    match event {
                        Some(Ok(StreamEvent::Stanza(element))) => {
                            if let Err(ending) = self.stanza(&mut session, element).await {
                                return ending;
                            }
                        }
                        Some(Ok(StreamEvent::StreamClose)) | None => return Ending::Lost("the server closed the connection".into()),
                        Some(Ok(StreamEvent::StreamOpen { .. })) => {
                            return self.protocol_violation(&mut session, "the server opened a second stream").await;
                        }
                        Some(Err(crate::xml::XmlError::Io(error))) => return Ending::Lost(format!("the connection broke ({error})")),
                        Some(Err(crate::xml::XmlError::UnexpectedEof)) => return Ending::Lost("the connection ended".into()),
                        Some(Err(error)) => {
                            let message = format!("the server sent XML Burrow refuses: {error}");
                            eprintln!("burrow-net: an account's stream failed: {error}");
                            if let Some(condition) = error.stream_error_condition() {
                                let _ = session.write(&stanza::stream_error(condition.as_str())).await;
                            }
                            self.fail(None, Failure::new(ErrorCode::Protocol, message.clone())).await;
                            return Ending::Lost(message);
                        }
                    }
                }
                command = self.inbox.recv() => match command {
                    Some(command) => {
                        if let Err(ending) = self.online_command(&mut session, command).await {
                            return ending;
                        }
                    }
                    None => return Ending::Stop,
                },
                _ = tokio::time::sleep_until(idle_deadline) => {
                    if asked_at.is_some() {
                        return Ending::Lost("the server stopped answering".into());
                    }
                    let probe = if self.sm.enabled {
                        session.write(&stanza::ack_request()).await.map_err(|_| Ending::Lost("the connection broke".into()))
                    } else {
                        self.write_stanza(&mut session, stanza::ping(&self.jid.domain, &stanza::random_id())).await
                    };
                    if let Err(ending) = probe {
                        return ending;
                    }
                    asked_at = Some(Instant::now());
                }
            }
        }
    }

    async fn protocol_violation(&mut self, session: &mut Session, what: &str) -> Ending {
        let _ = session.write(&stanza::stream_error("invalid-xml")).await;
        self.fail(None, Failure::new(ErrorCode::Protocol, format!("The server broke the protocol: {what}."))).await;
        Ending::Lost(what.to_owned())
    }

    async fn online_command(&mut self, session: &mut Session, command: Command) -> Result<(), Ending> {
        match command {
            Command::Request(AccountRequest::Connect) => {}
            Command::Request(AccountRequest::Disconnect) => return Err(self.close(session).await),
            // Asked right after login, the roster may not have come yet (a
            // large one takes a while): the answer waits for it.
            Command::Request(AccountRequest::Roster) if session.roster_awaited => session.roster_owed = true,
            Command::Request(AccountRequest::Roster) => {
                self.emit(NetEvent::Roster { account: self.account(), entries: self.roster_entries() }).await;
            }
            Command::Request(AccountRequest::Subscribe { peer }) => {
                self.queue_presence(&peer, "subscribe").await;
                self.flush(session).await?;
            }
            Command::Request(AccountRequest::Approve { peer }) => {
                self.queue_presence(&peer, "subscribed").await;
                self.flush(session).await?;
            }
            Command::Request(AccountRequest::Status) => self.emit(NetEvent::Status(self.status.clone())).await,
            Command::Transmit { peer, body, request, encrypted } => {
                self.queue_message(peer, body, request, encrypted).await;
                self.flush(session).await?;
            }
            Command::Sasl { .. } => {}
            Command::Settings(settings) => self.settings = settings,
            Command::Stop => {
                let _ = self.close(session).await;
                return Err(Ending::Stop);
            }
        }
        Ok(())
    }

    /// Writes one stanza of ours that is not a user's message (an answer to
    /// the server, say): stream management counts it like any other.
    async fn write_stanza(&mut self, session: &mut Session, xml: String) -> Result<(), Ending> {
        session.write(&xml).await.map_err(|_| Ending::Lost("the connection broke".into()))?;
        self.sm.sent(Outgoing::new(xml, None));
        Ok(())
    }

    /// Writes everything that waits, then asks the server to acknowledge it.
    async fn flush(&mut self, session: &mut Session) -> Result<(), Ending> {
        let mut wrote = false;
        while let Some(mut outgoing) = self.pending.pop_front() {
            if session.write(&outgoing.xml).await.is_err() {
                self.pending.push_front(outgoing);
                return Err(Ending::Lost("the connection broke while sending".into()));
            }
            wrote = true;
            if let (Some(note), false) = (&outgoing.note, outgoing.reported) {
                self.emit(NetEvent::Sent { account: self.account(), peer: note.peer.clone(), request: note.request, encrypted: note.encrypted }).await;
                outgoing.reported = true;
            }
            self.sm.sent(outgoing);
        }
        if wrote && self.sm.enabled && session.write(&stanza::ack_request()).await.is_err() {
            return Err(Ending::Lost("the connection broke while sending".into()));
        }
        Ok(())
    }

    /// The user's disconnect: let the server acknowledge what we sent, then
    /// close the stream, which ends the session (no resumption).
    async fn close(&mut self, session: &mut Session) -> Ending {
        if self.sm.enabled && self.sm.waiting() > 0 {
            let deadline = Instant::now() + Duration::from_secs(3);
            while self.sm.waiting() > 0 {
                match tokio::time::timeout_at(deadline, session.events.recv()).await {
                    Ok(Some(Ok(StreamEvent::Stanza(element)))) => {
                        if self.stanza(session, element).await.is_err() {
                            break;
                        }
                    }
                    _ => break,
                }
            }
        }
        let _ = session.write(STREAM_CLOSE).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(event)) = session.events.recv().await {
                if matches!(event, StreamEvent::StreamClose) {
                    break;
                }
            }
        })
        .await;
        let _ = session.writer.shutdown().await;
        Ending::Disconnected
    }

    /// One stanza from the server.
    async fn stanza(&mut self, session: &mut Session, element: Element) -> Result<(), Ending> {
        if element.namespace == ns::SM {
            return self.stream_management_element(session, &element).await;
        }
        if element.is("error", crate::xml::NS_STREAMS) {
            let condition = element.elements().next().map(|child| child.name.clone()).unwrap_or_else(|| "undefined-condition".into());
            let text = element.find("text", ns::STREAMS_ERRORS).map(|text| text.text()).unwrap_or_default();
            let reason = if text.is_empty() { format!("the server ended the stream ({condition})") } else { format!("the server ended the stream ({condition}: {text})") };
            return Err(match condition.as_str() {
                // Another client took over, or the account is gone: fighting back would loop.
                "conflict" | "not-authorized" | "policy-violation" => Ending::Fatal(Failure::new(ErrorCode::Protocol, reason)),
                _ => Ending::Lost(reason),
            });
        }
        if element.namespace != ns::CLIENT {
            return Err(self.protocol_violation(session, "an element that is not a stanza").await);
        }
        let handled = match element.name.as_str() {
            "message" => {
                self.message(&element).await;
                true
            }
            "presence" => {
                self.presence_stanza(&element).await;
                true
            }
            "iq" => {
                self.iq(session, &element).await?;
                true
            }
            _ => false,
        };
        if !handled {
            return Err(self.protocol_violation(session, "an unknown top-level element").await);
        }
        self.sm.handled_one();
        Ok(())
    }

    async fn stream_management_element(&mut self, session: &mut Session, element: &Element) -> Result<(), Ending> {
        match element.name.as_str() {
            "r" => {
                let answer = stanza::ack_answer(self.sm.handled);
                session.write(&answer).await.map_err(|_| Ending::Lost("the connection broke".into()))
            }
            "a" => {
                let h = element.attr("h").and_then(|h| h.parse::<u32>().ok());
                match h.map(|h| self.sm.acknowledge(h)) {
                    Some(Ok(())) => Ok(()),
                    Some(Err(error)) => Err(self.protocol_violation(session, &error.to_string()).await),
                    None => Err(self.protocol_violation(session, "an acknowledgement without a count").await),
                }
            }
            _ => Ok(()),
        }
    }

    async fn message(&mut self, element: &Element) {
        let Some((from, resource)) = element.attr("from").and_then(|from| BareJid::parse_full(from).ok()) else {
            return;
        };
        let peer = from.as_string();
        match element.attr("type").unwrap_or("normal") {
            "error" => {
                let condition = stanza::error_condition(element);
                self.fail(Some(peer), Failure::new(ErrorCode::Delivery, format!("A message could not be delivered: {condition}."))).await;
            }
            "chat" | "normal" => {
                let Some(body) = element.find("body", ns::CLIENT) else { return };
                let text = body.text();
                if text.is_empty() {
                    return;
                }
                let seq = self.shared.next_incoming.fetch_add(1, Ordering::Relaxed);
                let full = match resource {
                    Some(resource) => format!("{peer}/{resource}"),
                    None => peer,
                };
                self.send_to_broker(FromNet::Incoming { seq, account: self.account(), from: full, body: SecretText::new(text) }).await;
            }
            // No group chat in this version; headlines carry no conversation.
            _ => {}
        }
    }

    async fn presence_stanza(&mut self, element: &Element) {
        let Some((from, resource)) = element.attr("from").and_then(|from| BareJid::parse_full(from).ok()) else {
            return;
        };
        let peer = from.as_string();
        let resource = resource.unwrap_or_default();
        let subscription = |kind| NetEvent::Subscription { account: self.account(), peer: peer.clone(), kind };
        match element.attr("type") {
            None => {
                let show = match element.find("show", ns::CLIENT).map(|show| show.text()) {
                    Some(show) if ["away", "chat", "dnd", "xa"].contains(&show.as_str()) => show,
                    _ => "available".into(),
                };
                self.presence.entry(peer.clone()).or_default().insert(resource, show.clone());
                self.emit(NetEvent::Presence { account: self.account(), peer, show }).await;
            }
            Some("unavailable") => {
                if let Some(resources) = self.presence.get_mut(&peer) {
                    resources.remove(&resource);
                    if resources.is_empty() {
                        self.presence.remove(&peer);
                    }
                }
                let show = self.best_presence(&peer);
                self.emit(NetEvent::Presence { account: self.account(), peer, show }).await;
            }
            Some("subscribe") => self.emit(subscription(SubscriptionKind::Request)).await,
            Some("subscribed") => self.emit(subscription(SubscriptionKind::Approved)).await,
            Some("unsubscribe" | "unsubscribed") => self.emit(subscription(SubscriptionKind::Revoked)).await,
            _ => {}
        }
    }

    async fn iq(&mut self, session: &mut Session, element: &Element) -> Result<(), Ending> {
        let kind = element.attr("type").unwrap_or("");
        let id = element.attr("id").unwrap_or("").to_owned();
        let from = element.attr("from").map(str::to_owned);
        let payload = element.elements().next();
        // Only the server (no `from`, or our own bare address or domain) may
        // push roster changes (RFC 6121 §2.1.6).
        let from_our_server = match &from {
            None => true,
            Some(from) => BareJid::parse_full(from).is_ok_and(|(jid, resource)| {
                resource.is_none() && (jid == self.jid || (jid.local.is_empty() && jid.domain == self.jid.domain))
            }),
        };
        let reply = match (kind, payload) {
            ("result", Some(query)) if query.is("query", ns::ROSTER) && id == session.roster_request => {
                self.set_roster(query);
                self.roster_arrived(session).await;
                None
            }
            ("error", _) if id == session.roster_request => {
                self.roster_arrived(session).await;
                None
            }
            ("result" | "error", _) => None,
            ("set", Some(query)) if query.is("query", ns::ROSTER) && from_our_server => {
                self.apply_roster(query);
                Some(stanza::iq_result(from.as_deref(), &id, None))
            }
            ("get", Some(ping)) if ping.is("ping", ns::PING) => Some(stanza::iq_result(from.as_deref(), &id, None)),
            ("get", Some(query)) if query.is("query", ns::DISCO_INFO) && query.attr("node").is_none() => {
                Some(stanza::iq_result(from.as_deref(), &id, Some(stanza::disco_info())))
            }
            // Version (XEP-0092), time (XEP-0202), last activity and the
            // rest: refused alike, so that nothing tells this client apart.
            ("get" | "set", _) => Some(stanza::iq_error(from.as_deref(), &id, "cancel", "service-unavailable")),
            _ => return Err(self.protocol_violation(session, "an iq without a valid type").await),
        };
        if let Some(reply) = reply {
            self.write_stanza(session, reply).await?;
        }
        Ok(())
    }
}

/// A uniform random number in [0, 1).
pub fn random_fraction() -> f64 {
    let mut bytes = [0u8; 8];
    // Only the spreading of reconnection times depends on this; without the
    // kernel's randomness the delay simply has no jitter.
    let _ = getrandom::fill(&mut bytes);
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}
