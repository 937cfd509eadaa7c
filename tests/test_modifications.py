"""The two training modifications of Li and Wang, "Reinterpreting CTC
training as iterative fitting" (eq. 13-18): the non-blank proportion alpha
and the key-frame exponent gamma, checked against an independent float64
NumPy reference written from the specification (include/ctcc.h, "Training
modifications"), not from the C code.

Reference semantics, over the feasible samples (finite loss) of one call:

* y = softmax(logits) (exp(input) for log-probabilities), y' = CTC
  posteriors (a vectorised log-space forward-backward below, itself checked
  against brute-force path enumeration).
* alpha: V_k = sum of y'[t, k] over the valid frames of all feasible
  samples, N_k = occurrences of label k in their labels; y'[t, blank] is
  scaled by (1 - alpha) * sum(N) / V_blank, y'[t, k] by alpha * N_k / V_k
  (0 when V_k = 0), every frame is renormalised to sum 1, a frame whose
  scaled sum is 0 keeps y'.  => targets y''.
* gamma: w_t = max(0, max_k (y''[t, k] - y[t, k])); weight_t = w_t**gamma /
  mean over the sample's valid frames of w**gamma (0 when all are 0); gamma
  = 0 gives weight 1 (0**0 = 1).
* grad = weight_t * (y - y'') (logits) or -weight_t * y'' (log_probs).
  Frames past a sample's length and infeasible samples: 0 everywhere.

The calls to ctcc go through ``_impl_loss`` / ``_impl_posteriors`` only, so
that the invariant tests can also be run against the reference itself (they
must pass) and against deliberately broken variants (they must fail).
"""

import numpy as np
import pytest
from reference import brute_force, forward_backward, log_softmax, min_frames

ctcc = pytest.importorskip("ctcc")
if not hasattr(ctcc, "ctc_posteriors"):  # pragma: no cover - older builds
    pytest.skip("ctcc built without ctc_posteriors / alpha / gamma", allow_module_level=True)

ALPHAS = [None, 0.0, 0.3, 0.5, 0.9, 1.0]
GAMMAS = [0.0, 0.5, 1.0, 2.0]
TOL = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=1e-5, atol=1e-5)}


# --- independent reference -------------------------------------------------


def ref_log_occupancy(logp, labels, blank):
    """Log-space forward-backward for one sample, vectorised over the states
    of the blank-extended label sequence. logp [L, C] float64 (used as
    given). Returns (log p(labels), log state posteriors [L, S], the class
    of each state [S]); log p = -inf when no path emits the labels."""
    L, C = logp.shape
    ext = np.full(2 * len(labels) + 1, blank, dtype=np.int64)
    ext[1::2] = labels
    S = len(ext)
    if L == 0:
        return (0.0 if S == 1 else -np.inf), np.zeros((0, S)), ext
    skip = np.zeros(S, dtype=bool)
    skip[2:] = (ext[2:] != blank) & (ext[2:] != ext[:-2])
    em = logp[:, ext]  # [L, S]
    with np.errstate(divide="ignore", invalid="ignore"):
        fwd = np.full((L, S), -np.inf)
        fwd[0, :2] = em[0, :2]
        for t in range(1, L):
            prev = fwd[t - 1]
            acc = prev.copy()
            acc[1:] = np.logaddexp(acc[1:], prev[:-1])
            acc[2:] = np.where(skip[2:], np.logaddexp(acc[2:], prev[:-2]), acc[2:])
            fwd[t] = acc + em[t]
        # bwd[t, s]: log prob of frames t+1.. given state s at frame t
        bwd = np.full((L, S), -np.inf)
        bwd[L - 1, S - 2 if S > 1 else 0 :] = 0.0
        for t in range(L - 2, -1, -1):
            nxt = bwd[t + 1] + em[t + 1]
            acc = nxt.copy()
            acc[:-1] = np.logaddexp(acc[:-1], nxt[1:])
            acc[:-2] = np.where(skip[2:], np.logaddexp(acc[:-2], nxt[2:]), acc[:-2])
            bwd[t] = acc
        log_p = np.logaddexp.reduce(fwd[L - 1, max(S - 2, 0) :])
        return log_p, fwd + bwd - log_p, ext


def ref_posteriors_one(logp, labels, blank):
    """Returns (log p(labels), posteriors [L, C]); (-inf, zeros) when no
    path emits the labels."""
    L, C = logp.shape
    log_p, log_occ, ext = ref_log_occupancy(logp, labels, blank)
    post = np.zeros((L, C))
    if L == 0 or not np.isfinite(log_p):
        return log_p, post
    onehot = np.zeros((len(ext), C))
    onehot[np.arange(len(ext)), ext] = 1.0
    with np.errstate(under="ignore"):
        return log_p, np.exp(log_occ) @ onehot


