//! The SCRAM mechanism names (RFC 5802 §4, RFC 7677 §2) and Burrow's order of preference.

use std::fmt;

/// The hash function a SCRAM mechanism is built on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    Sha1,
    Sha256,
    Sha512,
}

impl Hash {
    /// The hash as it appears in the mechanism name ("SHA-1", "SHA-256", "SHA-512").
    pub fn name(self) -> &'static str {
        match self {
            Hash::Sha1 => "SHA-1",
            Hash::Sha256 => "SHA-256",
            Hash::Sha512 => "SHA-512",
        }
    }
}

/// One SCRAM mechanism: a hash, with or without channel binding (`-PLUS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mechanism {
    pub hash: Hash,
    pub plus: bool,
}

/// Burrow's preference, most wanted first: the strongest hash first, and for each hash the
/// channel-bound variant before the plain one.
pub const PREFERENCE: [Mechanism; 6] = [
    Mechanism {
        hash: Hash::Sha512,
        plus: true,
    },
    Mechanism {
        hash: Hash::Sha512,
        plus: false,
    },
    Mechanism {
        hash: Hash::Sha256,
        plus: true,
    },
    Mechanism {
        hash: Hash::Sha256,
        plus: false,
    },
    Mechanism {
        hash: Hash::Sha1,
        plus: true,
    },
    Mechanism {
        hash: Hash::Sha1,
        plus: false,
    },
];

impl Mechanism {
    /// The SASL mechanism name, e.g. "SCRAM-SHA-512-PLUS".
    pub fn name(self) -> &'static str {
        match (self.hash, self.plus) {
            (Hash::Sha1, false) => "SCRAM-SHA-1",
            (Hash::Sha1, true) => "SCRAM-SHA-1-PLUS",
            (Hash::Sha256, false) => "SCRAM-SHA-256",
            (Hash::Sha256, true) => "SCRAM-SHA-256-PLUS",
            (Hash::Sha512, false) => "SCRAM-SHA-512",
            (Hash::Sha512, true) => "SCRAM-SHA-512-PLUS",
        }
    }

    /// The mechanism with this exact name. SASL mechanism names are upper case (RFC 4422 §3.1),
    /// so "scram-sha-1" is not one of ours.
    pub fn parse(name: &str) -> Option<Mechanism> {
        PREFERENCE.into_iter().find(|m| m.name() == name)
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_in_preference_order() {
        let names: Vec<&str> = PREFERENCE.iter().map(|m| m.name()).collect();
        assert_eq!(
            names,
            [
                "SCRAM-SHA-512-PLUS",
                "SCRAM-SHA-512",
                "SCRAM-SHA-256-PLUS",
                "SCRAM-SHA-256",
                "SCRAM-SHA-1-PLUS",
                "SCRAM-SHA-1",
            ]
        );
        for m in PREFERENCE {
            assert_eq!(Mechanism::parse(m.name()), Some(m));
        }
    }

    #[test]
    fn parse_refuses_what_is_not_exactly_a_scram_name() {
        for name in [
            "PLAIN",
            "scram-sha-1",
            "SCRAM-SHA-384",
            "SCRAM-SHA-1-PLUS ",
            "",
            "SCRAM-SHA-1-",
        ] {
            assert_eq!(Mechanism::parse(name), None, "{name:?}");
        }
        assert_eq!(
            Mechanism::parse("SCRAM-SHA-256-PLUS"),
            Some(Mechanism {
                hash: Hash::Sha256,
                plus: true
            })
        );
        assert_eq!(Hash::Sha512.name(), "SHA-512");
    }
}
