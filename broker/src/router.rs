//! The broker proper: it reads every frame the children send, routes what
//! the table permits, and restarts a child that breaks the protocol, crashes
//! or floods it. It runs confined (see `policy.rs`) before it reads a byte.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipc::crypto::{FromCrypto, ToCrypto};
use ipc::handshake::{self, ChildHello};
use ipc::launcher::{ExitHow, FromLauncher, ToLauncher};
use ipc::net::{FromNet, ToNet};
use ipc::register::RegistrationEvent;
use ipc::ui::{FromUi, ToUi};
use ipc::{
    codec, Channel, ChannelError, ConfinementReport, ErrorCode, Failure, FrameReader, FrameWriter,
    ProcessReport, Role,
};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use crate::policy;
use crate::routing::{self, BrokerRequest, Gates, Inbound, Outbound, Verdict};
use crate::Options;

/// Frames a child may have waiting inside the broker. A child that gets this
/// far ahead of the broker is flooding it.
const INBOUND_CREDIT: usize = 4096;
/// Messages waiting for one child; beyond this they are dropped and counted.
const OUTBOUND_QUEUE: usize = 4096;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A child that ran this long before failing starts its backoff afresh.
const STABLE_AFTER: Duration = Duration::from_secs(30);
/// Consecutive failures after which Burrow stops instead of retrying.
const MAX_CONSECUTIVE_FAILURES: u32 = 8;
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

