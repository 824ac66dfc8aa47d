//! SASL SCRAM (RFC 5802; SHA-256 from RFC 7677; SHA-512 likewise) with channel binding
//! (`tls-exporter`, RFC 9266; `tls-server-end-point`, RFC 5929), and SASL PLAIN (RFC 4616).
//!
//! # Who holds what
//! This code runs in `burrow-crypto`, the process that holds the account password. The network
//! process relays the SASL bytes in both directions and supplies the channel-binding data (it owns
//! the TLS connection); it never sees the password, SaltedPassword, ClientKey, ServerKey or
//! StoredKey. What leaves this module is exactly what goes on the wire: the client-first message,
//! the client-final message (whose proof is useless without the server's nonce for this very
//! exchange), and for PLAIN the password itself — which is why PLAIN is opt-in (see [`plain`]).
//!
//! # Files, named as the specifications name things
//! - [`mechanisms`]: the six mechanism names and Burrow's order of preference (RFC 5802 §4,
//!   RFC 7677 §2).
//! - [`choice`]: which mechanism to use and the `gs2-cbind-flag` to send (RFC 5802 §6,
//!   XEP-0440).
//! - [`messages`]: the wire syntax (RFC 5802 §7) and the `saslname` escaping (§5.1).
//! - [`client`]: the exchange itself (§3 "SCRAM Algorithm Overview", §5 "SCRAM Authentication
//!   Exchange").
//! - [`error`]: what can go wrong, in words a user can act on.
//! - [`plain`]: SASL PLAIN, the opt-in last resort.
//!
//! # Deliberate limits
//! - No SASLprep (RFC 4013) normalisation: the username is only escaped (`=` → `=3D`,
//!   `,` → `=2C`) and refused if it holds control characters; the password is used as its UTF-8
//!   bytes exactly as typed. A password that differs only in Unicode normalisation from the one
//!   the server stored will therefore fail. Every server in Debian 12 stores what it was given for
//!   ASCII passwords, which is the case SASLprep leaves unchanged anyway.
//! - The server's iteration count must lie in `4096..=10_000_000` (see
//!   [`client::MIN_ITERATIONS`], [`client::MAX_ITERATIONS`]).
//! - Secrets we hold (password, SaltedPassword, keys, signatures, proof, AuthMessage) live in
//!   [`zeroize::Zeroizing`] buffers sized once, so they are wiped on drop and never reallocated.
//!   The hash crates' own internal state (the HMAC pads inside `hmac::Hmac`) is not wiped: the
//!   `zeroize` features of `hmac`/`sha1`/`sha2` are not enabled in this crate.

pub mod choice;
pub mod client;
pub mod error;
pub mod mechanisms;
pub mod messages;
pub mod plain;

pub use choice::{choose, BindingKind, ChannelBinding, Choice, Gs2CbindFlag};
pub use client::ScramClient;
pub use error::ScramError;
pub use mechanisms::{Hash, Mechanism, PREFERENCE};
pub use plain::plain_initial_response;
