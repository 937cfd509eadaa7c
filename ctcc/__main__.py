"""``python -m ctcc``: a demonstration of the library.

1. The worked example "egg": loss and gradient next to the published values.
2. Beyond the loss, on the same example: the posteriors (the targets the
   gradient fits) and their alpha-modified version, the forced alignment,
   and greedy and beam search decoding.
3. A speech-sized random batch (T=700, N=32, C=29, L=100): timing of loss +
   gradient and loss only, with the thread count and whether OpenMP is on.

``python -m ctcc bench [options]`` runs the benchmark harness instead
(ctcc against TensorFlow, PyTorch and optax, and each framework's adapter
against that framework's own loss; ``python -m ctcc bench --help``).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import ctcc

if getattr(ctcc, "__file__", None) is None:
    # A namespace package: a folder named ctcc without __init__.py in the
    # current directory (typically a checkout of ctcc, seen from its parent)
    # comes first on sys.path and hides the package of an editable install.
    raise SystemExit(
        f"python -m ctcc: 'ctcc' is the folder {', '.join(ctcc.__path__)} here, not the "
        f"ctcc package: a folder named ctcc in the current directory hides the installed "
        f"package from Python. Run from another directory (e.g. the checkout itself)."
    )

from ctcc import _egg  # noqa: E402


def show_egg() -> bool:
    logits = np.log(np.array(_egg.PROBS, dtype=np.float64))[:, None, :]
    loss, grad = ctcc.ctc_loss(logits, [list(_egg.LABELS)], blank=_egg.BLANK)
    published = np.array(_egg.GRAD_PUBLISHED)
    print('Worked example "egg": alphabet (a, e, g, blank), blank = last class, T = 5')
    print(f"  loss      ctcc {loss[0]:.7f}   published {_egg.LOSS_PUBLISHED:.7f}")
    print("  gradient w.r.t. logits, ctcc | published:")
    header = "".join(f"{name:>10}" for name in _egg.ALPHABET)
    print(f"      t {header}   |{header}")
    for t in range(grad.shape[0]):
        ours = "".join(f"{v:10.6f}" for v in grad[t, 0])
        theirs = "".join(f"{v:10.6f}" for v in published[t])
        print(f"    {t:3d} {ours}   |{theirs}")
    # The published numbers are rounded to six or seven digits.
    worst = float(np.abs(grad[:, 0, :] - published).max())
    ok = abs(loss[0] - _egg.LOSS_PUBLISHED) < 5e-6 and worst < 1e-6
    print(f"  largest gradient difference {worst:.1e}: {'agrees' if ok else 'DISAGREES'}")
    return ok


def _word(seq) -> str:
    return "".join(_egg.ALPHABET[c] for c in seq) or "(empty)"


def show_beyond() -> bool:
    logits = np.log(np.array(_egg.PROBS, dtype=np.float64))[:, None, :]
    labels = [list(_egg.LABELS)]
    kw = {"blank": _egg.BLANK}
    post = ctcc.ctc_posteriors(logits, labels, **kw)[:, 0]
    alpha = ctcc.ctc_posteriors(logits, labels, alpha=0.5, **kw)[:, 0]
    print('\nBeyond the loss, on "egg":')
    header = "".join(f"{name:>7}" for name in _egg.ALPHABET)
    print(
        f"  posteriors p(frame t emits c | egg)  |  with alpha = 0.5\n      t {header}  |{header}"
    )
    for t in range(post.shape[0]):
        left = "".join(f"{v:7.3f}" for v in post[t])
        right = "".join(f"{v:7.3f}" for v in alpha[t])
        print(f"    {t:3d} {left}  |{right}")
    path = ctcc.forced_align(logits, labels, **kw)
    frames = "".join("-" if c == _egg.BLANK else _egg.ALPHABET[c] for c in path.frames[0])
    print(
        f"  forced alignment  {frames}   log p = {path.scores[0]:.4f}, "
        f"label spans {path.spans[0].tolist()}"
    )
    greedy = ctcc.greedy_decode(logits, **kw)[0]
    paths, scores = ctcc.beam_search_decode(logits, beam_width=64, top_paths=3, **kw)
    print(f"  greedy decoding   {_word(greedy)}")
    best = ", ".join(f"{_word(p)} ({s:.4f})" for p, s in zip(paths[0], scores[0]))
    print(f"  beam search, top 3 with log p: {best}")
    # The beam is wide enough to be exact here: each score is -ctc_loss.
    top_loss, _ = ctcc.ctc_loss(logits, [list(paths[0][0])], grad=False, **kw)
    ok = bool(np.allclose(post.sum(1), 1.0)) and abs(scores[0][0] + top_loss[0]) < 1e-9
    print(
        f"  posterior rows sum to 1, and the best beam score equals -ctc_loss of its "
        f"labelling ({-top_loss[0]:.4f}): {'yes' if ok else 'NO'}"
    )
    return ok


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def show_timing(T: int, N: int, C: int, L: int, threads: int, repeats: int) -> None:
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((T, N, C), dtype=np.float32)
    labels = rng.integers(1, C, size=(N, L))
    used = threads or ctcc.default_num_threads()
    print(
        f"\nRandom batch T={T}, N={N}, C={C}, L={L}, float32, {used} thread(s), "
        f"OpenMP {'on' if ctcc.openmp_enabled() else 'off'}"
    )
    with_grad = median_ms(lambda: ctcc.ctc_loss(logits, labels, num_threads=threads), repeats)
    loss_only = median_ms(
        lambda: ctcc.ctc_loss(logits, labels, num_threads=threads, grad=False), repeats
    )
    cells = N * T * (2 * L + 1)
    print(f"  loss + gradient  {with_grad:8.2f} ms  ({1e6 * with_grad / cells:.1f} ns per DP cell)")
    print(f"  loss only        {loss_only:8.2f} ms  (median of {repeats})")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        from ctcc._bench import main as bench_main

        return bench_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m ctcc",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--threads", type=int, default=0, help="0 = all available")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--shape", type=int, nargs=4, metavar=("T", "N", "C", "L"), default=(700, 32, 29, 100)
    )
    args = parser.parse_args(argv)
    print(f"ctcc {ctcc.__version__}")
    ok = show_egg()
    ok = show_beyond() and ok
    show_timing(*args.shape, threads=args.threads, repeats=args.repeats)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
