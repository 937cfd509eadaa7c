"""Checks of ctcc.keras on the Keras backend this process runs on.

Keras fixes its backend when it is imported, so tests/test_keras_backends.py
runs this script once per backend, with KERAS_BACKEND set:

    KERAS_BACKEND=jax python tests/keras_backend_checks.py [check ...]

Each check compares ctcc.keras with Keras' own CTC (keras.losses.CTC,
keras.ops.ctc_loss, which run tf.nn.ctc_loss, an optax-style recursion or
torch.nn.functional.ctc_loss, following the backend) or with a manual
computation, and prints one line

    CHECK <name> PASS <json of the largest differences measured>
    CHECK <name> FAIL <the error>

Only the standard library and NumPy are imported at the top, so that the
test can read CHECKS without importing Keras.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback

import numpy as np

N, T, F, C = 5, 12, 4, 6
LENGTHS = np.array([12, 9, 7, 12, 10])
LABELS = [[1, 2, 2], [3], [], [4, 5, 1, 3], [5, 2]]  # no 0: the blank of keras.losses.CTC

# The loss tolerance against Keras' own CTC on each backend: on JAX,
# keras.ops.ctc_loss is an optax-style float32 recursion, accurate to about
# 1e-4 relative (see optax's documentation); elsewhere float32 rounding.
LOSS_RTOL = {"jax": 2e-4}
GRAD_ATOL = {"jax": 2e-4}

CHECKS = []


def check(fn):
    CHECKS.append(fn.__name__)
    return fn


def _padded(pad, labels=LABELS, width=4):
    y = np.full((len(labels), width), pad, np.int32)
    for n, lab in enumerate(labels):
        y[n, : len(lab)] = lab
    return y


def _features(seed=0, lengths=LENGTHS):
    x = np.random.default_rng(seed).normal(size=(N, T, F)).astype(np.float32)
    for n in range(N):
        x[n, lengths[n] :] = 0.0  # padding, for a Masking layer
    return x


def _logits(seed=1, shape=(N, T, C)):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _np(x):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(x))


def _value_and_grad(f, x):
    """f(x) (a scalar) and its gradient with respect to x (a NumPy array),
    with the backend's own differentiation (on JAX, jit-compiled)."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            value = f(xt)
        return _np(value), _np(tape.gradient(value, xt))
    if backend == "jax":
        import jax

        value, grad = jax.jit(jax.value_and_grad(f))(jax.numpy.asarray(x))
        return _np(value), _np(grad)
    import torch

    xt = torch.tensor(x, requires_grad=True)
    value = f(xt)
    value.backward()
    return _np(value.detach()), xt.grad.numpy()


def _diff(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def _close(name, got, want, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=name)
    return _diff(got, want)


def _raises(fn, pattern):
    """fn() raises an exception whose message matches pattern (JAX wraps
    the errors of a compiled step in its own runtime error)."""
    import re

    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the type depends on the backend
        text = f"{type(e).__name__}: {e}"
        assert re.search(pattern, text), f"expected /{pattern}/, got {text[:600]}"
        return type(e).__name__
    raise AssertionError(f"no exception; expected /{pattern}/")


def _model(masking, seed=3):
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((T, F))
    h = keras.layers.Masking(0.0)(inputs) if masking else inputs
    h = keras.layers.Dense(8, activation="tanh")(h)
    return keras.Model(inputs, keras.layers.Dense(C)(h))


def _fit(model, loss, x, y, steps=3, jit_compile="auto"):
    import keras

    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss, jit_compile=jit_compile)
    hist = model.fit(x, y, batch_size=N, epochs=steps, shuffle=False, verbose=0)
    return hist.history["loss"], model.get_weights(), model


def _clone(model):
    import keras

    other = keras.models.clone_model(model)
    other.set_weights(model.get_weights())
    return other


# --------------------------------------------------------------------------
# The checks


