"""Times ctcc.ctc_loss with and without a preallocated gradient (grad_out=)
on the ocr-large-vocab workload (an 82 MB float32 gradient), on each
thread count asked for (default 1).

Calls alternate between the ways and thread counts (each timed call after
an untimed one of the same kind), so drifts of a shared machine hit all
alike; prints the median of each, the ratio fresh /
grad_out, and with several thread counts how many times faster each way
runs than on the first.

Usage: python bench/out_arrays.py [--repeats 15] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import ctcc
from ctcc._bench.workloads import SEED, WORKLOADS, make_batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--workload", default="ocr-large-vocab")
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    args = parser.parse_args()
    if any(t < 1 for t in args.threads):
        parser.error(f"--threads: each count must be at least 1, got {args.threads}")

    T, N, C, L = WORKLOADS[args.workload]
    logits, labels = make_batch(T, N, C, L, SEED)
    grad_out = np.empty_like(logits)
    loss_out = np.empty(N, logits.dtype)

    def fresh(threads: int) -> None:
        ctcc.ctc_loss(logits, labels, num_threads=threads)

    def reused(threads: int) -> None:
        ctcc.ctc_loss(logits, labels, num_threads=threads, loss_out=loss_out, grad_out=grad_out)

    ways = (("fresh", fresh), ("grad_out", reused))
    for threads in args.threads:  # warm up: workspace cache, grad_out's pages
        for _, fn in ways:
            fn(threads)
    times: dict[tuple[str, int], list[float]] = {
        (name, t): [] for t in args.threads for name, _ in ways
    }
    for _ in range(args.repeats):
        for threads in args.threads:
            for name, fn in ways:
                # An untimed call first: what a call of the other way leaves
                # behind (an 82 MB munmap, the system's work on freed huge
                # pages) slowed the two-thread calls that followed it.
                fn(threads)
                start = time.perf_counter()
                fn(threads)
                times[name, threads].append(time.perf_counter() - start)

    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    print(
        f"{args.workload}: T={T} N={N} C={C} L={L}, float32, "
        f"gradient {logits.nbytes / 1e6:.0f} MB, median of {args.repeats} interleaved calls"
    )
    first = args.threads[0]
    for threads in args.threads:
        print(f" {threads} thread(s):")
        for name, _ in ways:
            v = times[name, threads]
            line = f"  {name:9s} median {med[name, threads]:7.2f} ms  "
            line += f"(min {min(v) * 1e3:.2f}, max {max(v) * 1e3:.2f})"
            if threads != first:
                line += f"  {med[name, first] / med[name, threads]:.2f}x {first} thread(s)"
            print(line)
        ratio = med["fresh", threads] / med["grad_out", threads]
        print(f"  ratio fresh / grad_out: {ratio:.2f}x")


if __name__ == "__main__":
    main()
