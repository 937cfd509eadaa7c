"""ctcc.jax: a drop-in for optax.ctc_loss.

Loss and gradient against optax.ctc_loss (float32 to optax's own error,
float64 with jax.enable_x64), central differences in float64, the JAX
transformations (jit, grad, value_and_grad, vmap), a batch sharded over two
host CPU devices (in a subprocess: the device count must be set before JAX
starts), dtypes, threads, and the errors bad inputs raise.
"""

import contextlib
import functools
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from reference import min_frames

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
optax = pytest.importorskip("optax")
ctcc_jax = pytest.importorskip("ctcc.jax")

B, T, K, N = 5, 14, 6, 5
RTOL32 = 1e-4  # optax's own float32 error (log-space scan with log_epsilon)
ATOL32 = 1e-4


def _x64():
    """A context in which JAX computes in float64."""
    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(True)
    from jax.experimental import enable_x64  # older JAX

    return enable_x64()


def _batch(seed, blank, dtype=np.float32, scale=2.0, ragged=False):
    """optax-style arguments (logits [B, T, K], logit_paddings, labels
    [B, N], label_paddings) with varied lengths, a repeat, an empty label
    sequence, a full-width one and garbage under the label paddings; every
    sample is feasible. With ``ragged``, some samples have padded frames
    before valid ones."""
    rng = np.random.default_rng(seed)
    b = blank % K
    others = np.array([c for c in range(K) if c != b])
    labels = rng.integers(-1, K, size=(B, N))  # garbage where padded
    label_paddings = np.ones((B, N), np.float32)
    logit_paddings = np.ones((B, T), np.float32)
    for n in range(B):
        size = [3, 0, N, 2, int(rng.integers(1, N + 1))][n]
        lab = others[rng.integers(0, len(others), size=size)]
        if n == 0:
            lab = np.array([others[1], others[1], others[2]])  # a repeat
        labels[n, :size] = lab
        label_paddings[n, :size] = 0
        frames = int(rng.integers(min_frames(lab.tolist()), T + 1))
        frames = T if n == 2 else max(frames, 1)
        if ragged and n % 2 == 0 and frames < T:
            valid = np.sort(rng.choice(T, size=frames, replace=False))
            logit_paddings[n, valid] = 0
        else:
            logit_paddings[n, :frames] = 0
    x = rng.normal(scale=scale, size=(B, T, K)).astype(dtype)
    return x, logit_paddings, labels.astype(np.int32), label_paddings


@functools.partial(jax.jit, static_argnames=("fn", "options"))
def _jitted_loss_and_grad(x, pad, lab, lab_pad, *, fn, options):
    """fn's loss [B] and the gradient of sum(w * loss), with a different
    upstream weight w per sample."""

    def total(x):
        loss = fn(x, pad, lab, lab_pad, **dict(options))
        w = jnp.asarray(_weights(loss.shape[0]), loss.dtype)
        return jnp.sum(loss * w), loss

    (_, loss), grad = jax.value_and_grad(total, has_aux=True)(x)
    return loss, grad


def _weights(n):
    return 1 + np.arange(n) / 4


def _loss_and_grad(fn, args, **kw):
    """(loss, weighted gradient) of fn under jit (compiled once per shape,
    dtype and options, so that optax's scan is not traced again and again)."""
    loss, grad = _jitted_loss_and_grad(*args, fn=fn, options=tuple(sorted(kw.items())))
    return np.asarray(loss), np.asarray(grad)


def _close(got, want, rtol, atol, what):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    err = np.max(np.abs(got - want) / (atol + rtol * np.abs(want)), initial=0.0)
    assert err <= 1.0, f"{what}: max |diff| = {np.max(np.abs(got - want)):.3g}"


