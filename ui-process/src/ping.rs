//! `/ping COUNT [SIZE]`: round trips UI → crypto → net → crypto → UI through
//! the broker, first one at a time (latency), then with a window of probes
//! in flight (throughput). The latency benchmark drives this.

use std::time::{Duration, Instant};

use ipc::ui::FromUi;
use ipc::{ErrorCode, Failure, Probe};
use tokio::sync::mpsc;

/// Probes in flight during the throughput phase; well under the broker's
/// cap on unanswered probes.
const WINDOW: usize = 32;
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
pub const MAX_COUNT: usize = 1_000_000;
pub const MAX_SIZE: usize = 64 * 1024;

pub struct PingSummary {
    pub count: usize,
    pub size: usize,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub per_second: u64,
}

pub async fn run(
    count: usize,
    size: usize,
    first_seq: u64,
    outgoing: mpsc::Sender<FromUi>,
    mut pongs: mpsc::Receiver<Probe>,
) -> Result<PingSummary, Failure> {
    let lost = || Failure::new(ErrorCode::ChildFailed, "The broker went away during /ping.");
    let timeout = || Failure::new(ErrorCode::Timeout, "A probe did not come back within 10 seconds.");
    let payload = vec![0x5a; size];
    let mut seq = first_seq;
    let mut latencies = Vec::with_capacity(count);
    for _ in 0..count {
        seq += 1;
        let started = Instant::now();
        outgoing.send(FromUi::Ping(Probe { seq, payload: payload.clone() })).await.map_err(|_| lost())?;
        loop {
            let pong = tokio::time::timeout(PROBE_TIMEOUT, pongs.recv()).await.map_err(|_| timeout())?.ok_or_else(lost)?;
            if pong.seq == seq {
                break;
            }
        }
        latencies.push(started.elapsed().as_micros() as u64);
    }
    let started = Instant::now();
    let (mut sent, mut received) = (0, 0);
    while received < count {
        while sent < count && sent - received < WINDOW {
            seq += 1;
            sent += 1;
            outgoing.send(FromUi::Ping(Probe { seq, payload: payload.clone() })).await.map_err(|_| lost())?;
        }
        tokio::time::timeout(PROBE_TIMEOUT, pongs.recv()).await.map_err(|_| timeout())?.ok_or_else(lost)?;
        received += 1;
    }
    let elapsed = started.elapsed().as_secs_f64().max(1e-9);
    latencies.sort_unstable();
    let percentile = |fraction: f64| -> u64 {
        latencies.get(((latencies.len() as f64 * fraction) as usize).min(latencies.len().saturating_sub(1))).copied().unwrap_or(0)
    };
    Ok(PingSummary {
        count,
        size,
        p50_us: percentile(0.50),
        p99_us: percentile(0.99),
        max_us: latencies.last().copied().unwrap_or(0),
        per_second: (count as f64 / elapsed) as u64,
    })
}
