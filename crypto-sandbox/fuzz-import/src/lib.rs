//! The input layout of the `importers` fuzz target, shared with `make_seeds`.
//!
//! | bytes | meaning |
//! |---|---|
//! | 0 | flags: bit 0 gives CoyIM's passphrase ("tails is nice", the fixture's) |
//! | 1.. | up to [`MAX_PARTS`] pseudo-files separated by [`MARKER`] |
//!
//! Every importer gets the pseudo-files under the names of its [`wanted_files`], in order
//! (`*` replaced by `example.org`), so one input reaches every parser.

use crypto_sandbox::import::{wanted_files, Source};

pub const MARKER: &[u8] = b"\xff\xfe\xfd\xfc";
pub const MAX_PARTS: usize = 6;
pub const PASSPHRASE: &str = "tails is nice";

pub struct Input<'a> {
    pub passphrase: bool,
    pub parts: Vec<&'a [u8]>,
}

impl<'a> Input<'a> {
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        let (&flags, mut rest) = data.split_first()?;
        let mut parts = Vec::new();
        while parts.len() + 1 < MAX_PARTS {
            match rest.windows(MARKER.len()).position(|window| window == MARKER) {
                Some(at) => {
                    parts.push(&rest[..at]);
                    rest = &rest[at + MARKER.len()..];
                }
                None => break,
            }
        }
        parts.push(rest);
        Some(Input { passphrase: flags & 1 != 0, parts })
    }
}

/// The file names a source gets its parts under.
pub fn names(source: Source) -> Vec<String> {
    wanted_files(source).iter().map(|pattern| pattern.replace('*', "example.org")).collect()
}

/// An input from a flags byte and parts.
pub fn join(flags: u8, parts: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![flags];
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            out.extend_from_slice(MARKER);
        }
        out.extend_from_slice(part);
    }
    out
}
