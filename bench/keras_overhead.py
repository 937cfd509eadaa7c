#!/usr/bin/env python3
"""Overhead of ctcc.keras on each Keras backend, and Keras' own CTC for scale.

On one thread everywhere (ctcc num_threads=1, the framework's CPU thread
pools limited to one thread before it starts), batch-major float32 logits
[N, T, C], the loss summed over the batch and its gradient:

- ``ctcc.ctc_loss(..., grad=True)`` on NumPy arrays: the C core alone;
- the backend's ctcc adapter called directly (``ctcc.tensorflow.ctc_loss``
  in a ``tf.function``, ``ctcc.jax.ctc_loss`` under ``jax.jit``,
  ``ctcc.torch.ctc_loss`` after ``log_softmax``);
- ``ctcc.keras.CTCLoss(padding_value=0, reduction="sum")``;
- ``keras.losses.CTC(reduction="sum")`` (on TensorFlow ``tf.nn.ctc_loss``,
  on JAX an optax-style recursion, on PyTorch
  ``torch.nn.functional.ctc_loss``).

The two Keras losses are differentiated as the backend's trainer does it:
in a ``tf.function`` with a ``GradientTape``, with ``jax.jit`` of
``jax.value_and_grad``, with torch autograd. Each round calls every variant
once, in a rotating order; the script prints the median and minimum wall
time and the median CPU time of each, and the ratios. Keras fixes its
backend at import, so each backend runs in a process of its own:

    python bench/keras_overhead.py [--backend tensorflow jax torch] [--shape T N C L]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

BACKENDS = ("tensorflow", "jax", "torch")


def _one_thread(backend: str) -> None:
    """Limit the backend's thread pools to one thread (before it starts)."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = "1"
    if backend == "jax":
        os.environ["XLA_FLAGS"] = (
            os.environ.get("XLA_FLAGS", "")
            + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        )
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _variants(backend, x_np, y_np):
    """{name: a function computing (loss, grad) as NumPy arrays}."""
    import keras
    import numpy as np

    import ctcc
    import ctcc.keras

    N, T, _ = x_np.shape
    S = y_np.shape[1]
    frames, lengths = np.full(N, T, np.int32), np.full(N, S, np.int32)
    ours = ctcc.keras.CTCLoss(padding_value=0, reduction="sum", num_threads=1)
    theirs = keras.losses.CTC(reduction="sum")

    def direct():
        loss, grad = ctcc.ctc_loss(x_np, y_np, time_major=False, num_threads=1, grad=True)
        return loss.sum(), grad

    variants = {"ctcc.ctc_loss (direct)": direct}
    if backend == "tensorflow":
        import tensorflow as tf

        import ctcc.tensorflow

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        x, y = tf.constant(x_np), tf.constant(y_np)

        def graph(loss_fn):
            @tf.function
            def step(x):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    value = loss_fn(x)
                return value, tape.gradient(value, x)

            return lambda: tuple(t.numpy() for t in step(x))

        adapter = graph(
            lambda x: tf.reduce_sum(
                ctcc.tensorflow.ctc_loss(
                    y, x, lengths, frames, logits_time_major=False, num_threads=1
                )
            )
        )
        variants["ctcc.tensorflow.ctc_loss"] = adapter
        variants["ctcc.keras.CTCLoss"] = graph(lambda x: ours(y, x))
        variants["keras.losses.CTC"] = graph(lambda x: theirs(y, x))
    elif backend == "jax":
        import jax
        import jax.numpy as jnp

        import ctcc.jax

        x, y = jnp.asarray(x_np), jnp.asarray(y_np)
        zeros_t, zeros_s = jnp.zeros((N, T)), jnp.zeros((N, S))

        def jitted(loss_fn):
            step = jax.jit(jax.value_and_grad(loss_fn))
            return lambda: tuple(np.asarray(t) for t in step(x))

        variants["ctcc.jax.ctc_loss"] = jitted(
            lambda x: ctcc.jax.ctc_loss(x, zeros_t, y, zeros_s, num_threads=1).sum()
        )
        variants["ctcc.keras.CTCLoss"] = jitted(lambda x: ours(y, x))
        variants["keras.losses.CTC"] = jitted(lambda x: theirs(y, x))
    else:
        import torch

        import ctcc.torch

        torch.set_num_threads(1)
        y = torch.from_numpy(y_np)
        frames_t, lengths_t = torch.from_numpy(frames), torch.from_numpy(lengths)

        def autograd(loss_fn):
            def run():
                x = torch.from_numpy(x_np).requires_grad_()
                value = loss_fn(x)
                value.backward()
                return value.detach().numpy(), x.grad.numpy()

            return run

        variants["ctcc.torch.ctc_loss"] = autograd(
            lambda x: ctcc.torch.ctc_loss(
                x.log_softmax(-1).transpose(0, 1),
                y,
                frames_t,
                lengths_t,
                reduction="sum",
                num_threads=1,
            )
        )
        variants["ctcc.keras.CTCLoss"] = autograd(lambda x: ours(y, x))
        variants["keras.losses.CTC"] = autograd(lambda x: theirs(y, x))
    return variants


