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
_KERNELS = ("auto", "log")
_NO_KERNEL_OUT = np.empty(0, np.uint8)
_NO_LENGTHS = np.empty(0, np.int32)
# The C core refuses a larger gamma (src/validate.c).
GAMMA_MAX = 1e300
# numpy.exceptions appeared in NumPy 1.25; older versions have np.TooHardError.
_TOO_HARD = getattr(np, "exceptions", np).TooHardError

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
    kind = arr.dtype.kind  # "i" / "u": the integer dtypes (bool is "b")
    if kind == "b" or (kind not in "iu" and arr.size != 0):
        raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    return arr


def _check_lengths(value: ArrayLike, name: str, N: int, upper: int, upper_name: str) -> np.ndarray:
    arr = _int_array(value, name)
    if arr.shape != (N,):
        raise ValueError(f"{name} must have shape ({N},), one per sample, got shape {arr.shape}")
    # (Two reductions first: locating the bad entry costs more, and is only
    # needed for the message.)
    if arr.size and (arr.min() < 0 or arr.max() > upper):
        i = int(np.flatnonzero((arr < 0) | (arr > upper))[0])
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
    if row.dtype.kind == "b" or (row.dtype.kind not in "iu" and row.size != 0):
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
    if arr.dtype.kind == "b" or (arr.dtype.kind not in "iu" and arr.size != 0):
        raise TypeError(f"labels must hold integers, got dtype {arr.dtype}; {LABEL_FORMS}")
    return arr


def _first_bad(bad: np.ndarray) -> tuple[int, ...] | None:
    """Index tuple of the first True entry of `bad` (C order), or None."""
    hits = np.argwhere(bad)
    return tuple(int(i) for i in hits[0]) if hits.size else None


def _check_values(
    values: np.ndarray, valid: np.ndarray | None, where: Any, C: int, blank: int
) -> np.ndarray:
    """Checks the labels in `values` where `valid` is True (everywhere for
    None; original dtype, so that a huge unsigned value is reported as it
    is) and returns them, flat in C order. where(index) returns the
    (sample, position) of an index of `values`."""
    chosen = values.reshape(-1) if valid is None else values[valid]
    # Three reductions decide; the bad entry is located only for the message.
    if chosen.size == 0 or (chosen.min() >= 0 and chosen.max() < C and not (chosen == blank).any()):
        return chosen
    if valid is None:
        valid = np.ones(values.shape, bool)
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
    raise AssertionError("unreachable: a label failed the range check but has no position")


_PACKED_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))


