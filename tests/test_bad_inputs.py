"""One test per row of the "Bad input" table of docs/bad_input.md: what each bad input
gets from the C API (a status code, through ctypes on the shared library
shipped in the package) and from the Python API (an exception naming the
argument and the value, or the defined result for non-finite inputs and
empty shapes). A last test checks that the table and these rows agree."""

from __future__ import annotations

import os
import re

import capi
import numpy as np
import pytest

ctcc = pytest.importorskip("ctcc")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T, N, C = 6, 2, 5
LABELS = [[1, 2], [3]]


def _x(dtype=np.float32):
    return np.random.default_rng(0).normal(size=(T, N, C)).astype(dtype)


def _raises(exc, pattern, fn):
    with pytest.raises(exc) as info:
        fn()
    assert re.search(pattern, str(info.value)), str(info.value)


def _c_args():
    """A valid C call: flat labels, label lengths, input lengths."""
    return (
        np.array([1, 2, 3], np.int32),
        np.array([2, 1], np.int32),
        np.array([T, T], np.int32),
    )


def _c_status(expected, mutate):
    """Runs ctcc_loss_f32 on the valid call changed by mutate(args) and
    checks the status and that costs and gradients are untouched."""
    if capi.load() is None:
        pytest.skip("the shared library libctcc is not reachable (ctcc.get_library_dirs)")
    labels, label_lengths, input_lengths = _c_args()
    args = {
        "x": _x(),
        "labels": labels,
        "label_lengths": label_lengths,
        "input_lengths": input_lengths,
        "max_time": T,
        "batch": N,
        "alphabet": C,
    }
    kwargs = mutate(args) or {}
    costs = np.full(8, 42.0, np.float32)
    grads = np.full(T * N * C, 42.0, np.float32)
    status = capi.loss_f32(**args, costs=costs, gradients=grads, **kwargs)
    assert status == capi.STATUS[expected], (status, expected)
    assert np.all(costs == 42.0) and np.all(grads == 42.0)


def _set(name, value):
    def mutate(a):
        a[name] = value

    return mutate


# --- the rows ----------------------------------------------------------------


def row_null_pointer():
    _c_status("NULL_POINTER", _set("x", None))
    _c_status("NULL_POINTER", _set("labels", None))
    _raises(
        TypeError,
        r"logits must be float32 or float64, got dtype object",
        lambda: ctcc.ctc_loss(None, LABELS),
    )


def row_batch_zero():
    _c_status("INVALID_BATCH_SIZE", _set("batch", 0))
    _raises(
        ValueError,
        r"logits: the batch size N must be at least 1",
        lambda: ctcc.ctc_loss(np.zeros((T, 0, C), np.float32), []),
    )


def row_alphabet_zero():
    _c_status("INVALID_ALPHABET_SIZE", _set("alphabet", 0))
    _raises(
        ValueError,
        r"logits: the alphabet size C must be at least 1",
        lambda: ctcc.ctc_loss(np.zeros((T, N, 0), np.float32), LABELS),
    )


def row_blank_out_of_range():
    _c_status("INVALID_BLANK", lambda a: {"opts": capi.options(blank=C)})
    _raises(
        ValueError, r"blank = 5 is outside \[-5, 5\)", lambda: ctcc.ctc_loss(_x(), LABELS, blank=5)
    )


def row_max_time_negative():
    _c_status("INVALID_MAX_TIME", _set("max_time", -1))
    # Python takes T from the array shape, which cannot be negative.
    _raises(ValueError, r"logits must be a 3-D array", lambda: ctcc.ctc_loss(_x()[0], LABELS))


def row_input_length_negative():
    _c_status("INVALID_INPUT_LENGTH", _set("input_lengths", np.array([T, -1], np.int32)))
    _raises(
        ValueError,
        r"logit_lengths\[1\] = -1 is outside \[0, 6\]",
        lambda: ctcc.ctc_loss(_x(), LABELS, [T, -1]),
    )


def row_input_length_over_t():
    _c_status("INVALID_INPUT_LENGTH", _set("input_lengths", np.array([T + 1, T], np.int32)))
    _raises(
        ValueError,
        r"logit_lengths\[0\] = 7 is outside \[0, 6\]",
        lambda: ctcc.ctc_loss(_x(), LABELS, [T + 1, T]),
    )


def row_label_length_negative():
    _c_status("INVALID_LABEL_LENGTH", _set("label_lengths", np.array([2, -1], np.int32)))
    padded = np.array([[1, 2], [3, 0]])
    _raises(
        ValueError,
        r"label_lengths\[1\] = -1 is outside",
        lambda: ctcc.ctc_loss(_x(), padded, label_lengths=[2, -1]),
    )


