"""Writes the seed inputs of tests/fuzz/corpus/ (run from anywhere).

One small, valid case per entry point and precision, laid out as
fuzz_ctcc.c reads its bytes: entry, sizes, options, decoder parameters,
flags, workspace mode, then lengths, labels and input values.
"""

import pathlib
import random

ENTRIES = [
    "ws_loss",
    "ws_align",
    "ws_beam",
    "loss",
    "posteriors",
    "align",
    "greedy",
    "beam",
    "status_string",
    "info",
]


def seed(entry: int, is64: int, rng: random.Random) -> bytes:
    n, t, c = 2, 6, 4
    head = [
        entry + 10 * is64,
        n - 1,  # N = 1 + b % 6
        t,  # T = b % 41
        c - 1,  # C = 1 + b % 12
        200,  # options set
        0,  # struct_size: sizeof
        0,  # blank 0
        1,  # num_threads 1
        rng.randrange(4),  # input kind and layout
        0,  # alpha: none
        0,  # gamma: 0
        0,  # dtype: as the entry
        2,  # beam_width 3
        1,  # top_paths 2
        0,  # blank_penalty 0
        0,  # no log prior
        0b1011111,  # gradients, posteriors, weights, spans, scores
        0,  # no NULL pointer
        0,  # exact workspace
        1,  # workspace shift
    ]
    lengths = []
    for _ in range(n):
        lengths += [t, 2]  # input length T, label length 2 (b % (T/2+2))
    labels = [rng.randrange(c - 1) for _ in range(2 * n)]
    values = [0, 0] + [rng.randrange(256) for _ in range(t * n * c)]
    return bytes(head + lengths + labels + values)


def main() -> None:
    out = pathlib.Path(__file__).resolve().parent / "corpus"
    out.mkdir(exist_ok=True)
    rng = random.Random(1)
    for entry, name in enumerate(ENTRIES):
        for is64 in (0, 1):
            if entry >= 8 and is64:
                continue
            path = out / f"seed-{name}-f{64 if is64 else 32}"
            path.write_bytes(seed(entry, is64, rng))


if __name__ == "__main__":
    main()