def _pack_labels(
    arr: np.ndarray, lengths: np.ndarray | None, C: int, blank: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """The labels of a padded [N, S] array of native int32 or int64 (the
    lengths given, else inferred from the first negative pad) checked and
    packed by one pass of compiled code: (flat int32 labels, int32
    lengths). None for another dtype, an empty array, or a bad entry: the
    NumPy path then checks (and names what is wrong)."""
    if arr.dtype not in _PACKED_DTYPES or arr.size == 0:
        return None
    flat = np.empty(arr.size, np.int32)
    out_lengths = np.empty(arr.shape[0], np.int32)
    count = _core.pack_padded_labels(
        arr,
        _NO_LENGTHS if lengths is None else lengths.astype(np.int32, copy=False),
        lengths is None,
        C,
        blank,
        flat,
        out_lengths,
    )
    return None if count < 0 else (flat[:count], out_lengths)


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
            _check_values(row, None, lambda i, n=n: (n, i[0]), C, blank)
        flat = np.concatenate([r.astype(np.int32) for r in rows]) if rows else np.zeros(0, np.int32)
        return flat, lengths.astype(np.int32)

    arr = _labels_array(labels)
    if arr.ndim == 2:
        if arr.shape[0] != N:
            raise ValueError(
                f"labels must have one row per sample: shape {arr.shape} for a batch of {N}"
            )
        S = arr.shape[1]
        given = None
        if label_lengths is not None:
            given = _check_lengths(label_lengths, "label_lengths", N, S, "the padded label width S")
        packed = _pack_labels(arr, given, C, blank)
        if packed is not None:
            return packed
        if given is not None:
            lengths = given
        elif S == 0:
            lengths = np.zeros(N, np.int32)
        else:
            # Length = number of entries before the first negative pad.
            negative = arr < 0
            lengths = np.where(negative.any(axis=1), negative.argmax(axis=1), S).astype(np.int32)
        mask = np.arange(S)[None, :] < lengths[:, None]
        return _check_values(arr, mask, lambda i: i, C, blank).astype(np.int32), lengths

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

        if total <= INT32_MAX:
            one = np.array([total], np.int32)  # the whole array as one row
            packed = _pack_labels(arr.reshape(1, -1), one, C, blank)
            if packed is not None:
                return packed[0], lengths
        _check_values(arr, None, where, C, blank)
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


def _check_out(
    out: Any,
    name: str,
    dtype: np.dtype,
    shape: tuple[int, ...],
    sources: list[tuple[str, Any]],
    dtype_note: str = " (the dtype of logits)",
) -> np.ndarray | None:
    """Checks a caller's output array (None passes): a plain, aligned,
    C-contiguous, writeable numpy.ndarray of exactly `dtype` and `shape`
    that shares no memory with any array in `sources` ((name, value)
    pairs; values that are not arrays or None are skipped). Writes
    nothing, so a refused array is left as it was."""
    if out is None:
        return None
    if type(out) is not np.ndarray:
        raise TypeError(
            f"{name} must be a numpy.ndarray (not a subclass such as numpy.ma.MaskedArray "
            f"or numpy.matrix), got {type(out).__module__}.{type(out).__name__}"
        )
    if out.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype}{dtype_note}, got {out.dtype}")
    if out.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {out.shape}")
    if not out.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (the C core writes it as one buffer)")
    if not out.flags.aligned:
        raise ValueError(f"{name} must be aligned to its dtype")
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only; pass a writeable array")
    for other_name, other in sources:
        if isinstance(other, np.ndarray) and np.may_share_memory(out, other):
            try:
                overlap = np.shares_memory(out, other, max_work=100_000)
            except _TOO_HARD:  # refuse what cannot be proved apart
                overlap = True
            if overlap:
                raise ValueError(
                    f"{name} overlaps {other_name} in memory; the C core reads the inputs "
                    "while it writes the outputs, so pass separate arrays"
                )
    return out


