"""The PyTorch backend of `ctcc.keras`: `ctcc.torch.ctc_loss`.

Only the glue: Keras' batch-major logits become the time-major
log-probabilities `ctcc.torch.ctc_loss` takes (as ``keras.ops.ctc_loss``
does for ``torch.nn.functional.ctc_loss``), on the CPU, where ctcc runs;
the checks and the Keras conventions are in `_loss.py`.
"""

from __future__ import annotations

import torch

from ctcc.torch import ctc_loss as _ctc_loss

NAME = "torch"
ADAPTER = "ctcc.torch"


def check(ok, message: str) -> None:
    """Raise ``ValueError(message)`` unless every entry of ``ok`` is true
    (under ``torch.compile``, a ``RuntimeError`` from an assertion compiled
    into the graph, which needs no graph break)."""
    if torch.compiler.is_compiling():
        torch._assert_async(torch.all(ok), message)
    elif not bool(torch.all(ok)):
        raise ValueError(message)


def ctc(
    labels, logits, label_length, logit_length, *, blank, zero_infinity, num_threads, alpha, gamma
):
    """Per-sample losses ``[N]`` of batch-major logits ``[N, T, C]``."""
    device = logits.device
    # .cpu() is differentiable: on a GPU the gradient flows back to the device
    log_probs = torch.log_softmax(logits.cpu(), dim=-1).transpose(0, 1)
    loss = _ctc_loss(
        log_probs,
        labels.cpu(),
        logit_length.cpu(),
        label_length.cpu(),
        blank=blank,
        reduction="none",
        zero_infinity=zero_infinity,
        alpha=alpha,
        gamma=gamma,
        num_threads=0 if num_threads is None else num_threads,  # None: every thread
    )
    return loss.to(device)
