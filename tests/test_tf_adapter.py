"""ctcc.tensorflow: drop-in replacements for tf.nn.ctc_loss and
tf.compat.v1.nn.ctc_loss.

Loss and gradient against TensorFlow's own kernels, numeric gradients,
dtypes, graph mode with unknown dimensions, XLA, Keras model.fit, and the
errors bad inputs raise. conftest.py hides GPUs and silences TensorFlow
before it is imported.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from reference import min_frames

tf = pytest.importorskip("tensorflow")
ctcc = pytest.importorskip("ctcc")
ctcc_tf = pytest.importorskip("ctcc.tensorflow")

T, N, C = 12, 5, 6
RTOL = ATOL = 1e-5
InvalidArgument = tf.errors.InvalidArgumentError


def _batch(seed, blank, allow_empty=True, max_len=5, dtype=np.float32):
    """Logits [T, N, C], label lists (repeats included, an empty one if
    allow_empty) and varied frame counts; every sample is feasible."""
    rng = np.random.default_rng(seed)
    b = blank % C
    others = np.array([c for c in range(C) if c != b])
    frames = rng.integers(7, T + 1, size=N)
    frames[0] = T
    labels = []
    for n in range(N):
        while True:
            size = int(rng.integers(0 if allow_empty else 1, max_len + 1))
            lab = others[rng.integers(0, len(others), size=size)].tolist()
            if n == 1:
                lab = [int(others[0]), int(others[0]), int(others[1])]  # a repeat
            if n == 2 and allow_empty:
                lab = []
            if min_frames(lab) <= frames[n]:
                break
        labels.append(lab)
    x = rng.normal(scale=2.0, size=(T, N, C)).astype(dtype)
    return x, labels, frames.astype(np.int32)


def _dense(labels, pad=0):
    width = max(1, max(len(lab) for lab in labels))
    out = np.full((len(labels), width), pad, dtype=np.int32)
    for n, lab in enumerate(labels):
        out[n, : len(lab)] = lab
    return out, np.array([len(lab) for lab in labels], dtype=np.int32)


def _sparse(labels):
    indices = [[n, i] for n, lab in enumerate(labels) for i in range(len(lab))]
    values = [v for lab in labels for v in lab]
    width = max(1, max(len(lab) for lab in labels))
    return tf.SparseTensor(
        indices=np.array(indices, dtype=np.int64).reshape(-1, 2),
        values=np.array(values, dtype=np.int32),
        dense_shape=[len(labels), width],
    )


def _layout(x, time_major):
    return x if time_major else np.ascontiguousarray(np.transpose(x, (1, 0, 2)))


def _loss_and_grad(fn, x, weights=None, **kwargs):
    """fn(logits=..., **kwargs) and d sum(weights * loss) / d logits."""
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = fn(logits=xt, **kwargs)
        total = tf.reduce_sum(loss if weights is None else loss * weights)
    return loss.numpy(), tape.gradient(total, xt).numpy()


def _v1_loss_and_grad(fn, x, labels, frames, **kwargs):
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = fn(labels, xt, frames, **kwargs)
        total = tf.reduce_sum(loss)
    return loss.numpy(), tape.gradient(total, xt).numpy()


# --- agreement with tf.nn.ctc_loss ------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("time_major", [True, False], ids=["TNC", "NTC"])
@pytest.mark.parametrize("blank", [None, 0, -1, 2])
def test_dense_matches_tf(seed, time_major, blank):
    x, labels, frames = _batch(seed, 0 if blank is None else blank)
    x = _layout(x, time_major)
    dense, lens = _dense(labels, pad=0)  # the padding may equal the blank: never read
    kwargs = dict(
        labels=tf.constant(dense),
        label_length=tf.constant(lens),
        logit_length=tf.constant(frames),
        logits_time_major=time_major,
        blank_index=blank,
    )
    want_loss, want_grad = _loss_and_grad(tf.nn.ctc_loss, x, **kwargs)
    loss, grad = _loss_and_grad(ctcc_tf.ctc_loss, x, **kwargs)
    assert loss.dtype == np.float32 and grad.dtype == np.float32
    np.testing.assert_allclose(loss, want_loss, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(grad, want_grad, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("time_major", [True, False], ids=["TNC", "NTC"])
@pytest.mark.parametrize("blank", [0, -1, 3])
def test_sparse_matches_tf(time_major, blank):
    # TensorFlow's sparse path rejects empty label sequences; ctcc does not
    # (test_sparse_empty_labels).
    x, labels, frames = _batch(10 + (blank % C), blank, allow_empty=False)
    x = _layout(x, time_major)
    kwargs = dict(
        labels=_sparse(labels),
        label_length=None,
        logit_length=tf.constant(frames),
        logits_time_major=time_major,
        blank_index=blank,
    )
    want_loss, want_grad = _loss_and_grad(tf.nn.ctc_loss, x, **kwargs)
    loss, grad = _loss_and_grad(ctcc_tf.ctc_loss, x, **kwargs)
    np.testing.assert_allclose(loss, want_loss, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(grad, want_grad, rtol=RTOL, atol=ATOL)


def test_sparse_empty_labels_equal_dense():
    x, labels, frames = _batch(3, 0)
    assert labels[2] == []
    dense, lens = _dense(labels)
    want = ctcc_tf.ctc_loss(dense, x, lens, frames)
    got = ctcc_tf.ctc_loss(_sparse(labels), x, None, frames, blank_index=0)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_upstream_gradient_scales_each_sample():
    """d sum(w * loss) / d logits: sample n's gradient times w[n], in both
    layouts, as in TensorFlow."""
    x, labels, frames = _batch(4, 0)
    dense, lens = _dense(labels)
    w = tf.constant([0.5, -2.0, 3.0, 0.0, 1.25], tf.float32)
    for time_major in (True, False):
        xl = _layout(x, time_major)
        kwargs = dict(
            labels=dense, label_length=lens, logit_length=frames, logits_time_major=time_major
        )
        _, unweighted = _loss_and_grad(ctcc_tf.ctc_loss, xl, **kwargs)
        _, weighted = _loss_and_grad(ctcc_tf.ctc_loss, xl, weights=w, **kwargs)
        _, tf_weighted = _loss_and_grad(tf.nn.ctc_loss, xl, weights=w, **kwargs)
        axis = (None, slice(None), None) if time_major else (slice(None), None, None)
        np.testing.assert_allclose(weighted, unweighted * w.numpy()[axis], rtol=1e-6, atol=0)
        np.testing.assert_allclose(weighted, tf_weighted, rtol=RTOL, atol=ATOL)


def test_frames_past_logit_length_get_zero_gradient_and_are_never_read():
    x, labels, frames = _batch(5, 0)
    dense, lens = _dense(labels)
    assert frames.min() < T
    clean = _loss_and_grad(
        ctcc_tf.ctc_loss, x, labels=dense, label_length=lens, logit_length=frames
    )
    poisoned = x.copy()
    for n in range(N):
        poisoned[frames[n] :, n] = np.nan
    loss, grad = _loss_and_grad(
        ctcc_tf.ctc_loss, poisoned, labels=dense, label_length=lens, logit_length=frames
    )
    np.testing.assert_array_equal(loss, clean[0])
    np.testing.assert_array_equal(grad, clean[1])
    for n in range(N):
        assert not grad[frames[n] :, n].any()


def test_unique_is_accepted_and_ignored():
    x, labels, frames = _batch(6, 0)
    dense, lens = _dense(labels)
    plain = ctcc_tf.ctc_loss(dense, x, lens, frames)
    hinted = ctcc_tf.ctc_loss(
        dense, x, lens, frames, unique=tf.nn.ctc_unique_labels(tf.constant(dense))
    )
    np.testing.assert_array_equal(hinted.numpy(), plain.numpy())


def test_matches_ctcc_directly_and_thread_count_is_irrelevant():
    x, labels, frames = _batch(7, -1)
    dense, lens = _dense(labels)
    want_loss, want_grad = ctcc.ctc_loss(x, dense, frames, lens, blank=-1)
    for threads in (None, 1, 2):
        loss, grad = _loss_and_grad(
            ctcc_tf.ctc_loss,
            x,
            labels=dense,
            label_length=lens,
            logit_length=frames,
            blank_index=-1,
            num_threads=threads,
        )
        np.testing.assert_array_equal(loss, want_loss)
        np.testing.assert_array_equal(grad, want_grad)


def test_zero_infinity():
    x, labels, frames = _batch(8, 0)
    labels[3] = [1, 2, 3, 4, 5, 1, 2]
    frames[3] = 6  # infeasible: 7 labels in 6 frames
    dense, lens = _dense(labels)
    kwargs = dict(labels=dense, label_length=lens, logit_length=frames)
    loss, grad = _loss_and_grad(ctcc_tf.ctc_loss, x, **kwargs)
    assert np.isinf(loss[3]) and np.isfinite(np.delete(loss, 3)).all()
    assert not grad[:, 3].any() and np.isfinite(grad).all()
    loss0, grad0 = _loss_and_grad(ctcc_tf.ctc_loss, x, zero_infinity=True, **kwargs)
    assert loss0[3] == 0
    np.testing.assert_array_equal(np.delete(loss0, 3), np.delete(loss, 3))
    np.testing.assert_array_equal(grad0, grad)


# --- tf.compat.v1.nn.ctc_loss -----------------------------------------------------


@pytest.mark.parametrize("time_major", [True, False], ids=["TNC", "NTC"])
@pytest.mark.parametrize("seed", [20, 21])
def test_v1_matches_tf(seed, time_major):
    x, labels, frames = _batch(seed, C - 1, allow_empty=False)
    x = _layout(x, time_major)
    sp = _sparse(labels)
    want = _v1_loss_and_grad(tf.compat.v1.nn.ctc_loss, x, sp, frames, time_major=time_major)
    got = _v1_loss_and_grad(ctcc_tf.ctc_loss_v1, x, sp, frames, time_major=time_major)
    np.testing.assert_allclose(got[0], want[0], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(got[1], want[1], rtol=RTOL, atol=ATOL)


def test_v1_logits_alias_and_float64():
    x, labels, frames = _batch(22, C - 1, allow_empty=False, dtype=np.float64)
    sp = _sparse(labels)
    want = tf.compat.v1.nn.ctc_loss(sp, logits=x, sequence_length=frames).numpy()
    got = ctcc_tf.ctc_loss_v1(sp, logits=x, sequence_length=frames)
    assert got.dtype == tf.float64
    # TensorFlow's float64 kernel is good to ~1e-9 (approximate log-sum-exp)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-8)


def test_v1_preprocess_collapse_repeated():
    x, _, frames = _batch(23, C - 1)
    labels = [[1, 1, 1, 2, 2, 0], [3], [4, 4], [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2], [2, 3, 2]]
    frames[3] = T  # 12 labels, 3 after collapsing
    sp = _sparse(labels)
    kw = dict(preprocess_collapse_repeated=True)
    want = _v1_loss_and_grad(tf.compat.v1.nn.ctc_loss, x, sp, frames, **kw)
    got = _v1_loss_and_grad(ctcc_tf.ctc_loss_v1, x, sp, frames, **kw)
    np.testing.assert_allclose(got[0], want[0], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(got[1], want[1], rtol=RTOL, atol=ATOL)
    # the same as passing the collapsed labels
    collapsed = _sparse([[1, 2, 0], [3], [4], [0, 1, 2], [2, 3, 2]])
    plain = _v1_loss_and_grad(ctcc_tf.ctc_loss_v1, x, collapsed, frames)
    np.testing.assert_array_equal(got[0], plain[0])
    np.testing.assert_array_equal(got[1], plain[1])


def test_v1_ignore_longer_outputs_than_inputs():
    x, labels, frames = _batch(24, C - 1, allow_empty=False)
    labels[1] = [0, 1, 2, 3, 4, 0, 1, 2]
    frames[1] = 7  # 8 labels, 7 frames
    sp = _sparse(labels)
    kw = dict(ignore_longer_outputs_than_inputs=True)
    want = _v1_loss_and_grad(tf.compat.v1.nn.ctc_loss, x, sp, frames, **kw)
    got = _v1_loss_and_grad(ctcc_tf.ctc_loss_v1, x, sp, frames, **kw)
    assert got[0][1] == 0 and not got[1][:, 1].any()
    np.testing.assert_allclose(got[0], want[0], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(got[1], want[1], rtol=RTOL, atol=ATOL)
    # without the flag both refuse the batch
    with pytest.raises(InvalidArgument, match="Not enough time"):
        tf.compat.v1.nn.ctc_loss(sp, x, frames)
    with pytest.raises(InvalidArgument, match=r"sample 1 has 8 labels .*sequence_length\[1\] = 7"):
        ctcc_tf.ctc_loss_v1(sp, x, frames)


def test_v1_ctc_merge_repeated_false_is_not_implemented():
    x, labels, frames = _batch(25, C - 1, allow_empty=False)
    with pytest.raises(NotImplementedError, match="ctc_merge_repeated=False"):
        ctcc_tf.ctc_loss_v1(_sparse(labels), x, frames, ctc_merge_repeated=False)


def test_v1_needs_sparse_labels_and_the_last_class_is_blank():
    x, labels, frames = _batch(26, C - 1, allow_empty=False)
    dense, _ = _dense(labels)
    with pytest.raises(TypeError, match="SparseTensor"):
        ctcc_tf.ctc_loss_v1(dense, x, frames)
    labels[0] = [C - 1]
    with pytest.raises(InvalidArgument, match=r"holds 5, which is the blank index"):
        ctcc_tf.ctc_loss_v1(_sparse(labels), x, frames)


# --- numeric gradients and dtypes -------------------------------------------------


@pytest.mark.parametrize("time_major", [True, False], ids=["TNC", "NTC"])
def test_compute_gradient_float64(time_major):
    rng = np.random.default_rng(30)
    t, n, c = 6, 3, 4
    x = rng.normal(size=(t, n, c) if time_major else (n, t, c))
    labels = np.array([[1, 2, 0], [3, 3, 0], [2, 0, 0]], np.int32)
    lens = np.array([2, 2, 0], np.int32)
    frames = np.array([6, 5, 3], np.int32)

    def f(logits):
        return ctcc_tf.ctc_loss(labels, logits, lens, frames, logits_time_major=time_major)

    # delta 1e-4: central differences are then exact to about 1e-9 here,
    # and a float64 loss rounded to 1e-14 (relative; the scaled kernel's)
    # moves them by 1e-10 only (by 1e-8, past the tolerance, at delta 1e-6)
    theoretical, numerical = tf.test.compute_gradient(f, [tf.constant(x)], delta=1e-4)
    assert theoretical[0].shape == (n, x.size)
    np.testing.assert_allclose(theoretical[0], numerical[0], rtol=1e-6, atol=1e-8)


def test_float64_matches_ctcc_directly():
    x, labels, frames = _batch(31, 2, dtype=np.float64)
    dense, lens = _dense(labels)
    loss, grad = _loss_and_grad(
        ctcc_tf.ctc_loss, x, labels=dense, label_length=lens, logit_length=frames, blank_index=2
    )
    assert loss.dtype == np.float64 and grad.dtype == np.float64
    want_loss, want_grad = ctcc.ctc_loss(x, dense, frames, lens, blank=2)
    np.testing.assert_array_equal(loss, want_loss)
    np.testing.assert_array_equal(grad, want_grad)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_returns_the_input_dtype(dtype):
    x, labels, frames = _batch(32, 0)
    dense, lens = _dense(labels)
    xh = tf.cast(tf.constant(x), dtype)
    kwargs = dict(labels=dense, label_length=lens, logit_length=frames)
    with tf.GradientTape() as tape:
        tape.watch(xh)
        loss = ctcc_tf.ctc_loss(logits=xh, **kwargs)
        total = tf.reduce_sum(loss)
    grad = tape.gradient(total, xh)
    assert loss.dtype == tf.as_dtype(dtype) and grad.dtype == tf.as_dtype(dtype)
    # the float32 result on the same (rounded) logits, rounded once more
    ref_loss, ref_grad = _loss_and_grad(ctcc_tf.ctc_loss, tf.cast(xh, tf.float32).numpy(), **kwargs)
    tol = 1e-2 if dtype == "bfloat16" else 1e-3
    np.testing.assert_allclose(tf.cast(loss, tf.float32).numpy(), ref_loss, rtol=tol)
    np.testing.assert_allclose(tf.cast(grad, tf.float32).numpy(), ref_grad, rtol=tol, atol=tol)
    want = tf.nn.ctc_loss(logits=xh, **kwargs)
    assert want.dtype == loss.dtype
    np.testing.assert_allclose(
        tf.cast(loss, tf.float32).numpy(), tf.cast(want, tf.float32).numpy(), rtol=tol
    )


def test_second_derivative_is_refused():
    x, labels, frames = _batch(33, 0)
    dense, lens = _dense(labels)
    xt = tf.constant(x)
    with tf.GradientTape() as outer:
        outer.watch(xt)
        with tf.GradientTape() as inner:
            inner.watch(xt)
            total = tf.reduce_sum(ctcc_tf.ctc_loss(dense, xt, lens, frames))
        g = inner.gradient(total, xt)
        s = tf.reduce_sum(g * g)
    with pytest.raises(LookupError, match="has no second derivative"):
        outer.gradient(s, xt)


# --- graph mode -------------------------------------------------------------------


def test_graph_mode_unknown_dimensions():
    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None], tf.int32),
            tf.TensorSpec([None, None, None], tf.float32),
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None], tf.int32),
        ]
    )
    def loss_and_grad(labels, logits, label_length, logit_length):
        with tf.GradientTape() as tape:
            tape.watch(logits)
            loss = ctcc_tf.ctc_loss(labels, logits, label_length, logit_length, blank_index=-1)
            total = tf.reduce_sum(loss)
        grad = tape.gradient(total, logits)
        assert loss.shape.as_list() == [None] and grad.shape.rank == 3
        return loss, grad

    for seed, t, n in ((40, T, N), (41, 20, 3)):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(t, n, C)).astype(np.float32)
        labels = [[1, 2], [3, 3], []][:n] + [[4]] * (n - 3)
        frames = np.full(n, t, np.int32)
        frames[0] = t - 2
        dense, lens = _dense(labels)
        loss, grad = loss_and_grad(dense, x, lens, frames)
        want = _loss_and_grad(
            tf.nn.ctc_loss, x, labels=dense, label_length=lens, logit_length=frames, blank_index=-1
        )
        np.testing.assert_allclose(loss.numpy(), want[0], rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(grad.numpy(), want[1], rtol=RTOL, atol=ATOL)
    assert len(loss_and_grad.get_concrete_function().graph.get_operations()) > 0


def test_graph_mode_static_shapes_and_cpu_placement():
    @tf.function(
        input_signature=[
            tf.SparseTensorSpec([4, None], tf.int32),
            tf.TensorSpec([None, 4, C], tf.float32),
            tf.TensorSpec([None], tf.int32),
        ]
    )
    def f(labels, logits, logit_length):
        with tf.GradientTape() as tape:
            tape.watch(logits)
            loss = ctcc_tf.ctc_loss(labels, logits, None, logit_length, blank_index=0, name="my")
        grad = tape.gradient(loss, logits)
        return loss, grad

    concrete = f.get_concrete_function()
    loss_spec, grad_spec = concrete.structured_outputs
    assert loss_spec.shape.as_list() == [4]
    assert grad_spec.shape.as_list() == [None, 4, C]
    host_ops = [op for op in concrete.graph.get_operations() if op.type.startswith("PyFunc")]
    assert host_ops and all("CPU:0" in op.device for op in host_ops)
    assert all(op.name.startswith("my/") for op in host_ops)
    x, labels, frames = _batch(42, 0, allow_empty=False)
    loss, _ = f(_sparse(labels[:4]), x[:, :4], frames[:4])
    dense, lens = _dense(labels[:4])
    np.testing.assert_array_equal(
        loss.numpy(), ctcc_tf.ctc_loss(dense, x[:, :4], lens, frames[:4]).numpy()
    )


def test_graph_mode_errors_carry_the_message():
    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None], tf.int32),
            tf.TensorSpec([None, None, None], tf.float32),
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None], tf.int32),
        ]
    )
    def f(labels, logits, label_length, logit_length):
        return ctcc_tf.ctc_loss(labels, logits, label_length, logit_length)

    x, labels, frames = _batch(43, 0)
    dense, lens = _dense(labels)
    dense[3, 0] = 9
    lens[3] = max(lens[3], 1)
    with pytest.raises(
        InvalidArgument,
        match=r"ctcc\.tensorflow\.ctc_loss: labels: sample 3, position 0 holds 9, "
        r"outside the alphabet \[0, 6\)",
    ):
        f(dense, x, lens, frames)

    @tf.function(input_signature=[tf.TensorSpec(None, tf.float32)])
    def unknown_rank(logits):
        return ctcc_tf.ctc_loss(dense, logits, lens, frames)

    with pytest.raises(InvalidArgument, match=r"logits must be a 3-D tensor .* shape \[5, 6\]"):
        unknown_rank(x[0])


# --- XLA --------------------------------------------------------------------------


def test_jit_compile_raises_a_clear_error():
    x, labels, frames = _batch(50, 0)
    dense, lens = _dense(labels)

    @tf.function(jit_compile=True)
    def compiled(logits):
        return ctcc_tf.ctc_loss(dense, logits, lens, frames)

    with pytest.raises(RuntimeError, match=r"cannot be compiled with XLA.*jit_compile=False"):
        compiled(tf.constant(x))

    @tf.function
    def inner(logits):
        return ctcc_tf.ctc_loss_v1(_sparse([[0]] * N), logits, frames)

    @tf.function(jit_compile=True)
    def outer(logits):
        return inner(logits)

    with pytest.raises(RuntimeError, match="ctc_loss_v1 cannot be compiled with XLA"):
        outer(tf.constant(x))


# --- Keras ------------------------------------------------------------------------


def _keras_model():
    import keras

    keras.utils.set_random_seed(3)
    inputs = keras.Input((T, 4))
    outputs = keras.layers.Dense(C)(keras.layers.Dense(8, activation="tanh")(inputs))
    return keras.Model(inputs, outputs)


def _keras_loss(fn):
    def loss(y_true, y_pred):  # y_true: labels padded with -1; y_pred: [N, T, C]
        y_true = tf.cast(y_true, tf.int32)
        label_length = tf.reduce_sum(tf.cast(y_true >= 0, tf.int32), axis=1)
        logit_length = tf.fill([tf.shape(y_pred)[0]], tf.shape(y_pred)[1])
        return fn(y_true, y_pred, label_length, logit_length, logits_time_major=False)

    return loss


def test_keras_model_fit_matches_tf_nn_ctc_loss():
    pytest.importorskip("keras")
    rng = np.random.default_rng(60)
    features = rng.normal(size=(16, T, 4)).astype(np.float32)
    y = np.full((16, 3), -1, np.int32)
    for i in range(16):
        k = int(rng.integers(1, 4))
        y[i, :k] = rng.integers(1, C, size=k)
    histories, weights = [], []
    for fn in (ctcc_tf.ctc_loss, tf.nn.ctc_loss):
        model = _keras_model()
        model.compile(optimizer="sgd", loss=_keras_loss(fn), jit_compile=False)
        h = model.fit(features, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
        histories.append(h.history["loss"])
        weights.append(model.get_weights())
    assert histories[0][-1] < histories[0][0]
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-5)
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)

    model = _keras_model()
    model.compile(optimizer="sgd", loss=_keras_loss(ctcc_tf.ctc_loss), jit_compile=True)
    with pytest.raises(RuntimeError, match=r"jit_compile=False"):
        model.fit(features, y, batch_size=8, epochs=1, verbose=0)


# --- bad inputs -------------------------------------------------------------------


def _args():
    x, labels, frames = _batch(70, 0)
    dense, lens = _dense(labels)
    return dense, x, lens, frames


def test_sparse_labels_need_blank_index_like_tf():
    dense, x, _, frames = _args()
    sp = tf.sparse.from_dense(dense)
    with pytest.raises(ValueError) as want:
        tf.nn.ctc_loss(sp, x, None, frames)
    with pytest.raises(ValueError) as got:
        ctcc_tf.ctc_loss(sp, x, None, frames)
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize(
    "edit, match",
    [
        (
            lambda a: a[0].__setitem__((1, 2), 6),
            r"labels: sample 1, position 2 holds 6, outside the alphabet \[0, 6\)",
        ),
        (
            lambda a: a[0].__setitem__((0, 0), -3),
            r"labels: sample 0, position 0 holds -3, outside the alphabet",
        ),
        (
            lambda a: a[0].__setitem__((1, 0), 0),
            r"labels: sample 1, position 0 holds 0, which is the blank index",
        ),
        (
            lambda a: a[3].__setitem__(4, T + 1),
            r"logit_length\[4\] = 13 is outside \[0, 12\]",
        ),
        (lambda a: a[3].__setitem__(2, -1), r"logit_length\[2\] = -1 is outside"),
        (
            lambda a: a[2].__setitem__(0, a[0].shape[1] + 1),
            r"label_length\[0\] = 4 is outside \[0, 3\] \(max_label_length",
        ),
        (lambda a: a[2].__setitem__(1, -2), r"label_length\[1\] = -2 is outside"),
    ],
    ids=["label>=C", "label<0", "label=blank", "frames>T", "frames<0", "labels>S", "labels<0"],
)
def test_value_errors_name_the_argument_and_value(edit, match):
    args = list(_args())
    assert args[0].shape == (N, 3)
    edit(args)
    with pytest.raises(InvalidArgument, match=r"^ctcc\.tensorflow\.ctc_loss: " + match):
        ctcc_tf.ctc_loss(*args)


def test_tf_returns_garbage_where_ctcc_raises():
    """The reason for the checks: TensorFlow's dense kernel accepts these."""
    dense, x, lens, frames = _args()
    dense[1, 0] = C + 3
    assert np.isfinite(tf.nn.ctc_loss(dense, x, lens, frames).numpy()).all()
    with pytest.raises(InvalidArgument, match="outside the alphabet"):
        ctcc_tf.ctc_loss(dense, x, lens, frames)


