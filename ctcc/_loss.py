"""The public CTC loss function: argument checks and conversions.

Everything a user can get wrong is checked here, with a message naming the
argument, the sample and the value, before the C core runs. The C core
checks again (it is a public API of its own), so a disagreement between the
two surfaces as an exception too, never as garbage.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ctcc import _core

_INT32_MAX = np.iinfo(np.int32).max
_REDUCTIONS = ("none", "sum", "mean")

ArrayLike = Any


def _as_int(value: Any, name: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(
            f"{name} must be an integer, got {type(value).__name__} {value!r}"
        ) from None


def _check_logits(logits: ArrayLike, time_major: bool) -> tuple[np.ndarray, int, int, int]:
    arr = np.asarray(logits)
    if arr.dtype not in (np.float32, np.float64):
        raise TypeError(
            f"logits must be float32 or float64, got dtype {arr.dtype} "
            "(convert with .astype(np.float32) first)"
        )
    if arr.ndim != 3:
        layout = "[T, N, C]" if time_major else "[N, T, C]"
        raise ValueError(f"logits must be a 3-D array {layout}, got shape {arr.shape}")
    if time_major:
        T, N, C = arr.shape
    else:
        N, T, C = arr.shape
    if N < 1:
        raise ValueError(f"logits: the batch size N must be at least 1, got shape {arr.shape}")
    if C < 1:
        raise ValueError(f"logits: the alphabet size C must be at least 1, got shape {arr.shape}")
    for dim, value in (("T", T), ("N", N), ("C", C)):
        if value > _INT32_MAX:
            raise ValueError(f"logits: {dim} = {value} exceeds the int32 range")
    return arr, T, N, C


def _int_array(value: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
        raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    return arr


def _check_lengths(value: ArrayLike, name: str, N: int, upper: int, upper_name: str) -> np.ndarray:
    arr = _int_array(value, name)
    if arr.shape != (N,):
        raise ValueError(f"{name} must have shape ({N},), one per sample, got shape {arr.shape}")
    bad = np.flatnonzero((arr < 0) | (arr > upper))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{name}[{i}] = {int(arr[i])} is outside [0, {upper}] ({upper_name})")
    return arr.astype(np.int32)


def _labels_from_list(labels: Sequence, N: int) -> tuple[list, np.ndarray]:
    if len(labels) != N:
        raise ValueError(
            f"labels: got a list of {len(labels)} sequences for a batch of {N} samples"
        )
    rows = []
    for n, seq in enumerate(labels):
        row = _int_array(seq, f"labels[{n}]")
        if row.ndim != 1:
            raise ValueError(f"labels[{n}] must be 1-D, got shape {row.shape}")
        rows.append(row)
    return rows, np.array([r.shape[0] for r in rows], dtype=np.int64)


def _first_bad(bad: np.ndarray) -> tuple[int, ...] | None:
    """Index tuple of the first True entry of `bad` (C order), or None."""
    hits = np.argwhere(bad)
    return tuple(int(i) for i in hits[0]) if hits.size else None


def _check_values(values: np.ndarray, valid: np.ndarray, where: Any, C: int, blank: int) -> None:
    """Checks the labels in `values` where `valid` is True (original dtype,
    so that a huge unsigned value is reported as it is). where(index)
    returns the (sample, position) of an index of `values`."""
    hit = _first_bad(valid & ((values < 0) | (values >= C)))
    if hit is not None:
        n, j = where(hit)
        raise ValueError(
            f"labels: sample {n}, position {j} holds {int(values[hit])}, outside "
            f"the alphabet [0, {C})"
        )
    hit = _first_bad(valid & (values == blank))
    if hit is not None:
        n, j = where(hit)
        raise ValueError(
            f"labels: sample {n}, position {j} holds {blank}, which is the blank "
            f"index (blank={blank}); labels must not contain the blank"
        )


def _normalise_labels(
    labels: Any, label_lengths: Any, N: int, C: int, blank: int
) -> tuple[np.ndarray, np.ndarray]:
    """Checks the labels in any accepted form and returns them as (flat
    int32 labels, int32 lengths), warp-ctc's layout."""
    if isinstance(labels, (list, tuple)):
        rows, lengths = _labels_from_list(labels, N)
        if label_lengths is not None:
            given = _check_lengths(label_lengths, "label_lengths", N, _INT32_MAX, "int32")
            mismatch = np.flatnonzero(given != lengths)
            if mismatch.size:
                n = int(mismatch[0])
                raise ValueError(
                    f"label_lengths[{n}] = {int(given[n])} but labels[{n}] has "
                    f"{int(lengths[n])} entries"
                )
        for n, row in enumerate(rows):
            _check_values(row, np.ones(row.shape, bool), lambda i, n=n: (n, i[0]), C, blank)
        flat = np.concatenate([r.astype(np.int32) for r in rows]) if rows else np.zeros(0, np.int32)
        return flat, lengths.astype(np.int32)

    arr = _int_array(labels, "labels")
    if arr.ndim == 2:
        if arr.shape[0] != N:
            raise ValueError(
                f"labels must have one row per sample: shape {arr.shape} for a batch of {N}"
            )
        S = arr.shape[1]
        if label_lengths is not None:
            lengths = _check_lengths(
                label_lengths, "label_lengths", N, S, "the padded label width S"
            )
        elif S == 0:
            lengths = np.zeros(N, np.int32)
        else:
            # Length = number of entries before the first negative pad.
            negative = arr < 0
            lengths = np.where(negative.any(axis=1), negative.argmax(axis=1), S).astype(np.int32)
        mask = np.arange(S)[None, :] < lengths[:, None]
        _check_values(arr, mask, lambda i: i, C, blank)
        return arr[mask].astype(np.int32), lengths

    if arr.ndim == 1:
        if label_lengths is None:
            raise ValueError(
                "labels is a flat 1-D array: pass label_lengths to split it "
                "into samples (or pass a 2-D padded array or a list of sequences)"
            )
        lengths = _check_lengths(label_lengths, "label_lengths", N, _INT32_MAX, "int32")
        total = int(lengths.astype(np.int64).sum())
        if total != arr.shape[0]:
            raise ValueError(f"labels has {arr.shape[0]} entries but label_lengths sums to {total}")
        ends = np.cumsum(lengths.astype(np.int64))

        def where(i: tuple[int, ...]) -> tuple[int, int]:
            n = int(np.searchsorted(ends, i[0], side="right"))
            return n, int(i[0] - (ends[n] - lengths[n]))

        _check_values(arr, np.ones(arr.shape, bool), where, C, blank)
        return arr.astype(np.int32), lengths

    raise ValueError(
        f"labels must be a 2-D padded array [N, S], a flat 1-D array with "
        f"label_lengths, or a list of sequences; got shape {arr.shape}"
    )


