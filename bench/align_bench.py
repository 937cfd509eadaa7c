"""Times ctcc.forced_align, and torchaudio.functional.forced_align when it
can be imported, on one batch: ``python bench/align_bench.py``.

Default workload: T = 700 frames, N = 32 samples, C = 29 classes, L = 100
labels per sample, float32, blank 0, random logits. ctcc runs with one
thread and with all threads (medians of repeated calls). torchaudio's
forced_align takes one sample per call, so it runs in a loop over the
batch, on the same log-probabilities (ctcc with ``log_probs=True``); its
alignments are checked against ctcc's before timing. Without a torchaudio
that imports and has forced_align, the comparison is skipped with a note.

``--long`` times one long recording instead (T = 30000, L = 2000 and the
1-hour T = 180000, L = 12000, C = 32, peaked emissions), each run in a fresh
child process whose peak memory (VmHWM) is reported, with 1 and 2 threads
interleaved, and
torchaudio's forced_align on the same input where it is installed (it
crashes once T * (2L + 1) exceeds 2^31; the crash is reported).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np

import ctcc


def _time(fn, repeats: int) -> tuple[float, float]:
    """(median, minimum) seconds of fn() over `repeats` calls."""
    fn()  # warm-up: workspace allocation, page faults
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def _torchaudio():
    """(torch, forced_align) or (None, reason)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import torch
            import torchaudio.functional as F
    except Exception as e:  # ImportError, or a broken install
        return None, f"torchaudio is unavailable ({type(e).__name__}: {e})"
    if not hasattr(F, "forced_align"):
        return None, "this torchaudio has no functional.forced_align"
    return torch, F.forced_align


# --- long recordings: one sample, peak memory of a child process per case ---

_LONG_CASES = ((30000, 2000), (180000, 12000))  # 10 minutes and 1 hour at 50 fps

_CHILD = r"""
import resource, sys, time, warnings
import numpy as np
T, L, C, threads = (int(v) for v in sys.argv[1:5])
who = sys.argv[5]
rng = np.random.default_rng(0)
labels = rng.integers(1, C, size=L).astype(np.int32)
cuts = np.sort(rng.choice(np.arange(1, T), size=2 * L, replace=False))
cls = np.zeros(T, np.int64)
for i in range(L):
    cls[cuts[2 * i]:cuts[2 * i + 1]] = labels[i]
lp = rng.uniform(-30, -10, size=(T, 1, C)).astype(np.float32)
lp[np.arange(T), 0, cls] = 0.0
if who == "ctcc":
    import ctcc
    run = lambda: ctcc.forced_align(lp, [labels], log_probs=True, num_threads=threads)
else:
    import torch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import torchaudio.functional as F
    torch.set_num_threads(threads)
    x, y = torch.from_numpy(lp.transpose(1, 0, 2).copy()), torch.from_numpy(labels[None])
    run = lambda: F.forced_align(x, y, blank=0)
t0, c0 = time.perf_counter(), time.process_time()
run()
dt, cpu = time.perf_counter() - t0, time.process_time() - c0
# The peak of this process's own memory: Linux carries ru_maxrss across
# exec, so it would report the parent's peak (Python with torch imported)
# when that is larger; VmHWM belongs to the memory map made at exec.
try:
    with open("/proc/self/status") as f:
        kb = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
except (OSError, StopIteration):
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(dt, cpu, kb)
"""


def _long_run(T: int, L: int, C: int, threads: int, who: str) -> tuple[float, float, float] | str:
    """(wall seconds, process CPU seconds, peak RSS MB) of one fresh child
    process, or how it died (torchaudio crashes once T * (2L + 1) > 2^31)."""
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-c", _CHILD, str(T), str(L), str(C), str(threads), who],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        why = f"signal {-r.returncode}" if r.returncode < 0 else f"exit {r.returncode}"
        return f"failed ({why}: {r.stderr.strip().splitlines()[-1:] or ''})"
    sec, cpu, kb = r.stdout.split()
    return float(sec), float(cpu), int(kb) / 1024


def _summary(runs: list[tuple[float, float, float]]) -> str:
    times = [r[0] for r in runs]
    return (
        f"{statistics.median(times):.2f} s (min {min(times):.2f}, CPU "
        f"{statistics.median(r[1] for r in runs):.2f} s), peak RSS "
        f"{max(r[2] for r in runs):.0f} MB"
    )


def _long_ctcc(T: int, L: int, C: int, repeats: int) -> list[str]:
    """ctcc on 1 and 2 threads, the two interleaved (one of each per round,
    so that a change in the machine's load hits both alike), and the median
    over rounds of the round's 1-thread / 2-thread time."""
    runs: dict[int, list] = {1: [], 2: []}
    for _ in range(repeats):
        for threads in (1, 2):
            r = _long_run(T, L, C, threads, "ctcc")
            if isinstance(r, str):
                return [f"T={T} L={L} ctcc, {threads} thread(s): {r}"]
            runs[threads].append(r)
    lines = [f"T={T} L={L} ctcc, {k} thread(s): {_summary(runs[k])}" for k in (1, 2)]
    ratios = [a[0] / b[0] for a, b in zip(runs[1], runs[2])]
    lines.append(
        f"T={T} L={L} ctcc, 2 threads vs 1: {statistics.median(ratios):.2f}x "
        f"(median of {repeats} interleaved pairs; range {min(ratios):.2f}-{max(ratios):.2f})"
    )
    return lines