def row_label_out_of_range():
    _c_status("LABEL_OUT_OF_RANGE", _set("labels", np.array([1, 9, 3], np.int32)))
    _raises(
        ValueError,
        r"labels: sample 0, position 1 holds 9, outside the alphabet \[0, 5\)",
        lambda: ctcc.ctc_loss(_x(), [[1, 9], [3]]),
    )


def row_label_is_blank():
    _c_status("LABEL_IS_BLANK", _set("labels", np.array([1, 0, 3], np.int32)))
    _raises(
        ValueError,
        r"labels: sample 0, position 1 holds 0, which is the blank index",
        lambda: ctcc.ctc_loss(_x(), [[1, 0], [3]]),
    )


def row_workspace_too_small():
    if capi.load() is None:
        pytest.skip("the shared library libctcc is not reachable")
    lib = capi.load()
    labels, label_lengths, input_lengths = _c_args()
    size = capi.ctypes.c_size_t(0)
    o = capi.options()
    lib.ctcc_workspace_size(
        capi.ptr(label_lengths, capi.ctypes.c_int32),
        capi.ptr(input_lengths, capi.ctypes.c_int32),
        T, N, C, capi.FLOAT32, 1, capi.ctypes.byref(o), capi.ctypes.byref(size),
    )  # fmt: skip
    _c_status("WORKSPACE_TOO_SMALL", lambda a: {"workspace_bytes": size.value - 1})
    # Python sizes and owns the workspace: the case cannot arise there.


def row_size_overflow():
    if capi.load() is not None:
        # Only the workspace query can reach this status with small arrays:
        # a loss call would need the 2**32 labels its lengths announce.
        big = np.array([2**31 - 1] * 3, np.int32)
        size = capi.ctypes.c_size_t(7)
        st = capi.load().ctcc_workspace_size(
            capi.ptr(big, capi.ctypes.c_int32),
            capi.ptr(big, capi.ctypes.c_int32),
            2**31 - 1, 3, C, capi.FLOAT32, 1, None, capi.ctypes.byref(size),
        )  # fmt: skip
        assert st == capi.STATUS["SIZE_OVERFLOW"] and size.value == 7
    _raises(
        MemoryError,
        r"overflows size_t \(ctcc status 11\)",
        lambda: ctcc.workspace_size([2**31 - 1] * 3, [2**31 - 1] * 3, 5),
    )
    huge = np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), (2**31, 1, 1), (0, 0, 0))
    _raises(
        ValueError, r"T = 2147483648 exceeds the int32 range", lambda: ctcc.ctc_loss(huge, [[]])
    )


def row_invalid_option():
    for fields in ({"layout": 7}, {"input_kind": -1}, {"num_threads": -2}, {"struct_size": 4}):
        _c_status("INVALID_OPTION", lambda a, f=fields: {"opts": capi.options(**f)})
    _raises(
        ValueError,
        r"num_threads must be in \[0, ",
        lambda: ctcc.ctc_loss(_x(), LABELS, num_threads=-1),
    )
    _raises(
        ValueError,
        r"reduction must be one of",
        lambda: ctcc.ctc_loss(_x(), LABELS, reduction="avg"),
    )


def row_alpha_gamma():
    _c_status("INVALID_OPTION", lambda a: {"opts": capi.options(alpha=1.5)})
    _c_status("INVALID_OPTION", lambda a: {"opts": capi.options(gamma=float("nan"))})
    _raises(
        ValueError,
        r"alpha must be None or in \[0, 1\], got 2",
        lambda: ctcc.ctc_loss(_x(), LABELS, alpha=2),
    )
    _raises(
        ValueError,
        r"gamma must be a finite number >= 0",
        lambda: ctcc.ctc_loss(_x(), LABELS, gamma=-1),
    )


def row_wrong_dtype():
    if capi.load() is not None:
        lib = capi.load()
        labels, label_lengths, input_lengths = _c_args()
        size = capi.ctypes.c_size_t(7)
        st = lib.ctcc_workspace_size(
            capi.ptr(label_lengths, capi.ctypes.c_int32),
            capi.ptr(input_lengths, capi.ctypes.c_int32),
            T, N, C, 3, 1, None, capi.ctypes.byref(size),
        )  # fmt: skip
        assert st == capi.STATUS["INVALID_DTYPE"] and size.value == 7
    _raises(
        TypeError,
        r"logits must be float32 or float64, got dtype float16",
        lambda: ctcc.ctc_loss(_x(np.float16), LABELS),
    )
    _raises(
        TypeError,
        r"labels must hold integers, got dtype float64",
        lambda: ctcc.ctc_loss(_x(), np.ones((N, 2))),
    )


