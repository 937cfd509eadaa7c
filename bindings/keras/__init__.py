"""ctcc for Keras 3, on the TensorFlow, JAX and PyTorch backends.

    import ctcc.keras
    model.compile(optimizer="adam", loss=ctcc.keras.CTCLoss(blank=0, padding_value=-1))
    loss = ctcc.keras.ctc_loss(target, output, target_length, output_length)

`CTCLoss` is a Keras loss: `y_pred` holds batch-major logits `[N, T, C]`,
`y_true` padded integer labels `[N, S]`; the frames of each sample come from
the Keras mask of `y_pred` when there is one. `ctc_loss` is a drop-in for
``keras.ops.ctc_loss``. Both run ctcc's C core through the ctcc adapter of
the backend Keras runs on (``KERAS_BACKEND``): `ctcc.tensorflow`,
`ctcc.jax` or `ctcc.torch`. `CTCLoss` is registered for serialization as
`ctcc>CTCLoss`: `import ctcc.keras` before `keras.models.load_model`.
"""

_EXTRAS = (
    "pip install 'ctcc[tensorflow]' (Keras comes with TensorFlow), or pip install keras "
    "'ctcc[jax]' or keras 'ctcc[torch]' with KERAS_BACKEND=jax or torch"
)

try:
    import keras as _keras
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"ctcc.keras needs Keras 3 and its backend (TensorFlow, JAX or PyTorch): {_EXTRAS} ({e})"
    ) from e
if not _keras.__version__.startswith("3."):  # pragma: no cover - depends on the environment
    raise ImportError(f"ctcc.keras needs Keras 3, found Keras {_keras.__version__}: {_EXTRAS}")

from ctcc.keras._loss import CTCLoss, ctc_loss  # noqa: E402

__all__ = ["CTCLoss", "ctc_loss"]