def run_backend(backend: str, shape: list[int], repeats: int) -> None:
    import keras
    import numpy as np

    assert keras.backend.backend() == backend, keras.backend.backend()
    T, N, C, L = shape
    rng = np.random.default_rng(0)
    x_np = rng.normal(size=(N, T, C)).astype(np.float32)
    y_np = rng.integers(1, C, size=(N, L)).astype(np.int32)  # blank 0, no padding
    variants = _variants(backend, x_np, y_np)
    names = list(variants)

    ref_loss, ref_grad = variants[names[0]]()
    for name in names[1:]:
        loss, grad = variants[name]()
        print(
            f"{backend}: {name}: |loss - direct| / loss = "
            f"{abs(float(loss) - float(ref_loss)) / float(ref_loss):.1e}, "
            f"max |grad - direct| = {np.max(np.abs(grad - ref_grad)):.1e}"
        )
    times = {name: [] for name in names}
    cpu = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            c0, t0 = time.process_time(), time.perf_counter()
            variants[name]()
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)

    print(f"{backend}: T={T} N={N} C={C} L={L} float32, 1 thread, {repeats} rounds")
    med = {n: statistics.median(times[n]) for n in names}
    cmed = {n: statistics.median(cpu[n]) for n in names}
    print(f"{'variant':28s} {'median ms':>10s} {'min ms':>8s} {'CPU ms':>8s}")
    for n in names:
        print(f"{n:28s} {1e3 * med[n]:10.2f} {1e3 * min(times[n]):8.2f} {1e3 * cmed[n]:8.2f}")
    direct, adapter, keras_ours, keras_theirs = names
    print(
        f"{backend}: ctcc.keras.CTCLoss / direct: wall {med[keras_ours] / med[direct]:.2f}, "
        f"CPU {cmed[keras_ours] / cmed[direct]:.2f}; / {adapter}: wall "
        f"{med[keras_ours] / med[adapter]:.2f}, CPU {cmed[keras_ours] / cmed[adapter]:.2f}; "
        f"keras.losses.CTC / ctcc.keras.CTCLoss: wall {med[keras_theirs] / med[keras_ours]:.1f}, "
        f"CPU {cmed[keras_theirs] / cmed[keras_ours]:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--shape", type=int, nargs=4, default=[700, 32, 29, 100])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    shape = [str(v) for v in args.shape]
    if os.environ.get("_CTCC_KERAS_BENCH_CHILD"):
        run_backend(args.backend[0], args.shape, args.repeats)
        return
    for backend in args.backend:
        env = dict(os.environ, KERAS_BACKEND=backend, _CTCC_KERAS_BENCH_CHILD="1")
        cmd = [sys.executable, os.path.abspath(__file__), "--backend", backend]
        cmd += ["--shape", *shape, "--repeats", str(args.repeats)]
        proc = subprocess.run(cmd, env=env)
        if proc.returncode:
            print(f"{backend}: the benchmark failed (exit status {proc.returncode})")


if __name__ == "__main__":
    if os.environ.get("_CTCC_KERAS_BENCH_CHILD"):
        _one_thread(os.environ["KERAS_BACKEND"])
    main()
