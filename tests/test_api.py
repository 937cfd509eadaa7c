"""The Python API of ctcc.ctc_loss: layouts, dtypes, label formats,
reductions, threads, padding, views, and agreement with the references."""

import numpy as np
import pytest
from reference import batch_reference, log_softmax, min_frames

ctcc = pytest.importorskip("ctcc")


def _np(loss, grad):
    return np.asarray(loss), (None if grad is None else np.asarray(grad))


def _batch(seed=0, T=12, N=5, C=6, blank=0, scale=1.5):
    """Random float64 logits [T, N, C], labels (list, with repeats and an
    empty one) and input lengths; every sample feasible."""
    rng = np.random.default_rng(seed)
    b = blank % C
    others = [c for c in range(C) if c != b]
    lengths = rng.integers(T // 2, T + 1, size=N)
    lengths[0] = T
    labels = []
    for n in range(N):
        if n == 1:
            lab = [others[0], others[0], others[1]]
        elif n == 2:
            lab = []
        else:
            while True:
                k = int(rng.integers(1, 6))
                lab = [others[i] for i in rng.integers(0, len(others), size=k)]
                if min_frames(lab) <= lengths[n]:
                    break
        labels.append(lab)
    x = rng.normal(scale=scale, size=(T, N, C))
    return x, labels, lengths


def _padded(labels, pad=-1, dtype=np.int64, width=None):
    width = width or max(1, max(len(lab) for lab in labels))
    out = np.full((len(labels), width), pad, dtype=dtype)
    for n, lab in enumerate(labels):
        out[n, : len(lab)] = lab
    return out


def _lens(labels):
    return np.array([len(lab) for lab in labels], dtype=np.int64)


# --- metadata --------------------------------------------------------------


def test_version():
    assert ctcc.__version__ == "0.3.0"


def test_openmp_enabled_is_bool():
    assert isinstance(ctcc.openmp_enabled(), bool)


# --- correctness at medium sizes -------------------------------------------


@pytest.mark.parametrize("log_probs", [False, True], ids=["logits", "logprobs"])
@pytest.mark.parametrize("blank", [0, 3, -1])
def test_medium_batch_matches_forward_backward(blank, log_probs):
    x, labels, lengths = _batch(seed=5, T=30, N=6, C=8, blank=blank)
    if log_probs:
        x = log_softmax(x)
    want_loss, want_grad = batch_reference(x, labels, lengths, blank=blank, log_probs=log_probs)
    loss, grad = _np(*ctcc.ctc_loss(x, labels, lengths, blank=blank, log_probs=log_probs))
    np.testing.assert_allclose(loss, want_loss, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_long_sequence_is_stable(dtype):
    """T = 300 with large logits: the probability of the labels underflows
    any linear-space computation; the loss must stay finite and right."""
    x, labels, lengths = _batch(seed=6, T=300, N=3, C=10, scale=12.0)
    labels[0] = list(range(1, 10)) * 8  # 72 labels
    x = x.astype(dtype)
    want_loss, want_grad = batch_reference(x, labels, lengths)
    assert np.all(np.isfinite(want_loss)) and want_loss.max() > 800
    loss, grad = _np(*ctcc.ctc_loss(x, labels, lengths))
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    tol = 1e-9 if dtype == np.float64 else 1e-3
    np.testing.assert_allclose(loss, want_loss, rtol=tol)
    np.testing.assert_allclose(grad, want_grad, atol=tol)


# --- dtypes and layouts ----------------------------------------------------


@pytest.mark.parametrize("log_probs", [False, True], ids=["logits", "logprobs"])
def test_float32_agrees_with_float64(log_probs):
    x, labels, lengths = _batch(seed=1)
    if log_probs:
        x = log_softmax(x)
    l64, g64 = _np(*ctcc.ctc_loss(x, labels, lengths, log_probs=log_probs))
    l32, g32 = _np(*ctcc.ctc_loss(x.astype(np.float32), labels, lengths, log_probs=log_probs))
    assert l64.dtype == np.float64 and g64.dtype == np.float64
    assert l32.dtype == np.float32 and g32.dtype == np.float32
    np.testing.assert_allclose(l32, l64, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(g32, g64, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_output_dtype_and_shape(dtype, reduction):
    x, labels, lengths = _batch(seed=2)
    x = x.astype(dtype)
    loss, grad = ctcc.ctc_loss(x, labels, lengths, reduction=reduction)
    assert np.asarray(loss).dtype == dtype
    assert np.asarray(loss).shape == ((x.shape[1],) if reduction == "none" else ())
    assert isinstance(grad, np.ndarray)
    assert grad.dtype == dtype and grad.shape == x.shape


@pytest.mark.parametrize("log_probs", [False, True], ids=["logits", "logprobs"])
def test_time_major_vs_batch_major(log_probs):
    x, labels, lengths = _batch(seed=3, blank=2)
    if log_probs:
        x = log_softmax(x)
    kw = dict(blank=2, log_probs=log_probs)
    lt, gt = _np(*ctcc.ctc_loss(x, labels, lengths, time_major=True, **kw))
    xb = np.ascontiguousarray(np.transpose(x, (1, 0, 2)))
    lb, gb = _np(*ctcc.ctc_loss(xb, labels, lengths, time_major=False, **kw))
    assert gb.shape == xb.shape
    np.testing.assert_allclose(lb, lt, rtol=1e-13, atol=0)
    np.testing.assert_allclose(gb, np.transpose(gt, (1, 0, 2)), rtol=1e-13, atol=1e-15)


def test_defaults():
    """Default logit_lengths is T for every sample, default blank is 0,
    default layout time-major, default reduction none."""
    x, labels, _ = _batch(seed=4)
    T, N, _ = x.shape
    a = _np(*ctcc.ctc_loss(x, labels))
    b = _np(
        *ctcc.ctc_loss(
            x,
            labels,
            np.full(N, T),
            blank=0,
            time_major=True,
            reduction="none",
            log_probs=False,
            zero_infinity=False,
            grad=True,
        )
    )
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    want_loss, _ = batch_reference(x, labels)
    np.testing.assert_allclose(a[0], want_loss, rtol=1e-10)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_grad_false(dtype, reduction):
    x, labels, lengths = _batch(seed=5)
    x = x.astype(dtype)
    with_grad, g = ctcc.ctc_loss(x, labels, lengths, reduction=reduction)
    without, none = ctcc.ctc_loss(x, labels, lengths, reduction=reduction, grad=False)
    assert none is None and g is not None
    assert np.asarray(without).dtype == dtype
    tol = 1e-13 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(np.asarray(without), np.asarray(with_grad), rtol=tol)


# --- threads ---------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_thread_count_does_not_change_results(dtype):
    x, labels, lengths = _batch(seed=6, T=40, N=33, C=7)
    x = x.astype(dtype)
    results = [_np(*ctcc.ctc_loss(x, labels, lengths, num_threads=k)) for k in (1, 2, 3, None)]
    for loss, grad in results[1:]:
        assert np.array_equal(loss, results[0][0])
        assert np.array_equal(grad, results[0][1])
    for red in ("sum", "mean"):
        a = _np(*ctcc.ctc_loss(x, labels, lengths, num_threads=1, reduction=red))
        b = _np(*ctcc.ctc_loss(x, labels, lengths, num_threads=2, reduction=red))
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


# --- padding frames --------------------------------------------------------


@pytest.mark.parametrize("time_major", [True, False], ids=["TNC", "NTC"])
@pytest.mark.parametrize("log_probs", [False, True], ids=["logits", "logprobs"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_frames_past_length_are_never_read(dtype, log_probs, time_major):
    x, labels, lengths = _batch(seed=7, T=15, N=6)
    lengths[3] = 0
    labels[3] = []
    if log_probs:
        x = log_softmax(x)
    clean = x.astype(dtype)
    dirty = clean.copy()
    for n, length in enumerate(lengths):
        dirty[length:, n, :] = np.nan
    dirty[lengths[4] :, 4, :] = np.inf
    if not time_major:
        clean = np.ascontiguousarray(np.transpose(clean, (1, 0, 2)))
        dirty = np.ascontiguousarray(np.transpose(dirty, (1, 0, 2)))
    kw = dict(log_probs=log_probs, time_major=time_major)
    lc, gc = _np(*ctcc.ctc_loss(clean, labels, lengths, **kw))
    ld, gd = _np(*ctcc.ctc_loss(dirty, labels, lengths, **kw))
    assert np.array_equal(lc, ld)
    assert np.array_equal(gc, gd)
    assert lc[3] == 0.0
    g = gd if time_major else np.transpose(gd, (1, 0, 2))
    for n, length in enumerate(lengths):
        assert np.all(g[length:, n, :] == 0)
        # bitwise zero, not -0.0 noise from arithmetic: still == 0
        assert not np.any(np.isnan(g[:, n, :]))


def test_zero_frames():
    """T = 0: every sample has zero frames; zero labels give loss 0."""
    x = np.zeros((0, 3, 4))
    loss, grad = _np(*ctcc.ctc_loss(x, [[], [], []]))
    np.testing.assert_array_equal(loss, [0.0, 0.0, 0.0])
    assert grad.shape == (0, 3, 4)
    loss, grad = _np(*ctcc.ctc_loss(x, [[], [2], []]))
    assert loss[0] == 0 and loss[1] == np.inf and loss[2] == 0


# --- input views -----------------------------------------------------------


def _reference_call(x, labels, lengths, **kw):
    return _np(*ctcc.ctc_loss(np.ascontiguousarray(x), labels, lengths, **kw))


def test_read_only_inputs():
    x, labels, lengths = _batch(seed=8)
    padded = _padded(labels)
    want = _reference_call(x, padded, lengths)
    for a in (x, padded, lengths):
        a.setflags(write=False)
    loss, grad = _np(*ctcc.ctc_loss(x, padded, lengths))
    assert np.array_equal(loss, want[0]) and np.array_equal(grad, want[1])
    lab_lens = _lens(labels)
    lab_lens.setflags(write=False)
    loss, grad = _np(*ctcc.ctc_loss(x, padded, lengths, lab_lens))
    assert np.array_equal(loss, want[0]) and np.array_equal(grad, want[1])
    assert grad.flags.writeable


def _views(x):
    """Non-contiguous views holding the same values as x [T, N, C]."""
    T, N, C = x.shape
    views = {}
    big = np.full((T, 2 * N, C), np.nan, dtype=x.dtype)
    big[:, ::2, :] = x
    views["strided-batch"] = big[:, ::2, :]
    wide = np.full((T, N, 2 * C + 1), np.nan, dtype=x.dtype)
    wide[:, :, 1::2] = x
    views["strided-classes"] = wide[:, :, 1::2]
    views["fortran"] = np.asfortranarray(x)
    views["transposed-view"] = np.transpose(
        np.ascontiguousarray(np.transpose(x, (1, 0, 2))), (1, 0, 2)
    )
    rev = np.ascontiguousarray(x[::-1])
    views["negative-stride"] = rev[::-1]
    return views


@pytest.mark.parametrize(
    "view", ["strided-batch", "strided-classes", "fortran", "transposed-view", "negative-stride"]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_non_contiguous_logits(view, dtype):
    x, labels, lengths = _batch(seed=9)
    x = x.astype(dtype)
    want = _reference_call(x, labels, lengths)
    v = _views(x)[view]
    assert np.array_equal(v, x)
    before = v.copy()
    loss, grad = _np(*ctcc.ctc_loss(v, labels, lengths))
    assert np.array_equal(v, before)  # inputs are not modified
    assert np.array_equal(loss, want[0])
    assert np.array_equal(grad, want[1])


def test_non_contiguous_labels_and_lengths():
    x, labels, lengths = _batch(seed=10)
    want = _reference_call(x, labels, lengths)
    padded = _padded(labels)
    big = np.full((padded.shape[0], 2 * padded.shape[1]), 99, dtype=np.int64)
    big[:, ::2] = padded
    big_lengths = np.repeat(lengths, 2)[::2]
    lab_lens = np.repeat(_lens(labels), 3)[::3]
    loss, grad = _np(*ctcc.ctc_loss(x, big[:, ::2], big_lengths, lab_lens))
    assert np.array_equal(loss, want[0]) and np.array_equal(grad, want[1])
    loss, grad = _np(*ctcc.ctc_loss(x, np.asfortranarray(padded), big_lengths))
    assert np.array_equal(loss, want[0]) and np.array_equal(grad, want[1])


def test_batch_major_transposed_view():
    """A time-major array seen through a transposed view as batch-major."""
    x, labels, lengths = _batch(seed=11)
    want = _reference_call(x, labels, lengths)
    view = np.transpose(x, (1, 0, 2))  # [N, T, C], not contiguous
    loss, grad = _np(*ctcc.ctc_loss(view, labels, lengths, time_major=False))
    assert np.array_equal(loss, want[0])
    np.testing.assert_array_equal(np.transpose(grad, (1, 0, 2)), want[1])


# --- label formats ---------------------------------------------------------


def _label_formats(labels):
    lens = _lens(labels)
    flat = np.concatenate([np.asarray(lab, dtype=np.int64) for lab in labels])
    return {
        "padded-inferred": (_padded(labels, -1), None),
        "padded-inferred-wide": (_padded(labels, -7, width=9), None),
        "padded-explicit": (_padded(labels, -1), lens),
        "padded-garbage-explicit": (_padded(labels, 99, width=8), lens),
        "padded-with-blank-explicit": (_padded(labels, 0, width=6), lens),
        "list-of-arrays": ([np.asarray(lab, dtype=np.int64) for lab in labels], None),
        "list-of-lists": ([list(lab) for lab in labels], None),
        "flat": (flat, lens),
        "flat-int32-lengths": (flat.astype(np.int32), lens.astype(np.int32)),
        "flat-list-lengths": (flat, lens.tolist()),
    }


FORMATS = list(_label_formats([[1]]).keys())


@pytest.mark.parametrize("fmt", FORMATS)
def test_label_formats_agree(fmt):
    x, labels, lengths = _batch(seed=12)
    want = batch_reference(x, labels, lengths)
    lab, lab_lens = _label_formats(labels)[fmt]
    loss, grad = _np(*ctcc.ctc_loss(x, lab, lengths, lab_lens))
    np.testing.assert_allclose(loss, want[0], rtol=1e-10)
    np.testing.assert_allclose(grad, want[1], atol=1e-10)


@pytest.mark.parametrize(
    "dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
)
def test_label_integer_dtypes(dtype):
    x, labels, lengths = _batch(seed=13)
    want = _reference_call(x, labels, lengths)
    lens = _lens(labels)
    padded = _padded(labels, 1, dtype=dtype)  # a valid class past each length
    loss, grad = _np(*ctcc.ctc_loss(x, padded, lengths, lens))
    assert np.array_equal(loss, want[0]) and np.array_equal(grad, want[1])
    if np.issubdtype(dtype, np.signedinteger):
        padded = _padded(labels, -1, dtype=dtype)
        loss, grad = _np(*ctcc.ctc_loss(x, padded, lengths))
        assert np.array_equal(loss, want[0]) and np.array_equal(grad, want[1])
    listed = [np.asarray(lab, dtype=dtype) for lab in labels]
    loss, grad = _np(*ctcc.ctc_loss(x, listed, lengths))
    assert np.array_equal(loss, want[0]) and np.array_equal(grad, want[1])


def test_padded_without_padding_uses_full_width():
    x, _, lengths = _batch(seed=14)
    labels = np.array([[1, 2, 2], [3, 1, 4], [5, 5, 1], [1, 2, 3], [4, 4, 4]])
    want = batch_reference(x, labels.tolist(), lengths)
    loss, grad = _np(*ctcc.ctc_loss(x, labels, lengths))
    np.testing.assert_allclose(loss, want[0], rtol=1e-10)
    np.testing.assert_allclose(grad, want[1], atol=1e-10)


def test_lengths_as_lists_and_python_ints():
    x, labels, lengths = _batch(seed=15)
    want = _reference_call(x, labels, lengths)
    loss, grad = _np(*ctcc.ctc_loss(x, labels, [int(v) for v in lengths]))
    assert np.array_equal(loss, want[0]) and np.array_equal(grad, want[1])
    loss, grad = _np(*ctcc.ctc_loss(x, labels, tuple(lengths.astype(np.int32))))
    assert np.array_equal(loss, want[0]) and np.array_equal(grad, want[1])


# --- reductions ------------------------------------------------------------


@pytest.mark.parametrize("time_major", [True, False], ids=["TNC", "NTC"])
@pytest.mark.parametrize("log_probs", [False, True], ids=["logits", "logprobs"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_reductions_consistent_with_none(dtype, log_probs, time_major):
    x, labels, lengths = _batch(seed=16, N=7)
    if log_probs:
        x = log_softmax(x)
    x = x.astype(dtype)
    if not time_major:
        x = np.ascontiguousarray(np.transpose(x, (1, 0, 2)))
    kw = dict(log_probs=log_probs, time_major=time_major)
    loss, grad = _np(*ctcc.ctc_loss(x, labels, lengths, **kw))
    n_axis = 1 if time_major else 0
    shape = [1, 1, 1]
    shape[n_axis] = -1
    N = len(labels)
    denom = np.maximum(_lens(labels), 1).astype(np.float64)
    tol = 1e-12 if dtype == np.float64 else 1e-5

    s, gs = _np(*ctcc.ctc_loss(x, labels, lengths, reduction="sum", **kw))
    assert s.shape == () and s.dtype == dtype
    np.testing.assert_allclose(float(s), loss.astype(np.float64).sum(), rtol=tol)
    np.testing.assert_allclose(gs, grad, rtol=tol, atol=tol)

    m, gm = _np(*ctcc.ctc_loss(x, labels, lengths, reduction="mean", **kw))
    assert m.shape == () and m.dtype == dtype
    want_mean = np.mean(loss.astype(np.float64) / denom)
    np.testing.assert_allclose(float(m), want_mean, rtol=tol)
    want_gm = grad.astype(np.float64) / (denom.reshape(shape) * N)
    np.testing.assert_allclose(gm, want_gm, rtol=tol, atol=tol)


def test_mean_matches_torch():
    torch = pytest.importorskip("torch")
    x, labels, lengths = _batch(seed=17, N=6)
    lens = _lens(labels)
    logits = torch.tensor(x, requires_grad=True)
    lp = torch.log_softmax(logits, dim=-1)
    flat = torch.tensor(np.concatenate([np.asarray(lab, dtype=np.int64) for lab in labels]))
    for reduction in ("none", "sum", "mean"):
        if logits.grad is not None:
            logits.grad = None
        tl = torch.nn.functional.ctc_loss(
            lp,
            flat,
            torch.tensor(lengths),
            torch.tensor(lens),
            blank=0,
            reduction=reduction,
        )
        tl.sum().backward(retain_graph=True)
        loss, grad = _np(*ctcc.ctc_loss(x, labels, lengths, reduction=reduction))
        np.testing.assert_allclose(loss, tl.detach().numpy(), rtol=1e-10)
        np.testing.assert_allclose(grad, logits.grad.numpy(), atol=1e-10)


# --- infeasible samples and zero_infinity ----------------------------------


def _with_infeasible(seed=18):
    x, labels, lengths = _batch(seed=seed, N=5)
    labels[1] = [1, 1, 1, 1, 1, 1, 1]  # needs 13 frames
    lengths[1] = 12
    labels[4] = [2]
    lengths[4] = 0
    return x, labels, lengths


@pytest.mark.parametrize("log_probs", [False, True], ids=["logits", "logprobs"])
def test_infeasible_samples(log_probs):
    x, labels, lengths = _with_infeasible()
    if log_probs:
        x = log_softmax(x)
    kw = dict(log_probs=log_probs)
    want = batch_reference(x, labels, lengths, log_probs=log_probs)
    loss, grad = _np(*ctcc.ctc_loss(x, labels, lengths, **kw))
    assert loss[1] == np.inf and loss[4] == np.inf
    np.testing.assert_allclose(loss, want[0], rtol=1e-10)
    assert np.all(grad[:, [1, 4]] == 0)
    np.testing.assert_allclose(grad, want[1], atol=1e-10)

    lz, gz = _np(*ctcc.ctc_loss(x, labels, lengths, zero_infinity=True, **kw))
    assert lz[1] == 0 and lz[4] == 0
    keep = [0, 2, 3]
    assert np.array_equal(lz[keep], loss[keep])
    assert np.array_equal(gz, grad)

    # reductions with zero_infinity: the zeroed samples count as 0
    denom = np.maximum(_lens(labels), 1)
    m, gm = _np(*ctcc.ctc_loss(x, labels, lengths, zero_infinity=True, reduction="mean", **kw))
    np.testing.assert_allclose(float(m), np.mean(lz / denom), rtol=1e-12)
    np.testing.assert_allclose(gm, grad / (denom[None, :, None] * 5), rtol=1e-12, atol=1e-15)
    s, gs = _np(*ctcc.ctc_loss(x, labels, lengths, zero_infinity=True, reduction="sum", **kw))
    np.testing.assert_allclose(float(s), lz.sum(), rtol=1e-12)
    np.testing.assert_allclose(gs, grad, rtol=1e-12, atol=1e-15)

    # without zero_infinity the reduced loss is +inf; the gradient stays finite
    s, gs = _np(*ctcc.ctc_loss(x, labels, lengths, reduction="sum", **kw))
    assert float(s) == np.inf
    assert np.all(np.isfinite(gs))


# --- more label-format edge cases ------------------------------------------


def test_inferred_length_stops_at_first_negative():
    """Without label_lengths a padded row ends at its first negative value;
    what follows it is ignored."""
    x, _, lengths = _batch(seed=19, N=3)
    padded = np.array([[1, 2, -1, 3, 3], [4, -5, 1, 1, 1], [-1, 2, 2, 2, 2]])
    want = batch_reference(x, [[1, 2], [4], []], lengths)
    loss, grad = _np(*ctcc.ctc_loss(x, padded, lengths))
    np.testing.assert_allclose(loss, want[0], rtol=1e-10)
    np.testing.assert_allclose(grad, want[1], atol=1e-10)


@pytest.mark.parametrize("with_lengths", [False, True], ids=["inferred", "explicit"])
def test_padded_labels_of_width_zero(with_lengths):
    """labels of shape [N, 0]: every sample has an empty label sequence."""
    x, _, lengths = _batch(seed=20, N=3)
    labels = np.zeros((3, 0), dtype=np.int64)
    lab_lens = np.zeros(3, dtype=np.int64) if with_lengths else None
    want = batch_reference(x, [[], [], []], lengths)
    loss, grad = _np(*ctcc.ctc_loss(x, labels, lengths, lab_lens))
    np.testing.assert_allclose(loss, want[0], rtol=1e-10)
    np.testing.assert_allclose(grad, want[1], atol=1e-10)


def test_flat_labels_all_empty():
    x, _, lengths = _batch(seed=21, N=3)
    want = batch_reference(x, [[], [], []], lengths)
    loss, grad = _np(*ctcc.ctc_loss(x, np.zeros(0, dtype=np.int32), lengths, [0, 0, 0]))
    np.testing.assert_allclose(loss, want[0], rtol=1e-10)
    np.testing.assert_allclose(grad, want[1], atol=1e-10)


# --- extreme values --------------------------------------------------------


def test_zero_probability_is_infeasible():
    """log-probabilities of -inf (probability exactly 0) are valid inputs; a
    sample whose labels have probability 0 gets +inf and a zero gradient,
    never NaN, and the others are unaffected."""
    x, labels, lengths = _batch(seed=22, N=4)
    lp = log_softmax(x)
    labels[0] = [1, 2]
    lp[:, 0, 2] = -np.inf  # class 2 can never be emitted by sample 0
    lp[:, 3, 4] = -np.inf  # sample 3 just never emits class 4
    labels[3] = [1, 3]
    want = batch_reference(lp, labels, lengths, log_probs=True)
    loss, grad = _np(*ctcc.ctc_loss(lp, labels, lengths, log_probs=True))
    assert loss[0] == np.inf and np.all(grad[:, 0] == 0)
    assert not np.any(np.isnan(grad))
    np.testing.assert_allclose(loss[1:], want[0][1:], rtol=1e-10)
    np.testing.assert_allclose(grad, want[1], atol=1e-10)
    lz, gz = _np(*ctcc.ctc_loss(lp, labels, lengths, log_probs=True, zero_infinity=True))
    assert lz[0] == 0 and np.array_equal(gz, grad)


def test_minus_infinity_logits():
    """A logit of -inf is a class with probability 0 after the softmax."""
    x, labels, lengths = _batch(seed=23, N=4)
    x[:, 1, 5] = -np.inf
    labels[1] = [1, 1, 2]
    x[:, 0, 1] = -np.inf
    labels[0] = [1]
    want = batch_reference(x, labels, lengths)
    loss, grad = _np(*ctcc.ctc_loss(x, labels, lengths))
    assert loss[0] == np.inf and np.all(grad[:, 0] == 0)
    assert not np.any(np.isnan(grad))
    np.testing.assert_allclose(loss[1:], want[0][1:], rtol=1e-10)
    np.testing.assert_allclose(grad, want[1], atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_huge_logits(dtype):
    """Logits of magnitude ~1e3 (float32 exp would overflow without the max
    shift of a stable softmax)."""
    x, labels, lengths = _batch(seed=24, N=4)
    x = (x * 500.0).astype(dtype)
    want = batch_reference(x, labels, lengths)
    loss, grad = _np(*ctcc.ctc_loss(x, labels, lengths))
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    tol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(loss, want[0], rtol=tol)
    np.testing.assert_allclose(grad, want[1], atol=tol)


def test_more_threads_than_samples():
    x, labels, lengths = _batch(seed=25, N=3)
    a = _np(*ctcc.ctc_loss(x, labels, lengths, num_threads=1))
    b = _np(*ctcc.ctc_loss(x, labels, lengths, num_threads=64))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


@pytest.mark.parametrize("log_probs", [False, True], ids=["logits", "logprobs"])
@pytest.mark.parametrize("gap", [10.0, 700.0, 745.0, 800.0, 5000.0])
@pytest.mark.parametrize("frames", [1, 2, 3])
def test_very_unlikely_labels(frames, gap, log_probs):
    """C = 2, label [1], every frame gives class 1 a log-probability `gap`
    below the blank's, so the labels have probability about exp(-gap),
    e.g. 1e-2171 for gap = 5000. The loss is finite and must be exact
    however large gap is: log-space CTC must not underflow. For one frame
    loss = gap + log1p(exp(-gap)) exactly."""
    log_p0 = -np.log1p(np.exp(-gap))
    log_p1 = -gap + log_p0
    if log_probs:
        x = np.tile([log_p0, log_p1], (frames, 1, 1))
    else:
        x = np.tile([0.0, -gap], (frames, 1, 1))
    want_loss, want_grad = batch_reference(x, [[1]], log_probs=log_probs, method="brute_force")
    if frames == 1:
        assert want_loss[0] == pytest.approx(gap + np.log1p(np.exp(-gap)), rel=1e-15)
    loss, grad = _np(*ctcc.ctc_loss(x, [[1]], log_probs=log_probs))
    np.testing.assert_allclose(loss, want_loss, rtol=1e-12)
    np.testing.assert_allclose(grad, want_grad, atol=1e-12)


# --- random batches near the feasibility limit -----------------------------


def _fuzz_batch(seed):
    rng = np.random.default_rng(1000 + seed)
    T = int(rng.integers(1, 16))
    C = int(rng.integers(2, 7))
    N = int(rng.integers(1, 6))
    blank = int(rng.integers(-C, C))
    b = blank % C
    others = [c for c in range(C) if c != b]
    labels, lengths = [], []
    for _ in range(N):
        length = int(rng.integers(0, T + 1))
        # few distinct classes: many adjacent repeats
        pool = others[: int(rng.integers(1, len(others) + 1))]
        lab = [pool[i] for i in rng.integers(0, len(pool), size=int(rng.integers(0, T + 2)))]
        # trim to around the feasibility limit, sometimes one past it
        while lab and min_frames(lab) > length + int(rng.integers(0, 2)):
            lab.pop()
        labels.append(lab)
        lengths.append(length)
    scale = float(rng.choice([0.5, 3.0, 30.0]))
    x = rng.normal(scale=scale, size=(T, N, C))
    return x, labels, np.array(lengths), blank


@pytest.mark.parametrize("log_probs", [False, True], ids=["logits", "logprobs"])
@pytest.mark.parametrize("seed", range(40))
def test_random_batches_match_forward_backward(seed, log_probs):
    x, labels, lengths, blank = _fuzz_batch(seed)
    if log_probs:
        x = log_softmax(x)
    want_loss, want_grad = batch_reference(x, labels, lengths, blank=blank, log_probs=log_probs)
    kw = dict(blank=blank, log_probs=log_probs)
    loss, grad = _np(*ctcc.ctc_loss(x, labels, lengths, **kw))
    loss_only, _ = _np(*ctcc.ctc_loss(x, labels, lengths, grad=False, **kw))
    for value in (loss, loss_only):
        assert np.array_equal(np.isinf(value), np.isinf(want_loss))
        np.testing.assert_allclose(value, want_loss, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-9, atol=1e-10)
