//! Random spacing between different accounts' connection attempts.
//!
//! Two accounts that log in within the same second are easy to link: by
//! the server when both are on it, by anyone who watches several servers,
//! and by Tor exits. So an attempt of one account never starts sooner than
//! a random delay after the last attempt of a different account. The same
//! account's own retries are not spaced (they are already backed off), and
//! an attempt reserves its start time before waiting, so three accounts
//! connected at once leave one after the other, each gap drawn anew. The
//! worst case is the case that matters most: a network that comes back
//! makes every account reconnect at once.
//!
//! The delay is drawn uniformly from `DEFAULT_RANGE`; the environment
//! variable `BURROW_ACCOUNT_SPACING=MIN-MAX` (seconds) may shorten or
//! lengthen it, for tests above all.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Long enough that the gap is larger than a Tor circuit's build time and a
/// login's own jitter, short enough that a second account comes up while
/// the user still looks.
pub const DEFAULT_RANGE: (Duration, Duration) = (Duration::from_secs(3), Duration::from_secs(30));
/// The longest gap a setting may ask for.
const MAX_SETTING: Duration = Duration::from_secs(3600);

pub const VARIABLE: &str = "BURROW_ACCOUNT_SPACING";

#[derive(Debug)]
pub struct Spacing {
    range: (Duration, Duration),
    /// The account that reserved the latest start, and that start.
    latest: Mutex<Option<(String, Instant)>>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{VARIABLE}={0:?} is not MIN-MAX in seconds (at most 3600, MIN not above MAX)")]
pub struct BadSpacing(String);

impl Spacing {
    pub fn new(range: (Duration, Duration)) -> Self {
        Spacing { range, latest: Mutex::new(None) }
    }

    /// From the value of `BURROW_ACCOUNT_SPACING`, if set.
    pub fn from_setting(setting: Option<&str>) -> Result<Self, BadSpacing> {
        let Some(text) = setting else { return Ok(Self::new(DEFAULT_RANGE)) };
        let bad = || BadSpacing(text.to_owned());
        let (low, high) = text.split_once('-').ok_or_else(bad)?;
        let seconds = |part: &str| {
            part.trim()
                .parse::<f64>()
                .ok()
                .filter(|value| value.is_finite() && *value >= 0.0)
                .and_then(|value| Duration::try_from_secs_f64(value).ok())
                .filter(|value| *value <= MAX_SETTING)
        };
        let (low, high) = (seconds(low).ok_or_else(bad)?, seconds(high).ok_or_else(bad)?);
        if low > high {
            return Err(bad());
        }
        Ok(Self::new((low, high)))
    }

    pub fn range(&self) -> (Duration, Duration) {
        self.range
    }

    /// When `account`'s next attempt may start; `fraction` is a uniform
    /// random number in [0, 1). The start is reserved: a later caller is
    /// spaced from it.
    pub fn reserve(&self, account: &str, now: Instant, fraction: f64) -> Instant {
        let (low, high) = self.range;
        let gap = low + (high - low).mul_f64(fraction.clamp(0.0, 1.0));
        let mut latest = self.latest.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let start = match latest.as_ref() {
            Some((other, at)) if other != account => now.max(*at + gap),
            _ => now,
        };
        *latest = Some((account.to_owned(), start));
        start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "a@example.org";
    const B: &str = "b@example.org";
    const C: &str = "c@example.org";

    #[test]
    fn settings_are_read_or_refused() {
        assert_eq!(Spacing::from_setting(None).unwrap().range(), DEFAULT_RANGE);
        assert_eq!(Spacing::from_setting(Some("0-0")).unwrap().range(), (Duration::ZERO, Duration::ZERO));
        assert_eq!(Spacing::from_setting(Some("1.5-2")).unwrap().range(), (Duration::from_millis(1500), Duration::from_secs(2)));
        for bad in ["", "5", "3-1", "-1-2", "a-b", "0-3601", "NaN-1", "1-inf"] {
            assert!(Spacing::from_setting(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_different_account_waits_and_the_same_one_does_not() {
        let spacing = Spacing::new((Duration::from_secs(10), Duration::from_secs(20)));
        let now = Instant::now();
        assert_eq!(spacing.reserve(A, now, 0.5), now);
        // A's own retry is not spaced from A.
        assert_eq!(spacing.reserve(A, now, 0.5), now);
        let b = spacing.reserve(B, now, 0.5);
        assert_eq!(b, now + Duration::from_secs(15));
        // C is spaced from B's reserved start, not from now.
        let c = spacing.reserve(C, now, 0.0);
        assert_eq!(c, b + Duration::from_secs(10));
        // Long after, nobody waits.
        let later = c + Duration::from_secs(100);
        assert_eq!(spacing.reserve(A, later, 0.9), later);
    }

    #[test]
    fn the_gap_stays_in_its_range() {
        let spacing = Spacing::new((Duration::from_secs(3), Duration::from_secs(30)));
        let now = Instant::now();
        for (step, fraction) in [0.0, 0.999_999, 0.25, 7.0, -1.0].into_iter().enumerate() {
            let first = spacing.reserve(if step % 2 == 0 { A } else { B }, now, 0.0);
            let second = spacing.reserve(if step % 2 == 0 { B } else { A }, now, fraction);
            let gap = second - first;
            assert!(gap >= Duration::from_secs(3) && gap <= Duration::from_secs(30), "{gap:?} for {fraction}");
        }
    }
}