def test_static_errors_raise_at_once():
    dense, x, lens, frames = _args()
    f = ctcc_tf.ctc_loss
    with pytest.raises(ValueError, match=r"logits must be a 3-D tensor \[max_time, batch_size"):
        f(dense, x[0], lens, frames)
    with pytest.raises(ValueError, match=r"logits must be a 3-D tensor \[batch_size, max_time"):
        f(dense, x[0], lens, frames, logits_time_major=False)
    with pytest.raises(ValueError, match="labels must be a 2-D tensor"):
        f(dense[0], x, lens, frames)
    with pytest.raises(ValueError, match="label_length must be a 1-D tensor"):
        f(dense, x, lens[None], frames)
    with pytest.raises(ValueError, match="logit_length must be a 1-D tensor"):
        f(dense, x, lens, frames[:, None])
    with pytest.raises(ValueError, match="logits has 5 samples, labels has 4"):
        f(dense[:4], x, lens, frames)
    with pytest.raises(ValueError, match="logits has 5 samples, logit_length has 3"):
        f(dense, x, lens, frames[:3])
    with pytest.raises(ValueError, match=r"blank_index = 6 is outside \[-6, 6\)"):
        f(dense, x, lens, frames, blank_index=6)
    with pytest.raises(ValueError, match=r"blank_index = -7 is outside"):
        f(dense, x, lens, frames, blank_index=-7)
    with pytest.raises(ValueError, match="label_length is required"):
        f(dense, x, None, frames)
    with pytest.raises(TypeError, match="logits must be float16, bfloat16, float32 or float64"):
        f(dense, x.astype(np.int32), lens, frames)
    with pytest.raises(TypeError, match="labels must hold integers"):
        f(dense.astype(np.float32), x, lens, frames)
    with pytest.raises(TypeError, match="logit_length must hold integers"):
        f(dense, x, lens, frames.astype(np.float32))
    with pytest.raises(TypeError, match="blank_index must be an integer, got float 1.0"):
        f(dense, x, lens, frames, blank_index=1.0)
    with pytest.raises(ValueError, match="2-D SparseTensor"):
        f(tf.sparse.from_dense(dense[None]), x, None, frames, blank_index=0)


