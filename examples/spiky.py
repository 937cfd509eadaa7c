"""The simulation of Li and Wang, "Reinterpreting CTC training as iterative
fitting" (section 2.4, figures 4-6): why CTC outputs get spiky, and what the
non-blank proportion alpha and the key-frame exponent gamma change.

There is no network: a random logits matrix [T frames, C classes] is itself
the parameter, updated by plain gradient descent with the gradient that
ctcc.ctc_loss returns for one label sequence:

    logits <- logits - lr * grad(logits; alpha, gamma)

Every setting starts from the same near-uniform logits (N(0, 0.1^2), like the
outputs of a freshly initialised network). With plain CTC the blank first
swallows most frames (the paper's "suppression phase"), then each label
grows as a narrow spike; with alpha = 0.5 the pseudo ground truth keeps half
of the mass on labels and the labels stay wide; gamma = 1 reweights the
frames towards the "key frames" where the target is furthest above the
output.

Printed per setting: the first iteration at which p(labels) > 0.5, the
iteration of convergence (the first at which greedy best-path decoding gives
the labels AND p(labels) > 0.9), the final loss, the final non-blank share of
the outputs (mean over frames of 1 - y_blank) and the number of frames whose
argmax is not the blank. One PNG per setting (snapshots of the outputs, solid
for labels and dashed for the blank, with the pseudo ground truth that the
gradient fits them to, dotted) and a summary PNG are written to --out.

    python examples/spiky.py                 # a few seconds; PNGs in docs/img/
    python examples/spiky.py --out /tmp/spiky --iters 3000
    python examples/spiky.py --quick         # smoke test: 60 iterations, plots not kept
    python examples/spiky.py --no-plot       # table only, no matplotlib needed
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

import ctcc

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "docs", "img")

BLANK = 0
SETTINGS = [
    # name, label, ctc_loss keyword arguments
    ("ctc", "plain CTC", {}),
    ("alpha", "alpha = 0.5", {"alpha": 0.5}),
    ("gamma", "gamma = 1", {"gamma": 1.0}),
    ("alpha_gamma", "alpha = 0.5, gamma = 1", {"alpha": 0.5, "gamma": 1.0}),
]
SNAPSHOTS = [0, 20, 50, 100, 200, 500, 1000, 2000]


def softmax(x):
    z = np.exp(x - x.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def best_path(y):
    """Greedy decoding: argmax per frame, merge repeats, drop blanks."""
    path = y.argmax(axis=-1)
    out = [int(k) for i, k in enumerate(path) if k != BLANK and (i == 0 or k != path[i - 1])]
    return out, path


def simulate(labels, T, C, iters, lr, seed, kw):
    """Gradient descent on a [T, C] logits matrix. Returns the outputs y at
    every iteration [iters + 1, T, C], the losses [iters + 1] and the
    iterations at which p(labels) first exceeds 0.5 and at which the run
    converged (None if never)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=0.1, size=(T, 1, C))
    outputs = np.empty((iters + 1, T, C))
    losses = np.empty(iters + 1)
    half = converged = None
    for it in range(iters + 1):
        loss, grad = ctcc.ctc_loss(x, [labels], **kw)
        y = softmax(x[:, 0])
        outputs[it], losses[it] = y, loss[0]
        p = np.exp(-loss[0])
        if half is None and p > 0.5:
            half = it
        if converged is None and p > 0.9 and best_path(y)[0] == list(labels):
            converged = it
        x -= lr * grad
    return outputs, losses, half, converged


def pseudo_gt(y, labels, kw):
    """The targets y'' that the gradient pulls the outputs y towards."""
    logp = np.log(np.maximum(y, 1e-300))[:, None, :]
    return ctcc.ctc_posteriors(logp, [labels], log_probs=True, **kw)[:, 0]


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        sys.exit(
            "examples/spiky.py: the plots need matplotlib (pip install matplotlib); "
            "run with --no-plot to print the table only"
        )
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _colours(C):
    cmap = ["tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:brown"]
    return {k: cmap[(k - 1) % len(cmap)] for k in range(C) if k != BLANK}


