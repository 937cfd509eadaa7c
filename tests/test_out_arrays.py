"""Caller-supplied output arrays: ctcc.ctc_loss(loss_out=, grad_out=) and
ctcc.ctc_posteriors(out=).

As NumPy's out=: the result is written into the given array and that same
object is returned, bitwise equal to what the allocating call returns. A
bad array (subclass, dtype, shape, layout, read-only, overlapping an input
or the other output, given where nothing is returned in it) raises an
error naming the argument and is left untouched.
"""

from __future__ import annotations

import numpy as np
import pytest

ctcc = pytest.importorskip("ctcc")

T, N, C = 12, 3, 7
LABELS = [[1, 2, 2], [3], [4, 5]]
LENGTHS = [12, 9, 5]


def _logits(dtype, time_major=True):
    x = np.random.default_rng(1).normal(size=(T, N, C)).astype(dtype)
    return x if time_major else np.ascontiguousarray(np.swapaxes(x, 0, 1))


def _loss(x, time_major=True, **kw):
    return ctcc.ctc_loss(x, LABELS, LENGTHS, time_major=time_major, num_threads=1, **kw)


def _bitwise(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("time_major", [True, False])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("alpha", [None, 0.5])
def test_grad_out_matches_allocating_call(dtype, time_major, reduction, alpha):
    x = _logits(dtype, time_major)
    loss, grad = _loss(x, time_major, reduction=reduction, alpha=alpha)
    g = np.full(x.shape, np.nan, dtype)
    loss2, grad2 = _loss(x, time_major, reduction=reduction, alpha=alpha, grad_out=g)
    assert grad2 is g
    _bitwise(grad, g)
    _bitwise(loss, loss2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("time_major", [True, False])
@pytest.mark.parametrize("grad", [True, False])
def test_loss_out_matches_allocating_call(dtype, time_major, grad):
    x = _logits(dtype, time_major)
    loss, grad_ref = _loss(x, time_major, grad=grad)
    out = np.full(N, np.nan, dtype)
    loss2, grad2 = _loss(x, time_major, grad=grad, loss_out=out)
    assert loss2 is out
    _bitwise(loss, out)
    if grad:
        _bitwise(grad_ref, grad2)
    else:
        assert grad2 is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("time_major", [True, False])
def test_both_outputs_reused_across_calls(dtype, time_major):
    x = _logits(dtype, time_major)
    loss, grad = _loss(x, time_major)
    lo, go = np.empty(N, dtype), np.empty(x.shape, dtype)
    for _ in range(2):
        l2, g2 = _loss(x, time_major, loss_out=lo, grad_out=go)
        assert l2 is lo and g2 is go
        _bitwise(loss, lo)
        _bitwise(grad, go)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("time_major", [True, False])
def test_posteriors_out(dtype, time_major):
    x = _logits(dtype, time_major)
    kw = dict(time_major=time_major, num_threads=1)
    ref = ctcc.ctc_posteriors(x, LABELS, LENGTHS, **kw)
    out = np.full(x.shape, np.nan, dtype)
    got = ctcc.ctc_posteriors(x, LABELS, LENGTHS, out=out, **kw)
    assert got is out
    _bitwise(ref, out)
    ref_t, ref_w = ctcc.ctc_posteriors(x, LABELS, LENGTHS, gamma=1.0, return_weights=True, **kw)
    out2 = np.empty(x.shape, dtype)
    t, w = ctcc.ctc_posteriors(x, LABELS, LENGTHS, gamma=1.0, return_weights=True, out=out2, **kw)
    assert t is out2
    _bitwise(ref_t, t)
    _bitwise(ref_w, w)


# --- refused arrays ----------------------------------------------------------------


def _readonly(a):
    a.flags.writeable = False
    return a


def _bad_grad_cases(x):
    buf = np.empty(x.size * 2, x.dtype)
    other = np.float32 if x.dtype == np.float64 else np.float64
    return {
        "dtype": (TypeError, np.zeros(x.shape, other)),
        "byteorder": (TypeError, np.zeros(x.shape, x.dtype.newbyteorder())),
        "shape": (ValueError, np.zeros((T, N, C + 1), x.dtype)),
        "transposed": (ValueError, np.zeros((N, T, C), x.dtype)),
        "non_contiguous": (ValueError, buf[::2].reshape(x.shape)),
        "fortran": (ValueError, np.zeros(x.shape, x.dtype, order="F")),
        "read_only": (ValueError, _readonly(np.zeros(x.shape, x.dtype))),
        "masked": (TypeError, np.ma.zeros(x.shape, x.dtype)),
        "subclass": (TypeError, np.zeros(x.shape, x.dtype).view(type("Sub", (np.ndarray,), {}))),
        "list": (TypeError, np.zeros(x.shape, x.dtype).tolist()),
        "overlap_logits": (ValueError, x),
        "overlap_logits_view": (ValueError, x[:]),
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "case",
    [
        "dtype",
        "byteorder",
        "shape",
        "transposed",
        "non_contiguous",
        "fortran",
        "read_only",
        "masked",
        "subclass",
        "list",
        "overlap_logits",
        "overlap_logits_view",
    ],
)
def test_bad_grad_out(dtype, case):
    x = _logits(dtype)
    kind, g = _bad_grad_cases(x)[case]
    before = np.array(g, copy=True)
    x_before = x.copy()
    with pytest.raises(kind, match=r"\bgrad_out\b"):
        _loss(x, grad_out=g)
    if isinstance(g, np.ndarray):
        _bitwise(before, np.asarray(g))
    _bitwise(x_before, x)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix
def test_bad_loss_out():
    x = _logits(np.float32)
    buf = np.zeros(2 * N, np.float32)
    cases = [
        (TypeError, np.zeros(N, np.float64)),
        (ValueError, np.zeros(N + 1, np.float32)),
        (ValueError, np.zeros((N, 1), np.float32)),
        (ValueError, buf[::2]),
        (ValueError, _readonly(np.zeros(N, np.float32))),
        (TypeError, np.ma.zeros(N, np.float32)),
        (TypeError, np.matrix(np.zeros(N, np.float32))),
        (ValueError, x[0, 0, :N]),  # a view into the logits
    ]
    for kind, out in cases:
        before = np.array(out, copy=True)
        with pytest.raises(kind, match=r"\bloss_out\b"):
            _loss(x, loss_out=out)
        _bitwise(before, np.asarray(out))


def test_outputs_overlapping_each_other():
    x = _logits(np.float64)
    g = np.zeros(x.shape, np.float64)
    lo = g[0, 0, :N]  # the losses would land in the gradient
    with pytest.raises(ValueError, match=r"\bgrad_out\b.*\bloss_out\b"):
        _loss(x, loss_out=lo, grad_out=g)
    assert not g.any()


def test_grad_out_with_grad_false():
    x = _logits(np.float32)
    g = np.ones(x.shape, np.float32)
    with pytest.raises(ValueError, match=r"\bgrad_out\b.*grad=False"):
        _loss(x, grad=False, grad_out=g)
    assert (g == 1).all()


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_loss_out_with_reduction(reduction):
    x = _logits(np.float32)
    out = np.ones(N, np.float32)
    with pytest.raises(ValueError, match=r'\bloss_out\b.*reduction="none"'):
        _loss(x, reduction=reduction, loss_out=out)
    assert (out == 1).all()


def test_failed_argument_check_leaves_outputs_untouched():
    x = _logits(np.float32)
    lo, g = np.ones(N, np.float32), np.ones(x.shape, np.float32)
    with pytest.raises(ValueError, match="blank"):
        ctcc.ctc_loss(x, [[1], [0], [2]], LENGTHS, loss_out=lo, grad_out=g)
    assert (lo == 1).all() and (g == 1).all()


def test_non_contiguous_logits_with_grad_out():
    # logits copied to a C-contiguous buffer; grad_out is in the logical shape
    base = np.random.default_rng(2).normal(size=(N, T, C))
    x = np.swapaxes(base, 0, 1)  # [T, N, C], not contiguous
    loss, grad = _loss(x)
    g = np.empty(x.shape)
    _, g2 = _loss(x, grad_out=g)
    assert g2 is g
    _bitwise(grad, g)
    # a C-contiguous view of the same memory as the logits
    with pytest.raises(ValueError, match=r"\bgrad_out\b.*logits"):
        _loss(x, grad_out=base.reshape(T, N, C))


def test_bad_posteriors_out():
    x = _logits(np.float64)
    cases = [
        (TypeError, np.zeros(x.shape, np.float32)),
        (ValueError, np.zeros((T, N, C - 1))),
        (ValueError, np.zeros(x.shape, order="F")),
        (ValueError, _readonly(np.zeros(x.shape))),
        (TypeError, np.ma.zeros(x.shape)),
        (ValueError, x),
    ]
    for kind, out in cases:
        before = np.array(out, copy=True)
        with pytest.raises(kind, match=r"\bout\b"):
            ctcc.ctc_posteriors(x, LABELS, LENGTHS, out=out)
        _bitwise(before, np.asarray(out))
