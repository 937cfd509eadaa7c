"""Times ctcc.ctc_loss called from several Python threads at once against
the same calls made one after the other: ``python bench/concurrency.py``.

Default workload: 32 calls, each on its own speech-sized batch (T = 700
frames, N = 32 samples, C = 29 classes, L = 100 labels, float32, loss and
gradient), every call with ``num_threads=1`` (no OpenMP inside a call), so
that any speed-up comes from the Python threads running the C core in
parallel: the bindings release the GIL. The threads live across the
timed rounds, so each reuses its workspace as a long-lived training thread
would (new threads per round measure page faults on fresh workspaces,
which on a loaded machine can eat the whole gain). Prints the median wall
time of ``--repeats`` runs of each mode, the speed-up and the core count,
and checks that the threaded results are bitwise those of the sequential
calls. For comparison, it also times the sequential calls with OpenMP
threads inside each call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time

import numpy as np

import ctcc


def _batches(calls: int, T: int, N: int, C: int, L: int) -> list:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(calls):
        logits = rng.standard_normal((T, N, C)).astype(np.float32)
        labels = rng.integers(1, C, size=(N, L)).astype(np.int32)
        out.append((logits, labels))
    return out


def _sequential(batches: list, num_threads: int = 1) -> list:
    return [ctcc.ctc_loss(x, y, num_threads=num_threads) for x, y in batches]


class _Team:
    """`size` Python threads that live across rounds, so that each keeps its
    workspace between calls (as the sequential caller's thread does): a
    fresh thread would allocate and fault in a new workspace first."""

    def __init__(self, size: int, batches: list) -> None:
        self.batches = batches
        self.results: list = [None] * len(batches)
        self.start = threading.Barrier(size + 1)
        self.done = threading.Barrier(size + 1)
        self.stop = False
        self.threads = [
            threading.Thread(target=self._work, args=(k, size), daemon=True) for k in range(size)
        ]
        for t in self.threads:
            t.start()

    def _work(self, k: int, size: int) -> None:
        while True:
            self.start.wait()
            if self.stop:
                return
            for i in range(k, len(self.batches), size):
                x, y = self.batches[i]
                self.results[i] = ctcc.ctc_loss(x, y, num_threads=1)
            self.done.wait()

    def run(self) -> list:
        """One round: every batch once, spread over the threads."""
        self.start.wait()
        self.done.wait()
        return list(self.results)

    def close(self) -> None:
        self.stop = True
        self.start.wait()
        for t in self.threads:
            t.join()


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=32)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--shape", type=int, nargs=4, default=[700, 32, 29, 100], metavar=("T", "N", "C", "L")
    )
    args = parser.parse_args()

    batches = _batches(args.calls, *args.shape)
    want = _sequential(batches)  # also warms this thread's workspace
    team = _Team(args.threads, batches)
    got = team.run()  # and the workers'
    for (wl, wg), (gl, gg) in zip(want, got):
        assert wl.tobytes() == gl.tobytes() and wg.tobytes() == gg.tobytes()

    seq = _median_time(lambda: _sequential(batches), args.repeats)
    par = _median_time(team.run, args.repeats)
    team.close()
    omp = _median_time(lambda: _sequential(batches, 0), args.repeats)
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count()
    T, N, C, L = args.shape
    print(
        f"ctcc {ctcc.__version__}: {args.calls} calls of ctc_loss (T={T}, N={N}, C={C}, "
        f"L={L}, float32, loss + gradient, num_threads=1 per call)"
    )
    print(f"cores: {usable} usable ({os.cpu_count()} in the machine)")
    print(f"sequential:           {seq * 1e3:8.1f} ms (median of {args.repeats})")
    print(f"{args.threads} Python threads:     {par * 1e3:8.1f} ms (median of {args.repeats})")
    print(f"speed-up:             {seq / par:8.2f}x  (threaded results bitwise equal)")
    print(
        f"for comparison, sequential calls with OpenMP threads (num_threads=0, "
        f"openmp={ctcc.openmp_enabled()}): {omp * 1e3:.1f} ms, {seq / omp:.2f}x"
    )


if __name__ == "__main__":
    main()
