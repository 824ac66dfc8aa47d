//! Off-the-Record Messaging, protocol version 3 (and version 2 for old peers),
//! as the spec in `shared/refs/otr-v3-spec.txt` defines it. No I/O: the crypto
//! process feeds it messages and randomness and acts on what it returns.
//! One module per section of the spec.
#![forbid(unsafe_code)]

pub mod ake;
pub mod data;
pub mod dsa;
pub mod encoding;
pub mod extra_key;
pub mod fragment;
pub mod group;
pub mod instance_tag;
pub mod keyfile;
pub mod message;
pub mod policy;
pub mod rng;
pub mod session;
pub mod smp;
pub mod tlv;
pub mod trust;