def ref_modified(x, labels, lengths=None, *, blank=0, time_major=True, log_probs=False,
                 alpha=None, gamma=0.0):  # fmt: skip
    """The reference for one call. Returns float64 (loss [N], targets,
    weights, grad) with ctcc's layouts (weights [T, N] or [N, T])."""
    x = np.asarray(x, dtype=np.float64)
    if not time_major:
        x = x.transpose(1, 0, 2)
    T, N, C = x.shape
    blank = blank % C
    lengths = [T] * N if lengths is None else [int(v) for v in lengths]
    logp = x if log_probs else log_softmax(x)
    with np.errstate(under="ignore"):
        y = np.exp(logp)
    loss = np.full(N, np.inf)
    post = np.zeros((T, N, C))
    valid = np.zeros((T, N), dtype=bool)  # valid frames of feasible samples
    for n in range(N):
        log_p, post[: lengths[n], n] = ref_posteriors_one(
            logp[: lengths[n], n], list(labels[n]), blank
        )
        loss[n] = -log_p
        if np.isfinite(log_p):
            valid[: lengths[n], n] = True
    post[~valid] = 0.0

    targets = post
    if alpha is not None:
        feasible = np.isfinite(loss)
        V = post.sum(axis=(0, 1))
        counts = np.zeros(C)
        for n in range(N):
            if feasible[n]:
                np.add.at(counts, np.asarray(labels[n], dtype=np.int64), 1.0)
        scale = np.zeros(C)
        for k in range(C):
            if V[k] > 0:
                share = (1.0 - alpha) * counts.sum() if k == blank else alpha * counts[k]
                scale[k] = share / V[k]
        scaled = post * scale
        total = scaled.sum(axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            targets = np.where(total > 0, scaled / total, post)

    weights = np.zeros((T, N))
    w = np.maximum(0.0, np.max(targets - y, axis=-1))  # [T, N]
    for n in range(N):
        v = valid[:, n]
        if not v.any():
            continue
        wg = np.ones(v.sum()) if gamma == 0 else w[v, n] ** gamma
        m = wg.mean()
        weights[v, n] = wg / m if m > 0 else 0.0
    if log_probs:
        grad = -weights[..., None] * targets
    else:
        grad = weights[..., None] * (y - targets)
    grad[~valid] = 0.0
    if not time_major:
        targets, weights, grad = (a.swapaxes(0, 1) for a in (targets, weights, grad))
    return loss, targets, weights, grad


# --- the implementation under test ---------------------------------------


def _impl_loss(x, labels, lengths=None, **kw):
    loss, grad = ctcc.ctc_loss(x, labels, lengths, **kw)
    return np.asarray(loss), np.asarray(grad)


def _impl_posteriors(x, labels, lengths=None, **kw):
    targets, weights = ctcc.ctc_posteriors(x, labels, lengths, return_weights=True, **kw)
    return np.asarray(targets), np.asarray(weights)


# --- inputs -----------------------------------------------------------------


def make_batch(seed, T=10, N=4, C=5, blank=0, scale=1.5, log_probs=False, dtype=np.float64):
    """Random time-major inputs, labels (with a repeat, an empty sequence and
    classes that never occur) and lengths; every sample feasible."""
    rng = np.random.default_rng(seed)
    b = blank % C
    others = [c for c in range(C) if c != b]
    lengths = rng.integers(max(T // 2, 1), T + 1, size=N)
    lengths[0] = T
    labels = []
    for n in range(N):
        if n == 1 and C > 2:
            lab = [others[0], others[0], others[1]]
        elif n == 2:
            lab = []
        else:
            while True:
                k = int(rng.integers(1, 5))
                lab = [others[i] for i in rng.integers(0, min(len(others), 3), size=k)]
                if min_frames(lab) <= lengths[n]:
                    break
        lab = lab if min_frames(lab) <= lengths[n] else []
        labels.append(lab)
    x = rng.normal(scale=scale, size=(T, N, C))
    if log_probs:
        x = log_softmax(x)
    return x.astype(dtype), labels, lengths


def _layout(x, time_major):
    return x if time_major else np.ascontiguousarray(x.transpose(1, 0, 2))


# --- the reference checks itself ---------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_reference_posteriors_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    C = 3 + seed % 2
    for blank in (0, C - 1):
        others = [c for c in range(C) if c != blank]
        for L in range(0, 6):
            for lab in ([], [others[0]], [others[0], others[0]], [others[1], others[0]]):
                logp = log_softmax(rng.normal(size=(L, C)) * 2)
                log_p, post = ref_posteriors_one(logp, lab, blank)
                if L == 0:
                    assert log_p == (0.0 if not lab else -np.inf)
                    continue
                bf_loss, bf_post = brute_force(logp, lab, blank)
                fb_loss, fb_post = forward_backward(logp, lab, blank)
                assert np.isclose(-log_p, bf_loss) or (np.isinf(log_p) and np.isinf(bf_loss))
                np.testing.assert_allclose(post, bf_post, atol=1e-12)
                np.testing.assert_allclose(post, fb_post, atol=1e-12)


# --- agreement with the reference ------------------------------------------

CASES = [
    # seed, T, N, C, blank
    (0, 10, 4, 5, 0),
    (1, 13, 3, 6, -1),
    (2, 8, 5, 4, 2),
    (3, 1, 3, 3, 0),
]


def _check(ctcc_out, ref_out, dtype, what):
    tol = TOL[dtype]
    assert ctcc_out.dtype == dtype, what
    assert np.isfinite(ctcc_out).all(), what
    np.testing.assert_allclose(ctcc_out, ref_out, err_msg=what, **tol)


@pytest.mark.parametrize("case", CASES, ids=lambda c: "T{1}N{2}C{3}b{4}s{0}".format(*c))
@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("gamma", GAMMAS)
def test_against_reference_float64(case, alpha, gamma):
    seed, T, N, C, blank = case
    x, labels, lengths = make_batch(seed, T, N, C, blank)
    kw = dict(blank=blank, alpha=alpha, gamma=gamma)
    loss, targets, weights, grad = ref_modified(x, labels, lengths, **kw)
    lc, gc = _impl_loss(x, labels, lengths, **kw)
    tc, wc = _impl_posteriors(x, labels, lengths, **kw)
    _check(lc, loss, np.float64, "loss")
    _check(gc, grad, np.float64, "grad")
    _check(tc, targets, np.float64, "targets")
    _check(wc, weights, np.float64, "weights")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("time_major", [True, False])
@pytest.mark.parametrize("log_probs", [False, True])
@pytest.mark.parametrize("alpha,gamma", [(None, 1.0), (0.5, 0.0), (0.5, 1.0), (0.9, 2.0)])
@pytest.mark.parametrize("seed", [11, 12])
def test_against_reference_layouts_dtypes(dtype, time_major, log_probs, alpha, gamma, seed):
    blank = [0, -1][seed % 2]
    x, labels, lengths = make_batch(seed, T=12, N=5, C=6, blank=blank, log_probs=log_probs)
    x = _layout(x.astype(dtype), time_major)
    kw = dict(blank=blank, alpha=alpha, gamma=gamma, log_probs=log_probs, time_major=time_major)
    loss, targets, weights, grad = ref_modified(x, labels, lengths, **kw)
    lc, gc = _impl_loss(x, labels, lengths, **kw)
    tc, wc = _impl_posteriors(x, labels, lengths, **kw)
    assert gc.shape == tc.shape == x.shape
    assert wc.shape == (x.shape[0], x.shape[1])
    _check(gc, grad, dtype, "grad")
    _check(tc, targets, dtype, "targets")
    _check(wc, weights, dtype, "weights")
    np.testing.assert_allclose(lc, loss, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("C", [12, 37])
@pytest.mark.parametrize("seed", range(4))
def test_against_reference_larger(seed, C, dtype):
    """Longer sequences, larger alphabets (37: not a multiple of any SIMD
    width), lengths well below T, two threads."""
    rng = np.random.default_rng(100 + seed)
    T, N = 40, 6
    lengths = rng.integers(15, T + 1, size=N)
    labels = [list(rng.integers(1, C, size=int(rng.integers(0, 8)))) for _ in range(N)]
    x = rng.normal(scale=3.0, size=(T, N, C)).astype(dtype)
    alpha, gamma = [(0.5, 1.0), (0.3, 0.5), (None, 2.0), (0.8, 0.0)][seed]
    kw = dict(alpha=alpha, gamma=gamma)
    loss, targets, weights, grad = ref_modified(x, labels, lengths, **kw)
    lc, gc = _impl_loss(x, labels, lengths, num_threads=2, **kw)
    tc, wc = _impl_posteriors(x, labels, lengths, num_threads=2, **kw)
    _check(gc, grad, dtype, "grad")
    _check(tc, targets, dtype, "targets")
    _check(wc, weights, dtype, "weights")


# --- invariants ---------------------------------------------------------------


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("gamma", [0.0, 1.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_targets_are_distributions(alpha, gamma, dtype):
    x, labels, lengths = make_batch(5, T=12, N=5, C=6, dtype=dtype)
    targets, weights = _impl_posteriors(x, labels, lengths, alpha=alpha, gamma=gamma)
    valid = np.arange(x.shape[0])[:, None] < lengths[None, :]
    tol = 1e-12 if dtype == np.float64 else 1e-5
    assert (targets >= 0).all() and (weights >= 0).all()
    np.testing.assert_allclose(targets.sum(axis=-1)[valid], 1.0, atol=tol)
    assert (targets[~valid] == 0).all()
    assert (weights[~valid] == 0).all()
    # weights average to 1 over the valid frames of each sample
    for n in range(x.shape[1]):
        assert np.isclose(weights[: lengths[n], n].mean(), 1.0, atol=tol)
    if gamma == 0:
        assert (weights[valid] == 1.0).all()


def _nonblank_share(targets, blank=0):
    return 1.0 - targets[..., blank].sum() / targets.sum()


@pytest.mark.parametrize("seed", range(5))
def test_nonblank_share_is_close_to_alpha(seed):
    """Eq. 15 puts exactly alpha of the scaled mass on labels (checked on the
    reference above), but eq. 16 then renormalises every frame by its own
    sum, so the share of non-blank target mass over the valid frames of the
    batch is only close to alpha (the paper says as much after eq. 16): it
    is biased from alpha towards the share of the plain posteriors (about
    0.6 here), more so on peaky outputs. On these inputs (random logits of
    scale 1, 30 frames, 5-11 labels per sample) the reference deviates by at
    most 0.12 over 40 seeds, hence the tolerance 0.15. The share must also
    grow with alpha, and for alpha = 0.1 and 0.9 be much closer to alpha
    than the plain share is."""
    rng = np.random.default_rng(200 + seed)
    T, N, C = 30, 6, 8
    labels = [list(rng.integers(1, C, size=int(rng.integers(5, 12)))) for _ in range(N)]
    x = rng.normal(size=(T, N, C))
    plain = _nonblank_share(_impl_posteriors(x, labels)[0])
    shares = []
    for alpha in (0.1, 0.3, 0.5, 0.7, 0.9):
        share = _nonblank_share(_impl_posteriors(x, labels, alpha=alpha)[0])
        assert abs(share - alpha) < 0.15, (alpha, share)
        if alpha in (0.1, 0.9):
            assert abs(share - alpha) < 0.5 * abs(plain - alpha), (alpha, share, plain)
        shares.append(share)
    assert np.all(np.diff(shares) > 0.1), shares


@pytest.mark.parametrize("alpha", [0.2, 0.5, 0.8])
def test_scaling_ratios_are_batch_wide(alpha):
    """Eq. 15-16 scale class k by s_k and then divide each frame by its own
    sum, so within any frame the ratio (y''_k / y'_k) / (y''_blank /
    y'_blank) is s_k / s_blank = alpha N_k V_blank / ((1 - alpha) sum(N)
    V_k), the same for every frame of every sample, with V computed from
    the plain posteriors of the whole batch. Needs no reference."""
    x, labels, lengths = make_batch(21, T=14, N=5, C=6)
    plain, _ = _impl_posteriors(x, labels, lengths)
    mod, _ = _impl_posteriors(x, labels, lengths, alpha=alpha)
    V = plain.sum(axis=(0, 1))
    counts = np.bincount(np.concatenate([np.asarray(lab, int) for lab in labels]), minlength=6)
    for k in range(1, 6):
        ok = (plain[..., k] > 1e-6) & (plain[..., 0] > 1e-6)
        if counts[k] == 0:
            assert (mod[..., k] == 0).all()
            continue
        assert ok.sum() >= 5
        ratio = (mod[..., k][ok] / plain[..., k][ok]) / (mod[..., 0][ok] / plain[..., 0][ok])
        expected = alpha * counts[k] * V[0] / ((1 - alpha) * counts.sum() * V[k])
        np.testing.assert_allclose(ratio, expected, rtol=1e-9)


def test_alpha_extremes():
    """alpha = 1 removes the blank from every frame that has any label
    posterior; alpha = 0 removes the labels from every frame that has any
    blank posterior. Other frames keep their unscaled posteriors."""
    x, labels, lengths = make_batch(7, T=12, N=5, C=6)
    post, _ = _impl_posteriors(x, labels, lengths)
    valid = np.arange(12)[:, None] < lengths[None, :]
    t1, _ = _impl_posteriors(x, labels, lengths, alpha=1.0)
    has_label = (np.delete(post, 0, axis=-1) > 0).any(axis=-1) & valid
    assert (t1[..., 0][has_label] == 0).all()
    # Equal up to rounding: the alpha pass reads the log-space kernel's
    # posteriors, while the plain call may take the scaled kernel.
    np.testing.assert_allclose(t1[~has_label], post[~has_label], rtol=0, atol=1e-15)
    t0, _ = _impl_posteriors(x, labels, lengths, alpha=0.0)
    has_blank = (post[..., 0] > 0) & valid
    np.testing.assert_allclose(t0[..., 0][has_blank], 1.0, atol=1e-15)
    np.testing.assert_allclose(t0[~has_blank], post[~has_blank], rtol=0, atol=1e-15)


@pytest.mark.parametrize("log_probs", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_defaults_are_plain_ctc_bitwise(log_probs, dtype):
    x, labels, lengths = make_batch(8, T=11, N=4, C=5, log_probs=log_probs, dtype=dtype)
    kw = dict(log_probs=log_probs)
    plain_loss, plain_grad = _impl_loss(x, labels, lengths, **kw)
    loss, grad = _impl_loss(x, labels, lengths, alpha=None, gamma=0.0, **kw)
    np.testing.assert_array_equal(grad, plain_grad)
    np.testing.assert_array_equal(loss, plain_loss)
    loss, grad = _impl_loss(x, labels, lengths, alpha=None, gamma=0, **kw)
    np.testing.assert_array_equal(grad, plain_grad)
    # the posteriors are the plain targets: softmax - grad (or -grad)
    targets, weights = _impl_posteriors(x, labels, lengths, **kw)
    y = np.exp(x.astype(np.float64)) if log_probs else np.exp(log_softmax(x))
    valid = np.arange(x.shape[0])[:, None] < lengths[None, :]
    implied = -plain_grad if log_probs else np.where(valid[..., None], y - plain_grad, 0.0)
    np.testing.assert_allclose(targets, implied, atol=1e-12 if dtype == np.float64 else 1e-5)
    assert (weights == valid).all()


@pytest.mark.parametrize("alpha,gamma", [(0.5, 0.0), (None, 1.0), (0.3, 2.0), (1.0, 0.5)])
def test_loss_value_unchanged(alpha, gamma):
    x, labels, lengths = make_batch(9, T=12, N=5, C=6)
    plain, _ = _impl_loss(x, labels, lengths)
    loss, _ = _impl_loss(x, labels, lengths, alpha=alpha, gamma=gamma)
    np.testing.assert_array_equal(loss, plain)
    for reduction in ("mean", "sum"):
        p, pg = ctcc.ctc_loss(x, labels, lengths, reduction=reduction)
        m, mg = ctcc.ctc_loss(x, labels, lengths, reduction=reduction, alpha=alpha, gamma=gamma)
        assert m == p
    lonly, none = ctcc.ctc_loss(x, labels, lengths, grad=False, alpha=alpha, gamma=gamma)
    assert none is None
    np.testing.assert_array_equal(lonly, plain)


def test_reduction_scales_modified_gradient():
    x, labels, lengths = make_batch(10, T=12, N=5, C=6)
    kw = dict(alpha=0.5, gamma=1.0)
    _, g = _impl_loss(x, labels, lengths, **kw)
    _, gs = ctcc.ctc_loss(x, labels, lengths, reduction="sum", **kw)
    np.testing.assert_allclose(gs, g, rtol=1e-14, atol=0)
    _, gm = ctcc.ctc_loss(x, labels, lengths, reduction="mean", **kw)
    per = 1.0 / (len(labels) * np.maximum([len(lab) for lab in labels], 1))
    np.testing.assert_allclose(gm, g * per[None, :, None], rtol=1e-14, atol=1e-300)


def test_alpha_couples_the_batch():
    """alpha is batch-wide: sample 0's gradient depends on sample 1's inputs
    and labels, and differs from the gradient of sample 0 alone."""
    x, labels, lengths = make_batch(13, T=12, N=3, C=6)
    _, g = _impl_loss(x, labels, lengths, alpha=0.5)
    x2 = x.copy()
    x2[:, 1] = np.random.default_rng(99).normal(scale=3.0, size=x2[:, 1].shape)
    _, g2 = _impl_loss(x2, labels, lengths, alpha=0.5)
    assert np.abs(g2[:, 0] - g[:, 0]).max() > 1e-3
    labels3 = [labels[0], [5, 4, 5, 4], labels[2]]
    _, g3 = _impl_loss(x, labels3, lengths, alpha=0.5)
    assert np.abs(g3[:, 0] - g[:, 0]).max() > 1e-3
    _, alone = _impl_loss(x[:, :1], labels[:1], lengths[:1], alpha=0.5)
    assert np.abs(alone[:, 0] - g[:, 0]).max() > 1e-3


@pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0])
def test_gamma_alone_does_not_couple_samples(gamma):
    x, labels, lengths = make_batch(14, T=12, N=3, C=6)
    _, g = _impl_loss(x, labels, lengths, gamma=gamma)
    x2 = x.copy()
    x2[:, 1] = np.random.default_rng(98).normal(scale=3.0, size=x2[:, 1].shape)
    labels2 = [labels[0], [5, 4, 5], labels[2]]
    _, g2 = _impl_loss(x2, labels2, lengths, gamma=gamma)
    assert np.abs(g2[:, 1] - g[:, 1]).max() > 1e-3  # sample 1 did change
    np.testing.assert_array_equal(g2[:, 0], g[:, 0])
    np.testing.assert_array_equal(g2[:, 2], g[:, 2])
    _, alone = _impl_loss(x[:, :1], labels[:1], lengths[:1], gamma=gamma)
    np.testing.assert_array_equal(alone[:, 0], g[:, 0])


@pytest.mark.parametrize("num_threads", [1, 2, 3])
def test_threads_agree(num_threads):
    x, labels, lengths = make_batch(15, T=20, N=7, C=6)
    kw = dict(alpha=0.4, gamma=1.0)
    _, g1 = _impl_loss(x, labels, lengths, num_threads=1, **kw)
    _, g = _impl_loss(x, labels, lengths, num_threads=num_threads, **kw)
    np.testing.assert_allclose(g, g1, rtol=1e-13, atol=1e-15)


# --- underflow: exact targets and weights, computed in log space ---------------
#
# Where a posterior or a class sum is below the smallest double (or float),
# the linear reference above sees 0 where the exact value is positive. These
# references evaluate the same equations with every quantity kept as a
# logarithm, so they are exact for any finite input.


def _log_sum(a, axis):
    """log(sum(exp(a))) along axis, -inf for an empty or all -inf slice."""
    m = np.max(a, axis=axis, keepdims=True) if a.shape[axis] else None
    if m is None:
        return np.full(np.delete(a.shape, axis), -np.inf)
    m_safe = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore", under="ignore"):
        out = np.log(np.sum(np.exp(a - m_safe), axis=axis, keepdims=True)) + m_safe
    return np.squeeze(out, axis=axis)


def ref_log_targets(x, labels, lengths=None, *, blank=0, log_probs=False, alpha=None):
    """Eq. 13-16 in log space, time-major. Returns (log posteriors of every
    class [T, N, C] (-inf past a sample's length and for infeasible
    samples), targets [T, N, C] in float64)."""
    x = np.asarray(x, dtype=np.float64)
    T, N, C = x.shape
    blank = blank % C
    lengths = [T] * N if lengths is None else [int(v) for v in lengths]
    logp = x if log_probs else log_softmax(x)
    lpost = np.full((T, N, C), -np.inf)
    counts = np.zeros(C)
    for n in range(N):
        Tn = lengths[n]
        log_p, log_occ, ext = ref_log_occupancy(logp[:Tn, n], list(labels[n]), blank)
        if not np.isfinite(log_p):
            continue
        np.add.at(counts, np.asarray(labels[n], dtype=np.int64), 1.0)
        for c in np.unique(ext):
            lpost[:Tn, n, c] = _log_sum(log_occ[:, ext == c], axis=1)
    with np.errstate(under="ignore"):
        plain = np.exp(lpost)
    if alpha is None:
        return lpost, plain
    log_v = _log_sum(lpost.reshape(T * N, C), axis=0)
    with np.errstate(divide="ignore"):
        log_num = np.log(alpha) + np.log(counts)
        log_num[blank] = np.log((1.0 - alpha) * counts.sum())
    usable = np.isfinite(log_v) & np.isfinite(log_num)
    log_scale = np.where(usable, log_num - np.where(usable, log_v, 0.0), -np.inf)
    e = lpost + log_scale
    top = np.max(e, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", under="ignore"):
        rel = np.exp(e - np.where(np.isfinite(top), top, 0.0))
        targets = np.where(np.isfinite(top), rel / rel.sum(axis=-1, keepdims=True), plain)
    return lpost, targets


def _spike_batch(dtype, suppressed, margin):
    """The issue's reproducer: 12 frames, 3 classes, label [1]; class
    `suppressed` has logit 10 on the first and last four frames and -margin
    on the middle four, the other classes 0. Its posterior on frames 4..7
    is then near or below the smallest double (float)."""
    x = np.zeros((12, 1, 3))
    x[:, 0, suppressed] = -margin
    x[:4, 0, suppressed] = x[-4:, 0, suppressed] = 10.0
    return x.astype(dtype), [[1]]


SPIKES = [
    # dtype, suppressed class, margin, alpha
    (np.float64, 1, 707.71, 1.0),  # the case: label posterior subnormal
    (np.float64, 1, 800.0, 1.0),  # label posterior below the smallest double
    (np.float64, 0, 707.8, 0.0),  # blank posterior subnormal
    (np.float64, 0, 707.2, 0.0),
    (np.float64, 0, 800.0, 0.0),
    (np.float32, 1, 100.0, 1.0),  # below the smallest float
    (np.float32, 0, 100.0, 0.0),
    (np.float32, 1, 90.0, 1.0),  # float subnormal
    (np.float32, 1, 800.0, 1.0),
]


@pytest.mark.parametrize("dtype,suppressed,margin,alpha", SPIKES)
def test_alpha_extremes_with_underflowed_posteriors(dtype, suppressed, margin, alpha):
    """alpha = 1 gives the label class all the target mass of every frame
    where its posterior is positive (here: every frame, since every logit is
    finite), however small that posterior; alpha = 0 the same for the blank.
    Formerly a subnormal scaled sum made 1/sum infinite (NaN targets), and a
    posterior that rounded to 0 kept the unscaled, opposite target."""
    x, labels = _spike_batch(dtype, suppressed, margin)
    _, want = ref_log_targets(x, labels, alpha=alpha)
    keep = 0 if alpha == 0.0 else 1
    np.testing.assert_array_equal(want[..., keep], 1.0)  # the reference itself
    targets, weights = _impl_posteriors(x, labels, alpha=alpha)
    loss, grad = _impl_loss(x, labels, alpha=alpha)
    assert np.isfinite(targets).all() and np.isfinite(grad).all() and np.isfinite(loss).all()
    _check(targets, want, dtype, "targets")
    y = np.exp(log_softmax(x))
    _check(grad, y - want, dtype, "grad")
    # the same frames through gamma: finite, and the weights average 1
    t2, w2 = _impl_posteriors(x, labels, alpha=alpha, gamma=2.0)
    _, g2 = _impl_loss(x, labels, alpha=alpha, gamma=2.0)
    assert np.isfinite(w2).all() and np.isfinite(g2).all()
    np.testing.assert_allclose(w2.mean(), 1.0, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("margin", [650.0, 800.0, 2000.0])
@pytest.mark.parametrize("alpha", [0.5, 0.9])
def test_alpha_blank_mass_below_the_smallest_double(dtype, margin, alpha):
    """The blank's logit is -margin on every frame, so its class sum V_blank
    (eq. 15) is about exp(-margin): below the smallest double for margins
    past 745, yet exactly positive, and eq. 15 scales the blank by (1 -
    alpha) sum(N) / V_blank. The exact targets give the blank a share of
    the same order whether or not V_blank underflows; they used to drop to
    0 past the underflow."""
    rng = np.random.default_rng(31)
    T, N, C = 9, 2, 4
    x = rng.normal(size=(T, N, C))
    x[..., 0] = -margin
    labels = [[1, 2], [3]]
    x = x.astype(dtype)
    _, want = ref_log_targets(x, labels, alpha=alpha)
    assert want[..., 0].max() > 0.05  # the blank does get a share
    targets, _ = _impl_posteriors(x, labels, alpha=alpha)
    _check(targets, want, dtype, "targets")
    _, grad = _impl_loss(x, labels, alpha=alpha)
    _check(grad, np.exp(log_softmax(x)) - want, dtype, "grad")


ALPHAS_FULL = [0.0, 5e-324, 1e-300, 1e-9, 0.3, 0.5, 1 - 1e-12, 1 - 2**-53, 1.0]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scale", [30.0, 300.0, 3000.0])
@pytest.mark.parametrize("seed", range(3))
def test_alpha_any_value_any_scale_is_exact(dtype, scale, seed):
    """Random logits of scale up to 3000 (posteriors far below the smallest
    double), alpha over the whole of [0, 1] including its subnormal and
    last-ulp ends, with and without gamma: targets are finite
    distributions equal to the log-space reference, gradients finite."""
    rng = np.random.default_rng(40 + seed)
    T, N, C = 14, 4, 5
    x = (rng.normal(size=(T, N, C)) * scale).astype(dtype)
    labels = [[1, 2, 2], [3], [], [4, 1, 4, 3]]
    lengths = [14, 9, 5, 12]
    valid = np.arange(T)[:, None] < np.array(lengths)[None, :]
    for alpha in ALPHAS_FULL:
        _, want = ref_log_targets(x, labels, lengths, alpha=alpha)
        for gamma in (0.0, 3.0):
            targets, weights = _impl_posteriors(x, labels, lengths, alpha=alpha, gamma=gamma)
            _, grad = _impl_loss(x, labels, lengths, alpha=alpha, gamma=gamma)
            what = f"alpha={alpha!r}, gamma={gamma}"
            assert np.isfinite(targets).all() and np.isfinite(weights).all(), what
            assert np.isfinite(grad).all(), what
            np.testing.assert_allclose(targets.sum(-1)[valid], 1.0, atol=1e-5, err_msg=what)
            _check(targets, want, dtype, what)


def ref_gamma_weights(log_gain, gamma):
    """Eq. 18's weights w^gamma / mean(w^gamma) of one sample from the
    logarithms of its gains [T], evaluated in log space (exact for any
    gamma and any gain)."""
    log_gain = np.asarray(log_gain, dtype=np.float64)
    if not np.isfinite(log_gain).any():
        return np.zeros_like(log_gain)
    z = gamma * (log_gain - log_gain.max())
    with np.errstate(under="ignore"):
        return len(z) * np.exp(z - _log_sum(z, axis=0))


def _fitted_sample(base, dtype, seed=50):
    """One sample with exactly one alignment (its 6 labels need all 6
    frames, so the posteriors are one-hot) and logits that favour it by
    base + a little: a fitted model. The gain of frame t is 1 - y[t, l_t],
    the probability of the other classes, about exp(-base); its logarithm
    is computed here exactly, as a log-sum-exp."""
    rng = np.random.default_rng(seed)
    labels = [1, 2, 3, 4, 1, 2]
    T, C = len(labels), 5
    x = rng.normal(size=(T, 1, C))
    for t, lab in enumerate(labels):
        x[t, 0, lab] = base + 0.01 * t * (-1) ** t
    x = x.astype(dtype).astype(np.float64)
    others = np.array([[c != lab for c in range(C)] for lab in labels])
    log_gain = np.array([_log_sum(x[t, 0][others[t]], axis=0) for t in range(T)]) - _log_sum(
        x[:, 0], axis=1
    )
    onehot = (~others).astype(np.float64)[:, None, :]
    return x.astype(dtype), [labels], log_gain, onehot


GAMMAS_LARGE = [1.0, 20.0, 50.0, 150.0, 300.0]


@pytest.mark.parametrize("dtype,base", [(np.float64, b) for b in (2.0, 7.0, 37.0, 300.0)]
                         + [(np.float32, b) for b in (2.0, 7.0, 15.0)])  # fmt: skip
@pytest.mark.parametrize("gamma", GAMMAS_LARGE)
@pytest.mark.parametrize("alpha", [None, 0.5])
def test_gamma_weights_exact_on_a_fitted_sample(dtype, base, gamma, alpha):
    """Gains from about 0.1 down to 1e-130 and gamma up to 300: every
    w^gamma underflows, but the weights w^gamma / mean(w^gamma) do not
    depend on the scale of w and are compared with their exact values. They
    used to be all 0 (no gradient at all) once w^gamma underflowed, and the
    gains of a fitted model were rounding noise (1 - y computed from a y
    rounded near 1)."""
    x, labels, log_gain, onehot = _fitted_sample(base, dtype)
    want = ref_gamma_weights(log_gain, gamma)
    assert want.max() <= 6 and want.max() > 1  # the reference's own sanity
    targets, weights = _impl_posteriors(x, labels, alpha=alpha, gamma=gamma)
    _, grad = _impl_loss(x, labels, alpha=alpha, gamma=gamma)
    np.testing.assert_array_equal(targets, onehot)
    rtol = 1e-9 if dtype == np.float64 else 2e-5
    # weights below the smallest normal number of the dtype lose precision
    np.testing.assert_allclose(weights[:, 0], want, rtol=rtol, atol=8 * np.finfo(dtype).tiny)
    y = np.exp(log_softmax(x))
    # the label entries of y - onehot are 1 - y rounded: only absolutely close
    atol = 6 * (4e-16 if dtype == np.float64 else 2e-7)
    np.testing.assert_allclose(grad, want[:, None, None] * (y - onehot), rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("gamma", [50.0, 150.0, 300.0])
def test_gamma_large_on_a_confident_batch(dtype, gamma):
    """The issue's case: gains of about 1e-3 and gamma = 150 made every
    w^gamma 0, and so every weight and the whole gradient. Several
    alignments per sample (plain posteriors, not one-hot); the gains come
    from the log-space reference targets and are well-conditioned at this
    size."""
    rng = np.random.default_rng(60)
    T, N, C = 12, 3, 4
    labels = [[1, 2], [3], [2, 2]]
    path = [[0, 0, 1, 1, 0, 0, 0, 2, 2, 0, 0, 0], [0] * 5 + [3] * 3 + [0] * 4,
            [0, 2, 2, 0, 0, 0, 2, 2, 0, 0, 0, 0]]  # fmt: skip
    x = rng.normal(size=(T, N, C))
    for n in range(N):
        x[np.arange(T), n, path[n]] += 8.0
    x = x.astype(dtype)
    _, targets_ref = ref_log_targets(x, labels)
    y = np.exp(log_softmax(x))
    gain = np.max(targets_ref - y, axis=-1)
    assert (gain > 1e-5).all() and (gain < 5e-2).all()
    want = np.stack([ref_gamma_weights(np.log(gain[:, n]), gamma) for n in range(N)], axis=1)
    _, weights = _impl_posteriors(x, labels, gamma=gamma)
    _, grad = _impl_loss(x, labels, gamma=gamma)
    rtol = 1e-7 if dtype == np.float64 else 1e-3
    np.testing.assert_allclose(weights, want, rtol=rtol, atol=8 * np.finfo(dtype).tiny)
    assert (np.abs(grad).max(axis=(0, 2)) > 0.1 * np.abs(y - targets_ref).max(axis=(0, 2))).all()
    np.testing.assert_allclose(
        grad,
        want[..., None] * (y - targets_ref),
        rtol=rtol,
        atol=1e-12 if dtype == np.float64 else 1e-6,
    )


# --- edge cases ----------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("gamma", [0.0, 1.0])
def test_classes_that_never_appear(alpha, gamma):
    """Classes 3..7 are in no label sequence (V_k = 0, N_k = 0): no inf/NaN,
    their targets stay 0."""
    rng = np.random.default_rng(16)
    T, N, C = 10, 3, 8
    labels = [[1, 2], [2], [1, 1]]
    x = rng.normal(size=(T, N, C))
    loss, targets, weights, grad = ref_modified(x, labels, alpha=alpha, gamma=gamma)
    lc, gc = _impl_loss(x, labels, alpha=alpha, gamma=gamma)
    tc, wc = _impl_posteriors(x, labels, alpha=alpha, gamma=gamma)
    for got, want in ((gc, grad), (tc, targets), (wc, weights)):
        assert np.isfinite(got).all()
        np.testing.assert_allclose(got, want, **TOL[np.float64])
    assert (tc[..., 3:] == 0).all()


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_no_room_for_blanks(alpha):
    """Every sample exactly as long as its labels: no blank posterior at all
    (V_blank = 0)."""
    rng = np.random.default_rng(17)
    labels = [[1, 2, 3], [2, 1, 2]]
    x = rng.normal(size=(3, 2, 4))
    loss, targets, weights, grad = ref_modified(x, labels, alpha=alpha, gamma=1.0)
    _, gc = _impl_loss(x, labels, alpha=alpha, gamma=1.0)
    tc, wc = _impl_posteriors(x, labels, alpha=alpha, gamma=1.0)
    assert (tc[..., 0] == 0).all()
    np.testing.assert_allclose(tc, targets, **TOL[np.float64])
    np.testing.assert_allclose(gc, grad, **TOL[np.float64])
    np.testing.assert_allclose(wc, weights, **TOL[np.float64])


@pytest.mark.parametrize("log_probs", [False, True])
@pytest.mark.parametrize("alpha,gamma", [(0.5, 1.0), (1.0, 0.0), (None, 2.0), (0.0, 0.5)])
def test_infeasible_sample_does_not_poison(log_probs, alpha, gamma):
    """An infeasible sample (too short, or probability 0) gets zeros and is
    left out of V and N: the others get what they get without it."""
    x, labels, lengths = make_batch(18, T=10, N=3, C=5, log_probs=True)
    bad_x = x[:, :1].copy()
    if log_probs:
        bad_x[:, 0, 3] = -np.inf  # class 3 can never be emitted
        bad_labels, bad_len = [3, 1], 10
    else:
        bad_labels, bad_len = [1, 2, 1, 2, 1, 1, 1], 6  # needs 8 frames
    xb = np.concatenate([x[:, :2], bad_x, x[:, 2:]], axis=1)
    if not log_probs:
        xb = xb + 0.0  # log-softmax outputs used as logits: same softmax
    labels_b = labels[:2] + [bad_labels] + labels[2:]
    lengths_b = np.concatenate([lengths[:2], [bad_len], lengths[2:]])
    kw = dict(alpha=alpha, gamma=gamma, log_probs=log_probs)
    lc, gc = _impl_loss(xb, labels_b, lengths_b, **kw)
    tc, wc = _impl_posteriors(xb, labels_b, lengths_b, **kw)
    assert np.isinf(lc[2]) and np.isfinite(np.delete(lc, 2)).all()
    assert (gc[:, 2] == 0).all() and (tc[:, 2] == 0).all() and (wc[:, 2] == 0).all()
    assert np.isfinite(gc).all() and np.isfinite(tc).all() and np.isfinite(wc).all()
    l0, g0 = _impl_loss(x, labels, lengths, **kw)
    t0, w0 = _impl_posteriors(x, labels, lengths, **kw)
    keep = [0, 1, 3]
    np.testing.assert_allclose(gc[:, keep], g0, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(tc[:, keep], t0, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(wc[:, keep], w0, rtol=1e-12, atol=1e-14)
    _, targets, weights, grad = ref_modified(xb, labels_b, lengths_b, **kw)
    for got, want in ((gc, grad), (tc, targets), (wc, weights)):
        np.testing.assert_allclose(got, want, **TOL[np.float64])
    _, gz = _impl_loss(xb, labels_b, lengths_b, zero_infinity=True, **kw)
    np.testing.assert_array_equal(gz, gc)


@pytest.mark.parametrize("alpha", [None, 0.0, 0.5, 1.0])
@pytest.mark.parametrize("gamma", [0.0, 1.0])
def test_all_empty_labels(alpha, gamma):
    """No labels at all (sum of N_k = 0): the targets stay all-blank."""
    rng = np.random.default_rng(19)
    T, N, C = 7, 3, 4
    x = rng.normal(size=(T, N, C))
    labels = [[], [], []]
    lengths = [7, 3, 0]
    loss, targets, weights, grad = ref_modified(x, labels, lengths, alpha=alpha, gamma=gamma)
    lc, gc = _impl_loss(x, labels, lengths, alpha=alpha, gamma=gamma)
    tc, wc = _impl_posteriors(x, labels, lengths, alpha=alpha, gamma=gamma)
    valid = np.arange(T)[:, None] < np.array(lengths)[None, :]
    np.testing.assert_allclose(tc[..., 0], valid.astype(float), rtol=0, atol=1e-12)
    assert (tc[..., 1:] == 0).all()
    np.testing.assert_allclose(lc, loss, **TOL[np.float64])
    for got, want in ((gc, grad), (tc, targets), (wc, weights)):
        assert np.isfinite(got).all()
        np.testing.assert_allclose(got, want, **TOL[np.float64])


@pytest.mark.parametrize("fn", ["ctc_loss", "ctc_posteriors"])
@pytest.mark.parametrize(
    "kw,name",
    [
        (dict(alpha=-0.1), "alpha"),
        (dict(alpha=1.5), "alpha"),
        (dict(alpha=float("nan")), "alpha"),
        (dict(gamma=-1.0), "gamma"),
        (dict(gamma=float("nan")), "gamma"),
        (dict(alpha=0.5, gamma=-0.5), "gamma"),
    ],
)
def test_bad_arguments(fn, kw, name):
    x, labels, lengths = make_batch(20, T=6, N=2, C=4)
    with pytest.raises(ValueError, match=name):
        getattr(ctcc, fn)(x, labels, lengths, **kw)


def test_spiky_example_quick(tmp_path):
    """examples/spiky.py --quick runs and prints its convergence table (with
    the plots when matplotlib is installed)."""
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        import matplotlib  # noqa: F401

        extra = []
    except ImportError:
        extra = ["--no-plot"]
    proc = subprocess.run(
        [sys.executable, os.path.join(root, "examples", "spiky.py"), "--quick", *extra],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    for setting in ("plain CTC", "alpha = 0.5", "gamma = 1"):
        assert setting in proc.stdout