def _draw(ax, y, target, colours):
    frames = np.arange(y.shape[0])
    ax.plot(frames, y[:, BLANK], color="0.35", ls="--", lw=1.2, label="blank")
    if target is not None:
        ax.plot(frames, target[:, BLANK], color="0.35", ls=":", lw=0.9)
    for k, c in colours.items():
        ax.plot(frames, y[:, k], color=c, lw=1.4, label=f"label {k}")
        if target is not None:
            ax.plot(frames, target[:, k], color=c, ls=":", lw=0.9)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlim(0, y.shape[0] - 1)


def _class_legend(fig, ax, dotted=False):
    """One legend for the figure: a line per label, the blank, and (for the
    snapshot figures) what the dotted lines are."""
    handles, names = ax.get_legend_handles_labels()
    if dotted:
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], color="0.35", ls=":", lw=0.9))
        names.append("pseudo ground truth (targets)")
    fig.legend(handles, names, loc="outside lower center", ncol=len(names), fontsize=9)


def plot_setting(path, title, outputs, losses, labels, kw, snapshots, dpi):
    plt = _pyplot()
    C = outputs.shape[-1]
    colours = _colours(C)
    cols = 4
    rows = -(-len(snapshots) // cols)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(2.9 * cols, 2.0 * rows + 0.9),
        sharex=True,
        sharey=True,
        layout="constrained",
    )
    axes = np.atleast_1d(axes).ravel()
    for ax, it in zip(axes, snapshots):
        y = outputs[it]
        _draw(ax, y, pseudo_gt(y, labels, kw), colours)
        ax.set_title(f"iteration {it}: p(labels) = {np.exp(-losses[it]):.2f}", fontsize=9)
        ax.tick_params(labelsize=8)
    for ax in axes[len(snapshots) :]:
        ax.axis("off")
    fig.suptitle(
        f"{title}: outputs (solid: labels, dashed: blank), pseudo ground truth dotted",
        fontsize=10,
    )
    for ax in axes[(rows - 1) * cols :]:
        ax.set_xlabel("frame", fontsize=9)
    fig.supylabel("output probability", fontsize=9)
    _class_legend(fig, axes[0], dotted=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)


