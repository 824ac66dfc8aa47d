//! XEP-0198 stream management: the counters and the queue of stanzas the
//! server has not acknowledged, so that a stream cut (Tor circuits drop) loses
//! nothing and duplicates nothing once it is resumed.
//!
//! Both counters wrap at 2^32 (XEP-0198 §4). A stanza is counted as handled
//! inbound only once it has been passed on, so the server resends exactly
//! what we did not take; outbound, the server's `h` says how many of ours it
//! took, and only the rest is sent again.

use std::collections::VecDeque;

use zeroize::Zeroizing;

/// What the UI is told when a queued message finally leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentNote {
    pub peer: String,
    pub request: u64,
    pub encrypted: bool,
}

/// A stanza on its way out, serialized. Its text may hold a message body.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub xml: Zeroizing<String>,
    /// Set for the user's messages: reported as `sent` the first time the
    /// stanza is written, and as failed if it is never acknowledged.
    pub note: Option<SentNote>,
    pub reported: bool,
}

impl Outgoing {
    pub fn new(xml: String, note: Option<SentNote>) -> Self {
        Self { xml: Zeroizing::new(xml), note, reported: false }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the server acknowledged {acknowledged} stanzas, but only {sent} were sent")]
pub struct AckError {
    pub acknowledged: u32,
    pub sent: u32,
}

#[derive(Debug, Default)]
pub struct StreamManagement {
    /// Set once the server has enabled stream management on this stream.
    pub enabled: bool,
    /// The id to resume this session by, if the server allows resumption.
    pub resume_id: Option<String>,
    /// Stanzas received and handled since it was enabled.
    pub handled: u32,
    /// The server's last `h`.
    acknowledged: u32,
    unacknowledged: VecDeque<Outgoing>,
}

impl StreamManagement {
    pub fn enabled(&mut self, resume_id: Option<String>) {
        self.enabled = true;
        self.resume_id = resume_id;
        self.handled = 0;
        self.acknowledged = 0;
    }

    /// A stanza was written; once enabled, it waits for its acknowledgement.
    pub fn sent(&mut self, stanza: Outgoing) {
        if self.enabled {
            self.unacknowledged.push_back(stanza);
        }
    }

    pub fn handled_one(&mut self) {
        if self.enabled {
            self.handled = self.handled.wrapping_add(1);
        }
    }

    pub fn waiting(&self) -> usize {
        self.unacknowledged.len()
    }

    /// The server's `<a h='…'/>`.
    pub fn acknowledge(&mut self, h: u32) -> Result<(), AckError> {
        let newly = h.wrapping_sub(self.acknowledged);
        if newly as usize > self.unacknowledged.len() {
            return Err(AckError { acknowledged: newly, sent: self.unacknowledged.len() as u32 });
        }
        self.unacknowledged.drain(..newly as usize);
        self.acknowledged = h;
        Ok(())
    }

    /// The server resumed the session having handled `h` of ours: the rest
    /// must be sent again, in order, on the resumed stream.
    pub fn resumed(&mut self, h: u32) -> Result<Vec<Outgoing>, AckError> {
        self.acknowledge(h)?;
        Ok(self.unacknowledged.drain(..).collect())
    }

    /// The session is gone (resumption failed or was not possible). What the
    /// server did not acknowledge (by `h`, when `<failed/>` carries one) is
    /// returned to send on the new session; the counters start over.
    pub fn lost(&mut self, h: Option<u32>) -> Vec<Outgoing> {
        if let Some(h) = h {
            // An impossible h is ignored: resending risks a duplicate, not
            // resending risks a loss, and a loss is worse.
            let _ = self.acknowledge(h);
        }
        let pending = self.unacknowledged.drain(..).collect();
        *self = Self::default();
        pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stanza(n: u64) -> Outgoing {
        Outgoing::new(format!("<message id='{n}'/>"), None)
    }

    fn ids(stanzas: &[Outgoing]) -> Vec<String> {
        stanzas.iter().map(|stanza| stanza.xml.to_string()).collect()
    }

    #[test]
    fn acknowledged_stanzas_leave_the_queue() {
        let mut sm = StreamManagement::default();
        sm.sent(stanza(0));
        assert_eq!(sm.waiting(), 0, "not counted before it is enabled");
        sm.enabled(Some("abc".into()));
        for n in 1..=3 {
            sm.sent(stanza(n));
        }
        sm.acknowledge(2).unwrap();
        assert_eq!(sm.waiting(), 1);
        assert_eq!(sm.acknowledge(5), Err(AckError { acknowledged: 3, sent: 1 }));
        let again = sm.resumed(2).unwrap();
        assert_eq!(ids(&again), vec!["<message id='3'/>"]);
    }

    #[test]
    fn counters_wrap_at_two_to_the_thirty_two() {
        let mut sm = StreamManagement::default();
        sm.enabled(None);
        sm.acknowledged = u32::MAX - 1;
        sm.handled = u32::MAX;
        sm.handled_one();
        assert_eq!(sm.handled, 0);
        for n in 0..4 {
            sm.sent(stanza(n));
        }
        sm.acknowledge(1).unwrap();
        assert_eq!(sm.waiting(), 1);
    }

    #[test]
    fn a_lost_session_returns_what_was_not_acknowledged() {
        let mut sm = StreamManagement::default();
        sm.enabled(Some("id".into()));
        for n in 1..=4 {
            sm.sent(stanza(n));
        }
        assert_eq!(ids(&sm.lost(Some(3))), vec!["<message id='4'/>"]);
        assert!(!sm.enabled && sm.resume_id.is_none() && sm.waiting() == 0);
        sm.enabled(None);
        sm.sent(stanza(5));
        assert_eq!(sm.lost(None).len(), 1);
    }
}
