"""The agreement check: every implementation's losses and gradients against
ctcc in float64 (the exact answer up to float64 rounding), and the losses of
every pair of implementations against each other.

Each worker saves the results of one call as ``{impl}-t{threads}-loss.npy``
(float64 ``[N]``) and ``{impl}-t{threads}-grad.npy`` (``[T, N, C]``, ctcc's
convention: the gradient of the summed loss with respect to the logits) in
one folder; ``check_agreement`` reads them back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

LOSS_RTOL = 1e-4  # relative, float32 losses
GRAD_ATOL = 1e-4  # absolute, gradients with respect to the logits ...
# ... plus a float32 allowance for sample n of GRAD_F32_FACTOR * sqrt(T) *
# 2**-23 * |loss_n|. A gradient entry is softmax - exp(alpha + beta - logZ);
# alpha, beta and logZ are of the size of the loss (hundreds to ten
# thousands), so float32 rounds the exponent to about 2**-23 * |loss_n| per
# step and the errors of T steps add up like a random walk. The largest
# errors seen on the built-in workloads are 0.4 of sqrt(T) * 2**-23 * |loss|
# (TensorFlow's classic op; PyTorch 0.3): a flat 1e-4 fails both of them on
# the long workloads (up to 3.5e-2 on very-long).
GRAD_F32_FACTOR = 2.0
F32_EPS = 2.0**-23
# ... and a loss may also be LOSS_F32_FRAMES * T * 2**-23 off (absolute).
# A loss is a sum over T frames of log-probabilities that a framework
# computes in float32 (its log_softmax): each frame's is about one rounding
# of a number near 1 off, 2**-24 to 2**-23, and these do not average out
# (small terms of a float32 sum are lost, always downwards). Relative
# tolerances alone cannot hold for a trained model's peaked outputs, whose
# losses are tiny (0.04 for 700 frames on speech-peaked, where PyTorch, TF
# and optax are 1e-5 off: 2e-4 relative).
LOSS_F32_FRAMES = 1.0


@dataclass(frozen=True)
class Tolerance:
    """How far one implementation may be from the float64 reference: loss
    within ``loss_rtol * |loss_n| + loss_f32_frames * T * 2**-23``;
    gradient of sample n within ``grad_atol + grad_f32_factor * sqrt(T) *
    2**-23 * |loss_n|`` (absolute)."""

    loss_rtol: float = LOSS_RTOL
    grad_atol: float = GRAD_ATOL
    grad_f32_factor: float = GRAD_F32_FACTOR
    loss_f32_frames: float = LOSS_F32_FRAMES

    def loss_atol(self, T: int) -> float:
        """The absolute part of the loss tolerance."""
        return self.loss_f32_frames * T * F32_EPS

    def grad(self, T: int, ref_loss: np.ndarray) -> np.ndarray:
        """The per-sample gradient tolerance."""
        return self.grad_atol + self.grad_f32_factor * np.sqrt(T) * F32_EPS * np.abs(ref_loss)


DEFAULT_TOLERANCE = Tolerance()
# ctcc's own results, from the NumPy API or an adapter: float32 losses and
# gradients within about 1e-7 of float64 (the adapters that take
# log-probabilities add the float32 rounding of the framework's log_softmax
# and its backward pass: up to 1e-6 on the built-in workloads).
CTCC_TOLERANCE = Tolerance(loss_rtol=1e-6, grad_atol=1e-5, grad_f32_factor=0.0, loss_f32_frames=0.0)
# An adapter fed by the framework's float32 log_softmax (ctcc.torch): the
# loss inherits that log_softmax's rounding, LOSS_F32_FRAMES per frame (on
# peaked outputs, far above 1e-6 relative); the gradient stays ctcc's.
CTCC_AFTER_F32_LOG_SOFTMAX = Tolerance(
    loss_rtol=1e-6, grad_atol=1e-5, grad_f32_factor=0.0, loss_f32_frames=LOSS_F32_FRAMES
)


def save_outputs(directory: str, run: str, loss: np.ndarray, grad: np.ndarray | None) -> None:
    """Saves one call's results where ``check_agreement`` looks for them."""
    prefix = os.path.join(directory, run)
    np.save(prefix + "-loss.npy", np.asarray(loss, dtype=np.float64))
    if grad is not None:
        np.save(prefix + "-grad.npy", np.ascontiguousarray(grad))


def rel_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| / max(|a|, |b|), 0 where equal (inf too), inf where NaN."""
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(a == b, 0.0, np.abs(a - b) / np.maximum(np.abs(a), np.abs(b)))
    return np.where(np.isnan(rel), np.inf, rel)


def _check_grad(
    label: str, grad: np.ndarray, ref_grad: np.ndarray, grad_tol: np.ndarray
) -> tuple[dict[str, float], list[str]]:
    """One run's gradient against the reference: its entry and problems."""
    if grad.shape != ref_grad.shape:
        return {}, [f"gradient: {label} has shape {grad.shape}, the reference {ref_grad.shape}"]
    diff = np.abs(grad - ref_grad)  # float64
    diff[np.isnan(diff)] = np.inf
    per_sample = diff.max(axis=(0, 2))
    used = per_sample / grad_tol
    n = int(np.argmax(used))
    entry = {"grad_abs_vs_f64": float(per_sample.max()), "grad_tolerance_used": float(used.max())}
    if used.max() <= 1.0:
        return entry, []
    t, c = np.unravel_index(int(np.argmax(diff[:, n, :])), (diff.shape[0], diff.shape[2]))
    return entry, [
        f"gradient: {label} vs float64 reference: absolute difference "
        f"{per_sample[n]:.3g} > tolerance {grad_tol[n]:.3g} for sample {n} "
        f"(largest at t={int(t)}, c={int(c)})"
    ]