def plot_summary(path, results, labels, dpi):
    plt = _pyplot()
    n = len(results)
    fig, axes = plt.subplots(
        n + 1,
        1,
        figsize=(8, 2.3 + 1.5 * n + 0.5),
        height_ratios=[1.6] + [1] * n,
        layout="constrained",
    )
    ax = axes[0]
    styles = [("black", "-"), ("tab:cyan", "-"), ("tab:olive", "--"), ("tab:pink", "--")]
    for (_, title, _), (_outputs, losses, _, _), (c, ls) in zip(SETTINGS, results, styles):
        steps = np.arange(1, len(losses) + 1)
        ax.loglog(steps, np.maximum(losses, 1e-12), label=title, color=c, ls=ls, lw=1.5)
    ax.set_ylabel("CTC loss", fontsize=10)
    ax.set_xlabel("iteration + 1", fontsize=10)
    ax.set_title("loss during training (log-log)", fontsize=10)
    ax.legend(fontsize=10, loc="lower left")
    ax.tick_params(labelsize=9)
    colours = _colours(results[0][0].shape[-1])
    for ax, (_, title, _), (outputs, losses, _, _) in zip(axes[1:], SETTINGS, results):
        y = outputs[-1]
        _draw(ax, y, None, colours)
        share = 1.0 - y[:, BLANK].mean()
        ax.set_title(
            f"{title}, iteration {len(losses) - 1}: non-blank share {share:.2f}", fontsize=10
        )
        ax.set_ylabel("output\nprobability", fontsize=9)
        ax.tick_params(labelsize=9)
        if ax is not axes[-1]:
            ax.tick_params(labelbottom=False)
    axes[-1].set_xlabel("frame", fontsize=10)
    _class_legend(fig, axes[1])
    fig.savefig(path, dpi=dpi)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=None, help=f"folder for the PNGs (default {DEFAULT_OUT})")
    ap.add_argument("--iters", type=int, default=2000, help="gradient steps (default 2000)")
    ap.add_argument("--lr", type=float, default=1.0, help="learning rate (default 1.0)")
    ap.add_argument("--frames", type=int, default=60, help="T, frames (default 60)")
    ap.add_argument("--labels", default="1,2,3,4,5", help="label sequence (default 1,2,3,4,5)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dpi", type=int, default=80)
    ap.add_argument(
        "--quick",
        action="store_true",
        help="60 iterations; the plots are drawn but kept only with --out",
    )
    ap.add_argument("--no-plot", action="store_true", help="print the table only")
    args = ap.parse_args(argv)

    labels = [int(v) for v in args.labels.split(",") if v.strip()]
    if not labels or min(labels) <= BLANK:
        ap.error("--labels: give classes >= 1 (0 is the blank)")
    T, C = args.frames, max(labels) + 1
    iters = 60 if args.quick else args.iters
    if args.frames < len(labels) + sum(a == b for a, b in zip(labels, labels[1:])):
        ap.error("--frames: too few frames for these labels")

    plot = not args.no_plot
    tmp = None
    if plot:
        _pyplot()  # fail early if matplotlib is missing
        if args.quick and args.out is None:
            tmp = tempfile.TemporaryDirectory(prefix="ctcc_spiky_")
            out = tmp.name
        else:
            out = args.out or DEFAULT_OUT
        os.makedirs(out, exist_ok=True)

    print(
        f"T = {T} frames, C = {C} classes (blank 0), labels {labels}, "
        f"{iters} iterations of gradient descent, lr = {args.lr}, seed {args.seed}"
    )
    start = time.perf_counter()
    results = [simulate(labels, T, C, iters, args.lr, args.seed, kw) for _, _, kw in SETTINGS]
    elapsed = time.perf_counter() - start

    head = (
        f"{'setting':<24}{'p>0.5 at':>9}{'converged at':>14}{'final loss':>12}"
        f"{'non-blank share':>17}{'non-blank frames':>18}"
    )
    print(head)
    print("-" * len(head))
    for (_, title, _), (outputs, losses, half, conv) in zip(SETTINGS, results):
        y = outputs[-1]
        decoded, path = best_path(y)
        print(
            f"{title:<24}{'-' if half is None else half:>9}{'-' if conv is None else conv:>14}"
            f"{losses[-1]:>12.4f}{1.0 - y[:, BLANK].mean():>17.3f}"
            f"{int((path != BLANK).sum()):>13} / {T}"
        )
    print(
        "converged: first iteration at which greedy best-path decoding gives the labels and "
        "p(labels) > 0.9"
    )
    for (_, title, _), (outputs, *_) in zip(SETTINGS, results):
        path = outputs[-1].argmax(axis=-1)
        print(f"  {title:<24}{''.join('-' if k == BLANK else str(k) for k in path)}")
    print(f"({elapsed:.2f} s for the {len(SETTINGS)} runs)")

    if plot:
        snapshots = [s for s in SNAPSHOTS if s < iters] + [iters]
        paths = []
        for (name, title, kw), (outputs, losses, _, _) in zip(SETTINGS, results):
            paths.append(os.path.join(out, f"spiky_{name}.png"))
            plot_setting(paths[-1], title, outputs, losses, labels, kw, snapshots, args.dpi)
        paths.append(os.path.join(out, "spiky_summary.png"))
        plot_summary(paths[-1], results, labels, args.dpi)
        if tmp is None:
            for path in paths:
                print(f"wrote {path}")
        else:
            tmp.cleanup()
            print(
                f"drew the {len(paths)} figures and discarded them "
                "(--quick keeps no files; add --out DIR to keep them)"
            )


if __name__ == "__main__":
    main()