@check
def loss_and_gradient_match_keras_ctc():
    """CTCLoss(padding_value=0) == keras.losses.CTC: per-sample losses and
    the gradient of the summed loss with respect to the logits."""
    import keras

    import ctcc.keras

    backend = keras.backend.backend()
    logits, y = _logits(), _padded(0)
    ours = _np(ctcc.keras.CTCLoss(padding_value=0, reduction="none")(y, logits))
    ref = _np(keras.losses.CTC(reduction="none")(y, logits))
    out = {"loss": _close("loss", ours, ref, rtol=LOSS_RTOL.get(backend, 1e-5))}
    assert ours.shape == (N,)

    def f(loss):
        return lambda x: loss(y, x)

    v1, g1 = _value_and_grad(f(ctcc.keras.CTCLoss(padding_value=0, reduction="sum")), logits)
    v2, g2 = _value_and_grad(f(keras.losses.CTC(reduction="sum")), logits)
    out["sum"] = _close("sum", v1, v2, rtol=LOSS_RTOL.get(backend, 1e-5))
    out["grad"] = _close("grad", g1, g2, rtol=0, atol=GRAD_ATOL.get(backend, 1e-5))
    assert np.abs(g1).max() > 0.01  # a gradient that matters
    return out


@check
def ctc_loss_is_a_drop_in_for_keras_ops_ctc_loss():
    """ctcc.keras.ctc_loss == keras.ops.ctc_loss: lengths shorter than the
    arrays, blank 0 and a middle mask_index, loss, gradient, result dtype."""
    import keras

    import ctcc.keras

    backend = keras.backend.backend()
    rtol, atol = LOSS_RTOL.get(backend, 1e-5), GRAD_ATOL.get(backend, 1e-5)
    out = {}
    for mask_index in (0, 3):
        classes = [c for c in range(C) if c != mask_index]
        labels = [[classes[i] for i in lab] for lab in [[0, 1, 1], [2], [], [3, 4, 0, 2], [4, 1]]]
        target = _padded(mask_index, labels, width=5)  # padding: a value never read
        target_length = np.array([len(lab) for lab in labels], np.int32)
        logits = _logits(seed=mask_index)
        args = (target_length, LENGTHS.astype(np.int32))
        ours = _np(ctcc.keras.ctc_loss(target, logits, *args, mask_index=mask_index))
        ref = _np(keras.ops.ctc_loss(target, logits, *args, mask_index=mask_index))
        out[f"loss_blank{mask_index}"] = _close("loss", ours, ref, rtol=rtol)

        def f(fn, target=target, args=args, mask_index=mask_index):
            return lambda x: keras.ops.sum(fn(target, x, *args, mask_index=mask_index))

        v1, g1 = _value_and_grad(f(ctcc.keras.ctc_loss), logits)
        v2, g2 = _value_and_grad(f(keras.ops.ctc_loss), logits)
        out[f"grad_blank{mask_index}"] = _close("grad", g1, g2, rtol=0, atol=atol)
        assert not np.any(g1[2, LENGTHS[2] :])  # frames past output_length

    # Lists and floats are accepted as keras.ops.ctc_loss accepts them.
    as_lists = ctcc.keras.ctc_loss(target.tolist(), logits, args[0].tolist(), args[1].tolist(), 3)
    _close("lists", _np(as_lists), ours)
    # The dtype of the result, as keras.ops.ctc_loss's.
    dtypes = {}
    for dtype in ("float16", "float32", "float64"):
        x = logits.astype(dtype)
        got = ctcc.keras.ctc_loss(target, x, *args, mask_index=3)
        want = keras.ops.ctc_loss(target, x, *args, mask_index=3)
        g, w = (
            keras.backend.standardize_dtype(got.dtype),
            keras.backend.standardize_dtype(want.dtype),
        )
        assert g == w, f"{dtype}: result {g}, keras.ops.ctc_loss {w}"
        dtypes[dtype] = g
        _close(dtype, _np(got), _np(want), rtol=2e-3 if dtype == "float16" else rtol)
    out["dtypes"] = dtypes
    return out


