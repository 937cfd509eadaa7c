"""ctcc.tensorflow.token_spans, merge_tokens and word_spans: the fields of
the NumPy functions as tensors, eagerly and in tf.function, with scores
checked against means computed here and the argument errors."""

from __future__ import annotations

import numpy as np
import pytest
import reference

tf = pytest.importorskip("tensorflow", reason="ctcc.tensorflow needs TensorFlow")

import ctcc  # noqa: E402
import ctcc.tensorflow  # noqa: E402


def _problem(seed=0, T=30, N=3, C=6):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(T, N, C)).astype(np.float32)
    labels = np.array([[1, 2, 2, 5], [3, 0, 0, 0], [4, 1, 0, 0]], np.int32)
    return logits, labels, np.array([4, 1, 2]), np.array([30, 12, 20])


@pytest.mark.parametrize("graph", [False, True])
@pytest.mark.parametrize("score", ["logprob", "posterior"])
def test_token_spans_eager_and_graph(graph, score):
    logits, labels, label_length, logit_length = _problem()

    def run(x):
        result = ctcc.tensorflow.forced_align(
            x, tf.constant(labels), tf.constant(logit_length), tf.constant(label_length)
        )
        return result.frames, ctcc.tensorflow.token_spans(result, x, score=score)

    fun = tf.function(run) if graph else run
    frames, spans = fun(tf.constant(logits))
    assert all(isinstance(f, tf.RaggedTensor) for f in spans)
    assert spans.token.dtype == tf.int32 and spans.score.dtype == tf.float64
    numpy_result = ctcc.forced_align(logits, labels, logit_length, label_length)
    want = ctcc.token_spans(numpy_result, logits, score=score)
    for n in range(3):
        np.testing.assert_array_equal(spans.token[n].numpy(), want[n].token)
        np.testing.assert_array_equal(spans.start[n].numpy(), want[n].start)
        np.testing.assert_array_equal(spans.end[n].numpy(), want[n].end)
        np.testing.assert_allclose(spans.score[n].numpy(), want[n].score, rtol=1e-12)
        assert spans.token[n].numpy().tolist() == labels[n, : label_length[n]].tolist()
    if score == "logprob":  # an independent check of the scores
        logp = reference.log_softmax(logits.astype(np.float64))
        for n in range(3):
            expected = [
                np.mean(logp[s:e, n, c])
                for c, s, e in zip(
                    spans.token[n].numpy(), spans.start[n].numpy(), spans.end[n].numpy()
                )
            ]
            np.testing.assert_allclose(spans.score[n].numpy(), expected, rtol=1e-9)


def test_token_spans_batch_major_half_and_numpy_alignment():
    logits, labels, label_length, logit_length = _problem(1)
    x = tf.constant(np.transpose(logits, (1, 0, 2)), tf.float16)
    result = ctcc.forced_align(
        x.numpy().astype(np.float32), labels, logit_length, label_length, time_major=False
    )
    spans = ctcc.tensorflow.token_spans(result, x, logits_time_major=False)
    want = ctcc.token_spans(result, x.numpy().astype(np.float32), time_major=False)
    for n in range(3):
        np.testing.assert_allclose(spans.score[n].numpy(), want[n].score, rtol=1e-12)


def test_merge_tokens_and_word_spans():
    path = tf.constant([0, 5, 5, 0, 1, 0, 6, 0, 7, 7, 7, -1])
    scores = tf.constant(np.linspace(-1, 0, 12), tf.float32)
    spans = ctcc.tensorflow.merge_tokens(path, scores)
    want = ctcc.merge_tokens(path.numpy(), scores.numpy())
    for got, ref in zip(spans, want):
        np.testing.assert_allclose(got.numpy(), ref)
    assert spans.token.numpy().tolist() == [5, 1, 6, 7]
    np.testing.assert_allclose(
        spans.score.numpy(),
        [np.mean(scores.numpy()[a:b]) for a, b in [(1, 3), (4, 5), (6, 7), (8, 11)]],
        rtol=1e-6,
    )
    by_sep = ctcc.tensorflow.word_spans(spans, separator=1)
    by_len = ctcc.tensorflow.word_spans(spans, word_lengths=tf.constant([1, 1, 2]))
    assert by_sep.start.numpy().tolist() == [1, 6] and by_sep.end.numpy().tolist() == [3, 11]
    assert by_len.token_end.numpy().tolist() == [1, 2, 4]
    # the word's score: its frames' mean
    np.testing.assert_allclose(
        by_sep.score.numpy()[1], np.mean(scores.numpy()[[6, 8, 9, 10]]), rtol=1e-6
    )

    @tf.function
    def graph(p, s):
        return ctcc.tensorflow.word_spans(ctcc.tensorflow.merge_tokens(p, s), separator=1)

    again = graph(path, scores)
    np.testing.assert_array_equal(again.start.numpy(), by_sep.start.numpy())


def test_word_spans_of_ragged_token_spans():
    logits, labels, label_length, logit_length = _problem(2)
    result = ctcc.tensorflow.forced_align(
        tf.constant(logits),
        tf.constant(labels),
        tf.constant(logit_length),
        tf.constant(label_length),
    )
    spans = ctcc.tensorflow.token_spans(result, tf.constant(logits))
    first = ctcc.TokenSpans(*(f[0] for f in spans))
    words = ctcc.tensorflow.word_spans(first, word_lengths=[2, 2])
    numpy_words = ctcc.word_spans(ctcc.TokenSpans(*(f.numpy() for f in first)), word_lengths=[2, 2])
    np.testing.assert_allclose(words.score.numpy(), numpy_words.score)


