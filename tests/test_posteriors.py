"""ctcc.ctc_posteriors: the CTC posteriors (the targets the gradient fits
the softmax to) against the loss gradient and the float64 reference, their
layout, dtypes, padding, infeasible and NaN samples. The alpha / gamma
modifications are checked against an independent implementation in
test_modifications.py."""

import numpy as np
import pytest
from reference import batch_reference, log_softmax
from test_api import _batch

ctcc = pytest.importorskip("ctcc")


def _softmax(x):
    return np.exp(log_softmax(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("time_major", [True, False], ids=["TNC", "NTC"])
@pytest.mark.parametrize("blank", [0, -1, 2])
def test_posteriors_are_softmax_minus_gradient(dtype, time_major, blank):
    x, labels, lengths = _batch(seed=5, blank=blank)
    x = x.astype(dtype)
    xl = x if time_major else np.ascontiguousarray(x.transpose(1, 0, 2))
    post = ctcc.ctc_posteriors(xl, labels, lengths, blank=blank, time_major=time_major)
    _, grad = ctcc.ctc_loss(xl, labels, lengths, blank=blank, time_major=time_major)
    assert post.dtype == dtype and post.shape == xl.shape
    tol = 1e-12 if dtype == np.float64 else 2e-6
    valid = np.arange(x.shape[0])[:, None] < lengths[None, :]  # [T, N]
    if not time_major:
        valid = valid.T
    sm = _softmax(xl.astype(np.float64))
    np.testing.assert_allclose(post[valid], (sm - grad)[valid], rtol=0, atol=tol)
    np.testing.assert_array_equal(post[~valid], 0)
    np.testing.assert_allclose(post.sum(-1)[valid], 1.0, rtol=0, atol=10 * tol)


def test_posteriors_match_the_float64_reference():
    x, labels, lengths = _batch(seed=6)
    _, ref_grad = batch_reference(x, labels, lengths, blank=0)
    post = ctcc.ctc_posteriors(x, labels, lengths)
    for n in range(x.shape[1]):
        t = lengths[n]
        np.testing.assert_allclose(
            post[:t, n], _softmax(x[:t, n]) - ref_grad[:t, n], rtol=0, atol=1e-10
        )


def test_log_probs_input_posteriors_are_minus_gradient():
    x, labels, lengths = _batch(seed=7)
    lp = log_softmax(x)
    post = ctcc.ctc_posteriors(lp, labels, lengths, log_probs=True)
    _, grad = ctcc.ctc_loss(lp, labels, lengths, log_probs=True)
    np.testing.assert_array_equal(post, -grad + 0.0)


@pytest.mark.parametrize("time_major", [True, False], ids=["TNC", "NTC"])
def test_weights_layout_and_plain_values(time_major):
    x, labels, lengths = _batch(seed=8)
    xl = x if time_major else np.ascontiguousarray(x.transpose(1, 0, 2))
    targets, weights = ctcc.ctc_posteriors(
        xl, labels, lengths, time_major=time_major, return_weights=True
    )
    T, N = x.shape[:2]
    want = (np.arange(T)[:, None] < lengths[None, :]).astype(float)
    assert weights.shape == ((T, N) if time_major else (N, T))
    np.testing.assert_array_equal(weights, want if time_major else want.T)
    np.testing.assert_array_equal(
        targets, ctcc.ctc_posteriors(xl, labels, lengths, time_major=time_major)
    )


def test_infeasible_and_nan_samples_stay_apart():
    x, labels, lengths = _batch(seed=9)
    labels[3] = [1] * 9  # needs 17 frames: infeasible
    x[0, 4, 0] = np.nan
    targets, weights = ctcc.ctc_posteriors(
        x, labels, lengths, alpha=0.5, gamma=1.0, return_weights=True
    )
    assert np.all(targets[:, 3] == 0) and np.all(weights[:, 3] == 0)
    assert np.all(np.isnan(targets[: lengths[4], 4])) and np.all(np.isnan(weights[: lengths[4], 4]))
    good = [0, 1, 2]
    assert np.all(np.isfinite(targets[:, good])) and np.all(np.isfinite(weights[:, good]))
    for n in good:
        np.testing.assert_allclose(targets[: lengths[n], n].sum(-1), 1.0, atol=1e-12)


def test_argument_errors_name_the_argument():
    x, labels, lengths = _batch(seed=10)
    with pytest.raises(ValueError, match=r"alpha must be None or in \[0, 1\], got 1.5"):
        ctcc.ctc_posteriors(x, labels, lengths, alpha=1.5)
    with pytest.raises(ValueError, match="gamma must be a finite number >= 0, got -1"):
        ctcc.ctc_posteriors(x, labels, lengths, gamma=-1)
    with pytest.raises(TypeError, match="alpha must be None or a real number"):
        ctcc.ctc_posteriors(x, labels, lengths, alpha="0.5")
    with pytest.raises(ValueError, match=r"labels: sample 0, position 0 holds 0"):
        ctcc.ctc_posteriors(x, [[0]] + labels[1:], lengths)
    with pytest.raises(ValueError, match=r"logit_lengths\[1\] = 99"):
        ctcc.ctc_posteriors(x, labels, [12, 99, 1, 1, 1])
