//! `cargo bench -p otr --bench otr_vs_libotr` (or `bench/otr-vs-libotr.sh`,
//! which also runs libotr's own benchmark and prints the comparison).
//!
//! The operations that `tests/otr-peers/libotr_peer --bench N` times with two
//! libotr userstates in one process, done here by two
//! [`otr::session::Conversation`]s through their public API, so that the
//! message encoding (base64, MACs, framing, TLVs) is measured as it is in
//! libotr's `otrl_message_sending` / `otrl_message_receiving`:
//!
//! - `ake`: a query message from alice reaches bob, and the AKE runs
//!   (D-H Commit → D-H Key → Reveal Signature → Signature) until both
//!   conversations are private. Each iteration starts from two new
//!   conversations (untimed), as libotr ends both sessions before each.
//! - `data_1k`: one 1 KiB text alice → bob: `send`, then `receive`, text back
//!   out and checked. One direction only, so no DH key rotates per message,
//!   as in libotr's bench.
//! - `smp`: alice starts SMP with a secret, bob answers with the same one as
//!   soon as he is asked, until both report success.
//!
//! Long-term DSA keys are generated once, untimed. Randomness is the
//! kernel's (`OsRng`), as in the crypto process. Criterion's mean point
//! estimate lands in `target/criterion/otr_vs_libotr/<name>/new/estimates.json`.
//!
//! Two cores: samples are few and the measuring time short, so the whole
//! run takes well under a minute.

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use otr::dsa::PrivateKey;
use otr::instance_tag::InstanceTag;
use otr::policy::Policy;
use otr::rng::OsRng;
use otr::session::{Conversation, Env, Output, Settings, State};
use otr::smp::SmpEvent;

/// libotr_peer's message: 1024 bytes of a..z.
fn text_1k() -> String {
    (0..1024).map(|i| (b'a' + (i % 26) as u8) as char).collect()
}

const SMP_SECRET: &[u8] = b"bench secret";

struct Side {
    conversation: Conversation,
    key: &'static PrivateKey,
    rng: OsRng,
    /// Texts shown to the user, last one kept (libotr_peer's `pump` does
    /// the same).
    shown: Option<String>,
    smp_success: bool,
    smp_other: bool,
}

impl Side {
    fn new(name: &str, key: &'static PrivateKey) -> Self {
        let mut rng = OsRng;
        let tag = InstanceTag::random(&mut rng);
        // libotr's OTRL_POLICY_DEFAULT is opportunistic.
        let settings = Settings { policy: Policy::Opportunistic, allow_v2: true, max_fragment: None, account_name: name.into() };
        Self { conversation: Conversation::new(settings, tag), key, rng, shown: None, smp_success: false, smp_other: false }
    }
}

fn keys() -> &'static (PrivateKey, PrivateKey) {
    static KEYS: std::sync::OnceLock<(PrivateKey, PrivateKey)> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = OsRng;
        (PrivateKey::generate(&mut rng).expect("alice's key"), PrivateKey::generate(&mut rng).expect("bob's key"))
    })
}

struct Pair {
    alice: Side,
    bob: Side,
    /// The time both sides are told (`Env::now`), stepped by the SMP bench.
    clock: Instant,
}

/// Burrow refuses a sixth SMP1 within a minute (a flood guard libotr does
/// not have). The SMP bench tells both sides that this much time passed
/// before each exchange: 5 × 13 s > 60 s, so no start is refused, and 13 s
/// is below the 60 s after which a received message is answered by a
/// heartbeat, so no message is added either.
const SMP_CLOCK_STEP: Duration = Duration::from_secs(13);

#[derive(Clone, Copy)]
enum To {
    Alice,
    Bob,
}

impl Pair {
    fn new() -> Self {
        let (alice, bob) = keys();
        Self { alice: Side::new("alice@bench.example", alice), bob: Side::new("bob@bench.example", bob), clock: Instant::now() }
    }

    fn side(&mut self, to: To) -> &mut Side {
        match to {
            To::Alice => &mut self.alice,
            To::Bob => &mut self.bob,
        }
    }