def test_errors():
    logits, labels, label_length, logit_length = _problem()
    x = tf.constant(logits)
    result = ctcc.tensorflow.forced_align(
        x, tf.constant(labels), tf.constant(logit_length), tf.constant(label_length)
    )
    ts = ctcc.tensorflow.token_spans
    with pytest.raises(TypeError, match="alignment must be"):
        ts(result.frames, x)
    with pytest.raises(ValueError, match="score"):
        ts(result, x, score="prob")
    with pytest.raises(TypeError, match="logits_time_major"):
        ts(result, x, logits_time_major=1)
    with pytest.raises(ValueError, match="blank_index"):
        ts(result, x, blank_index=6)
    with pytest.raises(tf.errors.InvalidArgumentError, match="alignment.frames"):
        ts(result, tf.constant(logits[:20]))  # 20 frames, the alignment has 30
    with pytest.raises(TypeError, match="logits must be"):
        ts(result, tf.constant(labels))
    mt = ctcc.tensorflow.merge_tokens
    with pytest.raises(ValueError, match="1-D"):
        mt(tf.zeros([2, 3], tf.int32), tf.zeros([2, 3]))
    with pytest.raises(TypeError, match="tokens must hold integers"):
        mt(tf.zeros([3]), tf.zeros([3]))
    with pytest.raises(TypeError, match="scores must be a float"):
        mt(tf.zeros([3], tf.int32), tf.zeros([3], tf.int32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="same length"):
        mt(tf.zeros([3], tf.int32), tf.zeros([2]))
    with pytest.raises(ValueError, match="blank_index"):
        mt(tf.zeros([3], tf.int32), tf.zeros([3]), blank_index=-1)
    spans = mt(tf.constant([1, 0, 2]), tf.zeros([3]))
    ws = ctcc.tensorflow.word_spans
    with pytest.raises(ValueError, match="exactly one"):
        ws(spans)
    with pytest.raises(TypeError, match="separator"):
        ws(spans, separator="|")
    with pytest.raises(TypeError, match="token_spans must be"):
        ws(spans[:3], separator=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="add up to 3"):
        ws(spans, word_lengths=[1, 2])


def _omitted_word(seed=3):
    """Peaked log-probabilities [T, 1, C] of the words (1 2) (3 4) (5 1)
    spoken with blanks between them, and a transcript that omits the middle
    word: (frames of the middle word, labels with a star, labels without)."""
    rng = np.random.default_rng(seed)
    words = [[1, 2], [3, 4], [5, 1]]
    cls, middle = [], None
    for w, word in enumerate(words):
        cls += [0] * 3
        start = len(cls)
        for c in word:
            cls += [c] * 4
        if w == 1:
            middle = (start, len(cls))
    cls += [0] * 3
    T, C = len(cls), 6
    lp = rng.uniform(-9, -6, size=(T, 1, C))
    lp[np.arange(T), 0, cls] = -0.01
    with_star = [1, 2, ctcc.STAR, 5, 1]
    return lp.astype(np.float32), middle, with_star, [1, 2, 5, 1]


@pytest.mark.parametrize("graph", [False, True])
@pytest.mark.parametrize("ragged", [False, True])
def test_forced_align_star(graph, ragged):
    lp, (m0, m1), with_star, _ = _omitted_word()
    # a second sample: the first one without the star, padded (dense) with -1
    labels = [with_star, [1, 2, 5, 1]]
    x = np.concatenate([lp, lp], axis=1)
    if ragged:
        lab = tf.ragged.constant(labels, dtype=tf.int32)
    else:
        lab = tf.constant([with_star, [1, 2, 5, 1, -1]], tf.int32)

    def run(x):
        r = ctcc.tensorflow.forced_align(x, lab, log_probs=True, star_penalty=-1.5)
        return r.frames, r.scores, r.spans

    fun = tf.function(run) if graph else run
    frames, scores, spans = fun(tf.constant(x))
    want = ctcc.forced_align(x, labels, log_probs=True, star_penalty=-1.5)
    np.testing.assert_array_equal(frames.numpy(), want.frames)
    np.testing.assert_array_equal(scores.numpy(), want.scores)
    assert spans.to_list() == [s.tolist() for s in want.spans]
    # The star reads exactly the omitted word's frames (the truth, not
    # ctcc's own answer), and its span is theirs; the words around it keep
    # their frames. Without the star, the omitted word's frames go to the
    # neighbours (or blanks) and none reads as star.
    f = frames.numpy()
    star = np.flatnonzero(f[0] == ctcc.STAR)
    np.testing.assert_array_equal(star, np.arange(m0, m1))
    assert spans.to_list()[0][2] == [m0, m1]
    assert not (f[1] == ctcc.STAR).any()
    # -inf: the star reads blanks only, so its frames are no longer STAR
    # and the score is that of the star-less transcript's best path through
    # blanks there (lower than with a star that may read content).
    r = ctcc.tensorflow.forced_align(tf.constant(lp), lab[:1], log_probs=True, star_penalty=-np.inf)
    assert not (r.frames.numpy() == ctcc.STAR).any()
    assert float(r.scores[0]) < float(scores[0])


def test_forced_align_star_penalty_errors():
    lp, _, with_star, _ = _omitted_word()
    fa = ctcc.tensorflow.forced_align
    lab = tf.constant([with_star])
    for bad in (0.5, float("nan")):
        with pytest.raises(ValueError, match="star_penalty must be a number <= 0"):
            fa(tf.constant(lp), lab, star_penalty=bad)
    with pytest.raises(TypeError, match="star_penalty"):
        fa(tf.constant(lp), lab, star_penalty="low")
    # The star is for alignment only: the loss rejects it as out of range.
    with pytest.raises(tf.errors.InvalidArgumentError):
        ctcc.tensorflow.ctc_loss(lab, tf.constant(lp), tf.constant([5]), tf.constant([lp.shape[0]]))
