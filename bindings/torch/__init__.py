"""ctcc for PyTorch: drop-in replacements for torch's CTC loss.

    import ctcc.torch

    loss = ctcc.torch.ctc_loss(log_probs, targets, input_lengths, target_lengths)
    criterion = ctcc.torch.CTCLoss(blank=0, reduction="mean", zero_infinity=False)

``ctc_loss`` and ``CTCLoss`` have the signatures, defaults, shapes and results
of ``torch.nn.functional.ctc_loss`` and ``torch.nn.CTCLoss`` (time-major
``[T, N, C]`` log-probabilities, padded or concatenated targets, every
reduction), plus a keyword-only ``num_threads``. They run on the CPU, with
ctcc's C core, and are differentiable with respect to ``log_probs`` with the
exact gradient (right even for input that is not log-softmax-normalised).
The operator underneath is ``torch.ops.ctcc.ctc_loss``, so the loss works in
``torch.compile(..., fullgraph=True)`` and under ``DistributedDataParallel``.

``forced_align(log_probs, targets, input_lengths, target_lengths, blank)``
and ``merge_tokens(tokens, scores, blank)`` have the signatures and results
of ``torchaudio.functional.forced_align`` and ``merge_tokens``, for batches
of any size and recordings of any length.
"""

try:
    import torch as _torch  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("ctcc.torch needs PyTorch: pip install 'ctcc[torch]'") from e

from ctcc.torch._align import TokenSpan, forced_align, merge_tokens
from ctcc.torch._loss import CTCLoss, ctc_loss

__all__ = ["CTCLoss", "TokenSpan", "ctc_loss", "forced_align", "merge_tokens"]