def test_sparse_index_errors():
    dense, x, _, frames = _args()
    sp = tf.sparse.from_dense(dense)
    shuffled = tf.SparseTensor(
        tf.reverse(sp.indices, [0]), tf.reverse(sp.values, [0]), sp.dense_shape
    )
    with pytest.raises(InvalidArgument, match="tf.sparse.reorder"):
        ctcc_tf.ctc_loss(shuffled, x, None, frames, blank_index=0)
    reordered = tf.sparse.reorder(shuffled)
    np.testing.assert_array_equal(
        ctcc_tf.ctc_loss(reordered, x, None, frames, blank_index=0).numpy(),
        ctcc_tf.ctc_loss(sp, x, None, frames, blank_index=0).numpy(),
    )
    outside = tf.SparseTensor([[0, 0], [7, 0]], [1, 2], [5, 1])
    message = r"entry 1 has index \[7, 0\], outside the dense_shape \[5, 1\]"
    with pytest.raises(InvalidArgument, match=message):
        ctcc_tf.ctc_loss(outside, x, None, frames, blank_index=0)


def test_import_ctcc_does_not_import_tensorflow():
    code = "import sys, ctcc; assert 'tensorflow' not in sys.modules, 'imported'"
    env = dict(os.environ)
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)


# --- alpha / gamma and ctc_posteriors ---------------------------------------------


