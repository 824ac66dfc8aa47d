//! Embedded Tor: one arti `TorClient` for the whole network process, made
//! when an account first needs it (no account on embedded Tor, no
//! bootstrap, no traffic), with its state and cache in net's own directory
//! of the profile, the one directory Landlock lets net write.
//!
//! Its settings are arti's defaults (the real Tor network), changed by an
//! optional `arti.toml` in that same directory: arti's own configuration
//! format (the sections of `TorClientConfig`), for a private Tor network (as
//! the tests use) or other arti settings. Storage is Burrow's to choose, so
//! a `[storage]` section in the file is refused rather than ignored.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arti_client::config::TorClientConfigBuilder;
use arti_client::{DataStream, ErrorKind, HasKind, IsolationToken, StreamPrefs, TorClient, TorClientConfig};
use futures_util::StreamExt;
use ipc::net::FromNet;
use ipc::xmpp::NetEvent;
use tokio::sync::{mpsc, Mutex};
use tor_proto::client::stream::ClientStreamCtrl;
use tor_rtcompat::PreferredRuntime;

/// The optional settings file, in net's directory of the profile.
pub const CONFIG_FILE: &str = "arti.toml";
/// arti's files, beneath net's directory of the profile.
pub const STORAGE_DIR: &str = "arti";

/// Why embedded Tor could not carry a connection.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("embedded Tor's settings are wrong: {0}")]
    Settings(String),
    #[error("embedded Tor could not start: {0}")]
    Start(arti_client::Error),
    #[error("embedded Tor did not carry the connection to {host} port {port}: {source}")]
    Connect { host: String, port: u16, source: arti_client::Error },
    #[error("embedded Tor did not connect to {host} port {port} within {seconds} seconds")]
    Timeout { host: String, port: u16, seconds: u64 },
}

impl EmbeddedError {
    /// Whether the user must act before another attempt can succeed: a
    /// wrong setting or address, or files arti may not use. Everything
    /// else (no consensus yet, no circuit, a relay or the server not
    /// answering) may pass by itself.
    pub fn needs_the_user(&self) -> bool {
        let kind = match self {
            EmbeddedError::Settings(_) => return true,
            EmbeddedError::Timeout { .. } => return false,
            EmbeddedError::Start(source) | EmbeddedError::Connect { source, .. } => source.kind(),
        };
        matches!(
            kind,
            ErrorKind::InvalidConfig
                | ErrorKind::InvalidConfigTransition
                | ErrorKind::InvalidStreamTarget
                | ErrorKind::ForbiddenStreamTarget
                | ErrorKind::OnionServiceAddressInvalid
                | ErrorKind::OnionServiceMissingClientAuth
                | ErrorKind::OnionServiceWrongClientAuth
                | ErrorKind::FeatureDisabled
                | ErrorKind::NotImplemented
                | ErrorKind::FsPermissions
                | ErrorKind::PersistentStateAccessFailed
                | ErrorKind::CacheAccessFailed
                | ErrorKind::LocalResourceAlreadyInUse
                | ErrorKind::NoHomeDirectory
                | ErrorKind::SoftwareDeprecated
        )
    }
}

/// Asks now, before confinement, what arti would ask the system later:
/// the user's home directory and self-named group (fs-mistrust, and arti's
/// path variables such as `${ARTI_CACHE}`). arti keeps each answer for the
/// life of the process. Asked later, glibc would first open a Unix socket
/// to nscd, which net's seccomp filter punishes with death, and then read
/// /etc/nsswitch.conf, /etc/passwd and /etc/group, which Landlock hides.
pub fn look_up_before_confinement() {
    use fs_mistrust::anon_home::PathExt as _;
    if let Err(error) = TorClientConfig::builder().build() {
        eprintln!("burrow-net: embedded Tor's default settings: {error}");
    }
    let _ = Path::new("/").anonymize_home().to_string();
}

/// arti's configuration for net's directory `net_directory`: `arti.toml`
/// there if it exists, else arti's defaults; storage always beneath
/// `net_directory/arti`.
pub fn load_config(net_directory: &Path) -> Result<TorClientConfig, String> {
    let file = net_directory.join(CONFIG_FILE);
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => return Err(format!("cannot read {}: {error}", file.display())),
    };
    config_from_text(&text, net_directory, &file.display().to_string())
}

