//! Writes the seed corpus for the `frame_decode` fuzz target: one file per
//! real message, each the selector byte for its type followed by the frame
//! that `ipc::codec::encode` makes of it. Rerun after changing a message type:
//!
//!     cd ipc/fuzz && cargo run --bin make_seeds
//!
//! (stable is fine; the fuzz target itself needs nightly).

use std::fs;
use std::path::{Path, PathBuf};

use bincode::Encode;
use ipc::crypto::{FromCrypto, ToCrypto};
use ipc::handshake::{BrokerHello, ChildHello};
use ipc::launcher::{ExitHow, FromLauncher, ToLauncher};
use ipc::net::{FromNet, ToNet};
use ipc::secret::Passphrase;
use ipc::ui::{FromUi, ToUi};
use ipc::{
    AccountSummary, ConfinementReport, ErrorCode, Failure, LandlockStatus, NetnsStatus, Probe,
    ProcessReport, Role, PROTOCOL_VERSION,
};
use ipc_fuzz as sel;

/// `ipc::handshake`'s magic is private; this is its value.
const MAGIC: [u8; 8] = *b"BURROW\x00\x01";

struct Seeds {
    dir: PathBuf,
    count: usize,
}

impl Seeds {
    fn add<T: Encode>(&mut self, name: &str, selector: u8, message: &T) {
        let mut bytes = vec![selector];
        bytes.extend(ipc::codec::encode(message).expect("seed message encodes"));
        fs::write(self.dir.join(name), &bytes).expect("write seed");
        self.count += 1;
    }
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/frame_decode");
    fs::create_dir_all(&dir).expect("create seeds/frame_decode");
    let mut seeds = Seeds { dir, count: 0 };

    let probe = Probe { seq: 300, payload: vec![0xa5; 40] };
    let accounts = vec![
        AccountSummary { jid: "alice@example.org".into() },
        AccountSummary { jid: "bob@example.net/phone".into() },
    ];
    let confinement = ConfinementReport {
        no_new_privs: true,
        seccomp: true,
        landlock: LandlockStatus::Partial,
        netns: NetnsStatus::Isolated,
    };
    let report = ProcessReport {
        role: Role::Net,
        pid: 4242,
        confinement,
        restarts: 2,
        dropped: 70_000,
    };
    let failure = Failure::new(ErrorCode::WrongPassphrase, "the passphrase does not open the store");

    seeds.add("from_ui_unlock", sel::FROM_UI, &FromUi::Unlock {
        passphrase: Passphrase::new("correct horse battery staple".into()),
        mode: ipc::UnlockMode::Store,
    });
    seeds.add("from_ui_status", sel::FROM_UI, &FromUi::Status);
    seeds.add("from_ui_ping", sel::FROM_UI, &FromUi::Ping(probe.clone()));
    seeds.add("from_ui_quit", sel::FROM_UI, &FromUi::Quit);

    seeds.add("to_ui_unlocked", sel::TO_UI, &ToUi::Unlocked { accounts: accounts.clone() });
    seeds.add("to_ui_failed", sel::TO_UI, &ToUi::Failed(failure.clone()));
    seeds.add("to_ui_process", sel::TO_UI, &ToUi::Process(report.clone()));
    seeds.add("to_ui_restarted", sel::TO_UI, &ToUi::Restarted {
        report: report.clone(),
        reason: "killed by SIGSYS (a forbidden system call)".into(),
    });
    seeds.add("to_ui_status_complete", sel::TO_UI, &ToUi::StatusComplete);
    seeds.add("to_ui_pong", sel::TO_UI, &ToUi::Pong(probe.clone()));

