"""The JAX backend of `ctcc.keras`: `ctcc.jax.ctc_loss`.

Only the glue: the lengths become the paddings `ctcc.jax.ctc_loss` takes
(as in ``optax.ctc_loss``); the checks and the Keras conventions are in
`_loss.py`.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ctcc.jax import ctc_loss as _ctc_loss

NAME = "jax"
ADAPTER = "ctcc.jax"


def _raise_unless(ok, *, message: str) -> None:
    if not np.all(ok):
        raise ValueError(message)


def check(ok, message: str) -> None:
    """Raise ``ValueError(message)`` unless every entry of ``ok`` is true:
    at once for concrete values, else when the compiled step runs (JAX
    wraps the error in its runtime error, with this message)."""
    ok = jnp.all(ok)
    if isinstance(ok, jax.core.Tracer):
        jax.debug.callback(functools.partial(_raise_unless, message=message), ok)
    else:
        _raise_unless(np.asarray(ok), message=message)


def _paddings(lengths, size: int, dtype):
    return (jnp.arange(size)[None, :] >= lengths[:, None]).astype(dtype)


def ctc(
    labels, logits, label_length, logit_length, *, blank, zero_infinity, num_threads, alpha, gamma
):
    """Per-sample losses ``[N]`` of batch-major logits ``[N, T, C]``."""
    return _ctc_loss(
        logits,
        _paddings(logit_length, logits.shape[1], logits.dtype),
        labels,
        _paddings(label_length, labels.shape[1], logits.dtype),
        blank_id=blank,
        num_threads=num_threads,
        zero_infinity=zero_infinity,
        alpha=alpha,
        gamma=gamma,
    )
