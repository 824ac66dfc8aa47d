//! A child process that breaks the IPC protocol on purpose, for the
//! hostile-IPC tests. The tests copy it beside a real `burrow` under the name
//! of the child it replaces.
//!
//! It reads what to do from `hostile-mode` beside itself and counts its runs
//! in `hostile-runs`: the first run misbehaves (as net or crypto: once the
//! broker sends it its first message, so the test can watch it happen),
//! later runs (after the broker restarted it) behave, so the test can see
//! that the restart works.
//!
//! Modes: `garbage`, `oversized`, `forbidden`, `bad-handshake` (as net or
//! crypto); `flood` (as the UI: prints two status reports, one before the
//! flood and one after its restart, as JSON lines on stdout).
#![forbid(unsafe_code)]

use std::path::PathBuf;

use ipc::crypto::{FromCrypto, ToCrypto};
use ipc::handshake::{self, BrokerHello};
use ipc::net::{FromNet, ToNet};
use ipc::ui::{FromUi, ToUi};
use ipc::{
    Channel, ConfinementReport, FrameReader, FrameWriter, LandlockStatus, NetnsStatus, Probe, Role,
    FRAME_CAP,
};

fn beside_me(name: &str) -> PathBuf {
    let me = std::env::current_exe().expect("own path");
    me.parent().expect("directory").join(name)
}

fn role_from_name() -> Role {
    let me = std::env::current_exe().expect("own path");
    match me.file_name().and_then(|name| name.to_str()) {
        Some("burrow-net") => Role::Net,
        Some("burrow-crypto") => Role::Crypto,
        Some("burrow-ui") => Role::Ui,
        other => panic!("hostile-child must be installed as a child binary, not {other:?}"),
    }
}

/// Honest about itself: it is not confined at all.
const UNCONFINED: ConfinementReport = ConfinementReport {
    no_new_privs: false,
    seccomp: false,
    landlock: LandlockStatus::None,
    netns: NetnsStatus::Shared,
};

fn main() {
    let mode = std::fs::read_to_string(beside_me("hostile-mode")).unwrap_or_default().trim().to_string();
    let runs_file = beside_me("hostile-runs");
    let runs: u32 = std::fs::read_to_string(&runs_file).ok().and_then(|text| text.trim().parse().ok()).unwrap_or(0);
    std::fs::write(&runs_file, (runs + 1).to_string()).expect("count runs");
    let role = role_from_name();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async move {
        let socket = confine::sys::take_ipc_socket().expect("fd 3");
        let (mut reader, mut writer) = Channel::new(socket).expect("channel").split();
        if runs == 0 && mode == "bad-handshake" {
            let _: BrokerHello = reader.recv().await.expect("hello");
            writer.send_frame(b"this is not a hello").await.expect("send");
            std::future::pending::<()>().await;
        }
        handshake::answer_broker(&mut reader, &mut writer, role, UNCONFINED).await.expect("handshake");
        if runs == 0 {
            if role != Role::Ui {
                wait_for_first_message(&mut reader).await;
            }
            misbehave(&mode, role, &mut reader, &mut writer).await;
        }
        behave(role, &mut reader, &mut writer).await;
    });
}

async fn wait_for_first_message(reader: &mut FrameReader) {
    let _ = reader.recv_frame().await;
}

async fn misbehave(mode: &str, role: Role, reader: &mut FrameReader, writer: &mut FrameWriter) {
    match mode {
        "garbage" => writer.send_frame(&[0xff, 0xfe, 0xfd, 0xfc]).await.expect("send"),
        "oversized" => writer.send_frame(&vec![0u8; FRAME_CAP + 1]).await.expect("an oversized frame could not be sent; is SO_SNDBUFFORCE available (root)?"),
        "forbidden" => match role {
            // A reply to a probe nobody sent.
            Role::Net => writer.send(&FromNet::Pong(Probe { seq: 424242, payload: vec![] })).await.expect("send"),
            Role::Crypto => writer.send(&FromCrypto::Pong(Probe { seq: 424242, payload: vec![] })).await.expect("send"),
            _ => writer.send(&FromUi::Ping(Probe { seq: 1, payload: vec![] })).await.expect("send"),
        },
        "flood" => {
            print_status(1, reader, writer).await;
            // As fast as possible, never reading the answers.
            for _ in 0..2_000_000u32 {
                if writer.send(&FromUi::Status).await.is_err() {
                    break;
                }
            }
        }
        _ => return,
    }
    // The broker is expected to kill us now.
    std::future::pending::<()>().await;
}

async fn print_status(phase: u32, reader: &mut FrameReader, writer: &mut FrameWriter) {
    writer.send(&FromUi::Status).await.expect("send status");
    let mut processes = Vec::new();
    loop {
        match reader.recv::<ToUi>().await.expect("status answer") {
            ToUi::Process(report) => processes.push(serde_json::json!({
                "name": report.role.name(), "pid": report.pid, "restarts": report.restarts, "dropped": report.dropped,
            })),
            ToUi::StatusComplete => break,
            _ => {}
        }
    }
    println!("{}", serde_json::json!({ "phase": phase, "processes": processes }));
}

async fn behave(role: Role, reader: &mut FrameReader, writer: &mut FrameWriter) {
    match role {
        Role::Net => loop {
            match reader.recv::<ToNet>().await {
                Ok(ToNet::Ping(probe)) => writer.send(&FromNet::Pong(probe)).await.expect("send"),
                // A well-behaved stand-in answers only what the tests send.
                Ok(_) => {}
                Err(_) => return,
            }
        },
        Role::Crypto => loop {
            let reply = match reader.recv::<ToCrypto>().await {
                Ok(ToCrypto::Unlock { .. }) => FromCrypto::Unlocked { accounts: vec![], settings: vec![] },
                Ok(ToCrypto::Ping(probe)) => FromCrypto::Ping(probe),
                Ok(ToCrypto::Pong(probe)) => FromCrypto::Pong(probe),
                Ok(ToCrypto::NetStarted) => FromCrypto::NetAccounts(vec![]),
                Ok(_) => continue,
                Err(_) => return,
            };
            writer.send(&reply).await.expect("send");
        },
        _ => {
            print_status(2, reader, writer).await;
            writer.send(&FromUi::Quit).await.expect("quit");
            while reader.recv::<ToUi>().await.is_ok() {}
        }
    }
}
