"""Reuse of released output memory (ctcc/_outputs.pxi).

A gradient or posteriors array of 1 MiB or more that the caller drops is
kept (at most two) for the next call's output, so that a training loop
does not fault in a fresh mapping every step. What must hold: the reused
memory's old contents never show (the C core writes every element,
padded frames and infeasible samples included), memory that any array or
view still uses is never handed out, and `ctcc.clear_workspace_cache`
frees what is kept.
"""

from __future__ import annotations

import gc
import threading

import numpy as np
import pytest

ctcc = pytest.importorskip("ctcc")
from ctcc import _core  # noqa: E402

# float32 [64, 8, 600]: 1.2 MB, above the 1 MiB from which outputs are kept.
T, N, C = 64, 8, 600
LENGTHS = [64, 50, 64, 1, 64, 30, 0, 64]  # sample 3 is infeasible, 6 empty


def _labels(seed):
    rng = np.random.default_rng(seed)
    return [list(rng.integers(1, C, size=k)) for k in (20, 10, 0, 5, 30, 12, 3, 1)]


def _logits(seed, dtype=np.float32):
    return np.random.default_rng(seed).normal(size=(T, N, C)).astype(dtype)


def _fresh_reference(x, labels, fn):
    """The same call with a NaN-filled caller array as the output."""
    out = np.full(x.shape, np.nan, x.dtype)
    if fn == "loss":
        ctcc.ctc_loss(x, labels, LENGTHS, num_threads=1, grad_out=out)
    else:
        ctcc.ctc_posteriors(x, labels, LENGTHS, num_threads=1, out=out)
    return out


def _call(x, labels, fn):
    if fn == "loss":
        return ctcc.ctc_loss(x, labels, LENGTHS, num_threads=1)[1]
    return ctcc.ctc_posteriors(x, labels, LENGTHS, num_threads=1)


@pytest.fixture(autouse=True)
def _empty_pool():
    gc.collect()
    ctcc.clear_workspace_cache()
    yield
    ctcc.clear_workspace_cache()


@pytest.mark.parametrize("fn", ["loss", "posteriors"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reused_memory_is_fully_rewritten(fn, dtype):
    labels = _labels(0)
    x = _logits(0, dtype)
    first = _call(x, labels, fn)
    address = first.ctypes.data
    first[...] = 12345.0  # poison every element, padded frames included
    del first
    assert _core.kept_output_bytes() >= T * N * C * np.dtype(dtype).itemsize
    x2 = _logits(1, dtype)
    second = _call(x2, labels, fn)
    assert second.ctypes.data == address, "the released memory was not reused"
    assert _core.kept_output_bytes() == 0
    want = _fresh_reference(x2, labels, fn)
    assert second.tobytes() == want.tobytes()
    assert not (second == 12345.0).any()


def test_memory_of_a_live_view_is_never_handed_out():
    labels = _labels(2)
    grad = _call(_logits(2), labels, "loss")
    views = [grad[:, 1], grad.reshape(-1)[::7], memoryview(grad[5:])]
    saved = [np.array(v, copy=True) for v in views]
    del grad
    assert _core.kept_output_bytes() == 0  # the views keep it in use
    for seed in (3, 4, 5):
        other = _call(_logits(seed), labels, "loss")
        for v in views:
            assert not np.shares_memory(np.asarray(v), other)
    for v, s in zip(views, saved):
        assert np.asarray(v).tobytes() == s.tobytes()
    del views, v
    gc.collect()
    assert _core.kept_output_bytes() > 0  # released with the last view


def test_at_most_two_kept_and_clear_frees_them():
    labels = _labels(6)
    outs = [_call(_logits(s), labels, "loss") for s in range(3)]
    one = outs[0].nbytes
    del outs
    assert one <= _core.kept_output_bytes() // 2 <= one + 64
    ctcc.clear_workspace_cache()
    assert _core.kept_output_bytes() == 0


def test_sizes_far_apart_do_not_share():
    big = _core.output_array((3 * T, N, C), np.float32)
    del big
    kept = _core.kept_output_bytes()
    assert kept > 0
    small = _core.output_array((T, N, C), np.float32)  # less than half of it
    assert _core.kept_output_bytes() == kept
    del small
    both = _core.kept_output_bytes()
    assert both == kept + T * N * C * 4 + 64
    larger = _core.output_array((4 * T, N, C), np.float32)  # more than either
    assert larger.nbytes > kept
    assert _core.kept_output_bytes() == both


@pytest.mark.parametrize("shape", [(3,), (5, 7, 3), (T, N, C), (2, 1 << 18)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_arrays_are_aligned_writeable_and_contiguous(shape, dtype):
    a = _core.output_array(shape, dtype)
    assert a.shape == shape and a.dtype == dtype
    assert a.flags.c_contiguous and a.flags.writeable and a.flags.aligned
    assert a.ctypes.data % 64 == 0
    a[...] = 1  # the whole extent is writeable memory
    assert a.sum() == a.size


def test_threads_dropping_and_taking_outputs():
    labels = _labels(7)
    inputs = [_logits(10 + k) for k in range(4)]
    wants = [_fresh_reference(x, labels, "loss") for x in inputs]
    errors = []

    def work(k):
        try:
            for _ in range(15):
                got = _call(inputs[k], labels, "loss")
                if got.tobytes() != wants[k].tobytes():
                    errors.append(k)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _core.kept_output_bytes() <= 2 * (T * N * C * 4 + 64)
