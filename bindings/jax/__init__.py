"""ctcc for JAX: ``ctcc.jax.ctc_loss``, a drop-in for ``optax.ctc_loss``.

    import ctcc.jax

    loss = ctcc.jax.ctc_loss(logits, logit_paddings, labels, label_paddings)

The same arguments, shapes and defaults as ``optax.ctc_loss`` (batch-major
logits ``[B, T, K]``, paddings 1 on padded positions, per-sample loss
``[B]``), with ctcc's exact loss and gradient. It works under ``jax.jit``,
``jax.grad``, ``jax.value_and_grad`` and ``jax.vmap``, and with a batch
sharded over several devices. The loss runs on the host CPU, in ctcc's C
core, through ``jax.pure_callback``.
"""

try:
    import jax as _jax  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("ctcc.jax needs JAX: pip install 'ctcc[jax]'") from e

from ctcc.jax._loss import ctc_loss

__all__ = ["ctc_loss"]