def long_main(repeats: int, C: int = 32) -> int:
    import os

    print(
        f"long recordings, one sample, C={C}, peaked log-probs (float32), median of "
        f"{repeats} fresh processes; peak RSS = the child's VmHWM (Python, NumPy, the inputs "
        "and the call); "
        f"CPU = the call's process CPU time (all threads)"
    )
    if hasattr(os, "getloadavg"):
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    torch, fa = _torchaudio()
    for T, L in _LONG_CASES:
        for line in _long_ctcc(T, L, C, repeats):
            print(line)
        if torch is None:
            print(f"T={T} L={L} torchaudio: skipped ({fa})")
        else:
            r = _long_run(T, L, C, 1, "torchaudio")
            print(f"T={T} L={L} torchaudio, 1 thread: {r if isinstance(r, str) else _summary([r])}")
    if hasattr(os, "getloadavg"):
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--T", type=int, default=700, help="frames (default 700)")
    p.add_argument("--N", type=int, default=32, help="batch size (default 32)")
    p.add_argument("--C", type=int, default=29, help="classes, blank included (default 29)")
    p.add_argument("--L", type=int, default=100, help="labels per sample (default 100)")
    p.add_argument("--repeats", type=int, default=11, help="timed calls (default 11)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--long",
        action="store_true",
        help="time the long one-sample cases (T=30000 L=2000, T=180000 L=12000) with "
        "peak memory instead",
    )
    a = p.parse_args(argv)
    if a.long:
        return long_main(a.repeats if a.repeats != 11 else 3)

    rng = np.random.default_rng(a.seed)
    logits = rng.normal(scale=2.0, size=(a.T, a.N, a.C)).astype(np.float32)
    labels = rng.integers(1, a.C, size=(a.N, a.L)).astype(np.int32)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    log_probs = log_probs.astype(np.float32)
    all_threads = ctcc.default_num_threads() if ctcc.openmp_enabled() else 1

    print(
        f"forced alignment: T={a.T} N={a.N} C={a.C} L={a.L} float32, "
        f"median of {a.repeats} calls; ctcc {ctcc.__version__}, OpenMP "
        f"{'on' if ctcc.openmp_enabled() else 'off'}, all threads = {all_threads}"
    )
    rows = []
    for name, x, lp in (("logits", logits, False), ("log-probs", log_probs, True)):
        for threads in sorted({1, all_threads}):
            sec = _time(
                lambda x=x, lp=lp, k=threads: ctcc.forced_align(
                    x, labels, log_probs=lp, num_threads=k
                ),
                a.repeats,
            )
            rows.append((f"ctcc ({name}, {threads} thread{'s' if threads > 1 else ''})", sec))
    ctcc_lp_1 = rows[len(rows) // 2][1][0]  # median, log-probs, 1 thread

    torch, fa = _torchaudio()
    if torch is None:
        print(f"note: {fa}; skipping the torchaudio comparison")
    else:
        import torchaudio

        # forced_align handles one sample on one thread; torch's intra-op
        # thread pool only adds overhead to it (several times slower with 2
        # threads on a 2-core machine), so it gets 1 thread.
        torch.set_num_threads(1)
        lp_bt = torch.from_numpy(np.ascontiguousarray(log_probs.transpose(1, 0, 2)))
        targets = torch.from_numpy(labels)

        def run_torchaudio():
            out = []
            for n in range(a.N):
                out.append(fa(lp_bt[n : n + 1], targets[n : n + 1], blank=0))
            return out

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = ctcc.forced_align(log_probs, labels, log_probs=True)
            theirs = run_torchaudio()
            same = sum(
                int(np.array_equal(theirs[n][0][0].numpy(), ours.frames[n])) for n in range(a.N)
            )
            score_diff = max(
                abs(float(theirs[n][1][0].sum()) - float(ours.scores[n])) for n in range(a.N)
            )
            print(
                f"check: torchaudio {torchaudio.__version__} (torch {torch.__version__}, "
                f"{torch.get_num_threads()} intra-op thread) gives the same path for "
                f"{same}/{a.N} samples; largest |score difference| {score_diff:.2g}"
            )
            sec = _time(run_torchaudio, a.repeats)
        rows.append((f"torchaudio {torchaudio.__version__} (log-probs, loop over N)", sec))

    print(
        f"{'implementation':<52} {'ms / batch':>11} {'(min)':>8} {'us / sample':>12} {'vs ctcc':>8}"
    )
    for name, (med, best) in rows:
        print(
            f"{name:<52} {med * 1e3:>11.3f} {best * 1e3:>8.3f} {med * 1e6 / a.N:>12.1f} "
            f"{med / ctcc_lp_1:>7.2f}x"
        )
    print("(medians, with the fastest call; vs ctcc: relative to ctcc on log-probs, 1 thread)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
