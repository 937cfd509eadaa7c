"""The public CTC loss function: argument checks and conversions.

Everything a user can get wrong is checked here, with a message naming the
argument, the sample and the value, before the C core runs. The C core
checks again (it is a public API of its own), so a disagreement between the
two surfaces as an exception too, never as garbage.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ctcc import _core
from ctcc._checks import (
    INT32_MAX,
    as_choice,
    as_flag,
    as_int,
    as_num_threads,
    as_real,
    describe,
    reject_masked,
    short,
)

_REDUCTIONS = ("none", "sum", "mean")
# The C core refuses a larger gamma (src/validate.c).
GAMMA_MAX = 1e300

# The forms of labels every function that takes labels accepts.
LABEL_FORMS = (
    "labels must be a list (or tuple) of N integer sequences, a padded 2-D integer "
    "array [N, S] (lengths from label_lengths or the first negative entry), or a flat "
    "1-D integer array with label_lengths"
)

ArrayLike = Any


def _as_array(value: Any, name: str) -> np.ndarray:
    """np.asarray(value), refusing masked arrays and naming the argument
    when NumPy cannot make an array of it (ragged nesting)."""
    reject_masked(value, name)
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"{name} cannot be made into an array ({e}): got {describe(value)}"
        ) from None


def _check_logits(logits: ArrayLike, time_major: bool) -> tuple[np.ndarray, int, int, int]:
    arr = _as_array(logits, "logits")
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
        if value > INT32_MAX:
            raise ValueError(f"logits: {dim} = {value} exceeds the int32 range")
    return arr, T, N, C


def _int_array(value: ArrayLike, name: str) -> np.ndarray:
    arr = _as_array(value, name)
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


def _label_row(seq: Any, n: int) -> np.ndarray:
    """Sample n of labels given as a sequence of sequences, as a 1-D array."""
    name = f"labels[{n}]"
    reject_masked(seq, name)
    if isinstance(seq, (str, bytes, dict, set)) or seq is None:
        raise TypeError(
            f"{name} must be a sequence of integers, got {describe(seq)}; {LABEL_FORMS}"
        )
    try:
        row = np.asarray(seq)
    except (ValueError, TypeError):
        raise ValueError(
            f"{name} must be a flat sequence of integers, got {describe(seq)}; {LABEL_FORMS}"
        ) from None
    if row.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {row.shape}; {LABEL_FORMS}")
    if row.dtype == np.bool_ or not (np.issubdtype(row.dtype, np.integer) or row.size == 0):
        raise TypeError(
            f"{name} must hold integers, got dtype {row.dtype} ({short(seq)}); {LABEL_FORMS}"
        )
    return row


def _labels_from_list(labels: Sequence, N: int) -> tuple[list, np.ndarray]:
    if len(labels) != N:
        raise ValueError(
            f"labels: got a list of {len(labels)} sequences for a batch of {N} samples"
        )
    rows = [_label_row(seq, n) for n, seq in enumerate(labels)]
    return rows, np.array([r.shape[0] for r in rows], dtype=np.int64)


def _labels_array(labels: Any) -> np.ndarray:
    """Labels that are not a list of sequences, as an integer array."""
    if (
        labels is None
        or isinstance(labels, (str, bytes, dict, set, numbers.Number))
        or hasattr(labels, "__next__")  # a generator or an iterator
    ):
        raise TypeError(f"{LABEL_FORMS}; got {describe(labels)}")
    try:
        arr = np.asarray(labels)
    except (ValueError, TypeError):
        raise ValueError(f"{LABEL_FORMS}; got {describe(labels)}") from None
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
        raise TypeError(f"labels must hold integers, got dtype {arr.dtype}; {LABEL_FORMS}")
    return arr


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
    reject_masked(labels, "labels")
    if isinstance(labels, (list, tuple)) or (
        isinstance(labels, np.ndarray) and labels.dtype == object and labels.ndim == 1
    ):
        rows, lengths = _labels_from_list(labels, N)
        if label_lengths is not None:
            given = _check_lengths(label_lengths, "label_lengths", N, INT32_MAX, "int32")
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

    arr = _labels_array(labels)
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
        lengths = _check_lengths(label_lengths, "label_lengths", N, INT32_MAX, "int32")
        total = int(lengths.astype(np.int64).sum())
        if total != arr.shape[0]:
            raise ValueError(f"labels has {arr.shape[0]} entries but label_lengths sums to {total}")
        ends = np.cumsum(lengths.astype(np.int64))

        def where(i: tuple[int, ...]) -> tuple[int, int]:
            n = int(np.searchsorted(ends, i[0], side="right"))
            return n, int(i[0] - (ends[n] - lengths[n]))

        _check_values(arr, np.ones(arr.shape, bool), where, C, blank)
        return arr.astype(np.int32), lengths

    raise ValueError(f"{LABEL_FORMS}; got an array of shape {arr.shape}")


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
    threads = as_num_threads(num_threads)
    return 0 if threads is None else threads


def _check_blank(blank: Any, C: int) -> int:
    blank = as_int(blank, "blank")
    if not -C <= blank < C:
        raise ValueError(f"blank = {blank} is outside [-{C}, {C}) for an alphabet of {C} classes")
    return blank + C if blank < 0 else blank


def _check_modifications(alpha: Any, gamma: Any, fn: str | None = None) -> tuple[float, float]:
    """alpha as a float in [0, 1] (-1 for None) and gamma as a float in
    [0, GAMMA_MAX]."""
    a = as_real(alpha, "alpha", fn, optional=True, low=0, high=1)
    g = as_real(gamma, "gamma", fn, finite=False)
    prefix = f"{fn}: " if fn else ""
    # an int or a Fraction is finite even beyond the float range (g is inf then)
    given_finite = not isinstance(gamma, (float, np.floating)) or np.isfinite(gamma)
    if not (g >= 0.0 and given_finite):
        raise ValueError(f"{prefix}gamma must be a finite number >= 0, got {short(gamma)}")
    if g > GAMMA_MAX:
        raise ValueError(
            f"{prefix}gamma must be at most {GAMMA_MAX:g}, the largest value the C core "
            f"accepts, got {short(gamma)}"
        )
    return (-1.0 if a is None else a), g


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
        log_probs,
        not time_major,
        zero_infinity,
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
    time_major = as_flag(time_major, "time_major")
    log_probs = as_flag(log_probs, "log_probs")
    zero_infinity = as_flag(zero_infinity, "zero_infinity")
    grad = as_flag(grad, "grad")
    reduction = as_choice(reduction, "reduction", _REDUCTIONS)
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
    time_major = as_flag(time_major, "time_major")
    log_probs = as_flag(log_probs, "log_probs")
    return_weights = as_flag(return_weights, "return_weights")
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
    C = as_int(alphabet_size, "alphabet_size", low=1, high=INT32_MAX)
    grad = as_flag(grad, "grad")
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64, got {describe(dtype)}") from None
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    frames = _int_array(logit_lengths, "logit_lengths").reshape(-1)
    N = frames.shape[0]
    if N < 1:
        raise ValueError("logit_lengths: the batch must hold at least one sample")
    inputs = _check_lengths(frames, "logit_lengths", N, INT32_MAX, "int32")
    labels = _check_lengths(label_lengths, "label_lengths", N, INT32_MAX, "int32")
    T = int(inputs.max())
    return int(_core.workspace_size_raw(labels, inputs, T, C, dt == np.float64, grad))