    /// Delivers what `from_side` output, and everything that causes, until
    /// both are quiet (libotr_peer's `pump`). Returns the texts delivered.
    fn pump(&mut self, first: To, outputs: Vec<Output>) -> usize {
        let other = |to: To| match to {
            To::Alice => To::Bob,
            To::Bob => To::Alice,
        };
        let mut queue: VecDeque<(To, Output)> = outputs.into_iter().map(|output| (first, output)).collect();
        let mut delivered = 0;
        let now = self.clock;
        while let Some((from, output)) = queue.pop_front() {
            match output {
                Output::Transmit { text, .. } => {
                    let to = other(from);
                    let side = self.side(to);
                    let mut env = Env { rng: &mut side.rng, key: side.key, now };
                    for next in side.conversation.receive(&mut env, &text) {
                        queue.push_back((to, next));
                    }
                }
                Output::Display { text, .. } => {
                    delivered += 1;
                    self.side(from).shown = Some(text.to_string());
                }
                Output::Smp { event, .. } => {
                    let side = self.side(from);
                    match event {
                        SmpEvent::Asked { .. } => {
                            let mut env = Env { rng: &mut side.rng, key: side.key, now };
                            let answer = side.conversation.smp_answer(&mut env, SMP_SECRET).expect("an SMP request to answer");
                            for next in answer {
                                queue.push_back((from, next));
                            }
                        }
                        SmpEvent::Success => side.smp_success = true,
                        _ => side.smp_other = true,
                    }
                }
                Output::State(_) => {}
                other => panic!("unexpected output in the benchmark: {other:?}"),
            }
        }
        delivered
    }

    /// (a): a query from alice to bob, until both are private.
    fn ake(&mut self) {
        let query = self.alice.conversation.start();
        self.pump(To::Alice, query);
        assert_eq!((self.alice.conversation.state(), self.bob.conversation.state()), (State::Private, State::Private));
    }

    /// (b): one text alice → bob, delivered intact.
    fn data(&mut self, text: &str) {
        let mut env = Env { rng: &mut self.alice.rng, key: self.alice.key, now: self.clock };
        let sent = self.alice.conversation.send(&mut env, 0, text);
        let delivered = self.pump(To::Alice, sent);
        assert!(delivered == 1 && self.bob.shown.as_deref() == Some(text), "data message not delivered intact");
    }

    /// (c): SMP with the same secret, success on both sides.
    fn smp(&mut self) {
        for side in [&mut self.alice, &mut self.bob] {
            side.smp_success = false;
            side.smp_other = false;
        }
        self.clock += SMP_CLOCK_STEP;
        let mut env = Env { rng: &mut self.alice.rng, key: self.alice.key, now: self.clock };
        let start = self.alice.conversation.smp_start(&mut env, SMP_SECRET, None).expect("a private conversation");
        self.pump(To::Alice, start);
        assert!(self.alice.smp_success && self.bob.smp_success && !self.alice.smp_other && !self.bob.smp_other, "SMP did not succeed on both sides");
    }
}

fn private_pair() -> Pair {
    let mut pair = Pair::new();
    pair.ake();
    pair
}

fn benches(c: &mut Criterion) {
    keys();
    let mut group = c.benchmark_group("otr_vs_libotr");
    group.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));

    group.bench_function("ake", |b| b.iter_batched(Pair::new, |mut pair| {
        pair.ake();
        pair
    }, BatchSize::SmallInput));

    let text = text_1k();
    let mut pair = private_pair();
    // The first message is answered by a heartbeat (bob has sent nothing
    // yet), which rotates keys once; libotr does the same. Not timed.
    pair.data(&text);
    group.bench_function("data_1k", |b| b.iter(|| pair.data(black_box(&text))));

    let mut pair = private_pair();
    group.bench_function("smp", |b| b.iter(|| pair.smp()));
    group.finish();
}

criterion_group!(otr_vs_libotr, benches);
criterion_main!(otr_vs_libotr);