class _Batch(NamedTuple):
    """The checked, converted arguments shared by the loss functions."""

    data: np.ndarray  # C-contiguous logits
    flat_inputs: np.ndarray
    T: int
    N: int
    C: int
    blank: int  # resolved to [0, C)
    threads: int
    input_lengths: np.ndarray
    flat_labels: np.ndarray
    label_lengths: np.ndarray


def _check_threads(num_threads: Any) -> int:
    if num_threads is None:
        return 0
    threads = _as_int(num_threads, "num_threads")
    if not 0 <= threads <= _INT32_MAX:
        raise ValueError(
            f"num_threads must be in [0, {_INT32_MAX}] (0 = all available), got {threads}"
        )
    return threads


def _check_blank(blank: Any, C: int) -> int:
    blank = _as_int(blank, "blank")
    if not -C <= blank < C:
        raise ValueError(f"blank = {blank} is outside [-{C}, {C}) for an alphabet of {C} classes")
    return blank + C if blank < 0 else blank


def _check_modifications(alpha: Any, gamma: Any) -> tuple[float, float]:
    """alpha as a float in [0, 1] (-1 for None) and gamma as a float >= 0."""
    if alpha is None:
        a = -1.0
    else:
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
            raise TypeError(f"alpha must be None or a real number, got {alpha!r}")
        a = float(alpha)
        if not 0.0 <= a <= 1.0:
            raise ValueError(f"alpha must be None or in [0, 1], got {alpha!r}")
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real):
        raise TypeError(f"gamma must be a real number, got {gamma!r}")
    g = float(gamma)
    if not (g >= 0.0 and math.isfinite(g)):
        raise ValueError(f"gamma must be a finite number >= 0, got {gamma!r}")
    return a, g


