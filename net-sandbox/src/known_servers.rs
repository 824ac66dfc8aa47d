//! The table of known servers and their onion services lives in
//! `ipc::known_servers`, so that the UI can offer the same servers for a new
//! account; net uses it to reach those servers' onions.
pub use ipc::known_servers::{onion_for, KNOWN_ONION_PORT, KNOWN_SERVERS};
