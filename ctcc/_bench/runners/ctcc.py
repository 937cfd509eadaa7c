"""ctcc itself: the NumPy API on the C core (the reference of every run)."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from ctcc._bench.agreement import CTCC_TOLERANCE
from ctcc._bench.runners.base import Impl, ImplSpec, Outputs, Runner

# The float64 reference of the agreement check (never timed, not listed).
REFERENCE = "reference-f64"


def _file_sha256(path: str | None) -> str | None:
    """Identifies the compiled ctcc core a worker loaded (rebuilds change it)."""
    if not path:
        return None
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()[:16]
    except OSError:
        return None


def _workspace(
    ctcc: Any, logit_lengths: np.ndarray, label_lengths: np.ndarray, alphabet_size: int
) -> dict[str, Any]:
    """ctcc's scratch memory in bytes for this batch (with and without the
    gradient), where the package has ``ctcc.workspace_size(logit_lengths,
    label_lengths, alphabet_size, *, dtype, grad)``; None otherwise."""
    fn = getattr(ctcc, "workspace_size", None)
    if not callable(fn):
        return {
            "workspace_bytes": None,
            "workspace_bytes_loss_only": None,
            "workspace_note": "ctcc.workspace_size not available",
        }
    try:
        sizes = {
            key: int(fn(logit_lengths, label_lengths, alphabet_size, dtype=np.float32, grad=grad))
            for key, grad in (("workspace_bytes", True), ("workspace_bytes_loss_only", False))
        }
    except Exception as exc:  # noqa: BLE001 - an older or newer API: reported, not fatal
        return {
            "workspace_bytes": None,
            "workspace_bytes_loss_only": None,
            "workspace_note": f"ctcc.workspace_size: {type(exc).__name__}: {exc}",
        }
    return {**sizes, "workspace_note": ""}


def _outputs(out: Any) -> Outputs:
    loss, grad = out
    return np.asarray(loss, dtype=np.float64), grad


def build(
    threads: int, logits: np.ndarray, labels: np.ndarray, names: Sequence[str]
) -> tuple[dict[str, Impl], dict[str, Any]]:
    import ctcc

    T, N, C = logits.shape
    logit_lengths = np.full(N, T, dtype=np.int32)
    label_lengths = np.full(N, labels.shape[1], dtype=np.int32)

    def loss(x: np.ndarray, grad: bool = True) -> Any:
        return ctcc.ctc_loss(
            x, labels, logit_lengths, label_lengths, blank=0, num_threads=threads, grad=grad
        )

    def softmax() -> np.ndarray:
        # Numerically stable softmax, as a floor for anything that reads the
        # logits and writes a gradient of the same size. NumPy runs it on one
        # thread whatever the thread count.
        out = np.empty_like(logits)
        np.subtract(logits, logits.max(axis=2, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=2, keepdims=True)
        return out

    table: dict[str, Impl] = {
        "ctcc": (lambda: loss(logits), _outputs),
        "ctcc-loss-only": (lambda: loss(logits, grad=False), _outputs),
        "numpy-softmax": (softmax, lambda out: (np.zeros(0), None)),
    }
    impls = {name: table[name] for name in names}
    impls[REFERENCE] = (lambda: loss(logits.astype(np.float64)), _outputs)
    info: dict[str, Any] = {
        "versions": {"ctcc": ctcc.__version__, "numpy": np.__version__},
        "openmp": bool(ctcc.openmp_enabled()),
        "core_sha256": _file_sha256(getattr(sys.modules.get("ctcc._core"), "__file__", None)),
    }
    info.update(_workspace(ctcc, logit_lengths, label_lengths, C))
    return impls, info


RUNNER = Runner(
    kind="ctcc",
    module="ctcc",
    impls=(
        ImplSpec("ctcc", "ctcc.ctc_loss, loss + gradient", tolerance=CTCC_TOLERANCE),
        ImplSpec(
            "ctcc-loss-only", "ctcc.ctc_loss(grad=False), loss only", tolerance=CTCC_TOLERANCE
        ),
        ImplSpec(
            "numpy-softmax",
            "limit: NumPy stable softmax over [T,N,C], no CTC",
            ctc=False,
            limit_only=True,
        ),
    ),
    build=build,
)
