//! The library half of `burrow-net`: the XMPP stream parser, TLS, dialers and sessions. Kept as a
//! library so the fuzz targets and unit tests can reach the parsers. See README.md.
#![forbid(unsafe_code)]

pub mod xml;
