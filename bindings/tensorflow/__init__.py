"""ctcc for TensorFlow: drop-in replacements for TensorFlow's CTC losses.

::

    import ctcc.tensorflow

    loss = ctcc.tensorflow.ctc_loss(labels, logits, label_length, logit_length)
    loss = ctcc.tensorflow.ctc_loss_v1(sparse_labels, logits, sequence_length)
    targets, weights = ctcc.tensorflow.ctc_posteriors(labels, logits, label_length,
                                                      logit_length)

``ctc_loss`` has the signature, defaults and results of ``tf.nn.ctc_loss``
(blank 0 by default, dense or sparse labels), ``ctc_loss_v1`` those of
``tf.compat.v1.nn.ctc_loss`` (sparse labels, blank = last class). Both return
the per-sample loss ``[batch_size]`` and are differentiable with respect to
the logits, eagerly, in ``tf.function`` and in Keras ``model.fit``. The loss
runs on the host CPU (ctcc's C core, through ``tf.numpy_function``), so it
cannot be compiled with XLA (``jit_compile=True``).

``forced_align(logits, labels, logit_length, label_length)`` returns the
most probable alignment of each sample's labels (frames, scores, spans);
``token_spans`` scores each aligned label, ``merge_tokens`` reads token
spans off a path, and ``word_spans`` groups a sample's tokens into words.
``greedy_decode`` and ``beam_search_decode`` decode logits into label
sequences (``tf.RaggedTensor``) with ctcc's C decoders.
"""

try:
    import tensorflow as _tf  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("ctcc.tensorflow needs TensorFlow: pip install 'ctcc[tensorflow]'") from e

from ctcc.tensorflow._align import forced_align
from ctcc.tensorflow._decode import beam_search_decode, greedy_decode
from ctcc.tensorflow._loss import ctc_loss, ctc_loss_v1, ctc_posteriors
from ctcc.tensorflow._spans import merge_tokens, token_spans, word_spans

__all__ = [
    "beam_search_decode",
    "ctc_loss",
    "ctc_loss_v1",
    "ctc_posteriors",
    "forced_align",
    "greedy_decode",
    "merge_tokens",
    "token_spans",
    "word_spans",
]
