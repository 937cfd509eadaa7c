"""Times ctcc.ctc_loss with and without a preallocated gradient (grad_out=)
on the ocr-large-vocab workload (an 82 MB float32 gradient), 1 thread.

Calls alternate between the two ways, so drifts of a shared machine hit
both alike; prints the median of each and their ratio.

Usage: python bench/out_arrays.py [--repeats 15]
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
    args = parser.parse_args()

    T, N, C, L = WORKLOADS[args.workload]
    logits, labels = make_batch(T, N, C, L, SEED)
    grad_out = np.empty_like(logits)
    loss_out = np.empty(N, logits.dtype)

    def fresh() -> None:
        ctcc.ctc_loss(logits, labels, num_threads=1)

    def reused() -> None:
        ctcc.ctc_loss(logits, labels, num_threads=1, loss_out=loss_out, grad_out=grad_out)

    fresh()
    reused()  # warm up: workspace cache, grad_out's pages
    times: dict[str, list[float]] = {"fresh": [], "grad_out": []}
    for _ in range(args.repeats):
        for name, fn in (("fresh", fresh), ("grad_out", reused)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)

    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    print(
        f"{args.workload}: T={T} N={N} C={C} L={L}, float32, 1 thread, "
        f"gradient {logits.nbytes / 1e6:.0f} MB, median of {args.repeats} interleaved calls"
    )
    for k, v in times.items():
        print(f"  {k:9s} median {med[k]:7.2f} ms  (min {min(v) * 1e3:.2f}, max {max(v) * 1e3:.2f})")
    print(f"  ratio fresh / grad_out: {med['fresh'] / med['grad_out']:.2f}x")


if __name__ == "__main__":
    main()