@pytest.mark.parametrize("blank", [0, K // 2])
@pytest.mark.parametrize("ragged", [False, True])
def test_agrees_with_optax_float32(blank, ragged):
    args = _batch(seed=blank + 10 * ragged, blank=blank, ragged=ragged)
    loss, grad = _loss_and_grad(ctcc_jax.ctc_loss, args, blank_id=blank)
    ref_loss, ref_grad = _loss_and_grad(optax.ctc_loss, args, blank_id=blank)
    assert loss.dtype == np.float32 and loss.shape == (B,)
    _close(loss, ref_loss, RTOL32, 0, "loss")
    _close(grad, ref_grad, 0, ATOL32, "gradient")
    # padded frames get no gradient, valid ones rows that sum to 0
    padded = args[1] == 1
    assert np.all(grad[padded] == 0)
    np.testing.assert_allclose(grad.sum(-1)[~padded], 0, atol=1e-5)


@pytest.mark.parametrize("blank", [0, K // 2])
def test_agrees_with_optax_float64(blank):
    args64 = _batch(seed=3 + blank, blank=blank, dtype=np.float64, ragged=True)
    with _x64():
        args = [jnp.asarray(a) for a in args64]
        loss, grad = _loss_and_grad(ctcc_jax.ctc_loss, args, blank_id=blank)
        ref_loss, ref_grad = _loss_and_grad(optax.ctc_loss, args, blank_id=blank)
    assert loss.dtype == np.float64 and grad.dtype == np.float64
    _close(loss, ref_loss, 1e-10, 0, "loss")
    _close(grad, ref_grad, 0, 1e-10, "gradient")


def test_gradient_matches_central_differences():
    x, pad, lab, lab_pad = _batch(seed=7, blank=0, dtype=np.float64, ragged=True)
    rng = np.random.default_rng(0)
    weights = rng.uniform(0.5, 2.0, size=B)  # a different upstream per sample
    with _x64():

        def f(x):
            return jnp.sum(ctcc_jax.ctc_loss(x, pad, lab, lab_pad) * weights)

        grad = np.asarray(jax.grad(f)(jnp.asarray(x)))
        h = 1e-6
        for idx in [(0, 0, 1), (1, 3, 0), (2, 13, 5), (3, 5, 2), (4, 7, 4), (0, 13, 2)]:
            e = np.zeros_like(x)
            e[idx] = h
            numeric = (float(f(x + e)) - float(f(x - e))) / (2 * h)
            assert abs(grad[idx] - numeric) < 1e-7, (idx, grad[idx], numeric)


def test_transformations_agree():
    x, pad, lab, lab_pad = _batch(seed=11, blank=0)

    def mean_loss(x):
        return ctcc_jax.ctc_loss(x, pad, lab, lab_pad).mean()

    eager = np.asarray(ctcc_jax.ctc_loss(x, pad, lab, lab_pad))
    jitted = np.asarray(jax.jit(ctcc_jax.ctc_loss)(x, pad, lab, lab_pad))
    np.testing.assert_array_equal(jitted, eager)
    g = jax.grad(mean_loss)(x)
    value, g_vg = jax.jit(jax.value_and_grad(mean_loss))(x)
    np.testing.assert_allclose(float(value), eager.mean(), rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(g_vg), np.asarray(g))
    g_jit_inside = jax.grad(lambda x: jax.jit(ctcc_jax.ctc_loss)(x, pad, lab, lab_pad).mean())(x)
    np.testing.assert_array_equal(np.asarray(g_jit_inside), np.asarray(g))
    ref_loss, ref_grad = _loss_and_grad(optax.ctc_loss, (x, pad, lab, lab_pad))
    _close(eager, ref_loss, RTOL32, 0, "loss")
    _close(np.asarray(g) * B, ref_grad / _weights(B)[:, None, None], 0, ATOL32, "gradient")


def test_vmap():
    """vmap over stacked batches (logits only, then every argument, then
    nested), with and without grad, equals one call per batch."""
    rng = np.random.default_rng(5)
    batches = [_batch(seed=s, blank=0, ragged=s % 2 == 1) for s in range(3)]
    xs, pads, labs, lab_pads = (np.stack(a) for a in zip(*batches))
    x0, pad0, lab0, lab_pad0 = batches[0]

    def per_batch(x, pad, lab, lab_pad):
        return ctcc_jax.ctc_loss(x, pad, lab, lab_pad)

    def grad_of(x, pad, lab, lab_pad):
        w = jnp.asarray(_weights(B), x.dtype)
        return jax.grad(lambda x: (per_batch(x, pad, lab, lab_pad) * w).sum())(x)

    # logits mapped, the rest shared (tiled by vmap_method="broadcast_all")
    scaled = xs * rng.uniform(0.5, 2, size=(3, 1, 1, 1)).astype(np.float32)
    got = jax.vmap(per_batch, in_axes=(0, None, None, None))(scaled, pad0, lab0, lab_pad0)
    want = [_loss_and_grad(optax.ctc_loss, (s, pad0, lab0, lab_pad0))[0] for s in scaled]
    _close(got, np.stack(want), RTOL32, 0, "vmap loss")
    # every argument mapped, under jit, loss and gradient
    got = jax.jit(jax.vmap(per_batch))(xs, pads, labs, lab_pads)
    grads = jax.jit(jax.vmap(grad_of))(xs, pads, labs, lab_pads)
    for i, args in enumerate(batches):
        np.testing.assert_array_equal(np.asarray(got[i]), np.asarray(per_batch(*args)))
        np.testing.assert_allclose(np.asarray(grads[i]), np.asarray(grad_of(*args)), atol=1e-7)
        _close(grads[i], _loss_and_grad(optax.ctc_loss, args)[1], 0, 2 * ATOL32, "vmap gradient")
    # nested: two mapped axes in front of the batch
    nested = jax.vmap(
        jax.vmap(per_batch, in_axes=(0, None, None, None)), in_axes=(0, None, None, None)
    )
    stacked = np.stack([xs, 2 * xs])
    got = nested(stacked, pad0, lab0, lab_pad0)
    assert got.shape == (2, 3, B)
    np.testing.assert_array_equal(
        np.asarray(got[1, 2]), np.asarray(per_batch(2 * xs[2], pad0, lab0, lab_pad0))
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize(
    "alpha, gamma", [(0.3, 0.0), (None, 0.8), (0.6, 2.0)], ids=["alpha", "gamma", "both"]
)
def test_alpha_gamma_match_ctcc(dtype, alpha, gamma):
    """With alpha/gamma the gradient (under jit, a different upstream weight
    per sample) is ctcc.ctc_loss's modified gradient with the same alpha and
    gamma; the loss is the plain loss (optax's, to its float32 error)."""
    import ctcc

    x, pad, lab, lab_pad = _batch(seed=13, blank=K // 2, dtype=dtype)
    kw = dict(blank=K // 2, time_major=False, reduction="none")
    lengths = ((pad == 0).sum(1), (lab_pad == 0).sum(1))
    _, want = ctcc.ctc_loss(x, lab, *lengths, **kw, alpha=alpha, gamma=gamma)
    _, plain = ctcc.ctc_loss(x, lab, *lengths, **kw)
    assert np.abs(want - plain).max() > 1e-2  # the modifications change it
    want = want * _weights(B)[:, None, None]
    tol = 1e-10 if dtype == np.float64 else 1e-6
    with _x64() if dtype == np.float64 else contextlib.nullcontext():
        args = [jnp.asarray(a) for a in (x, pad, lab, lab_pad)]
        options = dict(blank_id=K // 2, alpha=alpha, gamma=gamma)
        loss, grad = _loss_and_grad(ctcc_jax.ctc_loss, args, **options)
        plain_loss = np.asarray(ctcc_jax.ctc_loss(*args, blank_id=K // 2))
        ref_loss, _ = _loss_and_grad(optax.ctc_loss, args, blank_id=K // 2)
        eager = jax.grad(lambda v: (ctcc_jax.ctc_loss(v, *args[1:], **options) * _weights(B)).sum())
        eager_grad = np.asarray(eager(args[0]))
    assert grad.dtype == dtype
    _close(grad, want, 0, tol, "gradient")
    _close(eager_grad, want, 0, tol, "gradient, not jitted")
    np.testing.assert_array_equal(loss, plain_loss)
    _close(loss, ref_loss, RTOL32, 0, "loss")


def test_alpha_under_vmap_is_one_call_per_instance():
    """alpha couples the samples of a call: under vmap each mapped instance
    gets the gradient of a call of its own."""
    batches = [_batch(seed=s, blank=0) for s in range(3)]
    stacked = [np.stack(a) for a in zip(*batches)]

    def grad_of(x, pad, lab, lab_pad):
        return jax.grad(lambda x: ctcc_jax.ctc_loss(x, pad, lab, lab_pad, alpha=0.5).sum())(x)

    grads = np.asarray(jax.jit(jax.vmap(grad_of))(*stacked))
    for i, args in enumerate(batches):
        np.testing.assert_allclose(grads[i], np.asarray(grad_of(*args)), atol=1e-7)
    whole = np.asarray(grad_of(*(a.reshape(-1, *a.shape[2:]) for a in stacked)))
    assert np.abs(whole - grads.reshape(whole.shape)).max() > 1e-3  # one call differs


def test_ragged_padding_is_skipped_like_optax():
    """Padded frames between valid ones are skipped: the loss is that of the
    valid frames alone, packed to the front."""
    x, pad, lab, lab_pad = _batch(seed=2, blank=0, ragged=True)
    assert any(np.any(np.diff(p) < 0) for p in pad)  # some sample has a gap
    packed = np.zeros_like(x)
    packed_pad = np.ones_like(pad)
    for n in range(B):
        valid = x[n][pad[n] == 0]
        packed[n, : len(valid)] = valid
        packed_pad[n, : len(valid)] = 0
    loss, grad = _loss_and_grad(ctcc_jax.ctc_loss, (x, pad, lab, lab_pad))
    loss_p, grad_p = _loss_and_grad(ctcc_jax.ctc_loss, (packed, packed_pad, lab, lab_pad))
    np.testing.assert_array_equal(loss, loss_p)
    for n in range(B):
        np.testing.assert_array_equal(grad[n][pad[n] == 0], grad_p[n][packed_pad[n] == 0])


def test_infeasible_sample_and_zero_infinity():
    """A sample with more labels than frames: optax returns about
    -log_epsilon; ctcc returns +inf (0 with zero_infinity) and a zero
    gradient, and the other samples are unaffected."""
    x, pad, lab, lab_pad = _batch(seed=4, blank=0)
    pad[0] = 1
    pad[0, :2] = 0  # two frames for three labels with a repeat
    loss, grad = _loss_and_grad(ctcc_jax.ctc_loss, (x, pad, lab, lab_pad))
    assert loss[0] == np.inf and np.all(grad[0] == 0)
    assert np.all(np.isfinite(loss[1:])) and np.all(np.isfinite(grad))
    ref_loss, ref_grad = _loss_and_grad(optax.ctc_loss, (x, pad, lab, lab_pad))
    assert ref_loss[0] > 0.9e5  # optax: about -log_epsilon per impossible step
    _close(loss[1:], ref_loss[1:], RTOL32, 0, "loss")
    _close(grad[1:], ref_grad[1:], 0, ATOL32, "gradient")
    loss_z, grad_z = _loss_and_grad(ctcc_jax.ctc_loss, (x, pad, lab, lab_pad), zero_infinity=True)
    assert loss_z[0] == 0 and np.all(grad_z[0] == 0)
    np.testing.assert_array_equal(loss_z[1:], loss[1:])
    np.testing.assert_array_equal(grad_z, grad)


def test_log_epsilon_is_accepted_and_ignored():
    args = _batch(seed=6, blank=0)
    base = np.asarray(ctcc_jax.ctc_loss(*args))
    for eps in (-1e5, -10.0, -np.inf, np.float32(-50), jnp.float32(-1e3), -7):
        np.testing.assert_array_equal(np.asarray(ctcc_jax.ctc_loss(*args, log_epsilon=eps)), base)
    # a traced log_epsilon (optax accepts arrays) is fine too
    f = jax.jit(lambda e: ctcc_jax.ctc_loss(*args, log_epsilon=e))
    np.testing.assert_array_equal(np.asarray(f(jnp.float32(-3.0))), base)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_computed_in_float32(dtype):
    x, pad, lab, lab_pad = _batch(seed=8, blank=0, scale=1.0)
    xh = jnp.asarray(x).astype(dtype)
    loss, grad = _loss_and_grad(ctcc_jax.ctc_loss, (xh, pad, lab, lab_pad))
    assert loss.dtype == xh.dtype and grad.dtype == xh.dtype
    x32 = np.asarray(xh.astype(jnp.float32))  # the rounded input, in float32
    ref_loss, ref_grad = _loss_and_grad(optax.ctc_loss, (x32, pad, lab, lab_pad))
    tol = 1e-2 if dtype == "bfloat16" else 2e-3
    _close(loss.astype(np.float32), ref_loss, tol, 0, "loss")
    _close(grad.astype(np.float32), ref_grad, 0, tol, "gradient")


def test_num_threads_and_log_softmax_input():
    args = _batch(seed=9, blank=0)
    base_loss, base_grad = _loss_and_grad(ctcc_jax.ctc_loss, args)
    for threads in (1, 2, 0, np.int64(3)):
        loss, grad = _loss_and_grad(ctcc_jax.ctc_loss, args, num_threads=threads)
        np.testing.assert_array_equal(loss, base_loss)
        np.testing.assert_array_equal(grad, base_grad)
    # log-probabilities (already log_softmax-ed) give the same loss and
    # gradient: the log_softmax inside leaves them unchanged
    logp = np.asarray(jax.nn.log_softmax(args[0]))
    loss, grad = _loss_and_grad(ctcc_jax.ctc_loss, (logp, *args[1:]))
    np.testing.assert_allclose(loss, base_loss, rtol=1e-6)
    np.testing.assert_allclose(grad, base_grad, atol=1e-6)


def test_edge_shapes():
    # an empty batch
    out = ctcc_jax.ctc_loss(np.zeros((0, 4, 3), np.float32), np.zeros((0, 4)),
                            np.zeros((0, 2), np.int32), np.zeros((0, 2)))  # fmt: skip
    assert out.shape == (0,)
    # no label positions at all, and every frame padded
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype(np.float32)
    loss = ctcc_jax.ctc_loss(x, np.array([[0, 0, 0, 0], [1, 1, 1, 1]]), np.zeros((2, 0), np.int32),
                             np.zeros((2, 0)))  # fmt: skip
    ref = optax.ctc_loss(x, np.array([[0, 0, 0, 0], [1, 1, 1, 1.0]]), np.zeros((2, 0), np.int32),
                         np.zeros((2, 0)))  # fmt: skip
    _close(loss, ref, RTOL32, 1e-6, "loss")
    assert float(loss[1]) == 0
    # bool paddings and int64 labels
    args = _batch(seed=1, blank=0)
    got = ctcc_jax.ctc_loss(args[0], args[1] == 1, args[2].astype(np.int64), args[3] == 1)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(ctcc_jax.ctc_loss(*args)))


def test_second_derivative_raises():
    x, pad, lab, lab_pad = _batch(seed=0, blank=0)

    def f(x):
        return ctcc_jax.ctc_loss(x, pad, lab, lab_pad).sum()

    with pytest.raises(Exception, match="(?i)jvp"):
        jax.grad(lambda x: jax.grad(f)(x).sum())(x)
    with pytest.raises(Exception, match="(?i)jvp|forward-mode"):
        jax.jacfwd(f)(x)


# --- errors -----------------------------------------------------------------


def _good():
    return list(_batch(seed=0, blank=0))


@pytest.mark.parametrize(
    "change, kw, error, match",
    [
        (lambda a: a.__setitem__(0, a[0][0]), {}, ValueError, r"logits must be a 3-D array"),
        (
            lambda a: a.__setitem__(0, a[0].astype(np.int32)),
            {},
            TypeError,
            r"logits must be floating",
        ),
        (
            lambda a: a.__setitem__(1, a[1][:, :-1]),
            {},
            ValueError,
            r"logit_paddings must have shape \[B, T\]",
        ),
        (lambda a: a.__setitem__(2, a[2][0]), {}, ValueError, r"labels must be a 2-D array"),
        (
            lambda a: a.__setitem__(2, a[2][:-1]),
            {},
            ValueError,
            r"labels has 4 rows for a batch of 5",
        ),
        (
            lambda a: a.__setitem__(2, a[2].astype(np.float32)),
            {},
            TypeError,
            r"labels must hold integers",
        ),
        (
            lambda a: a.__setitem__(3, a[3][:, :-1]),
            {},
            ValueError,
            r"label_paddings must have the shape of labels",
        ),
        (
            lambda a: a.__setitem__(3, np.full(a[3].shape, "x")),
            {},
            TypeError,
            r"label_paddings cannot be made into a JAX array",
        ),
        (lambda a: a.__setitem__(0, "logits"), {}, TypeError, r"logits must be an array"),
        (
            lambda a: a.__setitem__(0, np.ma.masked_array(a[0])),
            {},
            TypeError,
            r"logits is a numpy.ma.MaskedArray",
        ),
        (None, {"blank_id": K}, ValueError, r"blank_id must be in \[-6, 5\], got 6"),
        (None, {"blank_id": True}, TypeError, r"blank_id must be an integer, not a bool"),
        (None, {"blank_id": 1.0}, TypeError, r"blank_id must be an integer"),
        (None, {"num_threads": -1}, ValueError, r"num_threads must be in \[0, "),
        (None, {"num_threads": True}, TypeError, r"num_threads must be an integer, not a bool"),
        (None, {"zero_infinity": 1}, TypeError, r"zero_infinity must be a bool"),
        (None, {"log_epsilon": "small"}, TypeError, r"log_epsilon must be a real number"),
        (None, {"log_epsilon": True}, TypeError, r"log_epsilon must be a real number"),
        (None, {"log_epsilon": np.zeros(2)}, TypeError, r"log_epsilon must be a real scalar"),
        (None, {"alpha": 1.5}, ValueError, r"alpha must be None or in \[0, 1\], got 1.5"),
        (None, {"alpha": True}, TypeError, r"alpha must be None or a real number, got bool"),
        (None, {"gamma": -1.0}, ValueError, r"gamma must be a finite number >= 0, got -1.0"),
        (None, {"gamma": "1"}, TypeError, r"gamma must be a real number"),
        (None, {"gamma": jnp.float32(1.0)}, TypeError, r"gamma must be a real number"),
    ],
)
def test_argument_errors_at_call_time(change, kw, error, match):
    args = _good()
    if change is not None:
        change(args)
    with pytest.raises(error, match=r"^ctcc\.jax\.ctc_loss: " + match):
        ctcc_jax.ctc_loss(*args, **kw)
    if change is None:  # the same check when traced under jit
        with pytest.raises(error, match=match):
            jax.jit(lambda *a: ctcc_jax.ctc_loss(*a, **kw))(*args)


@pytest.mark.parametrize(
    "change, match",
    [
        (
            lambda a: a[1].__setitem__((2, 4), 0.5),
            r"logit_paddings\[2, 4\] = 0\.5: paddings must be 1",
        ),
        (lambda a: a[3].__setitem__((1, 1), np.nan), r"label_paddings\[1, 1\] = nan"),
        (
            lambda a: a[3].__setitem__((0, 1), 1),
            r"label_paddings\[0\] = \[0, 1, 0, 1, 1\]: the labels must be right-padded",
        ),
        (
            lambda a: a[2].__setitem__((0, 1), 0),
            r"labels: sample 0, position 1 holds 0, which is the blank",
        ),
        (
            lambda a: a[2].__setitem__((2, 4), K),
            r"labels: sample 2, position 4 holds 6, outside the alphabet",
        ),
    ],
)
def test_value_errors_when_computed(change, match):
    """Values are checked on the host: eagerly the error is raised as it
    is; under jit and grad it reaches the caller with its message, wrapped
    by JAX."""
    args = _good()
    change(args)
    with pytest.raises(ValueError, match=r"^ctcc\.jax\.ctc_loss: " + match):
        ctcc_jax.ctc_loss(*args)
    with pytest.raises((ValueError, RuntimeError), match=r"ctcc\.jax\.ctc_loss: " + match):
        jax.block_until_ready(jax.jit(ctcc_jax.ctc_loss)(*args))
    with pytest.raises((ValueError, RuntimeError), match=match):
        jax.block_until_ready(jax.grad(lambda x: ctcc_jax.ctc_loss(x, *args[1:]).sum())(args[0]))


# --- sharding -----------------------------------------------------------------

_SHARDED = textwrap.dedent(
    """
    import sys

    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

    import ctcc.jax

    assert jax.device_count() == 2, jax.devices()
    data = np.load(sys.argv[1])
    args = [data[k] for k in ("x", "pad", "lab", "lab_pad")]
    blank = int(data["blank"])
    mesh = Mesh(np.array(jax.devices()), ("batch",))
    batch = NamedSharding(mesh, P("batch"))

    def per_sample(x, pad, lab, lab_pad):
        return ctcc.jax.ctc_loss(x, pad, lab, lab_pad, blank_id=blank)

    def step(loss_fn):
        return jax.jit(jax.value_and_grad(lambda x, *rest: loss_fn(x, *rest).mean()))

    out = {}
    one = [jax.device_put(a, jax.devices()[0]) for a in args]
    out["loss_one"] = per_sample(*one)
    out["mean_one"], out["grad_one"] = step(per_sample)(*one)

    sharded = [jax.device_put(a, batch) for a in args]
    assert len(sharded[0].sharding.device_set) == 2
    out["loss_jit"] = jax.jit(per_sample)(*sharded)
    out["mean_jit"], g = step(per_sample)(*sharded)
    out["grad_jit"] = g

    # each device computing its own shard
    mapped = jax.shard_map(per_sample, mesh=mesh, in_specs=P("batch"), out_specs=P("batch"))
    loss_map = jax.jit(mapped)(*sharded)
    assert loss_map.sharding.spec == P("batch"), loss_map.sharding
    out["loss_map"] = loss_map
    out["mean_map"], out["grad_map"] = step(mapped)(*sharded)

    # a psum inside shard_map: the loss must be typed as varying per device
    # for its gradient to be transposed correctly
    def total(x, *rest):
        return jax.lax.psum(per_sample(x, *rest).sum(), "batch") / x.shape[0] / 2

    summed = jax.shard_map(total, mesh=mesh, in_specs=P("batch"), out_specs=P())
    out["mean_psum"], out["grad_psum"] = jax.jit(jax.value_and_grad(summed))(*sharded)
    np.savez(sys.argv[2], **{k: np.asarray(v) for k, v in out.items()})
    """
)


@pytest.mark.parametrize("blank", [0, K // 2])
def test_sharded_over_two_host_devices(tmp_path, blank):
    """A batch sharded over two CPU devices (jit with NamedSharding, and
    shard_map) gives the loss and gradient of one device."""
    if not hasattr(jax, "shard_map"):
        pytest.skip("this JAX has no jax.shard_map (a newer JAX has)")
    x, pad, lab, lab_pad = _batch(seed=20 + blank, blank=blank, ragged=True)
    x, pad, lab, lab_pad = (np.concatenate([a, a[::-1]]) for a in (x, pad, lab, lab_pad))  # B = 10
    np.savez(tmp_path / "in.npz", x=x, pad=pad, lab=lab, lab_pad=lab_pad, blank=blank)
    script = tmp_path / "sharded.py"
    script.write_text(_SHARDED)
    env = dict(os.environ)
    env["XLA_FLAGS"] = env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
    env["JAX_PLATFORMS"] = "cpu"
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "in.npz"), str(tmp_path / "out.npz")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = np.load(tmp_path / "out.npz")
    for how in ("jit", "map", "psum"):
        if how != "psum":
            np.testing.assert_array_equal(out[f"loss_{how}"], out["loss_one"])
        np.testing.assert_allclose(out[f"mean_{how}"], out["mean_one"], rtol=1e-7)
        np.testing.assert_allclose(out[f"grad_{how}"], out["grad_one"], rtol=1e-6, atol=1e-9)
    # and one device agrees with optax
    ref_loss, ref_grad = _loss_and_grad(optax.ctc_loss, (x, pad, lab, lab_pad), blank_id=blank)
    _close(out["loss_one"], ref_loss, RTOL32, 0, "loss")
    _close(
        out["grad_one"] * 2 * B, ref_grad / _weights(2 * B)[:, None, None], 0, ATOL32, "gradient"
    )
