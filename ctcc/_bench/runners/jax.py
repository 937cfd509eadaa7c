"""JAX: ``optax.ctc_loss`` and the adapter ``ctcc.jax.ctc_loss`` in its
place, both as ``jax.jit(jax.value_and_grad(...))`` of the summed loss with
respect to batch-major logits ``[N, T, C]`` (optax's layout: transposed
outside the timed region), waiting for the results."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Callable

import numpy as np

from ctcc._bench.runners.base import (
    Impl,
    ImplSpec,
    Outputs,
    Runner,
    adapter_spec,
    add_impl,
    to_time_major,
)


def env(threads: int) -> Mapping[str, str]:
    """For one thread, XLA's CPU backend without Eigen's thread pool (set
    before JAX starts); the CPU platform."""
    flags = os.environ.get("XLA_FLAGS", "")
    if threads == 1:
        flags += " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    return {"XLA_FLAGS": flags.strip(), "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")}


def set_threads(threads: int) -> None:
    """XLA sizes its CPU thread pool from the CPUs the process may run on:
    for 1 < threads < usable CPUs, the worker is confined to ``threads`` of
    them before JAX starts (one thread: see ``env``)."""
    usable = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if 1 < threads < len(usable):
        os.sched_setaffinity(0, usable[:threads])


def thread_info() -> dict[str, Any]:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {"xla_flags": os.environ.get("XLA_FLAGS", ""), "usable_cpus": cpus}


def loss_and_grad(loss_fn: Callable[[Any], Any], x_np: np.ndarray) -> Impl:
    """``jax.jit(jax.value_and_grad(sum of loss_fn))`` at a device array made
    from ``x_np``; ``call()`` waits for the loss and the gradient. Outputs in
    ``x_np``'s layout."""
    import jax

    x = jax.device_put(x_np)

    def total(inputs: Any) -> Any:
        loss = loss_fn(inputs)
        return loss.sum(), loss

    step = jax.jit(jax.value_and_grad(total, has_aux=True))

    def call() -> Any:
        (_, loss), grad = step(x)
        return jax.block_until_ready((loss, grad))

    def outputs(out: Any) -> Outputs:
        loss, grad = out
        return np.asarray(loss, dtype=np.float64), np.asarray(grad)

    return call, outputs


def build(
    threads: int, logits: np.ndarray, labels: np.ndarray, names: Sequence[str]
) -> tuple[dict[str, Impl], dict[str, Any]]:
    set_threads(threads)
    import jax
    import jax.numpy as jnp

    T, N, C = logits.shape
    x_np = np.ascontiguousarray(np.swapaxes(logits, 0, 1))  # [N, T, C]
    logit_paddings = jnp.zeros((N, T), jnp.float32)
    label_ids = jnp.asarray(labels)
    label_paddings = jnp.zeros(labels.shape, jnp.float32)

    def paddings_form(ctc_loss: Callable[..., Any]) -> Impl:
        call, outputs = loss_and_grad(
            lambda x: ctc_loss(x, logit_paddings, label_ids, label_paddings, blank_id=0), x_np
        )

        def time_major(out: Any) -> Outputs:
            loss, grad = outputs(out)
            return loss, to_time_major(grad)

        return call, time_major

    def optax_impl() -> Impl:
        import optax

        return paddings_form(optax.ctc_loss)

    def ctcc_adapter() -> Impl:
        import ctcc.jax

        def ctc_loss(*args: Any, **kwargs: Any) -> Any:
            return ctcc.jax.ctc_loss(*args, **kwargs, num_threads=threads)

        return paddings_form(ctc_loss)

    impls: dict[str, Impl] = {}
    info: dict[str, Any] = {"versions": {"jax": jax.__version__, "numpy": np.__version__}}
    add_impl(impls, info, names, "optax", optax_impl)
    add_impl(impls, info, names, "ctcc-jax", ctcc_adapter)
    if "optax" in impls:
        import optax

        info["versions"]["optax"] = optax.__version__
    info.update(thread_info())
    return impls, info


RUNNER = Runner(
    kind="jax",
    module="jax",
    impls=(
        ImplSpec(
            "optax",
            "optax.ctc_loss, jax.jit(jax.value_and_grad), batch-major (transposed outside timing)",
            group="optax",
        ),
        adapter_spec(
            "ctcc-jax",
            "ctcc.jax.ctc_loss in the place of optax.ctc_loss, the same way",
            "optax",
        ),
    ),
    build=build,
    env=env,
)