@pytest.mark.parametrize("time_major", [True, False], ids=["TNC", "NTC"])
@pytest.mark.parametrize("alpha, gamma", [(None, 0.0), (0.5, 0.0), (None, 1.0), (0.3, 0.5)])
def test_alpha_gamma_gradient_matches_numpy_api(time_major, alpha, gamma):
    """The TF gradient is ctcc.ctc_loss's modified gradient, scaled by the
    upstream gradient of each sample; the loss stays the plain CTC loss."""
    x, labels, frames = _batch(30, 0)
    xl = _layout(x, time_major)
    dense, lengths = _dense(labels)
    weights = np.linspace(0.5, 2.0, N).astype(np.float32)
    loss, grad = _loss_and_grad(
        ctcc_tf.ctc_loss,
        xl,
        weights=weights,
        labels=dense,
        label_length=lengths,
        logit_length=frames,
        logits_time_major=time_major,
        alpha=alpha,
        gamma=gamma,
    )
    plain, _ = ctcc.ctc_loss(xl, labels, frames, time_major=time_major)
    want_loss, want_grad = ctcc.ctc_loss(
        xl, labels, frames, time_major=time_major, alpha=alpha, gamma=gamma
    )
    np.testing.assert_array_equal(loss, plain)
    np.testing.assert_array_equal(loss, want_loss)
    scale = weights[None, :, None] if time_major else weights[:, None, None]
    np.testing.assert_allclose(grad, want_grad * scale, rtol=1e-6, atol=1e-7)
    if alpha is not None or gamma:
        _, plain_grad = ctcc.ctc_loss(xl, labels, frames, time_major=time_major)
        assert np.abs(want_grad - plain_grad).max() > 1e-3  # the option did act


