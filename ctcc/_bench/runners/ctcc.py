"""ctcc itself: the NumPy API on the C core (the reference of every run).

``ctcc`` and ``ctcc-loss-only`` are the default kernel (``kernel="auto"``:
the scaled linear-space fast path, with each sample the bound rejects
recomputed in log space); ``ctcc-log`` and ``ctcc-log-loss-only`` force the
exact log-space kernel (``kernel="log"``), so that one run shows what the
fast path gains. The worker also reports, from one untimed call of each
with ``kernel_out``, how many samples of the batch fell back to the
log-space kernel (``fallback``)."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from ctcc._bench.agreement import CTCC_TOLERANCE
from ctcc._bench.runners.base import Impl, ImplSpec, Outputs, Runner, add_impl

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
    ctcc: Any,
    logit_lengths: np.ndarray,
    label_lengths: np.ndarray,
    alphabet_size: int,
    threads: int,
) -> dict[str, Any]:
    """ctcc's scratch memory in bytes for this batch (with and without the
    gradient) on `threads` threads, where the package has
    ``ctcc.workspace_size(logit_lengths, label_lengths, alphabet_size, *,
    dtype, grad[, num_threads])`` (a ctcc without ``num_threads`` reports
    its size for every thread count); None otherwise."""
    fn = getattr(ctcc, "workspace_size", None)
    if not callable(fn):
        return {
            "workspace_bytes": None,
            "workspace_bytes_loss_only": None,
            "workspace_note": "ctcc.workspace_size not available",
        }

    def size(grad: bool) -> int:
        try:
            return int(
                fn(
                    logit_lengths,
                    label_lengths,
                    alphabet_size,
                    dtype=np.float32,
                    grad=grad,
                    num_threads=threads,
                )
            )
        except TypeError as exc:
            if "num_threads" not in str(exc):
                raise
            return int(fn(logit_lengths, label_lengths, alphabet_size, dtype=np.float32, grad=grad))

    try:
        sizes = {
            key: size(grad)
            for key, grad in (("workspace_bytes", True), ("workspace_bytes_loss_only", False))
        }
    except Exception as exc:  # noqa: BLE001 - an older or newer API: reported, not fatal
        return {
            "workspace_bytes": None,
            "workspace_bytes_loss_only": None,
            "workspace_note": f"ctcc.workspace_size: {type(exc).__name__}: {exc}",
        }
    return {**sizes, "workspace_note": ""}


def has_kernel_choice(ctcc: Any) -> bool:
    """Whether this ctcc takes ``kernel=`` and ``kernel_out=`` (the scaled
    kernel with its log-space fallback)."""
    return hasattr(ctcc, "KERNEL_SCALED") and hasattr(ctcc, "KERNEL_LOG_SPACE")


def fallback_report(
    ctcc: Any,
    logits: np.ndarray,
    labels: np.ndarray,
    logit_lengths: np.ndarray,
    label_lengths: np.ndarray,
    threads: int,
) -> dict[str, Any]:
    """Which kernel served each sample: one call with and one without the
    gradient, each with ``kernel_out``. ``fell_back`` / ``fraction``: the
    samples computed by the log-space kernel (``ctcc.KERNEL_LOG_SPACE``)
    with the gradient, ``*_loss_only`` the same without; None with a note
    where this ctcc has no kernel choice."""
    N = logits.shape[1]
    report: dict[str, Any] = {"samples": N}
    if not has_kernel_choice(ctcc):
        report.update(
            fell_back=None,
            fraction=None,
            fell_back_loss_only=None,
            fraction_loss_only=None,
            note="this ctcc has no kernel_out (one kernel only)",
        )
        return report
    for suffix, grad in (("", True), ("_loss_only", False)):
        kernels = np.full(N, 255, dtype=np.uint8)
        ctcc.ctc_loss(
            logits,
            labels,
            logit_lengths,
            label_lengths,
            blank=0,
            num_threads=threads,
            grad=grad,
            kernel_out=kernels,
        )
        known = (kernels == ctcc.KERNEL_SCALED) | (kernels == ctcc.KERNEL_LOG_SPACE)
        if not known.all():
            bad = np.flatnonzero(~known)[:5].tolist()
            raise RuntimeError(
                f"kernel_out holds values other than KERNEL_SCALED and KERNEL_LOG_SPACE at "
                f"samples {bad}: {kernels[bad].tolist()}"
            )
        fell_back = int(np.count_nonzero(kernels == ctcc.KERNEL_LOG_SPACE))
        report[f"fell_back{suffix}"] = fell_back
        report[f"fraction{suffix}"] = fell_back / N if N else 0.0
    report["note"] = ""
    return report


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

    def loss(x: np.ndarray, grad: bool = True, **kernel: Any) -> Any:
        return ctcc.ctc_loss(
            x,
            labels,
            logit_lengths,
            label_lengths,
            blank=0,
            num_threads=threads,
            grad=grad,
            **kernel,
        )

    def log_space(grad: bool) -> Impl:
        if not has_kernel_choice(ctcc):
            raise ImportError("this ctcc has one kernel only (no kernel= argument)")
        return (lambda: loss(logits, grad, kernel="log"), _outputs)

    def softmax() -> np.ndarray:
        # Numerically stable softmax, as a floor for anything that reads the
        # logits and writes a gradient of the same size. NumPy runs it on one
        # thread whatever the thread count.
        out = np.empty_like(logits)
        np.subtract(logits, logits.max(axis=2, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=2, keepdims=True)
        return out

    table: dict[str, Any] = {
        "ctcc": lambda: (lambda: loss(logits), _outputs),
        "ctcc-loss-only": lambda: (lambda: loss(logits, grad=False), _outputs),
        "ctcc-log": lambda: log_space(True),
        "ctcc-log-loss-only": lambda: log_space(False),
        "numpy-softmax": lambda: (softmax, lambda out: (np.zeros(0), None)),
    }
    impls: dict[str, Impl] = {}
    info: dict[str, Any] = {
        "versions": {"ctcc": ctcc.__version__, "numpy": np.__version__},
        "openmp": bool(ctcc.openmp_enabled()),
        "core_sha256": _file_sha256(getattr(sys.modules.get("ctcc._core"), "__file__", None)),
    }
    for name in names:
        add_impl(impls, info, names, name, table[name])
    # The float64 reference: always the exact log-space kernel where there
    # is a choice (an independent check of the fast path in float32).
    ref_kernel = {"kernel": "log"} if has_kernel_choice(ctcc) else {}
    impls[REFERENCE] = (lambda: loss(logits.astype(np.float64), **ref_kernel), _outputs)
    info.update(_workspace(ctcc, logit_lengths, label_lengths, C, threads))
    info["fallback"] = fallback_report(ctcc, logits, labels, logit_lengths, label_lengths, threads)
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
            "ctcc-log",
            'ctcc.ctc_loss(kernel="log"), the exact log-space kernel, loss + gradient',
            tolerance=CTCC_TOLERANCE,
            group="ctcc-log",
        ),
        ImplSpec(
            "ctcc-log-loss-only",
            'ctcc.ctc_loss(kernel="log", grad=False), log-space kernel, loss only',
            tolerance=CTCC_TOLERANCE,
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