/// The configuration from the TOML `text` (named `source` in errors).
pub fn config_from_text(text: &str, net_directory: &Path, source: &str) -> Result<TorClientConfig, String> {
    let mut table: toml::Table = text.parse().map_err(|error| format!("{source} is not valid TOML: {error}"))?;
    if table.contains_key("storage") {
        return Err(format!(
            "{source} has a [storage] section, but embedded Tor keeps its files in Burrow's profile ({}) and nowhere else; remove the section",
            storage_directory(net_directory).display()
        ));
    }
    table.insert("storage".into(), toml::Value::Table(storage_settings(net_directory)));
    // serde_ignored, as arti's own loader does, to name the keys arti would
    // otherwise skip in silence.
    let mut unknown = Vec::new();
    let builder: TorClientConfigBuilder = serde_ignored::deserialize(toml::Value::Table(table), |path| unknown.push(path.to_string()))
        .map_err(|error| format!("{source}: {error}"))?;
    if !unknown.is_empty() {
        return Err(format!("{source} has settings arti does not know ({}); correct or remove them", unknown.join(", ")));
    }
    builder.build().map_err(|error| format!("{source}: {error}"))
}

fn storage_directory(net_directory: &Path) -> PathBuf {
    net_directory.join(STORAGE_DIR)
}

/// Cache and state beneath net's directory, as literal paths (no `${…}`
/// expansion of a profile path that happens to hold one). No group is
/// trusted with them: the directory is the user's alone (0700).
fn storage_settings(net_directory: &Path) -> toml::Table {
    let literal = |path: PathBuf| {
        let mut table = toml::Table::new();
        table.insert("literal".into(), toml::Value::String(path.to_string_lossy().into_owned()));
        toml::Value::Table(table)
    };
    let base = storage_directory(net_directory);
    let mut permissions = toml::Table::new();
    permissions.insert("trust_group".into(), toml::Value::Boolean(false));
    let mut storage = toml::Table::new();
    storage.insert("cache_dir".into(), literal(base.join("cache")));
    storage.insert("state_dir".into(), literal(base.join("state")));
    storage.insert("permissions".into(), toml::Value::Table(permissions));
    storage
}

/// A stream through embedded Tor, and the circuit that carries it.
pub struct Carried {
    pub stream: DataStream,
    /// arti's name for the circuit (`Circ 3.1`), unique in this process.
    pub circuit: Option<String>,
}

/// The process's one arti client, made on first use.
pub struct EmbeddedTor {
    net_directory: PathBuf,
    client: Mutex<Option<Arc<TorClient<PreferredRuntime>>>>,
    /// Where bootstrap progress goes (to the UI, through the broker).
    progress: mpsc::Sender<FromNet>,
    pub connect_timeout: Duration,
}

impl EmbeddedTor {
    pub fn new(net_directory: PathBuf, progress: mpsc::Sender<FromNet>) -> Self {
        // arti gives up on a stream well before this; the bound is for a
        // first connection, which waits for the bootstrap.
        EmbeddedTor { net_directory, client: Mutex::new(None), progress, connect_timeout: Duration::from_secs(180) }
    }

    /// Whether the client exists (it does once an account needed it).
    pub async fn started(&self) -> bool {
        self.client.lock().await.is_some()
    }

    /// The client, made now if this is the first need. A failure is not
    /// kept: the next attempt reads `arti.toml` again, so that a corrected
    /// file works without a restart.
    async fn client(&self) -> Result<Arc<TorClient<PreferredRuntime>>, EmbeddedError> {
        let mut slot = self.client.lock().await;
        if let Some(client) = slot.as_ref() {
            return Ok(client.clone());
        }
        let config = load_config(&self.net_directory).map_err(EmbeddedError::Settings)?;
        // arti's link TLS uses the process's rustls provider: the same
        // ring that net's XMPP TLS uses (tls.rs). Already installed is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Bootstrapping starts with the first connection, which waits for it.
        let client = TorClient::builder().config(config).create_unbootstrapped().map_err(EmbeddedError::Start)?;
        eprintln!("burrow-net: embedded Tor started");
        tokio::spawn(report_progress(client.clone(), self.progress.clone()));
        *slot = Some(client.clone());
        Ok(client)
    }

