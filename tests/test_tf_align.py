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