@check
def ctc_loss_errors_name_the_argument():
    import keras

    import ctcc.keras

    logits, target = _logits(), _padded(0)
    tl, ol = np.array([3, 1, 0, 4, 2]), LENGTHS
    out = {}
    out["output_length"] = _raises(
        lambda: _np(ctcc.keras.ctc_loss(target, logits, tl, ol + 1)),
        r"ctcc\.keras\.ctc_loss: output_length must be in \[0, 12\]",
    )
    out["target_length"] = _raises(
        lambda: _np(ctcc.keras.ctc_loss(target, logits, -tl, ol)),
        r"ctcc\.keras\.ctc_loss: target_length must be in \[0, 4\]",
    )
    bad = target.copy()
    bad[1, 0] = 7
    out["label"] = _raises(
        lambda: _np(ctcc.keras.ctc_loss(bad, logits, tl, ol)),
        r"sample 1, position 0 holds 7, outside the alphabet",
    )
    _raises(
        lambda: ctcc.keras.ctc_loss(target, logits, tl, ol, mask_index=6), r"mask_index .*\[-6, 6\)"
    )
    _raises(lambda: ctcc.keras.ctc_loss(target, logits, tl, ol, mask_index=True), "mask_index")
    _raises(lambda: ctcc.keras.ctc_loss(target, logits, tl[:3], ol), r"target_length has 3 rows")
    _raises(
        lambda: ctcc.keras.ctc_loss(target, logits[0], tl, ol), r"output must be logits of shape"
    )
    _raises(lambda: ctcc.keras.ctc_loss(target, logits, tl, ol, zero_infinity=1), "zero_infinity")
    _raises(lambda: ctcc.keras.ctc_loss(target, logits.astype(int), tl, ol), "floating-point")
    del keras
    return out


@check
def masking_layer_gives_the_frame_counts():
    """The mask of a Masking layer gives each sample's frames: the loss of
    CTCLoss equals keras.ops.ctc_loss given those lengths, eagerly, under
    the backend's differentiation and in evaluate; a mask that is not a
    prefix is an error."""
    import keras

    import ctcc.keras

    backend = keras.backend.backend()
    rtol, atol = LOSS_RTOL.get(backend, 1e-5), GRAD_ATOL.get(backend, 1e-5)
    x = _features()
    logits = _logits()
    for n in range(N):
        logits[n, LENGTHS[n] :] = 0.0  # Masking(0.0) masks these frames
    y = _padded(-1)
    label_length = np.array([len(lab) for lab in LABELS], np.int32)
    target = _padded(0)

    def reference(z):
        return keras.ops.ctc_loss(target, z, label_length, LENGTHS.astype(np.int32))

    masking = keras.layers.Masking(0.0)
    ours = _np(ctcc.keras.CTCLoss(reduction="none")(y, masking(logits)))
    full = _np(ctcc.keras.CTCLoss(reduction="none")(y, logits))
    ref = _np(reference(logits))
    assert _diff(full, ref) > 0.1, "the lengths should matter for this batch"
    out = {"loss": _close("loss", ours, ref, rtol=rtol)}

    v1, g1 = _value_and_grad(lambda z: ctcc.keras.CTCLoss(reduction="sum")(y, masking(z)), logits)
    v2, g2 = _value_and_grad(lambda z: keras.ops.sum(reference(z)), logits)
    out["grad"] = _close("grad", g1, g2, rtol=0, atol=atol)
    assert not np.any(g1[2, LENGTHS[2] :])

    # In a model: evaluate reports the mean, not a masked mean.
    model = _model(masking=True)
    model.compile(loss=ctcc.keras.CTCLoss())
    value = model.evaluate(x, y, batch_size=N, verbose=0)
    want = _np(reference(_np(model(x)))).mean()
    out["evaluate"] = _close("evaluate", value, want, rtol=rtol)

    # A mask with a gap (left padding) is refused.
    gappy = logits.copy()
    gappy[1, 0] = 0.0
    out["not_a_prefix"] = _raises(
        lambda: _np(ctcc.keras.CTCLoss()(y, masking(gappy))), r"mask of y_pred must be a prefix"
    )
    if backend == "jax":  # and inside a compiled step
        import jax

        out["not_a_prefix_jit"] = _raises(
            lambda: _np(jax.jit(lambda z: ctcc.keras.CTCLoss()(y, masking(z)))(gappy)),
            r"mask of y_pred must be a prefix",
        )
    return out