def _check_loss(
    label: str, loss: np.ndarray, ref: np.ndarray, rtol: float, atol: float, other: str
) -> list[str]:
    """|loss - ref| <= rtol * max(|loss|, |ref|) + atol for every sample
    (equal infinities pass, NaN fails)."""
    rel = rel_diff(loss, ref)
    with np.errstate(invalid="ignore"):
        diff = np.where(loss == ref, 0.0, np.abs(loss - ref))
    scale = np.maximum(np.abs(loss), np.abs(ref))
    with np.errstate(invalid="ignore"):
        used = np.where(diff == 0, 0.0, diff / (rtol * scale + atol))
    used = np.where(np.isnan(used), np.inf, used)
    if used.max() <= 1.0:
        return []
    n = int(np.argmax(used))
    allowed = f"{rtol:g}" + (f" + {atol:.2g} absolute" if atol else "")
    return [
        f"loss: {label} vs {other}: relative difference {rel[n]:.3g} > {allowed} "
        f"(sample {n}: {loss[n]:.9g} vs {ref[n]:.9g})"
    ]


def check_agreement(
    check_dir: str,
    reference: str,
    done: Sequence[tuple[str, int, bool]],
    T: int,
    tolerances: Mapping[str, Tolerance] | None = None,
) -> dict[str, Any]:
    """Compares the saved float32 results of the runs ``done`` (implementation,
    threads, whether it saved a gradient) with the float64 reference run
    ``reference`` (losses and gradients) and with each other (losses, within
    the larger of the two loss tolerances). ``tolerances`` maps an
    implementation to its own (default ``DEFAULT_TOLERANCE``). The report's
    "ok" is False and "problems" says why when they disagree."""
    tolerances = dict(tolerances or {})

    def load(run: str, what: str) -> np.ndarray:
        return np.load(os.path.join(check_dir, f"{run}-{what}.npy"), mmap_mode="r")

    ref_loss = np.asarray(load(reference, "loss"))
    ref_grad = load(reference, "grad")
    if not np.all(np.isfinite(ref_loss)):
        bad = np.flatnonzero(~np.isfinite(ref_loss))[:5].tolist()
        return {
            "ok": False,
            "problems": [f"the float64 reference loss is not finite at samples {bad}"],
        }
    runs = [(f"{n}-t{t}", f"{n}/t{t}", n, has) for n, t, has in done]
    tol = {label: tolerances.get(impl, DEFAULT_TOLERANCE) for _, label, impl, _ in runs}
    losses = {label: np.asarray(load(run, "loss")) for run, label, _, _ in runs}

    problems: list[str] = []
    per_run: dict[str, dict[str, Any]] = {}
    for run, label, _, has_grad in runs:
        t = tol[label]
        entry: dict[str, Any] = {"loss_rel_vs_f64": float(rel_diff(losses[label], ref_loss).max())}
        if t != DEFAULT_TOLERANCE:
            entry.update(loss_rtol=t.loss_rtol, grad_atol=t.grad_atol)
        entry["loss_atol"] = t.loss_atol(T)
        problems += _check_loss(
            label, losses[label], ref_loss, t.loss_rtol, t.loss_atol(T), "float64 reference"
        )
        if has_grad:
            grad_entry, grad_problems = _check_grad(
                label, load(run, "grad"), ref_grad, t.grad(T, ref_loss)
            )
            entry.update(grad_entry)
            problems += grad_problems
        per_run[label] = entry

    worst_pair, worst = None, 0.0
    labels = list(losses)
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            rel = rel_diff(losses[a], losses[b])
            if rel.max() >= worst:
                worst_pair, worst = [a, b], float(rel.max())
            rtol = max(tol[a].loss_rtol, tol[b].loss_rtol)
            atol = max(tol[a].loss_atol(T), tol[b].loss_atol(T))
            problems += _check_loss(a, losses[a], losses[b], rtol, atol, b)
    default_grad_tol = DEFAULT_TOLERANCE.grad(T, ref_loss)
    return {
        "ok": not problems,
        "problems": problems,
        "reference": "ctcc float64",
        "loss_rtol": LOSS_RTOL,
        "loss_f32_frames": LOSS_F32_FRAMES,
        "grad_atol": GRAD_ATOL,
        "grad_f32_factor": GRAD_F32_FACTOR,
        "grad_tolerance_range": [float(default_grad_tol.min()), float(default_grad_tol.max())],
        "max_loss_rel_diff_between_runs": worst,
        "worst_loss_pair": worst_pair,
        "runs": per_run,
    }
