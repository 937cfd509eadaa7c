"""ctcc for Keras 3 (TensorFlow backend): `ctcc.keras.CTCLoss`.

    import ctcc.keras
    model.compile(optimizer="adam", loss=ctcc.keras.CTCLoss(blank=0, padding_value=-1))

`y_pred` holds batch-major logits `[N, T, C]`, `y_true` padded integer labels
`[N, S]`; the frames of each sample come from the Keras mask of `y_pred`
when there is one. The class is registered for serialization as
`ctcc>CTCLoss`: `import ctcc.keras` before `keras.models.load_model`.
"""

try:
    import keras as _keras
    import tensorflow as _tf  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "ctcc.keras needs Keras 3 with TensorFlow (its backend): pip install "
        f"'ctcc[tensorflow]' ({e})"
    ) from e
if not _keras.__version__.startswith("3."):  # pragma: no cover - depends on the environment
    raise ImportError(
        f"ctcc.keras needs Keras 3, found Keras {_keras.__version__}: pip install "
        "'ctcc[tensorflow]' (TensorFlow 2.16 and later come with Keras 3)"
    )

from ctcc.keras._loss import CTCLoss  # noqa: E402

__all__ = ["CTCLoss"]
