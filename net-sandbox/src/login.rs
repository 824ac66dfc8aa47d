//! From nothing to a session: dial, TLS (direct, or STARTTLS, which is
//! mandatory), SASL relayed to the crypto process, stream restart, then
//! resumption of the previous session (XEP-0198) or a fresh resource binding.
//!
//! Until TLS is up and the server's certificate verified, nothing but the
//! stream header and `<starttls/>` is written: no user name, no mechanism.

use std::time::Duration;

use ipc::net::FromNet;
use ipc::xmpp::{ChannelBinding, SaslOffer, SaslServer, SaslStep, Transport};
use ipc::{ErrorCode, Failure};
use tokio::io::{AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::client::TlsStream;

use crate::account::{Account, Command};
use crate::dialer::{BoxedStream, DialError};
use crate::names::{NamesError, Route, Target};
use crate::sm::Outgoing;
use crate::stanza::{self, ns};
use crate::tls::{self, TlsError, TlsPolicy};
use crate::xml::{stream_header, Element, Limits, StreamEvent, StreamReader, XmlError};

type Tls = TlsStream<BoxedStream>;

/// How long the server has for each step of the login.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the crypto process has for each SASL step (PBKDF2 with a high
/// iteration count takes a few seconds).
const CRYPTO_TIMEOUT: Duration = Duration::from_secs(60);

pub enum LoginError {
    /// Worth another try later (network, server trouble).
    Transient(Failure),
    /// The user must act (certificate, password, missing STARTTLS).
    Fatal(Failure),
    /// The user disconnected during the login.
    Stopped,
    /// The task must end.
    Stop,
}

impl LoginError {
    fn protocol(what: impl std::fmt::Display) -> Self {
        LoginError::Transient(Failure::new(ErrorCode::Protocol, format!("The server broke the XMPP protocol: {what}.")))
    }
}

impl From<XmlError> for LoginError {
    fn from(error: XmlError) -> Self {
        if let XmlError::Io(error) = error {
            return io_lost(error);
        }
        if let XmlError::UnexpectedEof = error {
            return LoginError::Transient(Failure::new(ErrorCode::Connect, "The server closed the connection during the login."));
        }
        LoginError::Transient(Failure::new(ErrorCode::Protocol, format!("The server sent XML Burrow refuses: {error}.")))
    }
}

impl From<DialError> for LoginError {
    fn from(error: DialError) -> Self {
        let failure = Failure::new(ErrorCode::Connect, format!("{}.", capitalise(&error.to_string())));
        if error.needs_the_user() {
            LoginError::Fatal(failure)
        } else {
            LoginError::Transient(failure)
        }
    }
}

fn tls_failure(error: TlsError) -> LoginError {
    let message = format!("The secure connection failed, so nothing was sent: {error}.");
    match error {
        TlsError::Io(_) => LoginError::Transient(Failure::new(ErrorCode::Connect, message)),
        _ => LoginError::Fatal(Failure::new(ErrorCode::Tls, message)),
    }
}

fn capitalise(text: &str) -> String {
    let mut characters = text.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => String::new(),
    }
}

fn io_lost(error: std::io::Error) -> LoginError {
    LoginError::Transient(Failure::new(ErrorCode::Connect, format!("The connection broke during the login: {error}.")))
}

/// A session ready for stanzas.
pub struct Session {
    pub writer: WriteHalf<Tls>,
    pub events: mpsc::Receiver<Result<StreamEvent, XmlError>>,
    reader: JoinHandle<()>,
    pub tls_version: String,
    pub sasl: String,
    /// The id of our roster request, to know its answer.
    pub roster_request: String,
    /// The roster was asked for on this stream and has not come yet.
    pub roster_awaited: bool,
    /// The UI asked for the roster before it came: answered when it does.
    pub roster_owed: bool,
}

impl Session {
    pub async fn write(&mut self, text: &str) -> std::io::Result<()> {
        write_within(&mut self.writer, text).await
    }
}