def _prepare(
    logits: ArrayLike,
    labels: Any,
    logit_lengths: Any,
    label_lengths: Any,
    blank: Any,
    time_major: bool,
    num_threads: Any,
) -> _Batch:
    arr, T, N, C = _check_logits(logits, time_major)
    blank_index = _check_blank(blank, C)
    threads = _check_threads(num_threads)
    if logit_lengths is None:
        input_lengths = np.full(N, T, dtype=np.int32)
    else:
        input_lengths = _check_lengths(
            logit_lengths, "logit_lengths", N, T, "T, the time dimension of logits"
        )
    flat32, lengths = _normalise_labels(labels, label_lengths, N, C, blank_index)
    # A C-contiguous buffer (a copy only when needed); read-only is fine.
    data = np.ascontiguousarray(arr)
    flat_inputs = data.reshape(-1) if data.size else np.zeros(1, arr.dtype)
    return _Batch(data, flat_inputs, T, N, C, blank_index, threads, input_lengths, flat32, lengths)


def _run(
    b: _Batch,
    *,
    log_probs: bool,
    time_major: bool,
    zero_infinity: bool,
    gradient: np.ndarray | None,
    posteriors: np.ndarray | None,
    weights: np.ndarray | None,
    alpha: float,
    gamma: float,
) -> np.ndarray:
    """Calls the C core; fills the given output arrays, returns the costs."""
    dtype = b.data.dtype
    empty = np.empty(0, dtype)
    costs = np.empty(b.N, dtype)
    _core.ctc_loss_raw(
        b.flat_inputs,
        gradient.reshape(-1) if gradient is not None else empty,
        costs,
        b.flat_labels,
        b.label_lengths,
        b.input_lengths,
        b.T,
        b.N,
        b.C,
        b.blank,
        b.threads,
        bool(log_probs),
        not time_major,
        bool(zero_infinity),
        gradient is not None,
        posteriors.reshape(-1) if posteriors is not None else empty,
        weights.reshape(-1) if weights is not None else empty,
        posteriors is not None,
        weights is not None,
        alpha,
        gamma,
    )
    return costs


