"""Extremes: very long sequences, huge logits, impossible classes (-inf),
the smallest and a very large alphabet.

Measured on the reference machine (docs/bad_input.md, "Limits and extremes"):
T = 100 000, L = 1 000, C = 8: float32 loss within 3.1e-8 relative of the
float64 loss.
"""

import numpy as np
import pytest
from reference import _all_paths, batch_reference, log_softmax

ctcc = pytest.importorskip("ctcc")

DTYPES = [np.float32, np.float64]


# ---------------------------------------------------------------------------
# Very long sequences
# ---------------------------------------------------------------------------


def test_t100000_l1000_float32_loss_matches_float64():
    rng = np.random.default_rng(2024)
    T, C, L = 100_000, 8, 1000
    x = rng.standard_normal((T, 1, C))
    labels = rng.integers(1, C, size=(1, L))
    # grad=False: the forward pass only, O(2L+1) memory per sample.
    loss32, g = ctcc.ctc_loss(x.astype(np.float32), labels, grad=False)
    loss64, _ = ctcc.ctc_loss(x, labels, grad=False)
    assert g is None
    assert np.isfinite(loss32).all() and np.isfinite(loss64).all()
    rel = abs(float(loss32[0]) - loss64[0]) / abs(loss64[0])
    assert rel < 1e-4, rel  # measured: 3.1e-8


def test_long_sequence_float32_gradient_matches_float64():
    rng = np.random.default_rng(7)
    T, N, C, L = 20_000, 2, 8, 200
    x = rng.standard_normal((T, N, C))
    labels = rng.integers(1, C, size=(N, L))
    loss32, g32 = ctcc.ctc_loss(x.astype(np.float32), labels)
    loss64, g64 = ctcc.ctc_loss(x, labels)
    assert np.isfinite(g32).all()
    np.testing.assert_allclose(loss32, loss64, rtol=1e-5)
    np.testing.assert_allclose(g32, g64, atol=1e-5)
    np.testing.assert_allclose(g32.sum(axis=-1), 0.0, atol=1e-5)


# ---------------------------------------------------------------------------
# Logits of magnitude 1e4
# ---------------------------------------------------------------------------