    /// A stream to `host` (a name goes to Tor unresolved) and `port`.
    ///
    /// Each call has an isolation token of its own, so each connection
    /// attempt rides a circuit no other stream shares: two accounts never
    /// share one (the server would see them leave from the same exit at
    /// once), and an account's reconnection after a failure does not return
    /// to the circuit that just failed. A token per account instead would
    /// keep an account's attempts together, which gains nothing here: an
    /// account holds one stream at a time.
    pub async fn connect(&self, host: &str, port: u16) -> Result<Carried, EmbeddedError> {
        let client = self.client().await?;
        let mut prefs = StreamPrefs::new();
        prefs.set_isolation(IsolationToken::new());
        let target = host.strip_prefix('[').and_then(|inner| inner.strip_suffix(']')).unwrap_or(host);
        let connecting = client.connect_with_prefs((target, port), &prefs);
        let stream = match tokio::time::timeout(self.connect_timeout, connecting).await {
            Err(_) => return Err(EmbeddedError::Timeout { host: host.to_owned(), port, seconds: self.connect_timeout.as_secs() }),
            Ok(Err(source)) => return Err(EmbeddedError::Connect { host: host.to_owned(), port, source }),
            Ok(Ok(stream)) => stream,
        };
        let circuit = stream.client_stream_ctrl().and_then(|control| control.tunnel()).map(|tunnel| tunnel.unique_id().to_string());
        Ok(Carried { stream, circuit })
    }
}

/// Forwards arti's bootstrap progress as `TorBootstrap` events, one per
/// change of the percentage or of what blocks it, so that the stream of
/// events stays small however often arti reports.
async fn report_progress(client: Arc<TorClient<PreferredRuntime>>, progress: mpsc::Sender<FromNet>) {
    let mut events = client.bootstrap_events();
    drop(client);
    let mut last: Option<(u8, bool)> = None;
    while let Some(status) = events.next().await {
        let percent = percent_of(status.as_frac());
        let now = (percent, status.blocked().is_some());
        if last == Some(now) {
            continue;
        }
        last = Some(now);
        let event = NetEvent::TorBootstrap { percent, summary: status.to_string() };
        if progress.send(FromNet::Event(event)).await.is_err() {
            return;
        }
    }
}

