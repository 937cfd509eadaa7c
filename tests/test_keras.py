"""ctcc.keras.CTCLoss on the TensorFlow backend of Keras 3 (the other
backends, and the TensorFlow one again, in test_keras_backends.py).

Training with it must match training with Keras' own CTC loss (and with
tf.nn.ctc_loss), take the logit lengths from the Keras mask, reduce like any
Keras loss, survive a .keras save/load round trip, and train under
tf.distribute.MirroredStrategy like on one device (in a subprocess, which
splits the CPU into two logical devices before TensorFlow starts).
"""

import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
if not keras.__version__.startswith("3."):
    pytest.skip("ctcc.keras needs Keras 3", allow_module_level=True)
if keras.backend.backend() != "tensorflow":  # the other backends: test_keras_backends.py
    pytest.skip("these tests need KERAS_BACKEND=tensorflow", allow_module_level=True)
ctcc = pytest.importorskip("ctcc")
ctcc_tf = pytest.importorskip("ctcc.tensorflow")
ctcc_keras = pytest.importorskip("ctcc.keras")
CTCLoss = ctcc_keras.CTCLoss

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N, T, F, C = 6, 14, 5, 7
LENGTHS = np.array([14, 11, 9, 14, 6, 12])


def _batch(seed=0, blank=0, pad=-1, lengths=LENGTHS):
    """Features [N, T, F] zeroed past each length, padded labels [N, S]
    (no blank, a repeat, an empty sample) and the label lists."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, T, F)).astype(np.float32)
    for n in range(N):
        x[n, lengths[n] :] = 0.0
    classes = [c for c in range(C) if c != blank % C]
    labels = [
        [classes[0], classes[1], classes[1]],
        [classes[2]],
        [],
        [classes[3], classes[4], classes[5], classes[0]],
        [classes[5], classes[2]],
        [classes[1], classes[3]],
    ]
    y = np.full((N, 4), pad, np.int32)
    for n, lab in enumerate(labels):
        y[n, : len(lab)] = lab
    return x, y, labels


def _model(masking=False, seed=1):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((T, F))
    h = keras.layers.Masking(0.0)(inputs) if masking else inputs
    h = keras.layers.Dense(8, activation="tanh")(h)
    return keras.Model(inputs, keras.layers.Dense(C)(h))


def _clone(model):
    other = keras.models.clone_model(model)
    other.set_weights(model.get_weights())
    return other


def _fit(model, loss, x, y, steps=3, lr=0.1):
    model.compile(optimizer=keras.optimizers.SGD(lr), loss=loss)
    history = model.fit(x, y, batch_size=N, epochs=steps, shuffle=False, verbose=0)
    return history.history["loss"], model.get_weights()


class _TFNNCTC(keras.losses.Loss):
    """tf.nn.ctc_loss with blank -1 and labels padded with -1, full length."""

    def call(self, y_true, y_pred):
        labels = tf.cast(y_true, tf.int32)
        label_length = tf.reduce_sum(tf.cast(labels >= 0, tf.int32), axis=1)
        logit_length = tf.fill([tf.shape(y_pred)[0]], tf.shape(y_pred)[1])
        return tf.nn.ctc_loss(
            labels,
            y_pred,
            label_length,
            logit_length,
            logits_time_major=False,
            blank_index=-1,
        )


@pytest.mark.parametrize(
    "reference, blank, pad",
    [("keras.losses.CTC", 0, 0), ("tf.nn.ctc_loss", -1, -1)],
)
def test_fit_matches_reference_loss(reference, blank, pad):
    x, y, _ = _batch(blank=blank, pad=pad)
    model = _model()
    ref_loss = keras.losses.CTC() if reference == "keras.losses.CTC" else _TFNNCTC()
    ref_hist, ref_weights = _fit(_clone(model), ref_loss, x, y)
    hist, weights = _fit(_clone(model), CTCLoss(blank=blank, padding_value=pad), x, y)
    np.testing.assert_allclose(hist, ref_hist, rtol=1e-5)
    assert hist[-1] < hist[0]  # it did train
    for w, ref in zip(weights, ref_weights):
        np.testing.assert_allclose(w, ref, rtol=0, atol=1e-5)


@pytest.mark.parametrize("frontend", ["masking", "embedding"])
def test_mask_gives_logit_lengths(frontend):
    x, y, labels = _batch()
    if frontend == "masking":
        model = _model(masking=True)
        inputs = x
    else:
        keras.utils.set_random_seed(2)
        tokens = keras.Input((T,), dtype="int32")
        h = keras.layers.Embedding(9, 6, mask_zero=True)(tokens)
        model = keras.Model(tokens, keras.layers.Dense(C)(h))
        inputs = np.random.default_rng(3).integers(1, 9, size=(N, T)).astype(np.int32)
        for n in range(N):
            inputs[n, LENGTHS[n] :] = 0

    logits = model(inputs)
    expected, _ = ctcc.ctc_loss(logits.numpy(), labels, LENGTHS, time_major=False)
    full, _ = ctcc.ctc_loss(logits.numpy(), labels, time_major=False)
    assert not np.allclose(expected, full)  # the lengths matter for this batch

    # Eager call on the model output, which carries the mask.
    per_sample = CTCLoss(reduction="none")(y, logits)
    assert per_sample.shape == (N,)
    np.testing.assert_allclose(per_sample, expected, rtol=1e-5)

    # Inside compile/evaluate (a tf.function); the mean, not a masked mean.
    model.compile(loss=CTCLoss())
    value = model.evaluate(inputs, y, batch_size=N, verbose=0)
    np.testing.assert_allclose(value, expected.mean(), rtol=1e-5)

    # Gradient with respect to the logits: ctcc's, zero on masked frames.
    logits_var = tf.Variable(logits)
    with tf.GradientTape() as tape:
        out = tf.identity(logits_var)
        out._keras_mask = tf.sequence_mask(LENGTHS, T)
        value = CTCLoss(reduction="sum")(y, out)
    grad = tape.gradient(value, logits_var).numpy()
    _, expected_grad = ctcc.ctc_loss(logits.numpy(), labels, LENGTHS, time_major=False)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-5, atol=1e-6)
    assert not np.any(grad[4, 6:])


def test_masked_training_matches_explicit_lengths():
    """fit with a Masking layer == fit with a loss given the lengths."""
    x, y, _ = _batch()
    model = _model(masking=True)
    plain = _model(masking=False)  # the same layers without the mask
    plain.set_weights(model.get_weights())

    class ExplicitLengths(keras.losses.Loss):
        def call(self, y_true, y_pred):
            labels = tf.cast(y_true, tf.int32)
            return ctcc_tf.ctc_loss(
                labels,
                y_pred,
                tf.reduce_sum(tf.cast(labels >= 0, tf.int32), axis=1),
                tf.constant(LENGTHS, tf.int32),
                logits_time_major=False,
                blank_index=0,
            )

    ref_hist, ref_weights = _fit(plain, ExplicitLengths(), x, y)
    hist, weights = _fit(model, CTCLoss(), x, y)
    np.testing.assert_allclose(hist, ref_hist, rtol=1e-5)
    for w, ref in zip(weights, ref_weights):
        np.testing.assert_allclose(w, ref, rtol=0, atol=1e-6)


def test_mask_must_be_a_prefix():
    x, y, _ = _batch()
    logits = tf.identity(tf.constant(np.random.default_rng(0).normal(size=(N, T, C)), tf.float32))
    mask = np.ones((N, T), bool)
    mask[1, 0] = False  # left padding
    logits._keras_mask = tf.constant(mask)
    with pytest.raises(tf.errors.InvalidArgumentError, match="prefix"):
        CTCLoss()(y, logits)


def test_reductions_blank_and_float_labels():
    x, y, labels = _batch(blank=-1, pad=-3)
    logits = np.random.default_rng(5).normal(size=(N, T, C)).astype(np.float32)
    expected, _ = ctcc.ctc_loss(logits, labels, time_major=False, blank=C - 1)
    y_float = y.astype(np.float32)  # Keras hands labels over as floats
    for reduction, value in [
        ("none", expected),
        (None, expected),
        ("sum", expected.sum()),
        ("sum_over_batch_size", expected.mean()),
    ]:
        loss = CTCLoss(blank=-1, padding_value=-3, reduction=reduction)
        got = loss(y_float, logits)
        assert got.shape == np.shape(value), reduction
        np.testing.assert_allclose(got, value, rtol=1e-5, err_msg=str(reduction))
    weights = np.arange(N, dtype=np.float32)
    got = CTCLoss(blank=-1, padding_value=-3, reduction="sum")(y, logits, sample_weight=weights)
    np.testing.assert_allclose(got, (expected * weights).sum(), rtol=1e-5)
    with pytest.raises(ValueError, match="reduction"):
        CTCLoss(reduction="mean_over_time")


def test_labels_after_the_first_padding_are_ignored():
    x, y, labels = _batch()
    logits = np.random.default_rng(6).normal(size=(N, T, C)).astype(np.float32)
    y2 = y.copy()
    y2[1, 2] = 2  # after the first padding of sample 1 (at position 1)
    expected, _ = ctcc.ctc_loss(logits, labels, time_major=False)
    np.testing.assert_allclose(CTCLoss(reduction="none")(y2, logits), expected, rtol=1e-5)


def test_zero_infinity():
    logits = np.zeros((2, 3, 4), np.float32)
    y = np.array([[1, 1, 1], [2, -1, -1]])  # sample 0 needs 5 frames
    inf = CTCLoss(reduction="none")(y, logits).numpy()
    assert np.isinf(inf[0]) and np.isfinite(inf[1])
    zero = CTCLoss(reduction="none", zero_infinity=True)(y, logits).numpy()
    np.testing.assert_array_equal(zero, [0.0, inf[1]])


@pytest.mark.parametrize(
    "bad, blank, message",
    [
        (9, 0, r"sample 1, position 0 holds 9, outside the alphabet \[0, 7\)"),
        (-2, 0, r"sample 1, position 0 holds -2, outside the alphabet"),
        (0, 0, r"sample 1, position 0 holds 0, which is the blank"),
        (6, -1, r"sample 1, position 0 holds 6, which is the blank"),
    ],
)
def test_bad_labels_raise_a_clear_error(bad, blank, message):
    x, y, _ = _batch(blank=blank)
    y[1, 0] = bad
    logits = np.zeros((N, T, C), np.float32)
    with pytest.raises(Exception, match=message):
        CTCLoss(blank=blank)(y, logits)
    if bad == 9:  # and inside fit (a tf.function)
        model = _model()
        model.compile(optimizer="sgd", loss=CTCLoss(blank=blank))
        with pytest.raises(Exception, match=message):
            model.fit(x, y, batch_size=N, epochs=1, shuffle=False, verbose=0)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match=r"y_pred must be logits of shape \[batch, frames"):
        CTCLoss()(np.zeros((2, 3)), np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match=r"y_true must be padded integer labels"):
        CTCLoss()(np.zeros((2,)), np.zeros((2, 5, 3), np.float32))
    with pytest.raises(TypeError, match="blank must be an integer"):
        CTCLoss(blank=0.5)


def test_config_and_save_load_round_trip(tmp_path):
    loss = CTCLoss(
        blank=-1, padding_value=-2, zero_infinity=True, num_threads=1, reduction="sum", name="ocr"
    )
    config = loss.get_config()
    assert config["blank"] == -1 and config["padding_value"] == -2
    again = CTCLoss.from_config(config)
    assert again.get_config() == config
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(restored, CTCLoss) and restored.get_config() == config

    x, y, _ = _batch(blank=-1, pad=-2)
    model = _model(masking=True)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=loss)
    model.fit(x, y, batch_size=3, epochs=1, shuffle=False, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.loss, CTCLoss)
    assert loaded.loss.get_config() == config

    h1 = model.fit(x, y, batch_size=3, epochs=1, shuffle=False, verbose=0).history["loss"]
    h2 = loaded.fit(x, y, batch_size=3, epochs=1, shuffle=False, verbose=0).history["loss"]
    assert h1 == h2
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_alpha_gamma_options_train_and_round_trip(tmp_path):
    """alpha and gamma reach the gradient (the weights differ from plain
    CTC after one step, and equal a manual step with ctcc's modified
    gradient), leave the reported loss alone, and survive save/load."""
    x, y, labels = _batch()
    model = _model()
    plain_hist, plain_w = _fit(_clone(model), CTCLoss(), x, y, steps=1)
    loss = CTCLoss(alpha=0.5, gamma=1.0)
    hist, weights = _fit(_clone(model), loss, x, y, steps=1)
    np.testing.assert_allclose(hist, plain_hist, rtol=1e-6)  # same first loss
    assert max(np.abs(a - b).max() for a, b in zip(weights, plain_w)) > 1e-4

    # One SGD step by hand with the modified gradient of the mean loss.
    manual = _clone(model)
    logits = manual(x)
    _, grad = ctcc.ctc_loss(logits.numpy(), labels, time_major=False, alpha=0.5, gamma=1.0)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        out = manual(xt)
        surrogate = tf.reduce_sum(out * tf.constant(grad / N))
    grads = tape.gradient(surrogate, manual.trainable_weights)
    for w, g, got in zip(manual.get_weights(), grads, weights):
        np.testing.assert_allclose(got, w - 0.1 * g.numpy(), rtol=0, atol=1e-5)

    config = loss.get_config()
    assert config["alpha"] == 0.5 and config["gamma"] == 1.0
    assert CTCLoss.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="alpha"):
        CTCLoss(alpha=-0.1)
    with pytest.raises(ValueError, match="gamma"):
        CTCLoss(gamma=-2)


MIRRORED_WORKER = textwrap.dedent(
    """
    import json, os, sys
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    import keras
    import ctcc.keras

    N, T, F, C = 8, 12, 4, 6
    rng = np.random.default_rng(0)
    lengths = rng.integers(6, T + 1, size=N)
    x = rng.normal(size=(N, T, F)).astype(np.float32)
    for n in range(N):
        x[n, lengths[n]:] = 0.0
    y = np.full((N, 3), -1, np.int32)
    for n in range(N):
        k = int(rng.integers(0, 4))
        y[n, :k] = rng.integers(1, C, size=k)

    def build():
        keras.utils.set_random_seed(7)
        inputs = keras.Input((T, F))
        h = keras.layers.Masking(0.0)(inputs)
        h = keras.layers.Dense(8, activation="tanh")(h)
        model = keras.Model(inputs, keras.layers.Dense(C)(h))
        model.compile(optimizer=keras.optimizers.SGD(0.2), loss=ctcc.keras.CTCLoss())
        return model

    def run(model):
        hist = model.fit(x, y, batch_size=N, epochs=3, shuffle=False, verbose=0)
        return hist.history["loss"], [w.tolist() for w in model.get_weights()]

    single = run(build())
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        model = build()
    mirrored = run(model)
    print("RESULT " + json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "logical_cpus": len(tf.config.list_logical_devices("CPU")),
        "single": single, "mirrored": mirrored,
    }))
    """
)


def test_mirrored_strategy_matches_one_device(tmp_path):
    script = tmp_path / "mirrored_worker.py"
    script.write_text(MIRRORED_WORKER)
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    line = [s for s in proc.stdout.splitlines() if s.startswith("RESULT ")][-1]
    result = json.loads(line[len("RESULT ") :])
    assert result["replicas"] == 2 and result["logical_cpus"] == 2
    (loss1, w1), (loss2, w2) = result["single"], result["mirrored"]
    np.testing.assert_allclose(loss2, loss1, rtol=1e-5)
    assert loss1[-1] < loss1[0]
    for a, b in zip(w2, w1):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)


def test_example_quick(tmp_path):
    out = tmp_path / "ocr.png"
    proc = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "examples", "keras_ocr.py"),
            "--quick",
            "--alpha",
            "0.5",
            "--gamma",
            "1",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = re.findall(r"^epoch\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", proc.stdout, re.M)
    assert len(rows) >= 2, proc.stdout
    assert "ctcc a=0.5 g=1" in proc.stdout  # the alpha/gamma run took part
    tf_losses = np.array([float(r[1]) for r in rows])
    ctcc_losses = np.array([float(r[2]) for r in rows])
    np.testing.assert_allclose(ctcc_losses, tf_losses, rtol=1e-3)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "matplotlib" in proc.stdout
    else:
        assert out.is_file() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert str(out) in proc.stdout


# --- values outside int32, gamma, importing without Keras ---------------------------


@pytest.mark.parametrize("pad", [2**32 + 1, 2**31, -(2**31) - 1, 2**63])
def test_padding_value_outside_int32_is_refused(pad):
    """The labels are compared with padding_value in int32: 2**32 + 1 used to
    wrap to 1 and cut every label sequence at its first 1."""
    with pytest.raises(ValueError, match=r"^ctcc\.keras\.CTCLoss: padding_value must be in "):
        CTCLoss(padding_value=pad)
    CTCLoss(padding_value=2**31 - 1)
    CTCLoss(padding_value=-(2**31))


def test_labels_outside_int32_are_not_wrapped():
    """y_true label 2**32 + 1 used to become 1 (a valid label)."""
    x, y, labels = _batch()
    logits = np.random.default_rng(7).normal(size=(N, T, C)).astype(np.float32)
    y64 = y.astype(np.int64)
    y64[1, 0] = 2**32 + 1
    # Keras hands y_true over as floats
    with pytest.raises(Exception, match=r"y_true holds a value outside the int32 range"):
        CTCLoss()(y64, logits)
    # integer labels reach ctcc as they are
    with pytest.raises(Exception, match=r"sample 1, position 0 holds 4294967297, outside"):
        CTCLoss().call(tf.constant(y64), tf.constant(logits))
    yf = y.astype(np.float64)
    yf[1, 0] = 2.0**40
    with pytest.raises(Exception, match=r"y_true holds a value outside the int32 range"):
        CTCLoss()(yf, logits)
    np.testing.assert_allclose(
        CTCLoss(reduction="none")(y.astype(np.int64), logits),
        ctcc.ctc_loss(logits, labels, time_major=False)[0],
        rtol=1e-5,
    )


def test_gamma_above_the_limit_names_gamma_and_the_limit():
    with pytest.raises(ValueError, match=r"^ctcc\.keras\.CTCLoss: gamma .*1e\+300"):
        CTCLoss(gamma=1e301)


def _import_without(module, target, backend="tensorflow"):
    code = textwrap.dedent(
        f"""
        import sys
        sys.modules[{module!r}] = None  # as if it were not installed
        try:
            import {target}
        except ImportError as e:
            print("IMPORT-ERROR:", e)
        else:
            print("IMPORTED")
        """
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="", KERAS_BACKEND=backend)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    return proc.stdout + proc.stderr


@pytest.mark.parametrize("module", ["keras", "tensorflow"])
def test_import_without_keras_or_tensorflow_names_the_extra(module):
    out = _import_without(module, "ctcc.keras")
    assert "IMPORT-ERROR: ctcc.keras needs" in out, out
    assert "pip install 'ctcc[tensorflow]'" in out, out


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_import_on_a_backend_without_its_framework_names_the_extra(backend):
    out = _import_without(backend, "ctcc.keras", backend)
    assert "IMPORT-ERROR: ctcc.keras needs" in out, out
    assert f"'ctcc[{backend}]'" in out, out


def test_a_backend_without_a_ctcc_adapter_is_refused_by_name():
    code = textwrap.dedent(
        """
        import numpy as np
        import ctcc.keras
        for call in (lambda: ctcc.keras.CTCLoss(),
                     lambda: ctcc.keras.ctc_loss([[1]], np.zeros((1, 2, 2)), [1], [2])):
            try:
                call()
            except ValueError as e:
                print("VALUE-ERROR:", e)
        """
    )
    env = dict(os.environ, KERAS_BACKEND="numpy")
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    errors = [line for line in proc.stdout.splitlines() if line.startswith("VALUE-ERROR:")]
    assert len(errors) == 2, proc.stdout + proc.stderr
    for line, fn in zip(errors, ("ctcc.keras.CTCLoss", "ctcc.keras.ctc_loss")):
        assert f"{fn}: Keras runs on the 'numpy' backend, which ctcc does not support" in line
        assert "KERAS_BACKEND" in line


def test_masked_arrays_are_refused():
    x, y, _ = _batch()
    logits = np.zeros((N, T, C), np.float32)
    with pytest.raises(TypeError, match=r"CTCLoss: y_true is a numpy\.ma\.MaskedArray"):
        CTCLoss()(np.ma.masked_less(y, 0), logits)
    with pytest.raises(TypeError, match=r"CTCLoss: y_pred is a numpy\.ma\.MaskedArray"):
        CTCLoss()(y, np.ma.array(logits))