pub fn run(options: Options) -> ExitCode {
    let report = match confine::confine(&policy::broker(options.strict)) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("burrow: broker: {error}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("burrow: broker: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        match Router::start(report).await {
            Ok(router) => router.serve().await,
            Err(problem) => {
                eprintln!("burrow: {problem}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Why a link to a child ended.
#[derive(Debug)]
enum LinkProblem {
    Closed,
    Violation(String),
    Flood,
}

enum Event {
    Message { role: Role, generation: u64, message: Inbound, _credit: OwnedSemaphorePermit },
    LinkBroken { role: Role, generation: u64, problem: LinkProblem },
    Launcher(FromLauncher, Option<OwnedFd>),
    LauncherGone,
    /// `Err(None)`: the child hung up during the handshake; its exit status
    /// will say more than the broken socket can.
    Handshaken { role: Role, generation: u64, result: Result<(ChildHello, FrameReader, FrameWriter), Option<String>> },
    RestartDue(Role),
}

/// One running instance of a child.
struct Link {
    pid: u32,
    confinement: ConfinementReport,
    outbound: mpsc::Sender<Outbound>,
    reader: JoinHandle<()>,
    writer: Option<JoinHandle<()>>,
}

impl Link {
    /// Stops reading but lets the writer send what is queued before the
    /// socket closes, so that a shutdown does not swallow the last answers.
    fn close_after_queued(mut self) {
        self.writer = None;
    }
}

impl Drop for Link {
    /// Ending both tasks drops both halves of the socket, which closes it:
    /// the child reads end-of-file and exits.
    fn drop(&mut self) {
        self.reader.abort();
        if let Some(writer) = &self.writer {
            writer.abort();
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    /// Asked the launcher to start it; waiting for its pid and handshake.
    Starting,
    Up,
    /// Killed or dead; waiting for the launcher to report the exit.
    Dying,
    /// Waiting out the backoff before the next start.
    BackingOff,
    Stopped,
}

struct Slot {
    state: SlotState,
    /// Bumped on every start, so events from an old instance are ignored.
    generation: u64,
    pid: Option<u32>,
    link: Option<Link>,
    restarts: u32,
    dropped: u64,
    undeliverable: u64,
    consecutive_failures: u32,
    started_at: Instant,
    ever_up: bool,
    /// Why the last instance ended, for the user.
    ended_because: Option<String>,
}

impl Slot {
    fn new() -> Self {
        Self {
            state: SlotState::Stopped,
            generation: 0,
            pid: None,
            link: None,
            restarts: 0,
            dropped: 0,
            undeliverable: 0,
            consecutive_failures: 0,
            started_at: Instant::now(),
            ever_up: false,
            ended_because: None,
        }
    }
}

struct Router {
    own: ConfinementReport,
    launcher: FrameWriter,
    events: mpsc::UnboundedSender<Event>,
    inbox: mpsc::UnboundedReceiver<Event>,
    slots: HashMap<Role, Slot>,
    gates: Gates,
    shutting_down: bool,
    /// Accounts held while the launcher reads their `ca=` file.
    accounts_awaiting_certificates: HashMap<u64, (ipc::xmpp::NewAccount, routing::CertificatesFor)>,
    next_certificate_request: u64,
    /// The import whose files the launcher is reading: its number and request.
    import_awaiting_files: Option<(u64, ipc::import::ImportRequest)>,
}

fn process_name(role: Role) -> &'static str {
    match role {
        Role::Broker => "broker",
        Role::Net => "network process",
        Role::Crypto => "key process",
        Role::Ui => "front end",
    }
}

impl Router {
    async fn start(own: ConfinementReport) -> Result<Self, String> {
        let socket = confine::sys::take_ipc_socket().map_err(|error| format!("broker: {error}"))?;
        let (mut requests_reader, launcher) =
            Channel::new(socket).map_err(|error| error.to_string())?.split();
        let (events, inbox) = mpsc::unbounded_channel();
        let launcher_events = events.clone();
        tokio::spawn(async move {
            loop {
                match requests_reader.recv_with_fd::<FromLauncher>().await {
                    Ok((message, descriptor)) => {
                        if launcher_events.send(Event::Launcher(message, descriptor)).is_err() {
                            break;
                        }
                    }
                    Err(_) => {
                        let _ = launcher_events.send(Event::LauncherGone);
                        break;
                    }
                }
            }
        });
        let slots = [Role::Net, Role::Crypto, Role::Ui].into_iter().map(|role| (role, Slot::new())).collect();
        Ok(Self { own, launcher, events, inbox, slots, gates: Gates::default(), shutting_down: false, accounts_awaiting_certificates: HashMap::new(), next_certificate_request: 0, import_awaiting_files: None })
    }

    fn slot(&mut self, role: Role) -> &mut Slot {
        self.slots.entry(role).or_insert_with(Slot::new)
    }

    async fn serve(mut self) -> ExitCode {
        let mut terminate = match signal(SignalKind::terminate()) {
            Ok(stream) => stream,
            Err(error) => {
                eprintln!("burrow: broker: {error}");
                return ExitCode::FAILURE;
            }
        };
        // The front end starts once crypto and net answer, so that its
        // first command finds them there.
        for role in [Role::Crypto, Role::Net] {
            self.request_start(role).await;
        }
        loop {
            let event = tokio::select! {
                event = self.inbox.recv() => match event {
                    Some(event) => event,
                    None => return ExitCode::FAILURE,
                },
                _ = terminate.recv() => {
                    eprintln!("burrow: shutting down on SIGTERM");
                    return self.shut_down(ExitCode::SUCCESS).await;
                }
            };
            if let Some(code) = self.handle(event).await {
                return self.shut_down(code).await;
            }
        }
    }

    /// Handles one event; `Some` ends the broker with that status.
    async fn handle(&mut self, event: Event) -> Option<ExitCode> {
        match event {
            Event::Message { role, generation, message, _credit } => {
                if self.current(role, generation) {
                    return self.route(role, message).await;
                }
            }
            Event::LinkBroken { role, generation, problem } => {
                if self.current(role, generation) {
                    let reason = match problem {
                        LinkProblem::Closed => None,
                        LinkProblem::Violation(what) => Some(what),
                        LinkProblem::Flood => Some("it flooded the broker with frames".to_string()),
                    };
                    match reason {
                        Some(reason) => self.kill(role, reason).await,
                        // A closed socket means the child is exiting; the
                        // launcher reports how.
                        None => self.take_down(role),
                    }
                }
            }
            Event::Launcher(FromLauncher::Spawned { role, pid }, descriptor) => {
                self.spawned(role, pid, descriptor).await;
            }
            Event::Launcher(FromLauncher::SpawnFailed { role, reason }, _) => {
                self.slot(role).state = SlotState::Dying;
                return self.ended(role, format!("it could not be started: {reason}")).await;
            }
            Event::Launcher(FromLauncher::Exited { role, pid, how }, _) => {
                if self.slot(role).pid == Some(pid) {
                    return self.exited(role, how).await;
                }
            }
            Event::Launcher(FromLauncher::ImportFiles { request, result }, _) => {
                let awaited = self.import_awaiting_files.take_if(|(awaited, _)| *awaited == request);
                if let Some((_, import)) = awaited {
                    match result {
                        Ok((files, unread)) => self.deliver(Outbound::Crypto(ToCrypto::Import { source: import.source, files, passphrase: import.passphrase, unread })),
                        Err(problem) => {
                            self.gates.end_import();
                            self.deliver(Outbound::Ui(ToUi::Imported(Err(Failure::new(ErrorCode::BadFile, format!("Nothing was imported: {problem}."))))));
                        }
                    }
                }
            }
            Event::Launcher(FromLauncher::Certificates { request, result }, _) => {
                if let Some((mut account, purpose)) = self.accounts_awaiting_certificates.remove(&request) {
                    match (result, purpose) {
                        (Ok(pem), routing::CertificatesFor::Add) => {
                            account.ca_pem = Some(pem);
                            self.deliver(Outbound::Crypto(ToCrypto::AddAccount(account)));
                        }
                        (Ok(pem), routing::CertificatesFor::Register) => {
                            account.ca_pem = Some(pem);
                            self.deliver(Outbound::Crypto(ToCrypto::Register(account)));
                        }
                        (Err(problem), routing::CertificatesFor::Add) => {
                            self.gates.abandon_add();
                            self.deliver(Outbound::Ui(ToUi::AccountRefused(Failure::new(ErrorCode::BadFile, format!("The ca= file cannot be used: {problem}.")))));
                        }
                        (Err(problem), routing::CertificatesFor::Register) => {
                            self.gates.abandon_register();
                            let failure = Failure::new(ErrorCode::BadFile, format!("No account was created: the ca= file cannot be used: {problem}."));
                            self.deliver(Outbound::Ui(ToUi::Registration(RegistrationEvent::Failed { registration: None, domain: account.jid, failure })));
                        }
                    }
                }
            }
            Event::LauncherGone => {
                if !self.shutting_down {
                    eprintln!("burrow: the launcher went away; stopping");
                }
                return Some(ExitCode::FAILURE);
            }
            Event::Handshaken { role, generation, result } => {
                if self.current(role, generation) {
                    return self.handshaken(role, result).await;
                }
            }
            Event::RestartDue(role) => {
                if self.slot(role).state == SlotState::BackingOff && !self.shutting_down {
                    self.request_start(role).await;
                }
            }
        }
        None
    }

    fn current(&mut self, role: Role, generation: u64) -> bool {
        let slot = self.slot(role);
        slot.generation == generation && matches!(slot.state, SlotState::Starting | SlotState::Up)
    }

    async fn request_start(&mut self, role: Role) {
        let slot = self.slot(role);
        slot.state = SlotState::Starting;
        slot.generation += 1;
        slot.pid = None;
        if self.launcher.send(&ToLauncher::Spawn(role)).await.is_err() {
            let _ = self.events.send(Event::LauncherGone);
        }
    }

    async fn spawned(&mut self, role: Role, pid: u32, descriptor: Option<OwnedFd>) {
        let slot = self.slot(role);
        if slot.state != SlotState::Starting {
            return;
        }
        slot.pid = Some(pid);
        slot.started_at = Instant::now();
        let generation = slot.generation;
        let Some(descriptor) = descriptor else {
            return self.kill(role, "the launcher sent no socket for it".into()).await;
        };
        let events = self.events.clone();
        tokio::spawn(async move {
            let result = async {
                let (mut reader, mut writer) = Channel::new(descriptor).map_err(|error| Some(error.to_string()))?.split();
                let hello = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake::greet_child(&mut reader, &mut writer, role))
                    .await
                    .map_err(|_| Some("it did not answer the handshake within 10 seconds".to_string()))?
                    .map_err(|error| match error {
                        handshake::HandshakeError::Channel(ChannelError::Closed) => None,
                        error => Some(format!("handshake failed: {error}")),
                    })?;
                if hello.pid != pid {
                    return Err(Some(format!("it claims pid {} but is pid {pid}", hello.pid)));
                }
                Ok((hello, reader, writer))
            }
            .await;
            let _ = events.send(Event::Handshaken { role, generation, result });
        });
    }

    async fn handshaken(
        &mut self,
        role: Role,
        result: Result<(ChildHello, FrameReader, FrameWriter), Option<String>>,
    ) -> Option<ExitCode> {
        let (hello, reader, writer) = match result {
            Ok(parts) => parts,
            Err(Some(problem)) => {
                self.kill(role, problem).await;
                return None;
            }
            Err(None) => {
                self.take_down(role);
                return None;
            }
        };
        let generation = self.slot(role).generation;
        let (outbound, queue) = mpsc::channel(OUTBOUND_QUEUE);
        let reader = tokio::spawn(read_frames(role, generation, reader, self.events.clone()));
        let writer = Some(tokio::spawn(write_frames(writer, queue)));
        let pid = hello.pid;
        let slot = self.slot(role);
        let restarted = slot.ever_up;
        slot.link = Some(Link { pid, confinement: hello.confinement, outbound, reader, writer });
        slot.state = SlotState::Up;
        slot.ever_up = true;
        if restarted {
            slot.restarts += 1;
            let reason = format!(
                "The {} was restarted: {}.",
                process_name(role),
                slot.ended_because.take().unwrap_or_else(|| "it stopped".into())
            );
            eprintln!("burrow: {reason}");
            let report = self.report(role);
            if let Some(report) = report {
                self.deliver(Outbound::Ui(ToUi::Restarted { report, reason }));
            }
            // A new net knows no account; crypto tells it, if unlocked.
            if role == Role::Net {
                if let Some(message) = routing::net_started(&mut self.gates) {
                    self.deliver(message);
                }
            }
            // A new front end starts locked; crypto may be open.
            if role == Role::Ui {
                if let Some(message) = routing::ui_started(&mut self.gates) {
                    self.deliver(message);
                }
            }
        }
        // Once crypto and net are up for the first time, start the front end.
        let backends_up = [Role::Crypto, Role::Net].iter().all(|role| self.slots.get(role).is_some_and(|slot| slot.ever_up));
        let ui = self.slot(Role::Ui);
        if backends_up && !ui.ever_up && ui.state == SlotState::Stopped {
            self.request_start(Role::Ui).await;
        }
        None
    }

    async fn route(&mut self, role: Role, message: Inbound) -> Option<ExitCode> {
        match routing::route(message, &mut self.gates) {
            Verdict::Deliver(messages) => {
                for message in messages {
                    self.deliver(message);
                }
            }
            Verdict::Broker(BrokerRequest::Status) => self.send_status(),
            Verdict::Broker(BrokerRequest::Quit) => return Some(ExitCode::SUCCESS),
            Verdict::Broker(BrokerRequest::ReadImport(import)) => {
                let request = self.next_certificate_request;
                self.next_certificate_request += 1;
                let (source, directory) = (import.source, import.directory.clone());
                self.import_awaiting_files = Some((request, import));
                if self.launcher.send(&ToLauncher::ReadImport { request, source, directory }).await.is_err() {
                    let _ = self.events.send(Event::LauncherGone);
                }
            }
            Verdict::Broker(BrokerRequest::ReadCertificates(account, purpose)) => {
                let request = self.next_certificate_request;
                self.next_certificate_request += 1;
                let path = account.ca_path.clone().unwrap_or_default();
                self.accounts_awaiting_certificates.insert(request, (account, purpose));
                if self.launcher.send(&ToLauncher::ReadCertificates { request, path }).await.is_err() {
                    let _ = self.events.send(Event::LauncherGone);
                }
            }
            Verdict::Drop(kind) => {
                self.slot(role).dropped += 1;
                self.kill(role, format!("it sent a message it may not send now ({kind})")).await;
            }
        }
        None
    }

    fn deliver(&mut self, message: Outbound) {
        let role = match &message {
            Outbound::Ui(_) => Role::Ui,
            Outbound::Crypto(_) => Role::Crypto,
            Outbound::Net(_) => Role::Net,
        };
        let slot = self.slot(role);
        let sent = match (&slot.state, &slot.link) {
            (SlotState::Up, Some(link)) => link.outbound.try_send(message).is_ok(),
            _ => false,
        };
        if !sent {
            slot.undeliverable += 1;
            // Logged at 1, 2, 4, 8...: a flood must not flood the log too.
            if slot.undeliverable.is_power_of_two() {
                eprintln!(
                    "burrow: {} message(s) for the {} dropped so far: it is not running or not reading",
                    slot.undeliverable,
                    process_name(role)
                );
            }
        }
    }

    fn report(&mut self, role: Role) -> Option<ProcessReport> {
        let slot = self.slots.get(&role)?;
        let link = slot.link.as_ref()?;
        Some(ProcessReport {
            role,
            pid: link.pid,
            confinement: verified(link.pid, link.confinement),
            restarts: slot.restarts,
            dropped: slot.dropped,
        })
    }

    fn send_status(&mut self) {
        let broker = ProcessReport {
            role: Role::Broker,
            pid: std::process::id(),
            confinement: verified(std::process::id(), self.own),
            restarts: 0,
            dropped: 0,
        };
        self.deliver(Outbound::Ui(ToUi::Process(broker)));
        for role in [Role::Net, Role::Crypto, Role::Ui] {
            if let Some(report) = self.report(role) {
                self.deliver(Outbound::Ui(ToUi::Process(report)));
            }
        }
        self.deliver(Outbound::Ui(ToUi::StatusComplete));
    }

    /// Asks the launcher to kill a misbehaving child; the restart follows
    /// its exit.
    async fn kill(&mut self, role: Role, reason: String) {
        eprintln!("burrow: stopping the {}: {reason}", process_name(role));
        self.slot(role).ended_because = Some(reason);
        self.take_down(role);
        if self.launcher.send(&ToLauncher::Kill(role)).await.is_err() {
            let _ = self.events.send(Event::LauncherGone);
        }
    }

    fn take_down(&mut self, role: Role) {
        let slot = self.slot(role);
        slot.link = None;
        if matches!(slot.state, SlotState::Starting | SlotState::Up) {
            slot.state = SlotState::Dying;
        }
        match role {
            Role::Crypto => {
                // Their addition is void: crypto's answer could no longer pass.
                self.accounts_awaiting_certificates.clear();
                self.import_awaiting_files = None;
                for (registration, domain) in self.gates.forget_crypto_registrations() {
                    let failure = Failure::new(ErrorCode::ChildRestarted, "The key process stopped during the registration, so Burrow does not know the new account's password; nothing was saved. Unlock again and create the account anew.");
                    self.deliver(Outbound::Ui(ToUi::Registration(RegistrationEvent::Failed { registration: Some(registration), domain, failure })));
                }
                if self.gates.forget_crypto() {
                    self.deliver(Outbound::Ui(ToUi::Failed(Failure::new(
                        ErrorCode::ChildRestarted,
                        "The key process stopped while unlocking; unlock again.",
                    ))));
                }
            }
            Role::Net => {
                for (registration, domain) in self.gates.forget_net_registrations() {
                    let failure = Failure::new(ErrorCode::ChildRestarted, "The network process stopped during the registration; no account was saved. Try again.");
                    self.deliver(Outbound::Crypto(ToCrypto::RegisterFailed { registration }));
                    self.deliver(Outbound::Ui(ToUi::Registration(RegistrationEvent::Failed { registration: Some(registration), domain, failure })));
                }
                self.gates.forget_net();
            }
            _ => self.gates.forget_probes(),
        }
    }

    async fn exited(&mut self, role: Role, how: ExitHow) -> Option<ExitCode> {
        self.take_down(role);
        if role == Role::Ui && how == ExitHow::Code(0) && self.slot(role).ended_because.is_none() {
            // The user closed the front end.
            return Some(ExitCode::SUCCESS);
        }
        let because = self.slot(role).ended_because.clone().unwrap_or_else(|| format!("it {how}"));
        self.ended(role, because).await
    }

    /// A child is gone: schedule its restart, or give up.
    async fn ended(&mut self, role: Role, because: String) -> Option<ExitCode> {
        if self.shutting_down {
            self.slot(role).state = SlotState::Stopped;
            return None;
        }
        let slot = self.slot(role);
        slot.pid = None;
        slot.link = None;
        slot.ended_because = Some(because.clone());
        if !slot.ever_up {
            eprintln!("burrow: the {} ({}) failed to start: {because}", process_name(role), role.binary());
            return Some(ExitCode::FAILURE);
        }
        if slot.started_at.elapsed() >= STABLE_AFTER {
            slot.consecutive_failures = 0;
        }
        slot.consecutive_failures += 1;
        if slot.consecutive_failures > MAX_CONSECUTIVE_FAILURES {
            let message = format!(
                "The {} failed {} times in a row ({because}); Burrow stops.",
                process_name(role),
                slot.consecutive_failures
            );
            eprintln!("burrow: {message}");
            self.deliver(Outbound::Ui(ToUi::Failed(Failure::new(ErrorCode::ChildFailed, message))));
            return Some(ExitCode::FAILURE);
        }
        let delay = backoff(slot.consecutive_failures);
        slot.state = SlotState::BackingOff;
        let events = self.events.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = events.send(Event::RestartDue(role));
        });
        None
    }

    /// Closes every child's socket, waits for them to exit, and ends.
    async fn shut_down(mut self, code: ExitCode) -> ExitCode {
        self.shutting_down = true;
        let mut running: Vec<Role> = Vec::new();
        for (role, slot) in self.slots.iter_mut() {
            if let Some(link) = slot.link.take() {
                link.close_after_queued();
            }
            if slot.pid.is_some() {
                running.push(*role);
            }
        }
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        while !running.is_empty() {
            match tokio::time::timeout_at(deadline, self.inbox.recv()).await {
                Ok(Some(Event::Launcher(FromLauncher::Exited { role, pid, .. }, _))) => {
                    if self.slots.get(&role).and_then(|slot| slot.pid) == Some(pid) {
                        running.retain(|still| *still != role);
                    }
                }
                Ok(Some(Event::LauncherGone)) | Ok(None) => break,
                Ok(Some(_)) => {}
                Err(_timeout) => {
                    for role in running.drain(..) {
                        let _ = self.launcher.send(&ToLauncher::Kill(role)).await;
                    }
                }
            }
        }
        code
    }
}

fn backoff(failures: u32) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(16);
    FIRST_BACKOFF.saturating_mul(factor).min(MAX_BACKOFF)
}

/// Checks what a process says of its seccomp and no_new_privs state against
/// what the kernel shows in /proc; the kernel wins.
fn verified(pid: u32, claimed: ConfinementReport) -> ConfinementReport {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return claimed;
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(|value| value.trim().to_string())
    };
    ConfinementReport {
        seccomp: claimed.seccomp && field("Seccomp:").as_deref() == Some("2"),
        no_new_privs: claimed.no_new_privs && field("NoNewPrivs:").as_deref() == Some("1"),
        ..claimed
    }
}

/// Reads one child's frames: checks size and decodes here, so that a bad
/// frame never reaches the routing table; credit bounds how far ahead of
/// the broker a child may get.
async fn read_frames(role: Role, generation: u64, mut reader: FrameReader, events: mpsc::UnboundedSender<Event>) {
    let credit = Arc::new(Semaphore::new(INBOUND_CREDIT));
    let problem = loop {
        let decoded = match reader.recv_with(|frame| decode_from(role, frame)).await {
            Ok(decoded) => decoded,
            Err(ChannelError::Closed) => break LinkProblem::Closed,
            Err(ChannelError::Codec(error)) => break LinkProblem::Violation(format!("it sent a bad frame: {error}")),
            Err(error) => break LinkProblem::Violation(format!("its socket failed: {error}")),
        };
        let message = match decoded {
            Ok(message) => message,
            Err(error) => break LinkProblem::Violation(format!("it sent a frame that does not decode: {error}")),
        };
        let Ok(permit) = credit.clone().try_acquire_owned() else {
            break LinkProblem::Flood;
        };
        if events.send(Event::Message { role, generation, message, _credit: permit }).is_err() {
            return;
        }
    };
    let _ = events.send(Event::LinkBroken { role, generation, problem });
}

fn decode_from(role: Role, frame: &[u8]) -> Result<Inbound, codec::CodecError> {
    Ok(match role {
        Role::Ui => Inbound::Ui(codec::decode::<FromUi>(frame)?),
        Role::Crypto => Inbound::Crypto(codec::decode::<FromCrypto>(frame)?),
        Role::Net => Inbound::Net(codec::decode::<FromNet>(frame)?),
        Role::Broker => return Err(codec::CodecError::Malformed("the broker has no child link".into())),
    })
}

async fn write_frames(mut writer: FrameWriter, mut queue: mpsc::Receiver<Outbound>) {
    while let Some(message) = queue.recv().await {
        let sent = match &message {
            Outbound::Ui(message) => writer.send::<ToUi>(message).await,
            Outbound::Crypto(message) => writer.send::<ToCrypto>(message).await,
            Outbound::Net(message) => writer.send::<ToNet>(message).await,
        };
        if sent.is_err() {
            return;
        }
    }
}