def row_wrong_rank_or_shape():
    # C takes flat arrays and sizes: the shape is the caller's contract.
    _raises(
        ValueError,
        r"logits must be a 3-D array \[T, N, C\], got shape \(2, 5\)",
        lambda: ctcc.ctc_loss(_x()[0], LABELS),
    )
    _raises(
        ValueError,
        r"logit_lengths must have shape \(2,\)",
        lambda: ctcc.ctc_loss(_x(), LABELS, [T]),
    )
    _raises(
        ValueError,
        r"labels: got a list of 1 sequences for a batch of 2",
        lambda: ctcc.ctc_loss(_x(), [[1]]),
    )


def row_nan_or_inf_logits():
    for bad in (np.nan, np.inf):
        x = _x()
        x[1, 0, 2] = bad
        loss, grad = ctcc.ctc_loss(x, LABELS)
        clean, clean_grad = ctcc.ctc_loss(_x(), LABELS)
        assert np.isnan(loss[0]) and np.all(np.isnan(grad[:, 0]))
        assert loss[1] == clean[1] and np.array_equal(grad[:, 1], clean_grad[:, 1])
    x = _x()
    x[T - 1, 1] = np.nan  # past sample 1's length: never read
    loss, grad = ctcc.ctc_loss(x, LABELS, [T, T - 1])
    assert np.all(np.isfinite(loss)) and np.all(grad[T - 1, 1] == 0)


def row_minus_inf_logits():
    x = _x()
    x[:, 0, 4] = -np.inf  # class 4 impossible for sample 0, which does not use it
    loss, grad = ctcc.ctc_loss(x, LABELS)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    assert np.all(grad[:, 0, 4] == 0)
    x[:, 1, 3] = -np.inf  # sample 1's only label is impossible: probability 0
    loss, grad = ctcc.ctc_loss(x, LABELS)
    assert loss[1] == np.inf and np.all(grad[:, 1] == 0) and np.isfinite(loss[0])


def row_empty_shapes():
    empty = np.zeros((0, N, C), np.float32)
    loss, grad = ctcc.ctc_loss(empty, [[], []])  # T = 0, L = 0
    assert np.array_equal(loss, [0, 0]) and grad.shape == (0, N, C)
    loss, _ = ctcc.ctc_loss(empty, [[1], []])  # T = 0, L = 1
    assert loss[0] == np.inf and loss[1] == 0
    loss, grad = ctcc.ctc_loss(_x(), [[], []])  # L = 0: every frame blank
    lp = _x().astype(np.float64)
    lp = lp - np.log(np.exp(lp).sum(-1, keepdims=True))
    np.testing.assert_allclose(loss, -lp[:, :, 0].sum(0), rtol=1e-6)


def row_too_short():
    loss, grad = ctcc.ctc_loss(_x(), [[1, 1, 1], [3]], [4, T])  # needs 5 frames
    assert loss[0] == np.inf and np.all(grad[:, 0] == 0) and np.isfinite(loss[1])
    loss, _ = ctcc.ctc_loss(_x(), [[1, 1, 1], [3]], [4, T], zero_infinity=True)
    assert loss[0] == 0


def row_beam_parameters():
    if capi.load() is not None:
        lib = capi.load()
        size = capi.ctypes.c_size_t(7)
        lengths = np.array([T, T], np.int32)
        for width, top in ((0, 1), (2, 3), (2, 0)):
            st = lib.ctcc_beam_workspace_size(
                capi.ptr(lengths, capi.ctypes.c_int32),
                T,
                N,
                C,
                width,
                top,
                None,
                capi.ctypes.byref(size),
            )
            assert st == capi.STATUS["INVALID_BEAM"] and size.value == 7
    _raises(
        ValueError,
        r"beam_width must be in \[1, ",
        lambda: ctcc.beam_search_decode(_x(), beam_width=0),
    )
    _raises(
        ValueError,
        r"top_paths = 3 must not exceed beam_width = 2",
        lambda: ctcc.beam_search_decode(_x(), beam_width=2, top_paths=3),
    )


ROWS = {
    name[4:].replace("_", "-"): fn
    for name, fn in dict(globals()).items()
    if name.startswith("row_")
}


@pytest.mark.parametrize("row", sorted(ROWS))
def test_row(row):
    ROWS[row]()


def test_docs_table_lists_exactly_these_rows():
    with open(os.path.join(ROOT, "docs", "bad_input.md"), encoding="utf-8") as f:
        text = f.read()
    section = text.split("\n## Bad input\n", 1)[1].split("\n## ", 1)[0]
    ids = re.findall(r"^\|.*\| `([a-z-]+)` \|$", section, re.M)
    assert sorted(ids) == sorted(ROWS), (sorted(ids), sorted(ROWS))
