#!/usr/bin/env python3
"""Overhead of the PyTorch adapter over a direct ctcc call.

Times loss + gradient with respect to the log-probabilities on one thread
everywhere (``torch.set_num_threads(1)``, ctcc gets ``num_threads=1``):

- ``ctcc.ctc_loss`` on NumPy arrays (the reference: the C core alone);
- ``ctcc.torch.ctc_loss``: forward and ``backward()`` of the summed loss,
  eagerly and in ``torch.compile(fullgraph=True)`` (backend "aot_eager");
- ``torch.nn.functional.ctc_loss`` (torch's CPU kernel) the same way, eagerly.

Each round calls every variant once, in a rotating order; the script prints
the median, minimum and maximum per variant, the adapter/direct ratios and
the speed-up over torch, then the time the direct call and the eager adapter
spend outside the C call (the adapter's own cost, which a ratio of two
timings on a busy machine hides in noise).

With ``--out-arrays`` also the eager adapter with its gradient written into a
``torch.empty`` tensor (``grad_out=`` its NumPy view) instead of a fresh NumPy
array that ``torch.from_numpy`` wraps (the adapter's way; neither copies):
the experiment behind the adapter's choice, on ocr-large-vocab
``--shape 64 64 5000 20`` (an 82 MB gradient).

    python bench/torch_overhead.py [--shape T N C L] [--repeats K] [--no-compile] [--out-arrays]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _interleaved import check_agreement, print_table, time_interleaved  # bench/


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", type=int, nargs=4, default=[700, 32, 29, 100])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument(
        "--out-arrays",
        action="store_true",
        help="also time the adapter writing its gradient into a torch.empty tensor",
    )
    args = parser.parse_args()
    T, N, C, L = args.shape

    import torch
    import torch.nn.functional as F

    torch.set_num_threads(1)

    import ctcc
    import ctcc.torch

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(T, N, C)).astype(np.float32)
    lp_np = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    lp_np = lp_np.astype(np.float32)
    targets_np = rng.integers(1, C, size=(N, L)).astype(np.int64)  # blank 0
    target_len_np = np.full(N, L, np.int64)
    input_len_np = np.full(N, T, np.int64)
    lp = torch.from_numpy(lp_np)
    targets, target_len, input_len = map(
        torch.from_numpy, (targets_np, target_len_np, input_len_np)
    )

    # Times of the C calls, through a stand-in for ctcc's extension module.
    import ctcc._loss

    in_c: list[float] = []

    class TimedCore:
        def __getattr__(self, name):
            return getattr(core, name)

        def ctc_loss_raw(self, *a):
            t0 = time.perf_counter()
            result = core.ctc_loss_raw(*a)
            in_c.append(time.perf_counter() - t0)
            return result

    core = ctcc._loss._core
    ctcc._loss._core = TimedCore()

    def direct():
        return ctcc.ctc_loss(
            lp_np, targets_np, input_len_np, target_len_np, log_probs=True, num_threads=1
        )

    def autograd(fn):
        x = lp.clone().requires_grad_()

        def run():
            x.grad = None
            loss = fn(x, targets, input_len, target_len, reduction="none")
            loss.sum().backward()
            return loss.detach().numpy(), x.grad.numpy()

        return run

    def ours(x, *a, **kw):
        return ctcc.torch.ctc_loss(x, *a, num_threads=1, **kw)

    eager = autograd(ours)
    variants = {"ctcc.ctc_loss (direct, NumPy)": direct, "ctcc.torch.ctc_loss eager": eager}
    if not args.no_compile:
        variants["ctcc.torch.ctc_loss torch.compile"] = autograd(
            torch.compile(ours, fullgraph=True, backend="aot_eager")
        )
    if args.out_arrays:
        numpy_loss = ctcc.ctc_loss

        def into_torch_empty(x, *a, **kw):
            # what the operator would do with grad_out: a torch tensor's memory
            if kw.get("grad", True):
                kw["grad_out"] = torch.empty(x.shape, dtype=torch.from_numpy(x[:0]).dtype).numpy()
            return numpy_loss(x, *a, **kw)

        def patched(run):
            def call():
                ctcc.ctc_loss = into_torch_empty
                try:
                    return run()
                finally:
                    ctcc.ctc_loss = numpy_loss

            return call

        variants["ctcc.torch eager, grad_out=torch.empty"] = patched(autograd(ours))
    variants["torch.nn.functional.ctc_loss"] = autograd(F.ctc_loss)

    # agreement first (also the first warm-up call); torch's gradient with
    # respect to log-probabilities is exp(lp) - posteriors, ctcc's -posteriors
    check_agreement(
        variants,
        direct,
        lambda name, grad: grad - np.exp(lp_np) if name.startswith("torch.nn") else grad,
    )
    times = time_interleaved(variants, args.repeats, args.warmup)
    names = list(variants)

    print(
        f"T={T} N={N} C={C} L={L} float32, loss + gradient, 1 thread "
        f"(torch.set_num_threads(1), ctcc num_threads=1), {args.repeats} rounds; "
        f"torch {torch.__version__}, ctcc {ctcc.__version__}"
    )
    medians = print_table(times)
    # The adapter's own cost: its time outside the C call (checks, the
    # operator call, the scaling of the gradient in the backward pass).
    # Less noisy than a ratio of two timings on a busy machine.
    outside = {"ctcc.ctc_loss (direct, NumPy)": direct, "ctcc.torch.ctc_loss eager": eager}
    for name, fn in outside.items():
        spent = []
        for _ in range(args.repeats):
            in_c.clear()
            t0 = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - t0 - sum(in_c))
        print(f"{name}: time outside the C call, median {1e3 * statistics.median(spent):.2f} ms")
    base, base_min = medians[names[0]], min(times[names[0]])
    theirs = "torch.nn.functional.ctc_loss"
    if args.out_arrays:
        name = "ctcc.torch eager, grad_out=torch.empty"
        print(f"{name} / ctcc.torch.ctc_loss eager: {medians[name] / medians[names[1]]:.2f}")
    for name in names[1:-1]:
        print(
            f"ratio {name} / direct: median {medians[name] / base:.3f}, "
            f"min {min(times[name]) / base_min:.3f}; "
            f"speed-up over {theirs}: {medians[theirs] / medians[name]:.2f}x"
        )


if __name__ == "__main__":
    main()
