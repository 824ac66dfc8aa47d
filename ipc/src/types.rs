//! Types shared by more than one channel.

use bincode::{Decode, Encode};

/// The four kinds of Burrow process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
pub enum Role {
    Broker,
    Net,
    Crypto,
    Ui,
}

impl Role {
    pub const CHILDREN: [Role; 3] = [Role::Crypto, Role::Net, Role::Ui];

    /// The name the text front end prints.
    pub fn name(self) -> &'static str {
        match self {
            Role::Broker => "broker",
            Role::Net => "net",
            Role::Crypto => "crypto",
            Role::Ui => "ui",
        }
    }

    /// The binary that runs this role.
    pub fn binary(self) -> &'static str {
        match self {
            Role::Broker => "burrow",
            Role::Net => "burrow-net",
            Role::Crypto => "burrow-crypto",
            Role::Ui => "burrow-ui",
        }
    }
}

/// How much of the Landlock ruleset a process asked for the kernel enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub enum LandlockStatus {
    Full,
    Partial,
    None,
}

impl LandlockStatus {
    pub fn name(self) -> &'static str {
        match self {
            LandlockStatus::Full => "full",
            LandlockStatus::Partial => "partial",
            LandlockStatus::None => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub enum NetnsStatus {
    /// The process sits in a network namespace of its own with no interface
    /// but a downed loopback.
    Isolated,
    Shared,
}

impl NetnsStatus {
    pub fn name(self) -> &'static str {
        match self {
            NetnsStatus::Isolated => "isolated",
            NetnsStatus::Shared => "shared",
        }
    }
}

/// What a process reports of its own confinement, once it is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct ConfinementReport {
    pub no_new_privs: bool,
    pub seccomp: bool,
    pub landlock: LandlockStatus,
    pub netns: NetnsStatus,
}

/// One process as the broker sees it, for `/status`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ProcessReport {
    pub role: Role,
    pub pid: u32,
    pub confinement: ConfinementReport,
    /// How many times the broker restarted it.
    pub restarts: u32,
    /// Frames from it that the routing table dropped.
    pub dropped: u64,
}

/// A round trip through the whole process chain, used by `/ping` and the
/// latency benchmark. The payload is opaque filler to measure larger frames.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Probe {
    pub seq: u64,
    pub payload: Vec<u8>,
}

/// What the UI may know about an account: never a password or a key.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct AccountSummary {
    pub jid: String,
}

/// Stable, machine-readable error kinds; the text front end prints
/// [`ErrorCode::name`] as `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub enum ErrorCode {
    WrongPassphrase,
    AlreadyUnlocked,
    Locked,
    Busy,
    Unsupported,
    BadCommand,
    ChildRestarted,
    ChildFailed,
    Timeout,
    /// No account with that JID in the store.
    UnknownAccount,
    AccountExists,
    /// A file named on a command could not be used.
    BadFile,
    /// The server did not prove itself: certificate, pin, or TLS failure.
    Tls,
    /// The server offered no STARTTLS; nothing was sent.
    NoTls,
    /// The server refused the password, or could not prove it knew it.
    Authentication,
    /// No mechanism both sides accept (and PLAIN not allowed).
    NoMechanism,
    /// The server could not be reached.
    Connect,
    /// The server broke the XMPP protocol (bad XML, limits, stream errors).
    Protocol,
    /// The request needs the account online.
    Offline,
    /// A peer or server answered a message with an error.
    Delivery,
    /// The OTR request needs a private conversation with that peer.
    NotPrivate,
    /// An OTR request that cannot be done now (no SMP to answer, say).
    Otr,
    /// The store file is damaged (or not a store); a backup may open.
    StoreDamaged,
    /// The store could not be written (a full disk, say); nothing was lost.
    StoreWrite,
    /// The user cancelled (a registration form); nothing was done.
    Cancelled,
}

impl ErrorCode {
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::WrongPassphrase => "wrong-passphrase",
            ErrorCode::AlreadyUnlocked => "already-unlocked",
            ErrorCode::Locked => "locked",
            ErrorCode::Busy => "busy",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::BadCommand => "bad-command",
            ErrorCode::ChildRestarted => "child-restarted",
            ErrorCode::ChildFailed => "child-failed",
            ErrorCode::Timeout => "timeout",
            ErrorCode::UnknownAccount => "unknown-account",
            ErrorCode::AccountExists => "account-exists",
            ErrorCode::BadFile => "bad-file",
            ErrorCode::Tls => "tls",
            ErrorCode::NoTls => "no-tls",
            ErrorCode::Authentication => "authentication",
            ErrorCode::NoMechanism => "no-mechanism",
            ErrorCode::Connect => "connect",
            ErrorCode::Protocol => "protocol",
            ErrorCode::Offline => "offline",
            ErrorCode::Delivery => "delivery",
            ErrorCode::NotPrivate => "not-private",
            ErrorCode::Otr => "otr",
            ErrorCode::StoreDamaged => "store-damaged",
            ErrorCode::StoreWrite => "store-write",
            ErrorCode::Cancelled => "cancelled",
        }
    }
}

/// An error for the user: a code and plain words.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Failure {
    pub code: ErrorCode,
    pub message: String,
}

impl Failure {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

/// Which store `/unlock` opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub enum UnlockMode {
    /// The store, created on first use.
    Store,
    /// The previous generation, after the store was reported damaged.
    Backup,
    /// A store with no passphrase: the user's explicit, warned choice.
    NoPassphrase,
}
