//! Every message that crosses a process boundary in Burrow.
//!
//! Each channel (broker ↔ ui, broker ↔ net, broker ↔ crypto) carries one
//! enum per direction. Frames are single `SOCK_SEQPACKET` datagrams, encoded
//! by [`codec`] alone, and every frame is treated as hostile input: size is
//! checked before decoding, decoding is byte-limited and trailing bytes are an
//! error. Every channel opens with the [`handshake`].
#![forbid(unsafe_code)]

pub mod channel;
pub mod codec;
pub mod crypto;
pub mod handshake;
pub mod import;
pub mod jid;
pub mod known_servers;
pub mod launcher;
pub mod net;
pub mod onion;
pub mod otr;
pub mod register;
pub mod secret;
pub mod types;
pub mod ui;
pub mod xmpp;

pub use channel::{Channel, ChannelError, FrameReader, FrameWriter};
pub use codec::{CodecError, FRAME_CAP};
pub use types::*;

/// Raised whenever any message type or its meaning changes; both ends refuse
/// to talk across versions rather than guess.
pub const PROTOCOL_VERSION: u32 = 5;
