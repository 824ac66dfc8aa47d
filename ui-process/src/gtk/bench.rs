//! Timing marks for `bench/gtk-ui.sh`, printed on stderr only when the
//! launcher passed `BURROW_BENCH=1`. They carry counts and durations, never a
//! JID or a message: the same rule as every other log line.
//!
//! - `roster painted`: the first frame painted after the roster (or a
//!   presence that changed it) reached the window, with how long that took
//!   from the broker's message arriving on the main loop.
//! - `heartbeat`: a 10 ms GLib timeout on the main loop; each second, how
//!   late every tick ran (µs), which is how long the loop was busy with
//!   something else, and how many presences and messages it has handled.
//! - `message n=…`: a message shown in its conversation, counted.

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use gtk4 as gtk;
use gtk4::glib;
use gtk4::prelude::*;

const HEARTBEAT: Duration = Duration::from_millis(10);
/// Lateness samples held between two heartbeat lines (100 a second when the
/// loop is idle; a busy loop gives fewer).
const SAMPLES_PER_LINE: usize = 256;

pub fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var_os("BURROW_BENCH").is_some_and(|value| value == "1"))
}

#[derive(Default)]
pub struct Marks {
    /// When the roster change waiting to be painted reached the main loop.
    roster_pending: Cell<Option<Instant>>,
    roster_rows: Cell<usize>,
    presences: Rc<Cell<u64>>,
    messages: Rc<Cell<u64>>,
}

impl Marks {
    /// Starts the heartbeat and watches the window's frames; does nothing
    /// unless the benchmark asked for marks.
    pub fn start(window: &gtk::Window) -> Rc<Marks> {
        let marks = Rc::new(Marks::default());
        if !enabled() {
            return marks;
        }
        if let Some(clock) = window.frame_clock() {
            let watched = Rc::downgrade(&marks);
            clock.connect_after_paint(move |_| {
                let Some(marks) = watched.upgrade() else { return };
                if let Some(arrived) = marks.roster_pending.take() {
                    eprintln!(
                        "burrow-ui bench: roster painted rows={} presences={} ms={:.1}",
                        marks.roster_rows.get(),
                        marks.presences.get(),
                        arrived.elapsed().as_secs_f64() * 1000.0
                    );
                }
            });
        }
        let (presences, messages) = (marks.presences.clone(), marks.messages.clone());
        let samples = RefCell::new(Vec::with_capacity(SAMPLES_PER_LINE));
        let last_tick = Cell::new(Instant::now());
        let last_line = Cell::new(Instant::now());
        glib::timeout_add_local(HEARTBEAT, move || {
            let now = Instant::now();
            let late = now.saturating_duration_since(last_tick.replace(now) + HEARTBEAT);
            let mut samples = samples.borrow_mut();
            if samples.len() < SAMPLES_PER_LINE {
                samples.push(late.as_micros() as u64);
            }
            if now.duration_since(last_line.get()) >= Duration::from_secs(1) {
                last_line.set(now);
                let mut line = String::new();
                for (index, sample) in samples.drain(..).enumerate() {
                    let _ = write!(line, "{}{sample}", if index == 0 { "" } else { "," });
                }
                eprintln!("burrow-ui bench: heartbeat presences={} messages={} late_us={line}", presences.get(), messages.get());
            }
            glib::ControlFlow::Continue
        });
        marks
    }

    /// The roster's rows were rebuilt because of a message that arrived at
    /// `arrived`; the next painted frame shows them.
    pub fn roster_changed(&self, arrived: Instant, rows: usize) {
        if enabled() {
            self.roster_rows.set(rows);
            // The oldest change not yet painted is what the wait is measured from.
            if self.roster_pending.get().is_none() {
                self.roster_pending.set(Some(arrived));
            }
        }
    }

    pub fn presence(&self) {
        self.presences.set(self.presences.get() + 1);
    }

    pub fn message_shown(&self) {
        self.messages.set(self.messages.get() + 1);
        if enabled() {
            eprintln!("burrow-ui bench: message n={}", self.messages.get());
        }
    }
}