fn percent_of(fraction: f32) -> u8 {
    if fraction.is_nan() {
        return 0;
    }
    (fraction.clamp(0.0, 1.0) * 100.0).round() as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net_directory() -> PathBuf {
        PathBuf::from("/profile/net")
    }

    #[test]
    fn no_file_means_the_real_network_with_storage_in_the_profile() {
        let config = config_from_text("", &net_directory(), "arti.toml").unwrap();
        let debug = format!("{config:?}");
        assert!(debug.contains("/profile/net/arti/cache"), "{debug}");
        assert!(debug.contains("/profile/net/arti/state"), "{debug}");
        assert_eq!(config, config_from_text("", &net_directory(), "arti.toml").unwrap());
    }

    #[test]
    fn a_private_network_is_read_from_the_file() {
        let text = r#"
[tor_network]
authorities = { v3idents = ["0123456789ABCDEF0123456789ABCDEF01234567"] }
fallback_caches = [
  { rsa_identity = "89ABCDEF0123456789ABCDEF0123456789ABCDEF", ed_identity = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", orports = ["127.0.0.1:5100"] },
]
[address_filter]
allow_local_addrs = true
[path_rules]
ipv4_subnet_family_prefix = 33
ipv6_subnet_family_prefix = 129
[override_net_params]
hsdir_interval = 8
"#;
        let private = config_from_text(text, &net_directory(), "arti.toml").unwrap();
        let default = config_from_text("", &net_directory(), "arti.toml").unwrap();
        assert_ne!(private, default);
        let debug = format!("{private:?}");
        assert!(debug.contains("127.0.0.1:5100"), "{debug}");
        assert!(debug.contains("hsdir_interval"), "{debug}");
    }

    #[test]
    fn wrong_files_are_refused_in_plain_words() {
        let refused = |text: &str| config_from_text(text, &net_directory(), "PROFILE/net/arti.toml").unwrap_err();
        let broken = refused("[tor_network\n");
        assert!(broken.contains("PROFILE/net/arti.toml is not valid TOML"), "{broken}");
        let typo = refused("[address_filter]\nallow_local_adrs = true\n");
        assert!(typo.contains("settings arti does not know"), "{typo}");
        assert!(typo.contains("allow_local_adrs"), "{typo}");
        let storage = refused("[storage]\ncache_dir = \"/tmp/elsewhere\"\n");
        assert!(storage.contains("[storage]"), "{storage}");
        assert!(storage.contains("/profile/net/arti"), "{storage}");
        let bad_value = refused("[path_rules]\nipv4_subnet_family_prefix = \"many\"\n");
        assert!(bad_value.contains("PROFILE/net/arti.toml"), "{bad_value}");
        // Fallbacks without authorities to go with them: arti's own check.
        let half = refused("[tor_network]\nauthorities = { v3idents = [\"0123456789ABCDEF0123456789ABCDEF01234567\"] }\n");
        assert!(half.contains("PROFILE/net/arti.toml"), "{half}");
    }

    #[test]
    fn the_file_is_read_from_the_directory() {
        let directory = std::env::temp_dir().join(format!("burrow-arti-config-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let _ = std::fs::remove_file(directory.join(CONFIG_FILE));
        assert!(load_config(&directory).is_ok());
        std::fs::write(directory.join(CONFIG_FILE), "[address_filter]\nallow_local_addrs = true\n").unwrap();
        let with_file = load_config(&directory).unwrap();
        assert_ne!(with_file, config_from_text("", &directory, "x").unwrap());
        std::fs::write(directory.join(CONFIG_FILE), "nonsense = = 1\n").unwrap();
        assert!(load_config(&directory).unwrap_err().contains(CONFIG_FILE));
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn a_wrong_setting_needs_the_user_and_a_timeout_passes() {
        let settings = EmbeddedError::Settings("PROFILE/net/arti.toml is not valid TOML".into());
        assert!(settings.needs_the_user());
        let timeout = EmbeddedError::Timeout { host: "chat.example.org".into(), port: 5222, seconds: 180 };
        assert!(!timeout.needs_the_user());
        let dial = crate::dialer::DialError::Embedded { source: timeout };
        assert!(!dial.needs_the_user());
        assert_eq!(
            dial.to_string(),
            "embedded Tor did not connect to chat.example.org port 5222 within 180 seconds; nothing was sent outside Tor"
        );
        assert!(crate::dialer::DialError::Embedded { source: settings }.needs_the_user());
    }

    #[tokio::test]
    async fn a_wrong_file_stops_the_attempt_before_anything_starts() {
        let directory = std::env::temp_dir().join(format!("burrow-arti-refused-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        std::fs::write(directory.join(CONFIG_FILE), "[storage]\nstate_dir = \"/elsewhere\"\n").unwrap();
        let (progress, mut events) = mpsc::channel(8);
        let tor = EmbeddedTor::new(directory.clone(), progress);
        let error = match tor.connect("chat.example.org", 5222).await {
            Err(error) => error,
            Ok(_) => panic!("connected with a refused arti.toml"),
        };
        assert!(matches!(error, EmbeddedError::Settings(_)), "{error}");
        assert!(error.needs_the_user());
        assert!(!tor.started().await, "arti started with a refused arti.toml");
        assert!(events.try_recv().is_err(), "progress without a client");
        assert!(!directory.join(STORAGE_DIR).exists());
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn progress_is_a_percentage() {
        assert_eq!(percent_of(0.0), 0);
        assert_eq!(percent_of(0.456), 46);
        assert_eq!(percent_of(1.0), 100);
        assert_eq!(percent_of(7.0), 100);
        assert_eq!(percent_of(-1.0), 0);
        assert_eq!(percent_of(f32::NAN), 0);
    }
}
