//! Feeds arbitrary bytes to `ipc::codec::decode` as every IPC message type.
//!
//! Input layout: the first byte picks the message type (modulo
//! `ipc_fuzz::TYPE_COUNT`, see src/lib.rs), the rest is the frame.
//!
//! Checked:
//! - decoding never panics, whatever the frame (any `Err` is fine);
//! - a frame that decodes re-encodes, the re-encoded frame is within
//!   `FRAME_CAP`, and decoding it again gives a value equal to the first.
#![no_main]

use std::fmt::Debug;

use bincode::{Decode, Encode};
use ipc::codec::{decode, encode};
use ipc::crypto::{FromCrypto, ToCrypto};
use ipc::handshake::{BrokerHello, ChildHello};
use ipc::launcher::{FromLauncher, ToLauncher};
use ipc::net::{FromNet, ToNet};
use ipc::ui::{FromUi, ToUi};
use ipc::FRAME_CAP;
use ipc_fuzz as sel;
use libfuzzer_sys::fuzz_target;

fn round_trip<T>(frame: &[u8])
where
    T: Decode<()> + Encode + PartialEq + Debug,
{
    let Ok(first) = decode::<T>(frame) else {
        return;
    };
    let bytes = encode(&first).unwrap_or_else(|error| {
        panic!("decoded {first:?} from {} bytes but it does not re-encode: {error}", frame.len())
    });
    assert!(
        bytes.len() <= FRAME_CAP,
        "re-encoded frame of {} bytes exceeds the {FRAME_CAP}-byte cap",
        bytes.len()
    );
    let second = decode::<T>(&bytes).unwrap_or_else(|error| {
        panic!("re-encoded {first:?} as {bytes:02x?}, which does not decode: {error}")
    });
    assert_eq!(first, second, "round trip changed the message (re-encoded as {bytes:02x?})");
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, frame)) = data.split_first() else {
        return;
    };
    match selector % sel::TYPE_COUNT {
        sel::FROM_UI => round_trip::<FromUi>(frame),
        sel::TO_UI => round_trip::<ToUi>(frame),
        sel::FROM_NET => round_trip::<FromNet>(frame),
        sel::TO_NET => round_trip::<ToNet>(frame),
        sel::FROM_CRYPTO => round_trip::<FromCrypto>(frame),
        sel::TO_CRYPTO => round_trip::<ToCrypto>(frame),
        sel::FROM_LAUNCHER => round_trip::<FromLauncher>(frame),
        sel::TO_LAUNCHER => round_trip::<ToLauncher>(frame),
        sel::BROKER_HELLO => round_trip::<BrokerHello>(frame),
        sel::CHILD_HELLO => round_trip::<ChildHello>(frame),
        _ => unreachable!("selector is reduced modulo TYPE_COUNT"),
    }
});