def _check_kernel(kernel: Any, kernel_out: Any, b: _Batch, sources: list) -> np.ndarray | None:
    """Checks the `kernel` choice and the `kernel_out` array ([N] uint8)."""
    as_choice(kernel, "kernel", _KERNELS)
    return _check_out(kernel_out, "kernel_out", np.dtype(np.uint8), (b.N,), sources, "")


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
    costs: np.ndarray | None = None,
    kernel: str = "auto",
    kernel_out: np.ndarray | None = None,
) -> np.ndarray:
    """Calls the C core; fills the given output arrays (costs and
    kernel_out too, when given; checked C-contiguous arrays, written in
    place), returns the costs."""
    dtype = b.data.dtype
    empty = np.empty(0, dtype)
    if costs is None:
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
        kernel == "log",
        kernel_out if kernel_out is not None else _NO_KERNEL_OUT,
        kernel_out is not None,
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
    loss_out: np.ndarray | None = None,
    grad_out: np.ndarray | None = None,
    kernel: str = "auto",
    kernel_out: np.ndarray | None = None,
) -> tuple[np.ndarray | np.floating, np.ndarray | None]:
    """CTC loss (negative log-likelihood) of label sequences, and its gradient.

    For each sample n, ``loss[n] = -log p(labels[n] | logits[:, n])``, the
    probability summed over every alignment of the labels to the sample's
    frames. The C core computes it in log space (forward-backward, float32 or
    float64, OpenMP threads over the batch) with the GIL released.

    Parameters
    ----------
    logits : array_like of float32 or float64
        ``[T, N, C]`` (frames, batch, classes with the blank) when
        `time_major`, else ``[N, T, C]``. Unnormalised scores (a log-softmax
        is applied inside) or, with ``log_probs=True``, log-probabilities.
        The dtype is kept; other dtypes raise ``TypeError``. Read-only and
        non-contiguous arrays are accepted (copied only when not
        C-contiguous).
    labels : sequence of int sequences or array_like of int
        The label sequences, in one of three forms: a list (or tuple) of N
        integer sequences; a padded 2-D integer array ``[N, S]``, whose row n
        holds ``label_lengths[n]`` labels or, without `label_lengths`, the
        entries before its first negative value; or a flat 1-D integer array
        of all the labels, one sample after the other, split by
        `label_lengths`. Any integer dtype. Every label lies in ``[0, C)``
        and differs from the blank.
    logit_lengths : array_like of int, shape [N], optional
        Frames of each sample, each in ``[0, T]``; default all T. Frames past
        a sample's length are never read (they may hold NaN) and get
        gradient 0.
    label_lengths : array_like of int, shape [N], optional
        Labels of each sample: required with flat labels, optional with
        padded labels (each at most S), checked against the sequences of a
        list.
    blank : int, default 0
        Index of the blank class, in ``[-C, C)``; negative values count from
        the end (``-1`` is the last class, TensorFlow's classic convention).
    time_major : bool, default True
        Layout of `logits` and of the gradient: ``[T, N, C]`` if True,
        ``[N, T, C]`` if False. Both are read in place.
    log_probs : bool, default False
        True if `logits` already holds log-probabilities: no log-softmax is
        applied, and the gradient is the exact ``-posterior``.
    reduction : {"none", "sum", "mean"}, default "none"
        ``"none"``: the ``[N]`` losses; ``"sum"``: their sum; ``"mean"``: the
        mean over the batch of ``loss[n] / max(label_lengths[n], 1)``
        (PyTorch's definition). The gradient is that of the returned value.
    zero_infinity : bool, default False
        Infeasible samples (too few frames for their labels, or probability
        0) get loss 0 instead of ``inf``. Their gradient is 0 either way.
    num_threads : int, optional
        OpenMP threads of the C core, in ``[0, 2**31 - 1]``; None or 0 uses
        every available thread. Results are bitwise identical for every
        thread count.
    grad : bool, default True
        False skips the gradient (the cheaper loss-only path) and returns
        ``(loss, None)``.
    alpha : float, optional
        Non-blank proportion of the training targets, in [0, 1] (Li and
        Wang, "Reinterpreting CTC training as iterative fitting",
        eq. 13-16), computed over the whole batch of the call. None (the
        default) is plain CTC. Changes the gradient only.
    gamma : float, default 0.0
        Key-frame reweighting exponent (eq. 17-18), in ``[0, 1e300]``; 0 is
        plain CTC. Changes the gradient only.
    loss_out : numpy.ndarray, optional
        Only with ``reduction="none"``: an array ``[N]`` to write the losses
        into, returned as `loss` (the same object), as NumPy's ``out=``.
        It must be a plain ``numpy.ndarray`` (no subclass) of the dtype of
        `logits`, C-contiguous, aligned and writeable, and share no memory
        with `logits` or `grad_out`.
    grad_out : numpy.ndarray, optional
        Only with ``grad=True``: an array in the shape of `logits` (the
        given layout) to write the gradient into, returned as `grad`,
        under the rules of `loss_out`. Without it the gradient is a new
        array, whose memory, from 1 MiB on, is that of an earlier output
        the caller has dropped where one is kept (see Notes).
    kernel : {"auto", "log"}, default "auto"
        The dynamic programme. ``"auto"`` runs the scaled linear-space
        kernel and checks each sample with a bound on what underflow can
        have changed; a sample that fails it (inputs whose forward and
        backward evidence disagree beyond the double range, NaN or
        ``+inf``) is recomputed in log space, with exactly the results of
        ``"log"``, which computes every sample in log space.
    kernel_out : numpy.ndarray, optional
        An array ``[N]`` of uint8 (C-contiguous, aligned, writeable) that
        receives for each sample `ctcc.KERNEL_SCALED` (0) when the scaled
        kernel computed it, `ctcc.KERNEL_LOG_SPACE` (1) when the log-space
        kernel did (also for a sample without an alignment or frames, for
        every sample with ``kernel="log"``, and for every sample of a call
        whose `alpha` needed log posteriors: see `alpha`).

    Returns
    -------
    loss : numpy.ndarray or numpy.floating
        ``[N]`` in the dtype of `logits` with ``reduction="none"``, else a
        scalar of that dtype. Always the plain CTC loss, whatever `alpha`
        and `gamma`: ``+inf`` for an infeasible sample (0 with
        `zero_infinity`), NaN for a sample with NaN or ``+inf`` on a valid
        frame; the other samples are unaffected.
    grad : numpy.ndarray or None
        ``d loss / d logits``, in the shape, layout and dtype of `logits`:
        ``softmax(logits) - posterior`` for logits (the value TensorFlow and
        warp-ctc return), ``-posterior`` for log-probabilities; scaled by
        the frame weights with `alpha` or `gamma` set. None when
        ``grad=False``.

    Raises
    ------
    TypeError
        If `logits` is not float32 or float64, labels or lengths do not hold
        integers, an array is a ``numpy.ma.MaskedArray`` (its mask would be
        ignored), `labels` is in none of the accepted forms, a flag is not a
        bool, an integer argument is a bool or not an integer, or `alpha` or
        `gamma` is not a real number, or `loss_out` or `grad_out` is
        not a plain ``numpy.ndarray`` of the dtype of `logits`.
    ValueError
        If a shape is wrong, a label is outside ``[0, C)`` or equals the
        blank, a length is out of range, `blank` is outside ``[-C, C)``,
        `reduction` is unknown, `alpha` is outside [0, 1], `gamma` is
        negative, not finite or above 1e300, `num_threads` is negative, or
        `loss_out` or `grad_out` has the wrong shape, is not C-contiguous,
        aligned and writeable, overlaps `logits` or the other output, or is
        given where nothing is returned in it (``loss_out`` with a reduction,
        ``grad_out`` with ``grad=False``); a refused output array is left
        untouched. The message names the argument, the sample and the value.

    See Also
    --------
    ctcc.ctc_posteriors : The targets that the gradient fits.
    ctcc.forced_align : The most probable alignment of the same labels.
    ctcc.workspace_size : The scratch memory a call allocates.

    Notes
    -----
    Arguments follow one rule in every ctcc API: flags accept only bools
    (``True``, ``False``, ``numpy.bool_``), integer arguments accept integers
    (``int``, NumPy integers) but not bools, real arguments accept real
    numbers but not bools or strings.

    A sample is infeasible when it has fewer frames than its labels need
    (the label count plus the number of adjacent repeats) or when every
    alignment has probability 0 (``-inf`` log-probabilities). With
    `alpha` or `gamma` set the gradient becomes ``weights * (softmax -
    targets)``, the targets and weights that `ctcc.ctc_posteriors` returns;
    `alpha` couples the samples of a call (a sample's gradient depends on
    the others), `gamma` alone keeps them independent.

    Each Python thread keeps its workspace between calls (a fresh mapping
    of tens of megabytes would fault in page by page on every call). For
    the same reason the memory of up to two gradient or posteriors arrays
    of 1 MiB or more is kept once the caller has dropped them (and every
    view of them), and reused for the next outputs that fit it; the C core
    writes every element of an output, so nothing of the old contents
    shows. `ctcc.clear_workspace_cache` frees the calling thread's
    workspace and the kept outputs.

    Examples
    --------
    >>> import numpy as np
    >>> import ctcc
    >>> rng = np.random.default_rng(0)
    >>> logits = rng.normal(size=(50, 4, 20)).astype(np.float32)  # [T, N, C]
    >>> labels = [[3, 4, 4, 7], [1], [], [5, 6]]
    >>> loss, grad = ctcc.ctc_loss(logits, labels, logit_lengths=[50, 42, 10, 50])
    >>> loss.shape, loss.dtype, grad.shape
    ((4,), dtype('float32'), (50, 4, 20))

    Two uniform frames over the blank and one label: the alignments of
    ``[1]`` are ``1 1``, ``1 -`` and ``- 1``, so ``p = 3/4``.

    >>> loss, grad = ctcc.ctc_loss(np.zeros((2, 1, 2)), [[1]])
    >>> print(loss.round(6), -np.log(3 / 4).round(6))
    [0.287682] 0.287682

    The same labels padded with -1, batch-major, reduced to the mean:

    >>> padded = np.array([[3, 4, 4, 7], [1, -1, -1, -1], [-1] * 4, [5, 6, -1, -1]])
    >>> mean, _ = ctcc.ctc_loss(np.swapaxes(logits, 0, 1), padded, [50, 42, 10, 50],
    ...                         time_major=False, reduction="mean", grad=False)
    >>> mean.shape
    ()
    """
    time_major = as_flag(time_major, "time_major")
    log_probs = as_flag(log_probs, "log_probs")
    zero_infinity = as_flag(zero_infinity, "zero_infinity")
    grad = as_flag(grad, "grad")
    reduction = as_choice(reduction, "reduction", _REDUCTIONS)
    a, g = _check_modifications(alpha, gamma)
    b = _prepare(logits, labels, logit_lengths, label_lengths, blank, time_major, num_threads)
    dtype = b.data.dtype
    if loss_out is not None and reduction != "none":
        raise ValueError(
            f'loss_out is only allowed with reduction="none" (the [N] losses); '
            f"reduction={reduction!r} returns a scalar"
        )
    if grad_out is not None and not grad:
        raise ValueError("grad_out was given with grad=False, which computes no gradient")
    sources = [("logits", logits), ("logits", b.data)]
    loss_out = _check_out(loss_out, "loss_out", dtype, (b.N,), sources)
    grad_out = _check_out(
        grad_out, "grad_out", dtype, b.data.shape, [*sources, ("loss_out", loss_out)]
    )
    kernel_out = _check_kernel(
        kernel, kernel_out, b, [*sources, ("loss_out", loss_out), ("grad_out", grad_out)]
    )
    if grad_out is not None:
        gradient = grad_out
    else:
        gradient = _core.output_array(b.data.shape, dtype) if grad else None
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
        costs=loss_out,
        kernel=kernel,
        kernel_out=kernel_out,
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
    out: np.ndarray | None = None,
    kernel: str = "auto",
    kernel_out: np.ndarray | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """CTC posteriors: the targets that the CTC gradient fits the softmax to.

    ``targets[t, n, c] = p(frame t emits class c | labels[n], logits[:, n])``,
    the probability that an alignment of the labels emits class c at frame t;
    for logits the gradient of `ctcc.ctc_loss` is ``softmax(logits) -
    targets``. Takes the arguments of `ctcc.ctc_loss` (without `reduction`,
    `zero_infinity` and `grad`), in the same shapes and layouts.

    Parameters
    ----------
    logits : array_like of float32 or float64
        ``[T, N, C]`` when `time_major`, else ``[N, T, C]``: unnormalised
        scores, or log-probabilities with ``log_probs=True``.
    labels : sequence of int sequences or array_like of int
        A list of N integer sequences, a padded 2-D integer array ``[N, S]``
        (lengths from `label_lengths` or the first negative entry), or a
        flat 1-D integer array with `label_lengths`, as in `ctcc.ctc_loss`.
    logit_lengths : array_like of int, shape [N], optional
        Frames of each sample, each in ``[0, T]``; default all T.
    label_lengths : array_like of int, shape [N], optional
        Labels of each sample (see `ctcc.ctc_loss`).
    blank : int, default 0
        Index of the blank class, in ``[-C, C)``; negative values count from
        the end.
    time_major : bool, default True
        Layout of `logits` and of the results: ``[T, N, C]`` if True,
        ``[N, T, C]`` if False.
    log_probs : bool, default False
        True if `logits` already holds log-probabilities.
    alpha : float, optional
        Non-blank proportion in [0, 1] (Li and Wang, eq. 13-16): with it set
        the modified targets are returned instead, computed over the whole
        batch. None (the default) gives the plain posteriors.
    gamma : float, default 0.0
        Key-frame reweighting exponent in ``[0, 1e300]`` (eq. 17-18). It
        does not change the targets; it sets the frame weights that
        ``return_weights=True`` returns.
    num_threads : int, optional
        OpenMP threads of the C core; None or 0 uses every available thread.
    return_weights : bool, default False
        Also return the frame weights of the gradient.
    out : numpy.ndarray, optional
        An array in the shape of `logits` to write the targets into,
        returned as `targets` (the same object), as NumPy's ``out=``: a
        plain ``numpy.ndarray`` of the dtype of `logits`, C-contiguous,
        aligned, writeable and sharing no memory with `logits`. Without
        it the targets are a new array, whose memory may be that of an
        earlier output the caller has dropped (see `ctcc.ctc_loss`).
    kernel : {"auto", "log"}, default "auto"
        The dynamic programme. ``"auto"`` runs the scaled linear-space
        kernel and checks each sample with a bound on what underflow can
        have changed; a sample that fails it (inputs whose forward and
        backward evidence disagree beyond the double range, NaN or
        ``+inf``) is recomputed in log space, with exactly the results of
        ``"log"``, which computes every sample in log space.
    kernel_out : numpy.ndarray, optional
        An array ``[N]`` of uint8 (C-contiguous, aligned, writeable) that
        receives for each sample `ctcc.KERNEL_SCALED` (0) when the scaled
        kernel computed it, `ctcc.KERNEL_LOG_SPACE` (1) when the log-space
        kernel did (also for a sample without an alignment or frames, for
        every sample with ``kernel="log"``, and for every sample of a call
        whose `alpha` needed log posteriors: see `alpha`).

    Returns
    -------
    targets : numpy.ndarray
        The shape, layout and dtype of `logits`. Each valid frame's row sums
        to 1; frames past a sample's length and every frame of an infeasible
        sample hold 0; a sample with NaN or ``+inf`` on a valid frame holds
        NaN. With ``log_probs=True`` and no `alpha`, ``targets == -grad``.
    weights : numpy.ndarray
        Only with ``return_weights=True``: ``[T, N]`` if `time_major` else
        ``[N, T]``, the weight of each frame in the gradient: 1 on valid
        frames with ``gamma=0``, else ``w_t**gamma / mean(w**gamma)`` over the
        sample's valid frames; 0 past the length.

    Raises
    ------
    TypeError
        As `ctcc.ctc_loss`: a wrong dtype, a masked array, labels in no
        accepted form, a scalar argument of the wrong type, or an `out` that
        is not a plain ``numpy.ndarray`` of the dtype of `logits`.
    ValueError
        As `ctcc.ctc_loss`: a wrong shape, a bad label or length, `blank`,
        `alpha` or `gamma` out of range, or an `out` of the wrong shape, not
        C-contiguous, aligned and writeable, or overlapping `logits`.

    See Also
    --------
    ctcc.ctc_loss : The loss and its gradient.

    Notes
    -----
    With `alpha` set, over the feasible samples of the call: ``V_k`` is the
    sum of ``targets[..., k]`` over the valid frames and ``N_k`` the number
    of occurrences of label k in the labels. The blank's posteriors are
    scaled by ``(1 - alpha) * sum(N) / V_blank``, label k's by
    ``alpha * N_k / V_k``, and each frame is renormalised to sum to 1. A
    class with ``V_k = 0`` gets scale 0; a frame that scales to nothing
    (possible only with alpha 0 or 1) keeps its plain posteriors.

    With `gamma`, frame t gets ``w_t = max(0, max_k (targets[t, k] -
    softmax[t, k]))`` and the gradient of `ctcc.ctc_loss` becomes
    ``weights * (softmax(logits) - targets)``.

    Examples
    --------
    >>> import numpy as np
    >>> import ctcc

    Two uniform frames and the labels ``[1]``: the alignments ``1 1``,
    ``1 -`` and ``- 1`` are equally likely, so each frame emits the label
    with probability 2/3.

    >>> targets = ctcc.ctc_posteriors(np.zeros((2, 1, 2)), [[1]])
    >>> targets[:, 0].round(4)
    array([[0.3333, 0.6667],
           [0.3333, 0.6667]])

    The gradient is the softmax minus the targets:

    >>> logits = np.random.default_rng(0).normal(size=(30, 2, 6))
    >>> targets, weights = ctcc.ctc_posteriors(logits, [[1, 2], [3]], gamma=1.0,
    ...                                        return_weights=True)
    >>> _, grad = ctcc.ctc_loss(logits, [[1, 2], [3]], gamma=1.0)
    >>> softmax = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    >>> bool(np.allclose(grad, weights[..., None] * (softmax - targets)))
    True
    """
    time_major = as_flag(time_major, "time_major")
    log_probs = as_flag(log_probs, "log_probs")
    return_weights = as_flag(return_weights, "return_weights")
    a, g = _check_modifications(alpha, gamma)
    b = _prepare(logits, labels, logit_lengths, label_lengths, blank, time_major, num_threads)
    dtype = b.data.dtype
    out = _check_out(out, "out", dtype, b.data.shape, [("logits", logits), ("logits", b.data)])
    kernel_out = _check_kernel(
        kernel, kernel_out, b, [("logits", logits), ("logits", b.data), ("out", out)]
    )
    targets = _core.output_array(b.data.shape, dtype) if out is None else out
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
        kernel=kernel,
        kernel_out=kernel_out,
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
    num_threads: int | None = None,
) -> int:
    """Bytes of scratch memory that `ctcc.ctc_loss` allocates for these lengths.

    The same number the C function ``ctcc_workspace_size`` reports. With the
    gradient it is one double per cell ``(t, s)`` of the forward-backward
    table, ``sum(logit_lengths[n] * (2 * label_lengths[n] + 1))``, plus
    O(S + T) per sample; without it, O(S) per sample whatever the number of
    frames. A float32 gradient of 1024 classes or more adds two rows of
    ``4 * alphabet_size`` bytes (each rounded up to 64) per thread the call
    may use, where each thread stages a frame's softmax before writing it
    to the gradient past the cache.

    Parameters
    ----------
    logit_lengths : array_like of int, shape [N]
        Frames of each sample, each in ``[0, 2**31 - 1]``; N >= 1.
    label_lengths : array_like of int, shape [N]
        Labels of each sample, each in ``[0, 2**31 - 1]``.
    alphabet_size : int
        Number of classes C, the blank included, in ``[1, 2**31 - 1]``.
    dtype : numpy dtype, default numpy.float32
        Dtype of the logits: float32 or float64.
    grad : bool, default True
        Whether the call computes the gradient (or posteriors).
    num_threads : int, optional
        The `num_threads` of the call, in ``[0, 2**31 - 1]``; None or 0
        counts every available thread. Only the stage rows depend on it.

    Returns
    -------
    int
        The number of bytes.

    Raises
    ------
    TypeError
        If `dtype` is not float32 or float64, the lengths do not hold
        integers, or `alphabet_size` or `grad` has the wrong type.
    ValueError
        If a length or `alphabet_size` is out of range, or the batch is
        empty.
    MemoryError
        If the size overflows ``size_t``.

    Examples
    --------
    >>> import ctcc
    >>> T, L = 700, 100
    >>> size = ctcc.workspace_size([T] * 32, [L] * 32, 29)
    >>> size >= 8 * 32 * T * (2 * L + 1)
    True
    >>> short = ctcc.workspace_size([100, 20], [3, 5], 29, grad=False)
    >>> short == ctcc.workspace_size([10000, 20], [3, 5], 29, grad=False)
    True
    """
    C = as_int(alphabet_size, "alphabet_size", low=1, high=INT32_MAX)
    grad = as_flag(grad, "grad")
    threads = _check_threads(num_threads)
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
    return int(_core.workspace_size_raw(labels, inputs, T, C, dt == np.float64, grad, threads))
