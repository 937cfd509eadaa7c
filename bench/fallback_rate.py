"""Which kernel computes long random (untrained) outputs: for T from 700 to
20 000 frames and L = T / 7 and T / 10 labels, standard-normal logits over
29 classes, how many samples fall back to the log-space kernel with the
gradient and loss only (``kernel_out=``). Run from a checkout:
``python bench/fallback_rate.py [--max-frames T]``."""

import argparse

import numpy as np

import ctcc

FRAMES = (700, 1000, 2000, 4000, 8000, 20000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-frames", type=int, default=FRAMES[-1], help="longest T to run")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    for T in (t for t in FRAMES if t <= args.max_frames):
        for per in (7, 10):
            L, N = T // per, 4 if T <= 8000 else 1
            x = rng.standard_normal((T, N, 29)).astype(np.float32)
            labels = rng.integers(1, 29, size=(N, L))
            fell = []
            for grad in (True, False):
                used = np.zeros(N, np.uint8)
                ctcc.ctc_loss(x, labels, grad=grad, kernel_out=used)
                fell.append(int((used == ctcc.KERNEL_LOG_SPACE).sum()))
            print(
                f"T = {T:6d}, L = {L:5d}, N = {N}: fell back "
                f"{fell[0]} / {N} with the gradient, {fell[1]} / {N} loss only",
                flush=True,
            )


if __name__ == "__main__":
    main()
