//! Off-the-Record Messaging, protocol version 3 (and version 2 for old peers),
//! as the spec in `shared/refs/otr-v3-spec.txt` defines it. No I/O: the crypto
//! process feeds it messages and randomness and acts on what it returns.
//! One module per section of the spec.
#![forbid(unsafe_code)]

pub mod dsa;
pub mod encoding;
pub mod group;
pub mod keyfile;
pub mod rng;
pub mod tlv;
pub mod trust;
