"""What a call costs after the process idled: ``python bench/wake_up.py``.

Between OpenMP parallel regions the runtime's threads spin for a while,
then sleep; the next multi-threaded call wakes them. Idling also lets
other processes evict the call's data from the caches. This times
``ctcc.ctc_loss`` (loss and gradient, float32, the ``speech-small`` batch
unless ``--shape``) on each thread count after sleeping a given gap
before every call, and prints the median and the 10th and 90th
percentiles. Run it once as it is and once with ``OMP_WAIT_POLICY=active``
in the environment (the threads then spin instead of sleeping) to see
which part of the cost is the threads' wake-up. The benchmark harness
times short calls after one untimed call for this reason (see
``bench/README.md``, "Timed rounds").
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import ctcc
from ctcc._bench.workloads import WORKLOADS, make_batch


def _percentiles(seconds: list[float]) -> tuple[float, float, float]:
    ms = np.array(seconds) * 1e3
    return float(np.median(ms)), float(np.percentile(ms, 10)), float(np.percentile(ms, 90))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=4, metavar=("T", "N", "C", "L"))
    parser.add_argument("--gaps-ms", type=float, nargs="+", default=[0, 2, 5, 20])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    T, N, C, L = args.shape or WORKLOADS["speech-small"]
    logits, labels = make_batch(T, N, C, L, seed=1)
    print(
        f"T={T} N={N} C={C} L={L}, {args.calls} calls each, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}"
    )
    print("gap ms | threads | median ms | 10% ms | 90% ms")
    for gap in args.gaps_ms:
        for threads in args.threads:
            ctcc.ctc_loss(logits, labels, num_threads=threads)  # warm
            seconds = []
            for _ in range(args.calls):
                if gap:
                    time.sleep(gap / 1e3)
                start = time.perf_counter()
                ctcc.ctc_loss(logits, labels, num_threads=threads)
                seconds.append(time.perf_counter() - start)
            med, p10, p90 = _percentiles(seconds)
            print(f"{gap:6g} | {threads:7d} | {med:9.3f} | {p10:6.3f} | {p90:6.3f}")


if __name__ == "__main__":
    main()