/// Writes and flushes `text`, or fails once the peer has stopped reading
/// for `STEP_TIMEOUT`.
async fn write_within<W: AsyncWrite + Unpin>(writer: &mut W, text: &str) -> std::io::Result<()> {
    let written = tokio::time::timeout(STEP_TIMEOUT, async {
        writer.write_all(text.as_bytes()).await?;
        writer.flush().await
    })
    .await;
    written.unwrap_or_else(|_| Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the server stopped reading")))
}

/// A write during the login: a broken or stalled connection is worth a retry.
async fn login_write<W: AsyncWrite + Unpin>(writer: &mut W, text: &str) -> Result<(), LoginError> {
    write_within(writer, text).await.map_err(|error| match error.kind() {
        std::io::ErrorKind::TimedOut => LoginError::Transient(Failure::new(ErrorCode::Timeout, "The server stopped reading during the login.")),
        _ => io_lost(error),
    })
}

impl Drop for Session {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// The stream during the login, read step by step (no other task reads it).
pub(crate) struct Stream {
    reader: StreamReader<ReadHalf<Tls>>,
    writer: WriteHalf<Tls>,
}

impl Stream {
    pub(crate) async fn write(&mut self, text: &str) -> Result<(), LoginError> {
        login_write(&mut self.writer, text).await
    }

    async fn next(&mut self) -> Result<StreamEvent, LoginError> {
        next_event(&mut self.reader).await
    }

    /// The next stanza-level element; a stream error or close ends the login.
    pub(crate) async fn element(&mut self) -> Result<Element, LoginError> {
        match self.next().await? {
            StreamEvent::Stanza(element) if element.is("error", crate::xml::NS_STREAMS) => Err(stream_error(&element)),
            StreamEvent::Stanza(element) => Ok(element),
            StreamEvent::StreamClose => Err(LoginError::Transient(Failure::new(ErrorCode::Protocol, "The server closed the stream during the login."))),
            StreamEvent::StreamOpen { .. } => Err(LoginError::protocol("a second stream header")),
        }
    }

    /// Sends our header and reads the server's header and features.
    async fn open(&mut self, domain: &str) -> Result<Features, LoginError> {
        self.write(&stream_header(domain)).await?;
        expect_open(self.next().await?)?;
        let features = self.element().await?;
        Features::parse(&features)
    }

    /// Starts the stream over on the same connection (after SASL).
    fn restart(self) -> Result<Self, LoginError> {
        let read = self.reader.into_inner().map_err(|_| LoginError::protocol("data after the SASL success"))?;
        Ok(Stream { reader: StreamReader::new(read, session_limits()), writer: self.writer })
    }
}

async fn next_event<R: tokio::io::AsyncRead + Unpin>(reader: &mut StreamReader<R>) -> Result<StreamEvent, LoginError> {
    match tokio::time::timeout(STEP_TIMEOUT, reader.next()).await {
        Ok(Ok(event)) => Ok(event),
        Ok(Err(error)) => Err(error.into()),
        Err(_) => Err(LoginError::Transient(Failure::new(ErrorCode::Timeout, "The server stopped answering during the login."))),
    }
}

fn expect_open(event: StreamEvent) -> Result<(), LoginError> {
    match event {
        StreamEvent::StreamOpen { .. } => Ok(()),
        _ => Err(LoginError::protocol("no stream header")),
    }
}

fn stream_error(element: &Element) -> LoginError {
    let condition = element.elements().next().map(|child| child.name.clone()).unwrap_or_default();
    LoginError::Transient(Failure::new(ErrorCode::Protocol, format!("The server ended the stream during the login ({condition}).")))
}

/// What `<stream:features/>` offers.
#[derive(Debug, Default)]
pub(crate) struct Features {
    starttls: bool,
    mechanisms: Vec<String>,
    binding_types: Option<Vec<String>>,
    bind: bool,
    session_required: bool,
    stream_management: bool,
}

impl Features {
    fn parse(element: &Element) -> Result<Self, LoginError> {
        if !element.is("features", crate::xml::NS_STREAMS) {
            return Err(LoginError::protocol("no stream features"));
        }
        let mechanisms = element
            .find("mechanisms", ns::SASL)
            .map(|list| list.find_all("mechanism", ns::SASL).map(|mechanism| mechanism.text().trim().to_owned()).collect())
            .unwrap_or_default();
        let binding_types = element.find("sasl-channel-binding", ns::SASL_CHANNEL_BINDING).map(|list| {
            list.find_all("channel-binding", ns::SASL_CHANNEL_BINDING).filter_map(|binding| binding.attr("type").map(str::to_owned)).collect()
        });
        let session_required = element
            .find("session", ns::SESSION)
            .is_some_and(|session| session.find("optional", ns::SESSION).is_none());
        Ok(Features {
            starttls: element.find("starttls", ns::TLS).is_some(),
            mechanisms,
            binding_types,
            bind: element.find("bind", ns::BIND).is_some(),
            session_required,
            stream_management: element.find("sm", ns::SM).is_some(),
        })
    }
}

/// Connects the account and returns its session, resumed or new.
pub async fn connect(account: &mut Account) -> Result<Session, LoginError> {
    let settings = account.settings().clone();
    let domain = account.jid().domain.clone();
    let route = account.route();
    let targets = tokio::select! {
        targets = route.targets() => targets.map_err(names_failure)?,
        stop = stopped(account) => return Err(stop),
    };
    let (transport, target) = dial_first(account, &route, targets).await?;
    let (stream, features, binding, tls_version) = secure(transport, &target, &settings, &domain, &account.shared().roots).await?;

    let (sasl, mut stream) = authenticate(account, stream, features, binding).await?;
    let features = stream.open(&domain).await?;
    let fresh = establish(account, &mut stream, &features).await?;
    let roster_request = stanza::random_id();
    if fresh {
        // Queued ahead of everything else, so that stream management
        // counts them like every other stanza of ours.
        account.prepend(vec![
            Outgoing::new(stanza::roster_get(&roster_request), None),
            Outgoing::new(stanza::initial_presence(), None),
        ]);
    }
    let Stream { mut reader, writer } = stream;
    let (events_tx, events) = mpsc::channel(64);
    // Reading goes on in its own task: a read cut short by select! would
    // lose its place in the XML.
    let reader = tokio::spawn(async move {
        loop {
            let event = reader.next().await;
            let end = !matches!(event, Ok(StreamEvent::Stanza(_)));
            if events_tx.send(event).await.is_err() || end {
                break;
            }
        }
    });
    Ok(Session { writer, events, reader, tls_version, sasl, roster_request, roster_awaited: fresh, roster_owed: false })
}

/// TLS (direct, or after a mandatory STARTTLS) checked against `domain`,
/// then our stream header and the server's features: the same for a login
/// and a registration. Returns the channel binding and TLS version too.
pub(crate) async fn secure(
    mut transport: BoxedStream,
    target: &Target,
    settings: &ipc::xmpp::ConnectionSettings,
    domain: &str,
    roots: &tls::SystemRoots,
) -> Result<(Stream, Features, Option<ChannelBinding>, String), LoginError> {
    let direct = target.transport == Transport::DirectTls;
    let policy = TlsPolicy {
        system_roots: roots.roots.clone(),
        extra_anchors_pem: settings.extra_anchors_pem.clone(),
        spki_pin: settings.spki_pin.clone(),
    };
    let config = tls::client_config(&policy, direct).map_err(tls_failure)?;
    if !direct {
        transport = starttls(transport, domain).await?;
    }
    // The certificate is checked against the JID's domain, whichever host
    // (SRV target, onion) carried the connection.
    let tls = tls::handshake(transport, config, domain).await.map_err(tls_failure)?;
    let connection = tls.get_ref().1;
    let tls_version = tls::tls_version(connection).to_owned();
    // No binding (an EdDSA certificate on TLS 1.2, say) means no -PLUS.
    let binding = tls::channel_binding(connection).ok();
    let (read, writer) = tokio::io::split(tls);
    let mut stream = Stream { reader: StreamReader::new(read, Limits::default()), writer };
    let features = stream.open(domain).await?;
    Ok((stream, features, binding, tls_version))
}

pub(crate) fn names_failure(error: NamesError) -> LoginError {
    LoginError::Fatal(Failure::new(ErrorCode::Connect, format!("{}.", capitalise(&error.to_string()))))
}

/// Dials the targets in order until one answers. An error the user must
/// fix (a Tor setting) ends the attempt at once; otherwise the last
/// target's error is the attempt's.
async fn dial_first(account: &mut Account, route: &Route, targets: Vec<Target>) -> Result<(BoxedStream, Target), LoginError> {
    let mut last = None;
    for target in targets {
        let dialer = route.dialers.choose(route.tor, &target.host).await?;
        account.note_dialer(dialer.tor()).await;
        if !target.may_use(dialer.as_ref()) {
            last = Some(LoginError::Transient(Failure::new(ErrorCode::Connect, "The domain's SRV record points to this computer, which Burrow does not follow outside Tor; give server=HOST:PORT to connect to a server here.")));
            continue;
        }
        let dialed = tokio::select! {
            dialed = dialer.dial(&target.host, target.port) => dialed,
            stop = stopped(account) => return Err(stop),
        };
        match dialed {
            Ok(dialed) => {
                account.note_circuit(dialed.circuit);
                return Ok((dialed.stream, target));
            }
            Err(error) if error.needs_the_user() => return Err(error.into()),
            Err(error) => last = Some(error.into()),
        }
    }
    Err(match last {
        Some(error) => error,
        None => LoginError::Transient(Failure::new(ErrorCode::Connect, "There was no server to connect to.")),
    })
}

/// Resolves when the user disconnects (or the task must stop) during a
/// step that waits on the network; other commands wait in the inbox.
async fn stopped(account: &mut Account) -> LoginError {
    loop {
        if let Err(stop) = login_command(account, None).await {
            return stop;
        }
    }
}

/// Takes the next command during a login: a disconnect or stop ends the
/// login; the answer to `attempt`'s SASL step is returned; anything else
/// is handled as while offline (messages wait, the roster is refused).
async fn login_command(account: &mut Account, attempt: Option<u64>) -> Result<Option<SaslStep>, LoginError> {
    match account.inbox().recv().await {
        Some(Command::Sasl { attempt: answered, step }) if Some(answered) == attempt => Ok(Some(step)),
        Some(Command::Request(ipc::xmpp::AccountRequest::Disconnect)) => Err(LoginError::Stopped),
        Some(Command::Stop) | None => Err(LoginError::Stop),
        Some(other) => match account.idle_command(other).await {
            true => Err(LoginError::Stop),
            false => Ok(None),
        },
    }
}

/// The limits of the authenticated stream. The server's answer to the roster
/// request is one stanza with an item per contact (and a node per group): a
/// roster of 5,000 contacts, each with a name and a group, is about 15,000
/// nodes and 550 KiB, past the defaults (4,096 nodes, 256 KiB). These admit
/// about 10,000 such contacts; a stanza still costs at most a few MiB while
/// it is parsed. Before authentication the defaults stay.
fn session_limits() -> Limits {
    Limits { max_stanza_bytes: 1024 * 1024, max_nodes_per_stanza: 32 * 1024, ..Limits::default() }
}

/// Plain-text phase: our header, the server's features, `<starttls/>`,
/// `<proceed/>`. Refuses to go on without STARTTLS.
async fn starttls(transport: BoxedStream, domain: &str) -> Result<BoxedStream, LoginError> {
    let (read, mut write) = tokio::io::split(transport);
    let mut reader = StreamReader::new(read, Limits::default());
    login_write(&mut write, &stream_header(domain)).await?;
    expect_open(next_event(&mut reader).await?)?;
    let features = match next_event(&mut reader).await? {
        StreamEvent::Stanza(element) if element.is("error", crate::xml::NS_STREAMS) => return Err(stream_error(&element)),
        StreamEvent::Stanza(element) => Features::parse(&element)?,
        _ => return Err(LoginError::protocol("no stream features")),
    };
    if !features.starttls {
        return Err(LoginError::Fatal(Failure::new(
            ErrorCode::NoTls,
            "The server did not offer STARTTLS, so the connection could be read by others. Burrow stopped and sent neither your user name nor your password. If the server is yours, turn TLS on; otherwise someone may be tampering with the connection.",
        )));
    }
    login_write(&mut write, &stanza::starttls()).await?;
    match next_event(&mut reader).await? {
        StreamEvent::Stanza(element) if element.is("proceed", ns::TLS) => {}
        StreamEvent::Stanza(element) if element.is("failure", ns::TLS) => {
            return Err(LoginError::Fatal(Failure::new(ErrorCode::NoTls, "The server refused to start TLS; nothing else was sent.")));
        }
        _ => return Err(LoginError::protocol("no answer to STARTTLS")),
    }
    // Bytes after <proceed/> and before the handshake would be injected
    // plaintext (as in CVE-2011-0411): refuse them.
    let read = reader.into_inner().map_err(|_| LoginError::Fatal(Failure::new(ErrorCode::NoTls, "The server sent data between STARTTLS and the TLS handshake; Burrow refused it.")))?;
    Ok(read.unsplit(write))
}


/// SASL, with every message computed by the crypto process. Returns the
/// mechanism's name (and any fallback note) and the restarted stream.
async fn authenticate(
    account: &mut Account,
    mut stream: Stream,
    features: Features,
    binding: Option<ChannelBinding>,
) -> Result<(String, Stream), LoginError> {
    if features.mechanisms.is_empty() {
        return Err(LoginError::protocol("no SASL mechanisms after TLS"));
    }
    loop {
        let attempt = account.next_attempt;
        account.next_attempt += 1;
        let offer = SaslOffer {
            mechanisms: features.mechanisms.clone(),
            binding_types: features.binding_types.clone(),
            binding: binding.clone(),
            binding_refused: account.binding_refused,
        };
        let name = account.account();
        account.send_to_broker(FromNet::SaslStart { account: name.clone(), attempt, offer }).await;
        let outcome = exchange(account, &mut stream, attempt).await;
        if outcome.is_err() {
            account.send_to_broker(FromNet::SaslEnd { account: name, attempt }).await;
        }
        match outcome {
            Ok(mechanism) => return Ok((mechanism, stream.restart()?)),
            Err(Exchange::BindingRefused) if !account.binding_refused => {
                // Deliberate, and shown in the `sasl` field: the same hash
                // without -PLUS. TLS with a verified certificate still stands
                // between us and the server.
                eprintln!("burrow-net: the server refused every channel binding Burrow can give; retrying without -PLUS");
                account.binding_refused = true;
            }
            Err(Exchange::BindingRefused) => {
                return Err(LoginError::Fatal(Failure::new(ErrorCode::Authentication, "The server refused the login.")));
            }
            Err(Exchange::Failed(error)) => return Err(error),
        }
    }
}

enum Exchange {
    /// The server's -PLUS refused the binding before it saw a proof.
    BindingRefused,
    Failed(LoginError),
}

impl From<LoginError> for Exchange {
    fn from(error: LoginError) -> Self {
        Exchange::Failed(error)
    }
}

async fn exchange(account: &mut Account, stream: &mut Stream, attempt: u64) -> Result<String, Exchange> {
    let (mechanism, note) = match crypto_step(account, attempt).await? {
        SaslStep::Begin { mechanism, initial, note } => {
            stream.write(&stanza::sasl_auth(&mechanism, initial.expose().as_bytes())).await?;
            (mechanism, note)
        }
        SaslStep::Abandon(failure) => return Err(Exchange::Failed(LoginError::Fatal(failure))),
        _ => return Err(Exchange::Failed(LoginError::Fatal(Failure::new(ErrorCode::Authentication, "The key process answered out of turn.")))),
    };
    let plus = mechanism.ends_with("-PLUS");
    let mut challenges = 0;
    loop {
        let element = stream.element().await?;
        let data = |element: &Element| stanza::base64_decode(&element.text()).ok_or_else(|| LoginError::protocol("bad base64 in SASL"));
        let message = if element.is("challenge", ns::SASL) {
            challenges += 1;
            if challenges > 4 {
                return Err(LoginError::protocol("too many SASL challenges").into());
            }
            SaslServer::Challenge(data(&element)?)
        } else if element.is("success", ns::SASL) {
            SaslServer::Success(data(&element)?)
        } else if element.is("failure", ns::SASL) {
            let condition = element.elements().find(|child| child.name != "text").map(|child| child.name.clone()).unwrap_or_default();
            let text = element.find("text", ns::SASL).map(|text| text.text()).unwrap_or_default();
            // A -PLUS refusal before any challenge was answered, or one the
            // server words as a binding problem (ejabberd 23.01: "Invalid
            // channel binding"), is about the binding, not the password.
            if plus && (challenges == 0 || text.to_lowercase().contains("channel binding")) {
                return Err(Exchange::BindingRefused);
            }
            let detail = if text.is_empty() { condition.replace('-', " ") } else { format!("{}: {}", condition.replace('-', " "), clean(&text)) };
            return Err(Exchange::Failed(LoginError::Fatal(Failure::new(
                ErrorCode::Authentication,
                format!("The server refused the login ({detail}). Check the password."),
            ))));
        } else {
            return Err(LoginError::protocol("an unexpected element during SASL").into());
        };
        let success = matches!(message, SaslServer::Success(_));
        account.send_to_broker(FromNet::SaslServer { account: account.account(), attempt, message }).await;
        match crypto_step(account, attempt).await? {
            SaslStep::Respond(response) if !success => stream.write(&stanza::sasl_response(response.expose().as_bytes())).await?,
            SaslStep::Verified if success => {
                return Ok(match note {
                    Some(note) => format!("{mechanism} ({note})"),
                    None => mechanism,
                });
            }
            SaslStep::Abandon(failure) => {
                if !success {
                    let _ = stream.write(&stanza::sasl_abort()).await;
                }
                return Err(Exchange::Failed(LoginError::Fatal(failure)));
            }
            _ => return Err(Exchange::Failed(LoginError::Fatal(Failure::new(ErrorCode::Authentication, "The key process answered out of turn.")))),
        }
    }
}

/// Waits for the crypto process's next step of this attempt, taking other
/// commands meanwhile.
async fn crypto_step(account: &mut Account, attempt: u64) -> Result<SaslStep, LoginError> {
    let deadline = tokio::time::Instant::now() + CRYPTO_TIMEOUT;
    loop {
        match tokio::time::timeout_at(deadline, login_command(account, Some(attempt))).await {
            Ok(Ok(Some(step))) => return Ok(step),
            Ok(Ok(None)) => {}
            Ok(Err(stop)) => return Err(stop),
            Err(_) => return Err(LoginError::Transient(Failure::new(ErrorCode::Timeout, "The key process did not answer the login in time."))),
        }
    }
}

/// Resumes the previous session if there is one and the server agrees;
/// otherwise binds a new random resource. Returns true for a new session.
async fn establish(account: &mut Account, stream: &mut Stream, features: &Features) -> Result<bool, LoginError> {
    let previous = account.stream_management().resume_id.clone();
    if let (Some(previous), true) = (previous, features.stream_management) {
        let handled = account.stream_management().handled;
        stream.write(&stanza::resume(&previous, handled)).await?;
        let answer = stream.element().await?;
        if answer.is("resumed", ns::SM) {
            let h = answer.attr("h").and_then(|h| h.parse::<u32>().ok()).ok_or_else(|| LoginError::protocol("resumed without a count"))?;
            let again = account.stream_management().resumed(h).map_err(LoginError::protocol)?;
            account.requeue(again, false);
            return Ok(false);
        }
        if !answer.is("failed", ns::SM) {
            return Err(LoginError::protocol("no answer to the resumption"));
        }
        let h = answer.attr("h").and_then(|h| h.parse::<u32>().ok());
        let again = account.stream_management().lost(h);
        account.requeue(again, true);
    } else {
        let again = account.stream_management().lost(None);
        account.requeue(again, true);
    }
    if !features.bind {
        return Err(LoginError::protocol("no resource binding offered"));
    }
    let bind_id = stanza::random_id();
    stream.write(&stanza::bind(&bind_id, &stanza::random_id())).await?;
    let answer = stream.element().await?;
    if !(answer.is("iq", ns::CLIENT) && answer.attr("id") == Some(bind_id.as_str()) && answer.attr("type") == Some("result")) {
        return Err(LoginError::protocol("the resource binding failed"));
    }
    if features.session_required {
        let session_id = stanza::random_id();
        stream.write(&stanza::session(&session_id)).await?;
        let answer = stream.element().await?;
        if answer.attr("type") != Some("result") {
            return Err(LoginError::protocol("the session could not be established"));
        }
    }
    if features.stream_management {
        stream.write(&stanza::enable_stream_management()).await?;
        let answer = stream.element().await?;
        if answer.is("enabled", ns::SM) {
            let resume_id = (matches!(answer.attr("resume"), Some("true" | "1"))).then(|| answer.attr("id").map(str::to_owned)).flatten();
            account.stream_management().enabled(resume_id);
        }
        // `<failed/>`: the session goes on without stream management.
    }
    Ok(true)
}

/// Server-chosen text for the user: no control characters, bounded.
pub(crate) fn clean(text: &str) -> String {
    text.chars().filter(|character| !character.is_control()).take(200).collect()
}
