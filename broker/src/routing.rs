//! The routing table: which message, from which process, goes to whom.
//!
//! Read it as a table: one arm per (sender, variant), its receiver(s), and
//! the state in which it is permitted. Replies are permitted only while the
//! request they answer is outstanding, as OpenSSH's monitor permits a request
//! only in the state that justifies it. A frame that matches no arm is
//! dropped and counted, and its sender is restarted: a correct process never
//! sends one.

use std::collections::HashMap;

use ipc::crypto::{FromCrypto, ToCrypto};
use ipc::net::{FromNet, ToNet};
use ipc::ui::{FromUi, ToUi};

/// A decoded frame and the process it came from.
#[derive(Debug)]
pub enum Inbound {
    Ui(FromUi),
    Crypto(FromCrypto),
    Net(FromNet),
}

/// A message on its way to one process.
#[derive(Debug)]
pub enum Outbound {
    Ui(ToUi),
    Crypto(ToCrypto),
    Net(ToNet),
}

/// What the broker answers itself.
#[derive(Debug, PartialEq, Eq)]
pub enum BrokerRequest {
    Status,
    Quit,
}

#[derive(Debug)]
pub enum Verdict {
    Deliver(Vec<Outbound>),
    Broker(BrokerRequest),
    /// Not in the table, or not permitted now: the variant's name.
    Drop(&'static str),
}

pub fn route(message: Inbound, gates: &mut Gates) -> Verdict {
    use Inbound as From;
    use Outbound as To;
    match message {
        // sender     variant                                permitted when               receiver(s)
        From::Ui(FromUi::Unlock { passphrase })              if gates.begin_unlock()      => deliver([To::Crypto(ToCrypto::Unlock { passphrase })]),
        From::Ui(FromUi::Status)                                                          => Verdict::Broker(BrokerRequest::Status),
        From::Ui(FromUi::Quit)                                                            => Verdict::Broker(BrokerRequest::Quit),
        From::Ui(FromUi::Ping(probe))                        if gates.open_probe(probe.seq) => deliver([To::Crypto(ToCrypto::Ping(probe))]),
        From::Crypto(FromCrypto::Unlocked { accounts })      if gates.end_unlock()        => deliver([To::Ui(ToUi::Unlocked { accounts: accounts.clone() }), To::Net(ToNet::Accounts(accounts))]),
        From::Crypto(FromCrypto::UnlockFailed(failure))      if gates.end_unlock()        => deliver([To::Ui(ToUi::Failed(failure))]),
        From::Crypto(FromCrypto::Ping(probe))                if gates.advance(probe.seq, Stage::AtCrypto, Stage::AtNet) => deliver([To::Net(ToNet::Ping(probe))]),
        From::Net(FromNet::Pong(probe))                      if gates.advance(probe.seq, Stage::AtNet, Stage::Returning) => deliver([To::Crypto(ToCrypto::Pong(probe))]),
        From::Crypto(FromCrypto::Pong(probe))                if gates.close_probe(probe.seq) => deliver([To::Ui(ToUi::Pong(probe))]),
        refused => Verdict::Drop(refused.kind()),
    }
}

fn deliver<const N: usize>(messages: [Outbound; N]) -> Verdict {
    Verdict::Deliver(messages.into())
}

impl Inbound {
    pub fn kind(&self) -> &'static str {
        match self {
            Inbound::Ui(message) => message.kind(),
            Inbound::Crypto(message) => message.kind(),
            Inbound::Net(message) => message.kind(),
        }
    }
}

/// Where a probe is on its way UI → crypto → net → crypto → UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    AtCrypto,
    AtNet,
    Returning,
}

/// The state that permits replies.
#[derive(Debug, Default)]
pub struct Gates {
    unlock_pending: bool,
    probes: HashMap<u64, Stage>,
}

/// Probes in flight at once; more is a flood.
pub const MAX_PROBES_IN_FLIGHT: usize = 4096;

impl Gates {
    fn begin_unlock(&mut self) -> bool {
        !std::mem::replace(&mut self.unlock_pending, true)
    }

    fn end_unlock(&mut self) -> bool {
        std::mem::replace(&mut self.unlock_pending, false)
    }

    fn open_probe(&mut self, seq: u64) -> bool {
        if self.probes.len() >= MAX_PROBES_IN_FLIGHT || self.probes.contains_key(&seq) {
            return false;
        }
        self.probes.insert(seq, Stage::AtCrypto);
        true
    }