@check
def fit_matches_keras_ctc():
    """Three SGD steps of model.fit with CTCLoss(padding_value=0) give the
    losses and weights of the same steps with keras.losses.CTC; the loss
    decreases. On JAX the train step is jit-compiled (Keras' default), here
    asked for explicitly. On PyTorch, torch.compile(fullgraph=True) traces
    the loss (with a Masking layer) without a graph break."""
    import keras

    import ctcc.keras

    backend = keras.backend.backend()
    jit = True if backend == "jax" else "auto"
    x, y = _features(), _padded(0)
    model = _model(masking=False)
    ref_hist, ref_w, _ = _fit(_clone(model), keras.losses.CTC(), x, y, jit_compile=jit)
    hist, w, fitted = _fit(
        _clone(model), ctcc.keras.CTCLoss(padding_value=0), x, y, jit_compile=jit
    )
    if backend == "jax":
        assert fitted.jit_compile is True
    out = {"loss": _close("loss", hist, ref_hist, rtol=LOSS_RTOL.get(backend, 1e-5))}
    assert hist[-1] < hist[0], hist
    out["weights"] = max(
        _close("weights", a, b, rtol=0, atol=GRAD_ATOL.get(backend, 1e-5)) for a, b in zip(w, ref_w)
    )
    out["losses"] = [round(v, 6) for v in hist]
    out["jit_compile"] = fitted.jit_compile
    if backend == "torch":  # torch.compile (jit_compile=True) traces the loss in one graph
        import torch

        loss = ctcc.keras.CTCLoss(padding_value=0)
        masking = keras.layers.Masking(0.0)
        logits, y_true = torch.tensor(_logits()), torch.tensor(y, dtype=torch.float32)
        logits[1, 9:] = 0.0
        compiled = torch.compile(lambda z: loss(y_true, masking(z)), fullgraph=True)
        out["fullgraph"] = _close(
            "fullgraph", _np(compiled(logits)), _np(loss(y_true, masking(logits)))
        )
    return out


@check
def masked_fit_matches_explicit_lengths():
    """model.fit through a Masking layer == the same steps without the mask
    and keras.ops.ctc_loss given the frame counts."""
    import keras

    import ctcc.keras

    backend = keras.backend.backend()
    x, y = _features(), _padded(-1)
    target = _padded(0)
    label_length = np.array([len(lab) for lab in LABELS], np.int32)

    class Explicit(keras.losses.Loss):
        def call(self, y_true, y_pred):
            return keras.ops.ctc_loss(target, y_pred, label_length, LENGTHS.astype(np.int32))

    masked = _model(masking=True)
    plain = _model(masking=False)
    plain.set_weights(masked.get_weights())
    ref_hist, ref_w, _ = _fit(plain, Explicit(), x, y)
    hist, w, _ = _fit(masked, ctcc.keras.CTCLoss(), x, y)
    out = {"loss": _close("loss", hist, ref_hist, rtol=LOSS_RTOL.get(backend, 1e-5))}
    assert hist[-1] < hist[0], hist
    out["weights"] = max(
        _close("weights", a, b, rtol=0, atol=GRAD_ATOL.get(backend, 1e-5)) for a, b in zip(w, ref_w)
    )
    return out


@check
def errors_inside_fit_name_the_sample():
    import keras

    import ctcc.keras

    x, y = _features(), _padded(-1)
    y[1, 0] = 9
    model = _model(masking=True)
    model.compile(optimizer="sgd", loss=ctcc.keras.CTCLoss())
    out = {
        "fit": _raises(
            lambda: model.fit(x, y, batch_size=N, epochs=1, shuffle=False, verbose=0),
            r"sample 1, position 0 holds 9, outside the alphabet \[0, 6\)",
        )
    }
    y = _padded(-1).astype(np.float64)
    y[0, 0] = 2.0**40
    out["int32"] = _raises(
        lambda: _np(ctcc.keras.CTCLoss()(y, _logits())), r"y_true holds a value outside the int32"
    )
    del keras
    return out


