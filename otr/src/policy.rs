//! "Policies": the spec's flags, and the four combinations Burrow offers
//! (libotr's NEVER, OPPORTUNISTIC, MANUAL and ALWAYS, which Burrow calls
//! `require`). Version 1 is never allowed, whatever the name.

use std::fmt;
use std::str::FromStr;

/// The flags of the spec, less ALLOW_V1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flags {
    pub allow_v2: bool,
    pub allow_v3: bool,
    pub require_encryption: bool,
    pub send_whitespace_tag: bool,
    pub whitespace_start_ake: bool,
    pub error_start_ake: bool,
}

impl Flags {
    pub fn allows_otr(&self) -> bool {
        self.allow_v2 || self.allow_v3
    }
}

/// The policy a user chooses, per account and per contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Policy {
    /// No OTR at all: messages pass untouched, OTR messages are shown as
    /// they came.
    Never,
    /// Advertise OTR with the whitespace tag and start it whenever the peer
    /// can.
    Opportunistic,
    /// OTR only when one side asks for it.
    Manual,
    /// Nothing leaves unencrypted: a message waits for the private
    /// conversation or is refused. The default for new accounts.
    #[default]
    Require,
}

impl Policy {
    pub const ALL: [Policy; 4] = [Policy::Never, Policy::Opportunistic, Policy::Manual, Policy::Require];

    /// The flags, with version 2 allowed or not (ALLOW_V2, on by default,
    /// for peers such as python-otr that speak only version 2).
    pub fn flags(self, allow_v2: bool) -> Flags {
        let otr = |v3| (allow_v2 && v3, v3);
        match self {
            Policy::Never => Flags { allow_v2: false, allow_v3: false, require_encryption: false, send_whitespace_tag: false, whitespace_start_ake: false, error_start_ake: false },
            Policy::Opportunistic => {
                let (allow_v2, allow_v3) = otr(true);
                Flags { allow_v2, allow_v3, require_encryption: false, send_whitespace_tag: true, whitespace_start_ake: true, error_start_ake: true }
            }
            Policy::Manual => {
                let (allow_v2, allow_v3) = otr(true);
                Flags { allow_v2, allow_v3, require_encryption: false, send_whitespace_tag: false, whitespace_start_ake: false, error_start_ake: false }
            }
            Policy::Require => {
                let (allow_v2, allow_v3) = otr(true);
                Flags { allow_v2, allow_v3, require_encryption: true, send_whitespace_tag: false, whitespace_start_ake: true, error_start_ake: true }
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Policy::Never => "never",
            Policy::Opportunistic => "opportunistic",
            Policy::Manual => "manual",
            Policy::Require => "require",
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("there is no OTR policy called {0:?}; the policies are never, opportunistic, manual and require")]
pub struct UnknownPolicy(pub String);

impl FromStr for Policy {
    type Err = UnknownPolicy;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Policy::ALL.into_iter().find(|policy| policy.name() == name).ok_or_else(|| UnknownPolicy(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_require_is_the_default() {
        for policy in Policy::ALL {
            assert_eq!(policy.name().parse::<Policy>(), Ok(policy));
        }
        assert!("always".parse::<Policy>().is_err());
        assert_eq!(Policy::default(), Policy::Require);
    }

    #[test]
    fn flags_follow_libotr() {
        assert!(!Policy::Never.flags(true).allows_otr());
        let require = Policy::Require.flags(true);
        assert!(require.require_encryption && require.allow_v3 && require.allow_v2 && !require.send_whitespace_tag);
        assert!(!Policy::Require.flags(false).allow_v2);
        let opportunistic = Policy::Opportunistic.flags(true);
        assert!(opportunistic.send_whitespace_tag && opportunistic.whitespace_start_ake && !opportunistic.require_encryption);
        let manual = Policy::Manual.flags(true);
        assert!(manual.allows_otr() && !manual.whitespace_start_ake && !manual.error_start_ake);
    }
}