def test_posteriors_match_numpy_api_eagerly_and_in_a_graph():
    x, labels, frames = _batch(31, -1)
    dense, lengths = _dense(labels)
    want_t, want_w = ctcc.ctc_posteriors(
        x, labels, frames, blank=-1, alpha=0.4, gamma=1.0, return_weights=True
    )
    got_t, got_w = ctcc_tf.ctc_posteriors(
        dense, x, lengths, frames, blank_index=-1, alpha=0.4, gamma=1.0
    )
    np.testing.assert_array_equal(got_t.numpy(), want_t)
    np.testing.assert_array_equal(got_w.numpy(), want_w)

    @tf.function(input_signature=[tf.TensorSpec([None, None, C], tf.float32)])
    def graph(logits):
        return ctcc_tf.ctc_posteriors(dense, logits, lengths, frames, blank_index=-1)

    t, w = graph(tf.constant(x))
    np.testing.assert_array_equal(t.numpy(), ctcc.ctc_posteriors(x, labels, frames, blank=-1))
    assert t.shape == x.shape and w.shape == x.shape[:2]


@pytest.mark.parametrize(
    "kwargs, exc, message",
    [
        ({"alpha": 1.5}, ValueError, "alpha must be None or in"),
        ({"alpha": True}, TypeError, "alpha must be None or a real number"),
        ({"gamma": -1.0}, ValueError, "gamma must be a finite number >= 0"),
        ({"gamma": float("nan")}, ValueError, "gamma must be a finite number >= 0"),
    ],
)
def test_bad_alpha_gamma_raise_at_trace_time(kwargs, exc, message):
    x, labels, frames = _batch(32, 0)
    dense, lengths = _dense(labels)
    for fn in (ctcc_tf.ctc_loss, ctcc_tf.ctc_posteriors):
        with pytest.raises(exc, match=message):
            fn(dense, x, lengths, frames, **kwargs)