@check
def options_reductions_and_config():
    """blank, padding_value, zero_infinity and the reductions mean the same
    on every backend (compared with keras.ops.ctc_loss); out-of-range alpha
    and gamma are refused by name; the config round-trips."""
    import keras

    import ctcc.keras

    backend = keras.backend.backend()
    rtol = LOSS_RTOL.get(backend, 1e-5)
    logits = _logits(seed=4)
    labels = [[0, 1, 1], [2], [], [3, 4, 0, 2], [4, 1]]  # classes 0..4, blank 5 = -1
    y = _padded(-3, labels)
    target = _padded(0, labels)
    label_length = np.array([len(lab) for lab in labels], np.int32)
    frames = np.full(N, T, np.int32)
    ref = _np(keras.ops.ctc_loss(target, logits, label_length, frames, mask_index=C - 1))
    out = {}
    for reduction, want in [
        ("none", ref),
        (None, ref),
        ("sum", ref.sum()),
        ("sum_over_batch_size", ref.mean()),
    ]:
        loss = ctcc.keras.CTCLoss(blank=-1, padding_value=-3, reduction=reduction)
        got = _np(loss(y.astype(np.float32), logits))
        assert got.shape == np.shape(want), (reduction, got.shape)
        out[str(reduction)] = _close(str(reduction), got, want, rtol=rtol)
    weights = np.arange(N, dtype=np.float32)
    got = _np(ctcc.keras.CTCLoss(blank=-1, padding_value=-3, reduction="sum")(y, logits, weights))
    out["sample_weight"] = _close("sample_weight", got, (ref * weights).sum(), rtol=rtol)

    short = np.zeros((2, 3, 4), np.float32)
    y2 = np.array([[1, 1, 1], [2, -1, -1]])  # sample 0 needs 5 frames
    inf = _np(ctcc.keras.CTCLoss(reduction="none")(y2, short))
    zero = _np(ctcc.keras.CTCLoss(reduction="none", zero_infinity=True)(y2, short))
    assert np.isinf(inf[0]) and np.isfinite(inf[1]) and zero[0] == 0 and zero[1] == inf[1]

    ctcc.keras.CTCLoss(alpha=None, gamma=0)  # plain CTC everywhere
    _raises(lambda: ctcc.keras.CTCLoss(alpha=1.5), r"alpha must be None or in \[0, 1\], got 1.5")
    _raises(lambda: ctcc.keras.CTCLoss(gamma=-1.0), r"gamma must be a finite number >= 0")
    _raises(lambda: ctcc.keras.CTCLoss(alpha=True), r"alpha must be None or a real number")
    _raises(lambda: ctcc.keras.CTCLoss(zero_infinity="yes"), "zero_infinity must be a bool")
    _raises(lambda: ctcc.keras.CTCLoss(blank=True), "blank must be an integer")
    _raises(lambda: ctcc.keras.CTCLoss(blank=6)(y, logits), r"blank must be in \[-6, 6\)")

    loss = ctcc.keras.CTCLoss(blank=-1, padding_value=-2, zero_infinity=True, num_threads=1)
    config = loss.get_config()
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(restored, ctcc.keras.CTCLoss) and restored.get_config() == config
    return out


@check
def alpha_gamma_match_ctcc():
    """alpha and gamma (Li and Wang's modifications) on every backend: the
    gradient with respect to the logits (under the backend's differentiation,
    jit-compiled on JAX) is ctcc.ctc_loss's modified gradient with the same
    alpha and gamma, so the same on every backend; the loss stays the plain
    loss (keras.losses.CTC's)."""
    import keras

    import ctcc
    import ctcc.keras

    backend = keras.backend.backend()
    logits = _logits(seed=6)
    y = _padded(-1)
    frames = np.full(N, T)
    label_lengths = np.array([len(lab) for lab in LABELS])
    ref = _np(keras.losses.CTC(reduction="none")(_padded(0), logits))
    out = {}
    for alpha, gamma in [(0.5, 0.0), (None, 1.0), (0.3, 2.0)]:
        name = f"alpha={alpha},gamma={gamma}"
        loss = ctcc.keras.CTCLoss(reduction="sum", alpha=alpha, gamma=gamma)
        value, grad = _value_and_grad(lambda x, loss=loss: loss(y, x), logits)
        kw = dict(time_major=False, reduction="none")
        _, want = ctcc.ctc_loss(logits, y, frames, label_lengths, **kw, alpha=alpha, gamma=gamma)
        _, plain = ctcc.ctc_loss(logits, y, frames, label_lengths, **kw)
        assert np.abs(want - plain).max() > 1e-2, name  # the modifications change it
        out[name + " grad"] = _close(name + " grad", grad, want, rtol=1e-5, atol=1e-6)
        rtol = LOSS_RTOL.get(backend, 1e-5)
        out[name + " loss"] = _close(name + " loss", value, ref.sum(), rtol=rtol)
    return out


def main(names):
    import keras

    print(f"BACKEND {keras.backend.backend()}", flush=True)
    for name in names or CHECKS:
        start = time.perf_counter()
        try:
            result = globals()[name]()
            result["seconds"] = round(time.perf_counter() - start, 1)
        except Exception:  # noqa: BLE001 - reported to the test
            lines = traceback.format_exc().strip().splitlines()
            print(f"CHECK {name} FAIL {json.dumps(lines[-40:])}", flush=True)
        else:
            print(f"CHECK {name} PASS {json.dumps(result, default=str)}", flush=True)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main(sys.argv[1:])