    seeds.add("from_net_pong", sel::FROM_NET, &FromNet::Pong(probe.clone()));
    let settings = ipc::xmpp::ConnectionSettings {
        jid: "alice@example.org".into(),
        server: Some(("127.0.0.1".into(), 5222)),
        onion: None,
        transport: ipc::xmpp::Transport::StartTls,
        extra_anchors_pem: Some(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec()),
        spki_pin: Some("sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".into()),
        tor: ipc::xmpp::TorMode::Auto,
    };
    seeds.add("to_net_accounts", sel::TO_NET, &ToNet::Accounts(vec![settings.clone()]));
    seeds.add("to_net_transmit", sel::TO_NET, &ToNet::Transmit {
        account: "alice@example.org".into(),
        peer: "bob@example.org".into(),
        body: Passphrase::new("hello <bob> & ☃".into()),
        request: 7,
        encrypted: false,
    });
    seeds.add("to_net_sasl", sel::TO_NET, &ToNet::Sasl {
        account: "alice@example.org".into(),
        attempt: 1,
        step: ipc::xmpp::SaslStep::Begin { mechanism: "SCRAM-SHA-512".into(), initial: Passphrase::new("n,,n=alice,r=abc".into()), note: None },
    });
    seeds.add("from_net_sasl_start", sel::FROM_NET, &FromNet::SaslStart {
        account: "alice@example.org".into(),
        attempt: 1,
        offer: ipc::xmpp::SaslOffer {
            mechanisms: vec!["SCRAM-SHA-1".into(), "SCRAM-SHA-1-PLUS".into()],
            binding_types: Some(vec!["tls-exporter".into()]),
            binding: Some(ipc::xmpp::ChannelBinding { kind: ipc::xmpp::BindingKind::TlsExporter, data: vec![7; 32] }),
            binding_refused: false,
        },
    });
    seeds.add("from_net_incoming", sel::FROM_NET, &FromNet::Incoming {
        seq: 3,
        account: "alice@example.org".into(),
        from: "bob@example.org/phone".into(),
        body: Passphrase::new("hi".into()),
    });
    seeds.add("to_net_ping", sel::TO_NET, &ToNet::Ping(probe.clone()));

    seeds.add("from_crypto_unlocked", sel::FROM_CRYPTO, &FromCrypto::Unlocked {
        accounts: accounts.clone(),
        settings: vec![settings],
    });
    seeds.add("from_crypto_unlock_failed", sel::FROM_CRYPTO, &FromCrypto::UnlockFailed(failure));
    seeds.add("from_crypto_ping", sel::FROM_CRYPTO, &FromCrypto::Ping(probe.clone()));
    seeds.add("from_crypto_pong", sel::FROM_CRYPTO, &FromCrypto::Pong(probe.clone()));
    seeds.add("to_crypto_unlock", sel::TO_CRYPTO, &ToCrypto::Unlock {
        passphrase: Passphrase::new("pässwörd ✓".into()),
        mode: ipc::UnlockMode::Backup,
    });
    seeds.add("to_crypto_ping", sel::TO_CRYPTO, &ToCrypto::Ping(probe.clone()));
    seeds.add("to_crypto_pong", sel::TO_CRYPTO, &ToCrypto::Pong(probe));

    seeds.add("from_launcher_spawned", sel::FROM_LAUNCHER, &FromLauncher::Spawned {
        role: Role::Crypto,
        pid: 123_456,
    });
    seeds.add("from_launcher_spawn_failed", sel::FROM_LAUNCHER, &FromLauncher::SpawnFailed {
        role: Role::Ui,
        reason: "fork: resource temporarily unavailable".into(),
    });
    seeds.add("from_launcher_exited_code", sel::FROM_LAUNCHER, &FromLauncher::Exited {
        role: Role::Net,
        pid: 77,
        how: ExitHow::Code(-1),
    });
    seeds.add("from_launcher_exited_signal", sel::FROM_LAUNCHER, &FromLauncher::Exited {
        role: Role::Ui,
        pid: 78,
        how: ExitHow::Signal(31),
    });
    seeds.add("to_launcher_spawn", sel::TO_LAUNCHER, &ToLauncher::Spawn(Role::Net));
    seeds.add("to_launcher_kill", sel::TO_LAUNCHER, &ToLauncher::Kill(Role::Crypto));

    seeds.add("broker_hello", sel::BROKER_HELLO, &BrokerHello {
        magic: MAGIC,
        version: PROTOCOL_VERSION,
        role: Role::Ui,
    });
    seeds.add("child_hello", sel::CHILD_HELLO, &ChildHello {
        magic: MAGIC,
        version: PROTOCOL_VERSION,
        role: Role::Crypto,
        pid: 9001,
        confinement,
    });

    println!("wrote {} seeds to {}", seeds.count, seeds.dir.display());
}