    fn advance(&mut self, seq: u64, from: Stage, to: Stage) -> bool {
        match self.probes.get_mut(&seq) {
            Some(stage) if *stage == from => {
                *stage = to;
                true
            }
            _ => false,
        }
    }

    fn close_probe(&mut self, seq: u64) -> bool {
        if self.probes.get(&seq) == Some(&Stage::Returning) {
            self.probes.remove(&seq);
            true
        } else {
            false
        }
    }

    /// The crypto process went away: its pending answers will never come.
    /// Returns whether an unlock was waiting.
    pub fn forget_crypto(&mut self) -> bool {
        self.probes.clear();
        std::mem::replace(&mut self.unlock_pending, false)
    }

    /// Net or the UI went away: probes through it are lost.
    pub fn forget_probes(&mut self) {
        self.probes.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipc::secret::Passphrase;
    use ipc::{ErrorCode, Failure, Probe};

    fn probe(seq: u64) -> Probe {
        Probe { seq, payload: vec![] }
    }

    #[test]
    fn a_probe_travels_the_whole_chain_once() {
        let mut gates = Gates::default();
        assert!(matches!(route(Inbound::Ui(FromUi::Ping(probe(1))), &mut gates), Verdict::Deliver(to) if matches!(to[..], [Outbound::Crypto(ToCrypto::Ping(_))])));
        assert!(matches!(route(Inbound::Crypto(FromCrypto::Ping(probe(1))), &mut gates), Verdict::Deliver(to) if matches!(to[..], [Outbound::Net(ToNet::Ping(_))])));
        assert!(matches!(route(Inbound::Net(FromNet::Pong(probe(1))), &mut gates), Verdict::Deliver(to) if matches!(to[..], [Outbound::Crypto(ToCrypto::Pong(_))])));
        assert!(matches!(route(Inbound::Crypto(FromCrypto::Pong(probe(1))), &mut gates), Verdict::Deliver(to) if matches!(to[..], [Outbound::Ui(ToUi::Pong(_))])));
        // The same reply again is not permitted.
        assert!(matches!(route(Inbound::Crypto(FromCrypto::Pong(probe(1))), &mut gates), Verdict::Drop("Pong")));
    }

    #[test]
    fn net_cannot_answer_a_probe_it_was_never_sent() {
        let mut gates = Gates::default();
        assert!(matches!(route(Inbound::Net(FromNet::Pong(probe(9))), &mut gates), Verdict::Drop("Pong")));
        route(Inbound::Ui(FromUi::Ping(probe(9))), &mut gates);
        // Still at crypto: net has not been sent it yet.
        assert!(matches!(route(Inbound::Net(FromNet::Pong(probe(9))), &mut gates), Verdict::Drop("Pong")));
    }

    #[test]
    fn crypto_may_answer_an_unlock_only_once_and_only_when_asked() {
        let mut gates = Gates::default();
        let unlocked = || Inbound::Crypto(FromCrypto::Unlocked { accounts: vec![] });
        assert!(matches!(route(unlocked(), &mut gates), Verdict::Drop("Unlocked")));
        route(Inbound::Ui(FromUi::Unlock { passphrase: Passphrase::new("x".into()) }), &mut gates);
        assert!(matches!(route(unlocked(), &mut gates), Verdict::Deliver(to) if to.len() == 2));
        let failed = Inbound::Crypto(FromCrypto::UnlockFailed(Failure::new(ErrorCode::WrongPassphrase, "no")));
        assert!(matches!(route(failed, &mut gates), Verdict::Drop("UnlockFailed")));
    }

    #[test]
    fn a_second_unlock_while_one_is_pending_is_refused() {
        let mut gates = Gates::default();
        let unlock = || Inbound::Ui(FromUi::Unlock { passphrase: Passphrase::new("x".into()) });
        assert!(matches!(route(unlock(), &mut gates), Verdict::Deliver(_)));
        assert!(matches!(route(unlock(), &mut gates), Verdict::Drop("Unlock")));
    }

    #[test]
    fn probes_in_flight_are_capped() {
        let mut gates = Gates::default();
        for seq in 0..MAX_PROBES_IN_FLIGHT as u64 {
            assert!(matches!(route(Inbound::Ui(FromUi::Ping(probe(seq))), &mut gates), Verdict::Deliver(_)));
        }
        assert!(matches!(route(Inbound::Ui(FromUi::Ping(probe(u64::MAX))), &mut gates), Verdict::Drop("Ping")));
    }
}
