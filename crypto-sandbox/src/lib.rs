//! The library half of `burrow-crypto`: SCRAM and (later) OTR and the store. Kept as a library so
//! fuzz targets and unit tests reach the code. See README.md.
#![forbid(unsafe_code)]

pub mod import;
pub mod scram;
pub mod vault;