HUGE_LABELS = [[1, 2], [3, 3], [4], []]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_logits_of_magnitude_1e4(dtype, scale):
    rng = np.random.default_rng(3)
    T, N, C = 12, 4, 5
    x = (scale * rng.standard_normal((T, N, C))).astype(dtype)
    x[:, :, 0] += dtype(3e4)  # and a large common offset on one class
    loss, grad = ctcc.ctc_loss(x, HUGE_LABELS)
    want_loss, want_grad = batch_reference(x, HUGE_LABELS)
    assert np.isfinite(loss).all() and np.isfinite(grad).all()
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(loss, want_loss, rtol=rtol)
    np.testing.assert_allclose(grad, want_grad, atol=1e-6 if dtype == np.float32 else 1e-10)
    np.testing.assert_allclose(grad.sum(axis=-1), 0.0, atol=1e-6)
    # Shift invariance: the loss of the log-softmax-normalised inputs.
    normalised = log_softmax(x).astype(dtype)
    loss_n, grad_n = ctcc.ctc_loss(normalised, HUGE_LABELS)
    np.testing.assert_allclose(loss, loss_n, rtol=rtol)
    np.testing.assert_allclose(grad, grad_n, atol=1e-6 if dtype == np.float32 else 1e-10)
    # and the same inputs as log-probabilities
    loss_lp, _ = ctcc.ctc_loss(normalised, HUGE_LABELS, log_probs=True)
    np.testing.assert_allclose(loss, loss_lp, rtol=rtol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_logits_of_magnitude_1e4_long_sequence(dtype):
    rng = np.random.default_rng(4)
    T, N, C, L = 2000, 2, 10, 300
    x = 1e4 * rng.standard_normal((T, N, C))
    labels = rng.integers(1, C, size=(N, L))
    loss, grad = ctcc.ctc_loss(x.astype(dtype), labels)
    loss64, _ = ctcc.ctc_loss(x, labels)
    assert np.isfinite(loss).all() and np.isfinite(grad).all()
    np.testing.assert_allclose(loss, loss64, rtol=1e-6)


# ---------------------------------------------------------------------------
# -inf entries: classes that are impossible at some frames
# ---------------------------------------------------------------------------


def _enumerate_without_impossible(logp, labels, blank):
    """Loss and posteriors by enumeration, keeping only the paths that avoid
    every -inf entry of logp [T, C] (those paths have probability 0).
    Returns (+inf, zeros) when no path remains."""
    T, C = logp.shape
    paths, collapsed = _all_paths(C, T, blank)
    match = np.array([c == tuple(labels) for c in collapsed], dtype=bool)
    if T:
        match &= np.isfinite(logp[np.arange(T)[None, :], paths]).all(axis=1)
    gamma = np.zeros((T, C))
    if not match.any():
        return np.inf, gamma
    good = paths[match]
    path_logp = logp[np.arange(T)[None, :], good].sum(axis=1)
    shift = path_logp.max()
    w = np.exp(path_logp - shift)
    post = w / w.sum()
    for t in range(T):
        np.add.at(gamma[t], good[:, t], post)
    return -(np.log(w.sum()) + shift), gamma


def _impossible_case(seed):
    rng = np.random.default_rng(seed)
    T, N, C = 6, 4, 4
    x = rng.standard_normal((T, N, C))
    x[rng.random((T, N, C)) < 0.3] = -np.inf
    x[:, :, 0] = np.where(np.isneginf(x).all(axis=-1), 0.0, x[:, :, 0])  # softmax defined
    labels = [[1, 2], [3, 3], [2], [1, 2, 3]]
    return x, labels


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("log_probs", [False, True])
def test_impossible_classes_match_enumeration(seed, dtype, log_probs):
    x, labels = _impossible_case(seed)
    inputs = log_softmax(x) if log_probs else x  # log_softmax keeps -inf
    loss, grad = ctcc.ctc_loss(inputs.astype(dtype), labels, log_probs=log_probs)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert np.isfinite(grad).all()
    assert (grad[np.isneginf(inputs)] == 0).all()  # exactly 0
    for n, lab in enumerate(labels):
        logp = log_softmax(x[:, n])
        want, gamma = _enumerate_without_impossible(logp, lab, 0)
        if np.isinf(want):
            assert loss[n] == np.inf
            assert (grad[:, n] == 0).all()
            continue
        np.testing.assert_allclose(loss[n], want, rtol=tol)
        want_grad = -gamma if log_probs else np.exp(logp) - gamma
        np.testing.assert_allclose(grad[:, n], want_grad, atol=tol)
    # the alignment avoids the impossible entries
    al = ctcc.forced_align(inputs.astype(dtype), labels, log_probs=log_probs)
    T = x.shape[0]
    for n in range(len(labels)):
        if np.isfinite(loss[n]):
            assert np.isfinite(inputs[np.arange(T), n, al.frames[n]]).all()
        else:
            assert al.scores[n] == -np.inf


def test_impossible_classes_cases_cover_both_outcomes():
    feasible = infeasible = 0
    for seed in range(6):
        x, labels = _impossible_case(seed)
        loss, _ = ctcc.ctc_loss(x, labels)
        feasible += int(np.isfinite(loss).sum())
        infeasible += int(np.isinf(loss).sum())
    assert feasible > 0 and infeasible > 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_no_path_left_gives_inf_and_zero_grad(dtype):
    x = np.zeros((3, 2, 3), dtype)
    x[:, 0, 1] = -np.inf  # label 1 is impossible at every frame
    x[1, 1, :2] = -np.inf  # frame 1 of sample 1 can only emit class 2
    loss, grad = ctcc.ctc_loss(x, [[1], [1, 1]])
    assert loss[0] == np.inf and (grad[:, 0] == 0).all()
    assert loss[1] == np.inf and (grad[:, 1] == 0).all()
    loss, grad = ctcc.ctc_loss(x, [[1], [1, 1]], zero_infinity=True)
    assert (loss == 0).all() and (grad == 0).all()
    # the same frames with a label that can still be emitted
    loss, grad = ctcc.ctc_loss(x, [[2], [2]])
    assert np.isfinite(loss).all() and np.isfinite(grad).all()
    assert (grad[np.isneginf(x)] == 0).all()


# ---------------------------------------------------------------------------
# Alphabet of 1 (blank only)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_blank_only_alphabet(dtype):
    rng = np.random.default_rng(5)
    T, N = 9, 3
    x = (100.0 * rng.standard_normal((T, N, 1))).astype(dtype)
    lengths = [9, 4, 0]
    loss, grad = ctcc.ctc_loss(x, [[], [], []], logit_lengths=lengths)
    assert (loss == 0).all() and (grad == 0).all()
    # as log-probabilities: the only class has probability 1
    lp = np.zeros((T, N, 1), dtype)
    loss, grad = ctcc.ctc_loss(lp, [[], [], []], logit_lengths=lengths, log_probs=True)
    assert (loss == 0).all()
    want = np.zeros((T, N, 1), dtype)
    for n, length in enumerate(lengths):
        want[:length, n] = -1.0  # -posterior, the posterior being 1
    np.testing.assert_array_equal(grad, want)
    post = ctcc.ctc_posteriors(x, [[], [], []], logit_lengths=lengths)
    np.testing.assert_array_equal(post, -want)
    assert all(d.size == 0 for d in ctcc.greedy_decode(x, lengths))
    paths, scores = ctcc.beam_search_decode(x, lengths)
    assert all(p[0].size == 0 for p in paths)
    np.testing.assert_allclose(scores[:, 0], 0.0, atol=1e-6)
    al = ctcc.forced_align(x, [[], [], []], logit_lengths=lengths)
    for n, length in enumerate(lengths):
        assert (al.frames[n, :length] == 0).all()
        assert (al.frames[n, length:] == -1).all()


# ---------------------------------------------------------------------------
# Alphabet of 100 000
# ---------------------------------------------------------------------------


def test_alphabet_of_100000():
    rng = np.random.default_rng(6)
    T, N, C = 20, 3, 100_000
    x = rng.standard_normal((T, N, C))
    labels = [[5, 99_999, 12_345], [77], [C - 1, C - 1]]
    loss32, g32 = ctcc.ctc_loss(x.astype(np.float32), labels)
    loss64, g64 = ctcc.ctc_loss(x, labels)
    assert np.isfinite(loss32).all() and np.isfinite(g32).all()
    np.testing.assert_allclose(loss32, loss64, rtol=1e-6)
    np.testing.assert_allclose(g32, g64, atol=1e-6)
    np.testing.assert_allclose(g32.sum(axis=-1), 0.0, atol=1e-5)
    # against the float64 reference
    want_loss, _ = batch_reference(x, labels)
    np.testing.assert_allclose(loss64, want_loss, rtol=1e-12)
    # greedy decoding: the collapsed argmax path
    best = x.argmax(axis=-1)
    for n, got in enumerate(ctcc.greedy_decode(x.astype(np.float32))):
        path = best[:, n]
        keep = (path != 0) & np.r_[True, path[1:] != path[:-1]]
        np.testing.assert_array_equal(got, path[keep])


# ---------------------------------------------------------------------------
# Logits far beyond any trained model's (1e20 to 1e300)
# ---------------------------------------------------------------------------


def _stable_log_softmax(x):
    x = np.asarray(x, np.float64)
    m = x.max(-1, keepdims=True)
    return (x - m) - np.log(np.exp(x - m).sum(-1, keepdims=True))


@pytest.mark.parametrize("scale", [1e20, 1e100, 1e300])
def test_huge_logits_give_the_log_softmax_result(scale):
    """Shift invariance however large the logits: the loss equals that of
    the log-softmax (computed in NumPy as (x - max) - log sum), it is >= 0,
    posterior rows sum to 1 and the gradient is finite. (max + log sum would
    round the log sum away and let probabilities sum past 1.)"""
    rng = np.random.default_rng(7)
    T, N, C = 9, 4, 5
    # Differences of order 1 on top of a huge common value, and a huge
    # spread in one sample.
    x = rng.normal(size=(T, N, C)) + scale
    x[:, 3] = rng.normal(size=(T, C)) * (scale / 10)
    labels = [[1, 2], [3], [4, 4], [1, 3, 2]]
    loss, grad = ctcc.ctc_loss(x, labels)
    want, _ = ctcc.ctc_loss(_stable_log_softmax(x), labels, log_probs=True)
    assert np.all(loss >= 0)
    np.testing.assert_allclose(loss, want, rtol=1e-12)
    post = ctcc.ctc_posteriors(x, labels)
    finite = np.isfinite(loss)
    np.testing.assert_allclose(post[:, finite].sum(-1), 1.0, atol=1e-12)
    assert np.all(np.isfinite(grad))
    align = ctcc.forced_align(x, labels)
    assert np.all(align.scores[finite] <= 0)
    lp = _stable_log_softmax(x)
    for n in np.flatnonzero(finite):
        path = lp[np.arange(T), n, align.frames[n]].sum()
        np.testing.assert_allclose(align.scores[n], path, rtol=1e-12)
    _, scores = ctcc.beam_search_decode(x, beam_width=8)
    assert np.all(scores[:, 0] <= 0)


def test_huge_logits_float32_stay_consistent():
    rng = np.random.default_rng(8)
    x = (rng.normal(size=(12, 3, 6)) * 1e30).astype(np.float32)
    labels = [[1, 2, 3], [5], []]
    loss, grad = ctcc.ctc_loss(x, labels)
    want, _ = ctcc.ctc_loss(_stable_log_softmax(x.astype(np.float64)), labels, log_probs=True)
    # Costs beyond the float32 range are +inf; the others match float64.
    big = want > np.finfo(np.float32).max
    assert np.all(np.isinf(loss[big])) and np.all(loss >= 0)
    np.testing.assert_allclose(loss[~big], want[~big], rtol=1e-6)
    assert np.all(np.isfinite(grad))
    post = ctcc.ctc_posteriors(x, labels)
    np.testing.assert_allclose(post.sum(-1), 1.0, atol=1e-5)