# --- v1: the length check comes before collapsing, as in TensorFlow -------------


def _collapse_case():
    """Sample 0 has 5 labels [1, 1, 1, 1, 2] and 4 frames: too many before
    collapsing, enough after ([1, 2]); sample 1 is plain."""
    x = np.random.default_rng(40).normal(size=(4, 2, 4)).astype(np.float32)
    sp = _sparse([[1, 1, 1, 1, 2], [2, 0]])
    return x, sp, np.array([4, 4], np.int32)


def test_v1_collapse_raises_like_tf_when_the_uncollapsed_labels_are_too_long():
    """TensorFlow compares the label count before collapsing with the
    frames; ctcc used to compare after, and returned 4.056 here."""
    x, sp, frames = _collapse_case()
    kw = dict(preprocess_collapse_repeated=True)
    with pytest.raises(InvalidArgument, match="Not enough time"):
        tf.compat.v1.nn.ctc_loss(sp, x, frames, **kw)
    with pytest.raises(InvalidArgument, match=r"sample 0 has 5 labels .*sequence_length\[0\] = 4"):
        ctcc_tf.ctc_loss_v1(sp, x, frames, **kw)


def test_v1_collapse_with_ignore_matches_tf():
    """With ignore_longer_outputs_than_inputs=True TensorFlow gives such a
    sample loss 0 and gradient 0 (judged on the labels before collapsing)."""
    x, sp, frames = _collapse_case()
    kw = dict(preprocess_collapse_repeated=True, ignore_longer_outputs_than_inputs=True)
    want = _v1_loss_and_grad(tf.compat.v1.nn.ctc_loss, x, sp, frames, **kw)
    got = _v1_loss_and_grad(ctcc_tf.ctc_loss_v1, x, sp, frames, **kw)
    assert want[0][0] == 0 and not want[1][:, 0].any()
    np.testing.assert_allclose(got[0], want[0], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(got[1], want[1], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("collapse", [False, True])
def test_v1_length_rule_matches_tf_over_random_batches(collapse):
    """Random short frame counts and runs of repeats: the same samples are
    refused (or zeroed) as by TensorFlow, and the rest agree."""
    rng = np.random.default_rng(41)
    for _ in range(6):
        # runs of 1 to 3 equal labels
        labels = [
            np.repeat(rng.choice([0, 1, 2], size=k), rng.integers(1, 4, size=k)).tolist()
            for k in rng.integers(1, 4, size=N)
        ]
        frames = rng.integers(1, 8, size=N).astype(np.int32)
        x = rng.normal(size=(8, N, 4)).astype(np.float32)
        sp = _sparse(labels)
        kw = dict(preprocess_collapse_repeated=collapse, ignore_longer_outputs_than_inputs=True)
        want = _v1_loss_and_grad(tf.compat.v1.nn.ctc_loss, x, sp, frames, **kw)
        got = _v1_loss_and_grad(ctcc_tf.ctc_loss_v1, x, sp, frames, **kw)
        finite = np.isfinite(want[0])  # TF's dense path gives inf where ctcc does too
        np.testing.assert_array_equal(np.isfinite(got[0]), finite)
        np.testing.assert_allclose(got[0][finite], want[0][finite], rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(got[1][:, finite], want[1][:, finite], rtol=RTOL, atol=ATOL)
        plain = dict(preprocess_collapse_repeated=collapse)
        try:
            tf.compat.v1.nn.ctc_loss(sp, x, frames, **plain)
        except InvalidArgument:
            with pytest.raises(InvalidArgument, match=r"has \d+ labels.* but only"):
                ctcc_tf.ctc_loss_v1(sp, x, frames, **plain)
        else:
            ctcc_tf.ctc_loss_v1(sp, x, frames, **plain)


# --- SparseTensor labels with indices out of bounds --------------------------------


_BAD_INDICES = {
    "negative-row": [[-1, 0], [0, 1], [1, 0]],
    "negative-column": [[0, -1], [0, 0], [1, 0]],
    "row-past-the-batch": [[0, 0], [0, 1], [2, 0]],
}


def _bad_sparse(indices, shape=(2, 5)):
    return tf.SparseTensor(
        tf.constant(indices, tf.int64),
        tf.constant([1, 2, 3], tf.int32),
        tf.constant(shape, tf.int64),
    )


@pytest.mark.parametrize("case", list(_BAD_INDICES))
def test_sparse_indices_out_of_bounds_raise_like_tf(case):
    """TensorFlow raises InvalidArgumentError for these; ctcc accepted a
    negative column index and computed a loss."""
    x = np.random.default_rng(42).normal(size=(6, 2, 5)).astype(np.float32)
    frames = np.array([6, 6], np.int32)
    sp = _bad_sparse(_BAD_INDICES[case])
    with pytest.raises(InvalidArgument, match="out of bounds"):
        tf.compat.v1.nn.ctc_loss(sp, x, frames)
    with pytest.raises(InvalidArgument, match="out of bounds"):
        tf.nn.ctc_loss(sp, x, None, frames, blank_index=-1)
    pattern = r"labels: SparseTensor entry \d has index \[-?\d, -?\d\], outside"
    with pytest.raises(InvalidArgument, match=r"^ctcc\.tensorflow\.ctc_loss_v1: " + pattern):
        ctcc_tf.ctc_loss_v1(sp, x, frames)
    with pytest.raises(InvalidArgument, match=r"^ctcc\.tensorflow\.ctc_loss: " + pattern):
        ctcc_tf.ctc_loss(sp, x, None, frames, blank_index=-1)
    with pytest.raises(InvalidArgument, match=r"^ctcc\.tensorflow\.ctc_posteriors: " + pattern):
        ctcc_tf.ctc_posteriors(sp, x, None, frames, blank_index=-1)

    @tf.function(
        input_signature=[
            tf.SparseTensorSpec([None, None], tf.int32),
            tf.TensorSpec([None, None, 5], tf.float32),
        ]
    )
    def graph(labels, logits):
        return ctcc_tf.ctc_loss_v1(labels, logits, frames)

    with pytest.raises(InvalidArgument, match=pattern):
        graph(sp, x)


def test_sparse_indices_outside_the_dense_shape_are_refused():
    """A column index at or past dense_shape[1], or a dense_shape[0] that is
    not the batch size, make an invalid SparseTensor (tf.sparse.to_dense
    refuses it). TensorFlow's CTC kernels ignore dense_shape and accept it;
    ctcc refuses it (a documented difference)."""
    x = np.random.default_rng(43).normal(size=(6, 2, 5)).astype(np.float32)
    frames = np.array([6, 6], np.int32)
    sp = _bad_sparse([[0, 0], [0, 5], [1, 0]])
    with pytest.raises(InvalidArgument):
        tf.sparse.to_dense(sp)
    with pytest.raises(InvalidArgument, match=r"entry 1 has index \[0, 5\], outside .*\[2, 5\]"):
        ctcc_tf.ctc_loss_v1(sp, x, frames)

    @tf.function(
        input_signature=[
            tf.SparseTensorSpec([None, None], tf.int32),
            tf.TensorSpec([None, None, 5], tf.float32),
        ]
    )
    def graph(labels, logits):
        return ctcc_tf.ctc_loss(labels, logits, None, frames, blank_index=-1)

    small = _bad_sparse([[0, 0], [0, 1], [1, 0]], shape=(1, 5))
    with pytest.raises(InvalidArgument, match=r"dense_shape \[1, 5\] .* batch of 2"):
        graph(small, x)
    # the valid tensor with the same entries agrees with TensorFlow
    good = _bad_sparse([[0, 0], [0, 1], [1, 0]])
    np.testing.assert_allclose(
        graph(good, x).numpy(),
        tf.nn.ctc_loss(good, x, None, frames, blank_index=-1).numpy(),
        rtol=RTOL,
    )


# --- RaggedTensor labels -------------------------------------------------------------


@pytest.mark.parametrize("time_major", [True, False], ids=["TNC", "NTC"])
def test_ragged_labels_equal_dense_labels(time_major):
    """ctc_loss used to fail with "object of type 'RaggedTensor' has no
    len()" while forced_align accepted RaggedTensor labels."""
    x, labels, frames = _batch(44, 0)
    dense, lengths = _dense(labels)
    ragged = tf.ragged.constant(labels, dtype=tf.int32, ragged_rank=1)
    xl = _layout(x, time_major)
    kw = dict(logits_time_major=time_major)
    want = _loss_and_grad(
        ctcc_tf.ctc_loss, xl, labels=dense, label_length=lengths, logit_length=frames, **kw
    )
    got = _loss_and_grad(
        ctcc_tf.ctc_loss, xl, labels=ragged, label_length=None, logit_length=frames, **kw
    )
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    given = ctcc_tf.ctc_loss(ragged, xl, lengths, frames, **kw)  # the row lengths, again
    np.testing.assert_array_equal(given.numpy(), want[0])
    tfs = tf.nn.ctc_loss(dense, xl, lengths, frames, **kw).numpy()
    np.testing.assert_allclose(got[0], tfs, rtol=RTOL, atol=ATOL)
    for a, b in zip(
        ctcc_tf.ctc_posteriors(ragged, xl, None, frames, **kw),
        ctcc_tf.ctc_posteriors(dense, xl, lengths, frames, **kw),
    ):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(
        ctcc_tf.forced_align(xl, ragged, frames, **kw),
        ctcc_tf.forced_align(xl, dense, frames, lengths, **kw),
    ):
        np.testing.assert_array_equal(
            a.to_tensor().numpy() if hasattr(a, "to_tensor") else a.numpy(),
            b.to_tensor().numpy() if hasattr(b, "to_tensor") else b.numpy(),
        )


def test_ragged_labels_in_a_graph_and_their_errors():
    x, labels, frames = _batch(45, 0)
    dense, lengths = _dense(labels)
    ragged = tf.ragged.constant(labels, dtype=tf.int64, ragged_rank=1)

    @tf.function(
        input_signature=[
            tf.RaggedTensorSpec([None, None], tf.int64, ragged_rank=1),
            tf.TensorSpec([None, None, C], tf.float32),
        ]
    )
    def graph(lab, logits):
        return ctcc_tf.ctc_loss(lab, logits, None, frames)

    np.testing.assert_array_equal(
        graph(ragged, x).numpy(), ctcc_tf.ctc_loss(dense, x, lengths, frames).numpy()
    )
    wrong = lengths.copy()
    wrong[1] -= 1
    for fn in (ctcc_tf.ctc_loss, ctcc_tf.ctc_posteriors):
        with pytest.raises(InvalidArgument, match=r"label_length\[1\] = 2 .*row length 3"):
            fn(ragged, x, wrong, frames)
    with pytest.raises(InvalidArgument, match=r"label_length\[1\] = 2 .*row length 3"):
        ctcc_tf.forced_align(x, ragged, frames, wrong)
    with pytest.raises(TypeError, match="labels must hold integers"):
        ctcc_tf.ctc_loss(tf.ragged.constant([[1.0]] * N), x, None, frames)
    with pytest.raises(ValueError, match=r"labels must be a 2-D RaggedTensor"):
        ctcc_tf.ctc_loss(tf.ragged.constant([[[1]]] * N), x, None, frames)
    bad = tf.ragged.constant([[1], [9], [], [2], [1]], dtype=tf.int32)
    with pytest.raises(InvalidArgument, match=r"sample 1, position 0 holds 9, outside"):
        ctcc_tf.ctc_loss(bad, x, None, frames)


# --- gamma above the C core's limit ------------------------------------------------


@pytest.mark.parametrize("fn", ["ctc_loss", "ctc_posteriors"])
def test_gamma_above_the_limit_names_gamma_and_the_limit(fn):
    x, labels, frames = _batch(46, 0)
    dense, lengths = _dense(labels)
    with pytest.raises(ValueError, match=rf"^ctcc\.tensorflow\.{fn}: gamma .*1e\+300"):
        getattr(ctcc_tf, fn)(dense, x, lengths, frames, gamma=1e301)


def test_masked_arrays_are_refused():
    """tf.convert_to_tensor keeps the data of a numpy.ma array and drops its
    mask: the adapter refuses them, as the NumPy API does."""
    dense, x, lens, frames = _args()
    m = np.ma.array
    cases = [
        (lambda: ctcc_tf.ctc_loss(dense, m(x), lens, frames), "logits"),
        (lambda: ctcc_tf.ctc_loss(m(dense), x, lens, frames), "labels"),
        (lambda: ctcc_tf.ctc_loss(dense, x, m(lens), frames), "label_length"),
        (lambda: ctcc_tf.ctc_loss(dense, x, lens, m(frames)), "logit_length"),
        (lambda: ctcc_tf.forced_align(m(x), dense, frames, lens), "logits"),
        (lambda: ctcc_tf.greedy_decode(x, m(frames)), "logit_length"),
        (lambda: ctcc_tf.beam_search_decode(x, log_prior=m(np.zeros(C))), "log_prior"),
    ]
    for call, name in cases:
        with pytest.raises(TypeError, match=rf": {name} is a numpy\.ma\.MaskedArray"):
            call()


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_alpha_extremes_finite_through_the_adapter(alpha):
    """The reproducer of a NaN gradient for alpha = 0 or 1 (frames whose
    posteriors underflow), through ctcc.tensorflow.ctc_loss: the gradient
    is finite and equals the exact one, softmax(x) minus the targets, where
    alpha = 1 gives the label all of every frame's target mass and alpha =
    0 the blank."""
    x = np.zeros((12, 1, 3))
    x[:, 0, 1] = -707.71 if alpha == 1.0 else -707.2
    x[:4, 0, 1] = x[-4:, 0, 1] = 10.0
    logits = tf.Variable(x)
    with tf.GradientTape() as tape:
        loss = ctcc_tf.ctc_loss(
            tf.constant([[1]]), logits, tf.constant([1]), tf.constant([12]), alpha=alpha
        )
        total = tf.reduce_sum(loss)
    grad = tape.gradient(total, logits).numpy()
    assert np.isfinite(loss.numpy()).all() and np.isfinite(grad).all()
    softmax = np.exp(x - x.max(-1, keepdims=True))
    softmax /= softmax.sum(-1, keepdims=True)
    targets = np.zeros_like(x)
    targets[..., 1 if alpha == 1.0 else 0] = 1.0
    np.testing.assert_allclose(grad, softmax - targets, atol=1e-12)


# --- the gradient array TensorFlow takes without a copy -------------------------


def _address(a):
    return np.array(a.ctypes.data, np.int64)


@pytest.mark.parametrize("shape", [(0,), (3,), (12, 5, 6), (7, 1, 5000), (2, 0, 4)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_arrays_are_aligned_for_tensorflow(shape, dtype):
    from ctcc.tensorflow import _loss as adapter

    for _ in range(5):  # fresh memory each time, whatever malloc returns
        a = adapter._output_array(shape, dtype)
        assert type(a) is np.ndarray and a.shape == shape and a.dtype == dtype
        assert a.flags.c_contiguous and a.flags.writeable
        assert a.size == 0 or a.ctypes.data % 64 == 0  # (no data to align in an empty one)
        a[...] = 1  # the whole array is usable memory
        assert a.sum() == a.size


def test_tensorflow_takes_a_64_byte_aligned_result_without_a_copy():
    """What the adapter relies on: in a tf.function, tf.numpy_function
    turns a result aligned to 64 bytes into a tensor on the same memory
    (the next host function receives that very buffer), and copies one
    that is only 16-byte aligned (NumPy's usual alignment)."""
    from ctcc.tensorflow import _loss as adapter

    aligned = adapter._output_array((1000, 3), np.float32)
    raw = np.empty(aligned.nbytes + 64, np.uint8)
    start = (16 - raw.ctypes.data) % 64
    misaligned = raw[start : start + aligned.nbytes].view(np.float32).reshape(1000, 3)

    def where_it_lands(buf):
        @tf.function
        def run():
            t = tf.numpy_function(lambda: buf, [], tf.float32, stateful=False)
            return tf.numpy_function(_address, [t], tf.int64, stateful=False)

        return int(run())

    for buf, shared in ((aligned, True), (misaligned, False)):
        buf[...] = 1.0
        assert (where_it_lands(buf) == buf.ctypes.data) == shared


@pytest.mark.parametrize("fn", ["ctc_loss", "ctc_posteriors"])
def test_the_adapter_hands_ctcc_an_aligned_output_and_tensorflow_keeps_it(fn, monkeypatch):
    """The host function passes ctcc a 64-byte-aligned gradient
    (posteriors) array, and in a tf.function that array is the op's output
    tensor: the results equal a direct call's."""
    x, labels, frames = _batch(7, blank=0)
    dense, lengths = _dense(labels)
    seen = []
    real = getattr(ctcc, fn)
    out_name = "grad_out" if fn == "ctc_loss" else "out"

    def spy(*args, **kwargs):
        out = kwargs[out_name]
        seen.append(out.ctypes.data)
        assert out.ctypes.data % 64 == 0 and out.shape == x.shape
        result = real(*args, **kwargs)
        assert result[1 if fn == "ctc_loss" else 0] is out
        return result

    monkeypatch.setattr(ctcc, fn, spy)
    if fn == "ctc_loss":

        @tf.function
        def step(xt):
            with tf.GradientTape() as tape:
                tape.watch(xt)
                loss = ctcc_tf.ctc_loss(dense, xt, lengths, frames)
                total = tf.reduce_sum(loss)
            return loss, tape.gradient(total, xt)

        loss, grad = step(tf.constant(x))
        monkeypatch.undo()
        want_loss, want_grad = ctcc.ctc_loss(x, dense, frames, lengths)
        np.testing.assert_array_equal(loss.numpy(), want_loss)
        np.testing.assert_array_equal(grad.numpy(), want_grad)
    else:

        @tf.function
        def targets_address(xt):
            t, _ = ctcc_tf.ctc_posteriors(dense, xt, lengths, frames)
            return t, tf.numpy_function(_address, [t], tf.int64, stateful=False)

        t, address = targets_address(tf.constant(x))
        monkeypatch.undo()
        np.testing.assert_array_equal(t.numpy(), ctcc.ctc_posteriors(x, dense, frames, lengths))
        assert int(address) == seen[-1]  # TensorFlow's tensor is ctcc's array
    assert len(seen) == 1
