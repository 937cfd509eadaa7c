"""Times ctcc.ctc_loss (loss and gradient) with the alpha and gamma training
modifications against a plain call, on a harness workload (default
speech-long), one thread unless told otherwise.

Variants: plain CTC, alpha, gamma, both, and alpha with kernel="log" (the
log posteriors every alpha call read before the scaled kernel served
it). Each variant's kernel report (kernel_out) is printed, then the
median, least and largest ms of interleaved rounds, and each median over
the plain call's.

Usage: python bench/modification_cost.py [--workload speech-long]
           [--repeats 15] [--threads 1] [--alpha 0.5] [--gamma 1.0]
"""

from __future__ import annotations

import argparse

import numpy as np
from _interleaved import print_table, time_interleaved

import ctcc
from ctcc._bench.workloads import SEED, WORKLOADS, make_batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="speech-long", choices=sorted(WORKLOADS))
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--gamma", type=float, default=1.0)
    args = parser.parse_args()
    if args.repeats < 1 or args.threads < 1:
        parser.error(
            f"--repeats and --threads must be at least 1, got {args.repeats}, {args.threads}"
        )

    T, N, C, L = WORKLOADS[args.workload]
    logits, labels = make_batch(T, N, C, L, SEED)
    options = {
        "plain": {},
        f"alpha={args.alpha}": {"alpha": args.alpha},
        f"gamma={args.gamma}": {"gamma": args.gamma},
        f"alpha={args.alpha}, gamma={args.gamma}": {"alpha": args.alpha, "gamma": args.gamma},
        f'alpha={args.alpha}, kernel="log"': {"alpha": args.alpha, "kernel": "log"},
    }
    print(
        f"{args.workload}: T={T} N={N} C={C} L={L}, {logits.dtype}, "
        f"{args.threads} thread(s), {args.repeats} rounds"
    )
    used = np.zeros(N, np.uint8)
    for name, kw in options.items():
        ctcc.ctc_loss(logits, labels, num_threads=args.threads, kernel_out=used, **kw)
        print(f"{name}: {int((used == ctcc.KERNEL_LOG_SPACE).sum())} of {N} samples in log space")

    def variant(kw: dict):
        return lambda: ctcc.ctc_loss(logits, labels, num_threads=args.threads, **kw)

    times = time_interleaved(
        {name: variant(kw) for name, kw in options.items()}, args.repeats, warmup=2
    )
    medians = print_table(times)
    for name, median in medians.items():
        print(f"{name}: {median / medians['plain']:.2f} times the plain call")


if __name__ == "__main__":
    main()
