#!/usr/bin/env bash
# Burrow's OTR (the `otr` crate) against libotr 4.1.1 on the same three
# operations (see bench/README.md): the AKE from a query until both sides are
# private, a 1 KiB data message one way (send + receive), and a successful
# SMP. Builds tests/otr-peers/libotr_peer, runs its `--bench`, runs
# `cargo bench -p otr --bench otr_vs_libotr`, and prints a table with the
# goals: AKE and SMP no slower than libotr, data messages at least 1.5 times
# libotr's throughput. A missed goal is reported, not an error: the exit
# status is non-zero only when the benchmark could not run.
#
# libotr's runs are split, half before and half after Burrow's, so that a
# change in the machine's load between the two hits both sides alike.
#
# Environment: LIBOTR_ITERATIONS (default 50: N AKEs, 10·N data messages,
# N SMPs per run; about 6 s a run), LIBOTR_RUNS (default 4; the median of
# each figure is taken), BENCH_NICE (e.g. -10: run both sides at that
# niceness, which needs root; unset: as started), CARGO_TARGET_DIR
# (honoured). Extra arguments go to cargo bench.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
target=${CARGO_TARGET_DIR:-$root/target}
iterations=${LIBOTR_ITERATIONS:-50}
runs=${LIBOTR_RUNS:-4}
nice_cmd=()
if [ -n "${BENCH_NICE:-}" ]; then nice_cmd=(nice -n "$BENCH_NICE"); fi
python=/usr/bin/python3
[ -x "$python" ] || python=python3

# 1. libotr's side.
peer_dir="$target/otr-peers"
tests/otr-peers/build.sh "$peer_dir"
libotr_json="$target/bench-libotr.jsonl"
: >"$libotr_json"
run=0
libotr_runs() {
    for _ in $(seq 1 "$1"); do
        run=$((run + 1))
        echo "otr-vs-libotr: libotr_peer --bench $iterations (run $run of $runs)" >&2
        # Bounded: 50 iterations take about 6 s here (SMP dominates).
        timeout 300 "${nice_cmd[@]}" "$peer_dir/libotr_peer" --bench "$iterations" | grep '"event":"bench"' >>"$libotr_json"
    done
}
libotr_runs $(((runs + 1) / 2))

# 2. Burrow's side: criterion writes target/criterion/otr_vs_libotr/*/new/estimates.json.
echo "otr-vs-libotr: cargo bench -p otr --bench otr_vs_libotr" >&2
cargo bench -p otr --bench otr_vs_libotr --no-run >&2
rm -rf "$target/criterion/otr_vs_libotr"
timeout 900 "${nice_cmd[@]}" cargo bench -p otr --bench otr_vs_libotr "$@" >&2

libotr_runs $((runs / 2))

# 3. The table (and the same figures as JSON).
"$python" - "$libotr_json" "$target/criterion/otr_vs_libotr" "$target/bench-otr-vs-libotr.json" <<'EOF'
import json, os, statistics, sys, time

libotr_file, criterion_dir, output = sys.argv[1:4]
runs = [json.loads(line) for line in open(libotr_file) if line.strip()]
if not runs:
    sys.exit("otr-vs-libotr: libotr_peer printed no bench event")

def libotr(field):
    return statistics.median(run[field] for run in runs)

def burrow_us(name):
    path = os.path.join(criterion_dir, name, "new", "estimates.json")
    with open(path) as f:
        return json.load(f)["mean"]["point_estimate"] / 1000.0  # ns -> µs

# (operation, libotr µs, Burrow µs, goal: Burrow at least this many times as fast)
rows = [
    ("AKE (query → both private)", libotr("ake_us"), burrow_us("ake"), 1.0),
    ("1 KiB data msg, send+receive", libotr("data_1k_us"), burrow_us("data_1k"), 1.5),
    ("SMP (success on both sides)", libotr("smp_us"), burrow_us("smp"), 1.0),
]

def show(us):
    return f"{us / 1000:.3f} ms" if us >= 1000 else f"{us:.2f} µs"

print()
print(f"{'operation':<30} {'libotr':>12} {'Burrow':>12} {'libotr/Burrow':>14} {'goal':>8}  met")
print("-" * 86)
results = []
for name, theirs, ours, goal in rows:
    ratio = theirs / ours
    met = ratio >= goal
    print(f"{name:<30} {show(theirs):>12} {show(ours):>12} {ratio:>13.2f}× {'≥ ' + format(goal, '.1f') + '×':>8}  {'yes' if met else 'NO'}")
    results.append({"operation": name, "libotr_us": round(theirs, 3), "burrow_us": round(ours, 3), "speedup": round(ratio, 3), "goal_speedup": goal, "met": met})
data = rows[1]
print()
print(f"data messages: libotr {1e6 / data[1]:,.0f}/s, Burrow {1e6 / data[2]:,.0f}/s (one direction, 1 KiB each)")
print("goals: AKE and SMP take no longer than libotr's (≥ 1.0×); data messages ≥ 1.5× libotr's throughput")
print(f"libotr: {runs[0].get('libotr', '?')}, median of {len(runs)} runs of --bench {runs[0].get('iterations')}; Burrow: criterion mean")
load = open("/proc/loadavg").read().split()[:3]
cpus = os.cpu_count()
print(f"machine: {cpus} CPUs, load average {' '.join(load)} (other work on the machine skews both sides)")
print()
report = {
    "benchmark": "otr_vs_libotr",
    "timestamp_unix": int(time.time()),
    "machine": {"cpus": cpus, "load_average": " ".join(load), "kernel": open("/proc/sys/kernel/osrelease").read().strip()},
    "libotr_runs": runs,
    "results": results,
    "all_goals_met": all(r["met"] for r in results),
}
with open(output, "w") as f:
    json.dump(report, f, indent=2, ensure_ascii=False)
    f.write("\n")
print(f"results written to {output}")
EOF
