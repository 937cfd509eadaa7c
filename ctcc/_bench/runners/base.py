"""What a runner is: the implementations one worker process times.

A runner module (one per framework) defines a ``Runner``: its worker kind
(the name ``--frameworks`` takes), the implementations it offers
(``ImplSpec``: name, description, agreement tolerance, summary column, the
framework implementation an adapter replaces), the environment its worker
needs before the framework starts (thread counts, a Keras backend), and its
``build`` function. ``build(threads, logits, labels, names)`` runs in the
worker: it imports the framework, sets its thread count, prepares the inputs
(outside every timed region) and returns ``(impls, info)``:

- ``impls`` maps each implementation asked for to a pair ``(call,
  outputs)``: ``call()`` is the timed operation (loss and gradient with
  respect to the logits, finished when it returns), ``outputs(result)``
  converts its result, untimed, to ``(loss float64 [N], gradient [T, N, C]
  in ctcc's layout, or None)``;
- ``info`` is what the worker reports (versions, thread settings), with
  ``info["unavailable"] = {name: reason}`` for implementations it cannot
  offer (an adapter or a package that is not installed).

The batch is ``make_batch``'s or ``make_peaked_batch``'s (``workloads``):
time-major float32 logits ``[T, N, C]``, labels ``[N, L]`` in ``[1, C)``,
blank 0, every sample full length.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from ctcc._bench.agreement import (
    CTCC_AFTER_F32_LOG_SOFTMAX,
    CTCC_TOLERANCE,
    DEFAULT_TOLERANCE,
    Tolerance,
)

Outputs = tuple[np.ndarray, Optional[np.ndarray]]
Impl = tuple[Callable[[], Any], Callable[[Any], Outputs]]
Build = Callable[
    [int, np.ndarray, np.ndarray, Sequence[str]], tuple[dict[str, Impl], dict[str, Any]]
]


@dataclass(frozen=True)
class ImplSpec:
    """One timed implementation.

    ``ctc``: it computes a CTC loss (checked for agreement); ``limit_only``:
    only on the workloads with the softmax "limit" row; ``group``: the
    summary column it belongs to (the fastest of a group is shown);
    ``baseline``: for a ctcc adapter, the framework implementation it
    replaces (the adapters table compares the two)."""

    name: str
    description: str
    tolerance: Tolerance = DEFAULT_TOLERANCE
    ctc: bool = True
    limit_only: bool = False
    group: str | None = None
    baseline: str | None = None


def adapter_spec(
    name: str, description: str, baseline: str, after_f32_log_softmax: bool = False
) -> ImplSpec:
    """A ctcc adapter in the place of ``baseline``: checked as ctcc is (its
    loss allowed the float32 rounding of the framework's log_softmax where
    that is its input, ``after_f32_log_softmax``)."""
    tolerance = CTCC_AFTER_F32_LOG_SOFTMAX if after_f32_log_softmax else CTCC_TOLERANCE
    return ImplSpec(name, description, tolerance=tolerance, baseline=baseline)


def no_env(threads: int) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Runner:
    """One kind of worker: a framework and the implementations it times."""

    kind: str
    module: str  # the module whose absence makes the whole worker unavailable
    impls: tuple[ImplSpec, ...]
    build: Build
    env: Callable[[int], Mapping[str, str]] = field(default=no_env)

    def names(self) -> list[str]:
        return [spec.name for spec in self.impls]


def add_impl(
    impls: dict[str, Impl],
    info: dict[str, Any],
    names: Sequence[str],
    name: str,
    make: Callable[[], Impl],
) -> None:
    """``impls[name] = make()`` when ``name`` is asked for. An ImportError
    (the adapter or a package it needs is missing, or does not support this
    configuration) makes the implementation unavailable, with the reason,
    instead of failing the worker."""
    if name not in names:
        return
    try:
        impls[name] = make()
    except ImportError as exc:
        info.setdefault("unavailable", {})[name] = f"{type(exc).__name__}: {exc}"


def loss_and_grad_numpy(loss: Any, grad: Any) -> Outputs:
    """Framework results to (float64 loss, gradient) through NumPy."""
    return np.asarray(loss, dtype=np.float64), np.asarray(grad)


def to_time_major(grad: np.ndarray) -> np.ndarray:
    """A batch-major gradient [N, T, C] in ctcc's layout [T, N, C]."""
    return np.ascontiguousarray(np.swapaxes(grad, 0, 1))
