//! The library half of `burrow-net`: the XMPP stream parser, TLS, dialers and
//! account sessions. Kept as a library so the fuzz targets and unit tests can
//! reach the parsers. See README.md.
#![forbid(unsafe_code)]

pub mod account;
pub mod dialer;
pub mod known_servers;
pub mod embedded;
pub mod login;
pub mod names;
pub mod register;
pub mod resolve;
pub mod sm;
pub mod socks;
pub mod spacing;
pub mod stanza;
pub mod tls;
/// The XMPP stream parser, a crate of its own (`xmpp-xml/`) so that its fuzz
/// target builds without the rest of net (embedded Tor above all).
pub use xmpp_xml as xml;
