#!/usr/bin/env python3
"""Overhead of the JAX adapter over a direct ctcc call, and optax for scale.

Times, on one thread everywhere (XLA's CPU thread pools are limited to one
thread before JAX starts, ctcc gets num_threads=1), batch-major float32
logits [N, T, C]:

- ``ctcc.ctc_loss`` on NumPy arrays (the reference: the C core alone), loss
  only and loss + gradient;
- ``ctcc.jax.ctc_loss`` under ``jax.jit``: the loss alone, and
  ``jax.value_and_grad`` of the summed loss (loss + gradient);
- ``optax.ctc_loss`` under ``jax.jit`` the same two ways (when optax is
  installed).

Each round calls every variant once, in a rotating order, and waits for its
results; the script prints, per variant, the median, minimum and maximum
wall time and the median CPU time of the process (less sensitive to other
load on the machine: every part runs on one thread at a time), then the
adapter/direct ratios and ctcc.jax's speed-up over optax on both clocks.

With ``--out-arrays`` also ``value_and_grad`` with the host callback writing
the gradient into one array kept from call to call (``grad_out=``) instead
of a fresh one: ``jax.pure_callback`` copies a callback's results into
buffers XLA allocates, so ``grad_out`` cannot spare that copy; reusing the
array only spares the page faults of a fresh one, for the memory of a
gradient held between calls. The experiment behind the adapter's choice
(not to), on ocr-large-vocab ``--shape 64 64 5000 20`` (an 82 MB gradient).

    python bench/jax_overhead.py [--shape T N C L] [--repeats K] [--out-arrays]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

# One thread for XLA's CPU backend (must be set before JAX starts).
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "")
    + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", type=int, nargs=4, default=[700, 32, 29, 100])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--out-arrays",
        action="store_true",
        help="also time the callback writing its gradient into an array kept between calls",
    )
    args = parser.parse_args()
    T, N, C, L = args.shape

    import jax
    import jax.numpy as jnp

    import ctcc
    import ctcc.jax

    try:
        import optax
    except ImportError:
        optax = None
        print("optax is not installed: its rows are left out")

    rng = np.random.default_rng(0)
    x_np = rng.normal(size=(N, T, C)).astype(np.float32)
    labels_np = rng.integers(1, C, size=(N, L)).astype(np.int32)  # blank 0
    logit_len_np = np.full(N, T, np.int32)
    label_len_np = np.full(N, L, np.int32)
    x = jnp.asarray(x_np)
    labels = jnp.asarray(labels_np)
    logit_paddings = jnp.zeros((N, T), jnp.float32)
    label_paddings = jnp.zeros((N, L), jnp.float32)

    def direct(grad):
        def run():
            return ctcc.ctc_loss(
                x_np,
                labels_np,
                logit_len_np,
                label_len_np,
                time_major=False,
                num_threads=1,
                grad=grad,
            )

        return run

    def jitted(fn, grad, **kw):
        def loss(x):
            return fn(x, logit_paddings, labels, label_paddings, **kw)

        if grad:
            step = jax.jit(jax.value_and_grad(lambda x: loss(x).sum()))

            def run():
                total, g = step(x)
                return np.asarray(total), np.asarray(g)
        else:
            step = jax.jit(loss)

            def run():
                return np.asarray(step(x)), None

        return run

    variants = {
        "ctcc.ctc_loss loss (direct, NumPy)": direct(False),
        "ctcc.jax.ctc_loss jit loss": jitted(ctcc.jax.ctc_loss, False, num_threads=1),
        "ctcc.ctc_loss loss+grad (direct)": direct(True),
        "ctcc.jax.ctc_loss jit value_and_grad": jitted(ctcc.jax.ctc_loss, True, num_threads=1),
    }
    if args.out_arrays:
        numpy_loss = ctcc.ctc_loss
        kept: dict[tuple, np.ndarray] = {}

        def into_kept_array(x, *a, **kw):
            if kw.get("grad", True):
                key = (x.shape, x.dtype.str)
                if key not in kept:
                    kept[key] = np.empty(x.shape, x.dtype)
                kw["grad_out"] = kept[key]
            return numpy_loss(x, *a, **kw)

        run_kept = jitted(ctcc.jax.ctc_loss, True, num_threads=1)

        def reused():
            ctcc.ctc_loss = into_kept_array
            try:
                return run_kept()
            finally:
                ctcc.ctc_loss = numpy_loss

        variants["ctcc.jax value_and_grad, kept grad_out"] = reused
    if optax is not None:
        variants["optax.ctc_loss jit loss"] = jitted(optax.ctc_loss, False)
        variants["optax.ctc_loss jit value_and_grad"] = jitted(optax.ctc_loss, True)

    # agreement first (also the first warm-up call)
    ref_loss, ref_grad = variants["ctcc.ctc_loss loss+grad (direct)"]()
    for name, fn in variants.items():
        out, grad = fn()
        loss = out if out.ndim else None
        parts = []
        if loss is not None:
            parts.append(
                f"max |loss - direct| / loss = {np.max(np.abs(loss - ref_loss) / ref_loss):.1e}"
            )
        else:
            parts.append(f"|sum - direct| / sum = {abs(out - ref_loss.sum()) / ref_loss.sum():.1e}")
        if grad is not None:
            parts.append(f"max |grad - direct| = {np.max(np.abs(grad - ref_grad)):.1e}")
        print(f"{name}: " + ", ".join(parts))
    for _ in range(args.warmup - 1):
        for fn in variants.values():
            fn()

    times: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for r in range(args.repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            c0, t0 = time.process_time(), time.perf_counter()
            variants[name]()
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)

    print(
        f"T={T} N={N} C={C} L={L} float32, 1 thread (XLA CPU 1 thread, ctcc "
        f"num_threads=1), {args.repeats} rounds; JAX {jax.__version__}, ctcc {ctcc.__version__}"
        + (f", optax {optax.__version__}" if optax is not None else "")
    )
    print(f"{'variant':40s} {'median ms':>10s} {'min ms':>8s} {'max ms':>8s} {'CPU ms':>8s}")
    medians = {name: statistics.median(times[name]) for name in names}
    cpu_medians = {name: statistics.median(cpu[name]) for name in names}
    for name in names:
        ts = times[name]
        print(
            f"{name:40s} {1e3 * medians[name]:10.2f} {1e3 * min(ts):8.2f} {1e3 * max(ts):8.2f} "
            f"{1e3 * cpu_medians[name]:8.2f}"
        )
    for mine, base in ((names[1], names[0]), (names[3], names[2])):
        print(
            f"ratio {mine} / direct: wall median {medians[mine] / medians[base]:.3f}, "
            f"wall min {min(times[mine]) / min(times[base]):.3f}, "
            f"CPU median {cpu_medians[mine] / cpu_medians[base]:.3f}"
        )
    if args.out_arrays:
        name = "ctcc.jax value_and_grad, kept grad_out"
        print(
            f"{name} / {names[3]}: wall median {medians[name] / medians[names[3]]:.3f}, "
            f"CPU median {cpu_medians[name] / cpu_medians[names[3]]:.3f}"
        )
    if optax is not None:
        theirs_loss, theirs_grad = "optax.ctc_loss jit loss", "optax.ctc_loss jit value_and_grad"
        for mine, theirs in ((names[1], theirs_loss), (names[3], theirs_grad)):
            print(
                f"{mine} speed-up over {theirs}: wall {medians[theirs] / medians[mine]:.2f}x, "
                f"CPU {cpu_medians[theirs] / cpu_medians[mine]:.2f}x"
            )


if __name__ == "__main__":
    main()