def ctc_loss(
    logits: ArrayLike,
    labels: Any,
    logit_lengths: ArrayLike | None = None,
    label_lengths: ArrayLike | None = None,
    *,
    blank: int = 0,
    time_major: bool = True,
    log_probs: bool = False,
    reduction: str = "none",
    zero_infinity: bool = False,
    num_threads: int | None = None,
    grad: bool = True,
    alpha: float | None = None,
    gamma: float = 0.0,
) -> tuple[np.ndarray | np.floating, np.ndarray | None]:
    """CTC loss (negative log-likelihood) and its gradient.

    See the package documentation (``help(ctcc)``) and README for the
    conventions. Returns ``(loss, grad)``; ``grad`` is None when
    ``grad=False``.

    ``alpha`` (non-blank proportion, in [0, 1]) and ``gamma`` (key-frame
    reweighting, >= 0) are the training modifications of Li and Wang,
    "Reinterpreting CTC training as iterative fitting": they change the
    gradient only; the returned loss is always the plain CTC loss.
    ``alpha`` is computed over the whole batch of the call.
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    a, g = _check_modifications(alpha, gamma)
    b = _prepare(logits, labels, logit_lengths, label_lengths, blank, time_major, num_threads)
    dtype = b.data.dtype
    gradient = np.empty(b.data.shape, dtype) if grad else None
    costs = _run(
        b,
        log_probs=log_probs,
        time_major=time_major,
        zero_infinity=zero_infinity,
        gradient=gradient,
        posteriors=None,
        weights=None,
        alpha=a,
        gamma=g,
    )

    if reduction == "none":
        return costs, gradient
    if reduction == "sum":
        return dtype.type(costs.sum(dtype=np.float64)), gradient
    # "mean": PyTorch's definition, each loss divided by its target length.
    weights = 1.0 / (b.N * np.maximum(b.label_lengths, 1).astype(np.float64))
    loss = dtype.type(np.sum(costs.astype(np.float64) * weights))
    if gradient is not None:
        w = weights.astype(dtype)
        gradient *= w[None, :, None] if time_major else w[:, None, None]
    return loss, gradient


def ctc_posteriors(
    logits: ArrayLike,
    labels: Any,
    logit_lengths: ArrayLike | None = None,
    label_lengths: ArrayLike | None = None,
    *,
    blank: int = 0,
    time_major: bool = True,
    log_probs: bool = False,
    alpha: float | None = None,
    gamma: float = 0.0,
    num_threads: int | None = None,
    return_weights: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """The CTC posteriors y'[t, n, c] = p(frame t emits class c | labels,
    logits): the targets the CTC gradient fits the softmax to (gradient =
    softmax - targets). Same arguments and layout as ``ctc_loss``.

    Rows sum to 1 on each sample's valid frames; frames past the input
    length, and every frame of an infeasible sample, hold 0. With ``alpha``
    set, returns the modified targets of eq. 13-16 instead. ``gamma`` does
    not change the targets: it weights frames, and ``return_weights=True``
    also returns those weights ([T, N] if ``time_major`` else [N, T]), so
    that ``ctc_loss``'s gradient is ``weights * (softmax - targets)``.
    """
    a, g = _check_modifications(alpha, gamma)
    b = _prepare(logits, labels, logit_lengths, label_lengths, blank, time_major, num_threads)
    dtype = b.data.dtype
    targets = np.empty(b.data.shape, dtype)
    weights = None
    if return_weights:
        weights = np.empty((b.T, b.N) if time_major else (b.N, b.T), dtype)
    _run(
        b,
        log_probs=log_probs,
        time_major=time_major,
        zero_infinity=False,
        gradient=None,
        posteriors=targets,
        weights=weights,
        alpha=a,
        gamma=g,
    )
    if return_weights:
        return targets, weights
    return targets


def workspace_size(
    logit_lengths: ArrayLike,
    label_lengths: ArrayLike,
    alphabet_size: int,
    *,
    dtype: Any = np.float32,
    grad: bool = True,
) -> int:
    """Bytes of scratch memory ``ctc_loss`` allocates (and the C function
    ``ctcc_workspace_size`` reports) for a batch with these lengths.

    It grows with ``sum(logit_lengths[n] * (2 * label_lengths[n] + 1))``
    with ``grad=True`` and with ``sum(label_lengths)`` without."""
    C = _as_int(alphabet_size, "alphabet_size")
    if C < 1:
        raise ValueError(f"alphabet_size must be at least 1, got {C}")
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    frames = _int_array(logit_lengths, "logit_lengths").reshape(-1)
    N = frames.shape[0]
    if N < 1:
        raise ValueError("logit_lengths: the batch must hold at least one sample")
    T = int(frames.max())
    inputs = _check_lengths(frames, "logit_lengths", N, _INT32_MAX, "int32")
    labels = _check_lengths(label_lengths, "label_lengths", N, _INT32_MAX, "int32")
    return int(_core.workspace_size_raw(labels, inputs, T, C, dt == np.float64, bool(grad)))
