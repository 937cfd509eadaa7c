"""The PyTorch CTC loss on ctcc's C core.

One custom operator, ``ctcc::ctc_loss`` (``torch.library.custom_op``), does
the work: it hands the tensors to ``ctcc.ctc_loss`` as NumPy arrays that
share their memory, and gets back the per-sample losses and the gradient of
each loss with respect to ``log_probs``, both computed in one C call with the
GIL released. ``register_autograd`` keeps that gradient and, on the backward
pass, only scales it by the upstream gradient of each sample;
``register_fake`` gives the output shapes, so that ``torch.compile`` traces
the operator without a graph break. The reduction is done outside the
operator, in ordinary torch operations.

The wrapper checks what it can see without reading tensor values (types,
devices, dtypes, ranks, batch sizes); ``ctcc.ctc_loss`` checks the values
(labels, lengths, blank) when the operator runs, and its messages are given
torch's argument names.
"""

from __future__ import annotations

import re
from typing import Any

import torch

import ctcc
from ctcc import _core
from ctcc._checks import as_choice, as_flag, as_int, as_num_threads, as_real, describe
from ctcc._loss import GAMMA_MAX, _check_modifications

_FN = "ctcc.torch.ctc_loss"
_REDUCTIONS = ("none", "sum", "mean")
_FLOATS = (torch.float32, torch.float64)
_HALVES = (torch.float16, torch.bfloat16)

# ctcc.ctc_loss's argument names -> torch's, for the messages of its checks.
_NAMES = {
    "logit_lengths": "input_lengths",
    "label_lengths": "target_lengths",
    "logits": "log_probs",
    "labels": "targets",
}
_NAME_RE = re.compile(r"\b(" + "|".join(_NAMES) + r")\b")


def _torch_names(message: str) -> str:
    return _NAME_RE.sub(lambda m: _NAMES[m.group(1)], message)


# --------------------------------------------------------------------------
# The operator


@torch.library.custom_op("ctcc::ctc_loss", mutates_args=(), device_types="cpu")
def _ctc_loss_op(
    log_probs: torch.Tensor,
    targets: torch.Tensor,
    input_lengths: torch.Tensor,
    target_lengths: torch.Tensor,
    blank: int,
    zero_infinity: bool,
    num_threads: int,
    need_grad: bool,
    alpha: float,
    gamma: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample CTC losses [N] of log_probs [T, N, C], and (when
    ``need_grad``) the gradient of each loss with respect to log_probs
    [T, N, C] (else an empty tensor). ``num_threads`` -1 means
    ``torch.get_num_threads()``; ``alpha`` -1 means None (plain CTC)."""
    threads = torch.get_num_threads() if num_threads < 0 else num_threads
    try:
        costs, grad = ctcc.ctc_loss(
            log_probs.detach().numpy(),
            targets.numpy(),
            input_lengths.numpy(),
            target_lengths.numpy(),
            blank=blank,
            log_probs=True,
            zero_infinity=zero_infinity,
            num_threads=threads,
            grad=need_grad,
            alpha=None if alpha < 0 else alpha,
            gamma=gamma,
        )
    except (ValueError, TypeError) as e:
        raise type(e)(f"{_FN}: {_torch_names(str(e))}") from None
    grad_t = torch.from_numpy(grad) if need_grad else log_probs.new_empty((0,))
    return torch.from_numpy(costs), grad_t


@_ctc_loss_op.register_fake
def _ctc_loss_fake(
    log_probs,
    targets,
    input_lengths,
    target_lengths,
    blank,
    zero_infinity,
    num_threads,
    need_grad,
    alpha,
    gamma,
):
    costs = log_probs.new_empty((log_probs.shape[1],))
    grad = log_probs.new_empty(log_probs.shape if need_grad else (0,))
    return costs, grad


class _NoSecondDerivative(torch.autograd.Function):
    """A scalar zero that depends on ``log_probs`` and whose gradient raises.

    The backward pass returns ``grad * grad_costs`` with ``grad`` computed
    by the C core: a constant to autograd, so differentiating that result
    with respect to ``log_probs`` would silently miss the second derivative
    of the loss. When the backward pass builds a graph (``create_graph=True``)
    the scale is ``grad_costs + _NoSecondDerivative.apply(log_probs)``: the
    same numbers, but a second backward pass that reaches ``log_probs``
    through it raises. Derivatives with respect to ``grad_costs`` (the
    weights of the per-sample losses) stay exact and never run this node.
    """

    @staticmethod
    def forward(log_probs):
        return log_probs.new_zeros(())

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @staticmethod
    def backward(ctx, _grad):
        raise RuntimeError(
            f"{_FN} has no second derivative with respect to log_probs: its gradient "
            "is computed by the C core in the forward pass, so a gradient of the "
            "gradient (create_graph=True, e.g. a gradient penalty) cannot be taken "
            "through it (torch.nn.functional.ctc_loss has none either)"
        )


def _setup_context(ctx, inputs, output):
    ctx.mark_non_differentiable(output[1])
    ctx.set_materialize_grads(False)  # no zero tensor [T, N, C] for output[1]
    ctx.save_for_backward(output[1], inputs[0])  # log_probs only as a graph edge


def _backward(ctx, grad_costs, _unused):
    if grad_costs is None:
        return (None,) * 10
    grad, log_probs = ctx.saved_tensors
    if grad.dim() != 3:
        raise RuntimeError(
            f"{_FN}: the gradient was not computed in the forward pass (it runs only "
            "when grad mode is on and log_probs requires grad)"
        )
    scale = grad_costs.reshape(1, -1, 1)
    if torch.is_grad_enabled() and ctx.needs_input_grad[0]:
        scale = scale + _NoSecondDerivative.apply(log_probs)  # create_graph=True
        return (grad * scale,) + (None,) * 9
    if not _eager(grad):
        return (grad * scale,) + (None,) * 9
    # Into an array of ctcc's (whose memory, for a large gradient, is that
    # of an earlier one already released) rather than a fresh tensor of
    # PyTorch's, which would fault in page by page: on T=64, N=64, C=5000
    # that took most of the adapter's time (bench/torch_overhead.py).
    out = torch.from_numpy(_core.output_array(tuple(grad.shape), grad.numpy().dtype))
    return (torch.mul(grad, scale, out=out),) + (None,) * 9


def _eager(t: torch.Tensor) -> bool:
    """Whether ``t`` is a plain CPU tensor outside any tracing: not a
    subclass (fake and functional tensors are), not under torch.compile,
    no dispatch mode (make_fx) on the stack. Only then may the backward
    pass write into memory of its own choosing."""
    return (
        type(t) is torch.Tensor
        and t.device.type == "cpu"
        and not torch.compiler.is_compiling()
        and torch._C._len_torch_dispatch_stack() == 0
    )


_ctc_loss_op.register_autograd(_backward, setup_context=_setup_context)


# --------------------------------------------------------------------------
# The checks the wrapper can make without reading tensor values


def _device_error(name: str, device: torch.device) -> ValueError:
    return ValueError(
        f"{_FN}: {name} is on {device}, but ctcc computes the CTC loss on the CPU "
        "only. Move the loss to the CPU: pass log_probs.cpu() (the gradient flows "
        f"back to {device} through .cpu()) and CPU targets and lengths, e.g. "
        "ctcc.torch.ctc_loss(log_probs.cpu(), targets.cpu(), input_lengths.cpu(), "
        "target_lengths.cpu()); or use torch.nn.functional.ctc_loss there"
    )


def _tensor(value: Any, name: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{_FN}: {name} must be a torch.Tensor, got {describe(value)}")
    if value.device.type != "cpu":
        raise _device_error(name, value.device)
    return value


def _integer_tensor(value: Any, name: str) -> torch.Tensor:
    t = _tensor(value, name)
    if t.dtype == torch.bool or t.dtype.is_floating_point or t.dtype.is_complex:
        raise TypeError(f"{_FN}: {name} must hold integers, got dtype {t.dtype}")
    return t


def _lengths(value: Any, name: str, N: int, batched: bool) -> torch.Tensor:
    """``value`` (a tensor, a tuple or list of ints, or for an unbatched
    input an int) as an integer tensor of shape [N]."""
    if isinstance(value, torch.Tensor):
        t = _integer_tensor(value, name)
    elif isinstance(value, (tuple, list)):
        items = [as_int(v, f"{name}[{i}]", _FN) for i, v in enumerate(value)]
        t = torch.tensor(items, dtype=torch.int64)
    elif not batched:
        t = torch.tensor([as_int(value, name, _FN)], dtype=torch.int64)
    else:
        raise TypeError(
            f"{_FN}: {name} must be a tensor or a tuple of {N} integers, got {describe(value)}"
        )
    if batched:
        if tuple(t.shape) != (N,):
            raise ValueError(
                f"{_FN}: {name} must have shape ({N},), one per sample, got shape {tuple(t.shape)}"
            )
        return t
    if t.dim() > 1 or t.numel() != 1:
        raise ValueError(
            f"{_FN}: {name} of an unbatched input [T, C] must be a single integer, got "
            f"shape {tuple(t.shape)}"
        )
    return t.reshape(1)


def _check_log_probs(value: Any) -> torch.Tensor:
    t = _tensor(value, "log_probs")
    if t.dtype not in _FLOATS + _HALVES:
        raise TypeError(
            f"{_FN}: log_probs must be float32 or float64 (float16 and bfloat16 are "
            f"computed in float32), got dtype {t.dtype}"
        )
    if t.dim() not in (2, 3):
        raise ValueError(
            f"{_FN}: log_probs must be [T, N, C] (or [T, C] for one sample), got shape "
            f"{tuple(t.shape)}"
        )
    return t


def _check_targets(value: Any, N: int, batched: bool) -> torch.Tensor:
    t = _integer_tensor(value, "targets")
    if batched:
        if t.dim() not in (1, 2) or (t.dim() == 2 and t.shape[0] != N):
            raise ValueError(
                f"{_FN}: targets must be padded [N, S] with N = {N}, or 1-D "
                f"(concatenated, sum(target_lengths) entries), got shape {tuple(t.shape)}"
            )
        return t
    if t.dim() != 1:
        raise ValueError(
            f"{_FN}: targets of an unbatched input [T, C] must be 1-D [S], got shape "
            f"{tuple(t.shape)}"
        )
    return t.reshape(1, -1)


def _modifications(alpha: Any, gamma: Any, fn: str) -> tuple[float, float]:
    """alpha (-1.0 for None) and gamma as floats, checked as ctcc.ctc_loss
    checks them. Under torch.compile, Dynamo cannot trace the NumPy test in
    ``_check_modifications``: the same rule is checked there with
    ``as_real`` (the same accepted values; the messages say the range)."""
    if not torch.compiler.is_compiling():
        return _check_modifications(alpha, gamma, fn)
    a = as_real(alpha, "alpha", fn, optional=True, low=0, high=1)
    return (-1.0 if a is None else a), as_real(gamma, "gamma", fn, low=0, high=GAMMA_MAX)


# --------------------------------------------------------------------------
# The public API


def ctc_loss(
    log_probs: torch.Tensor,
    targets: torch.Tensor,
    input_lengths: Any,
    target_lengths: Any,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
    *,
    num_threads: int | None = None,
    alpha: float | None = None,
    gamma: float = 0.0,
) -> torch.Tensor:
    """CTC loss with the signature and results of ``torch.nn.functional.ctc_loss``.

    ctcc's exact CTC loss on the CPU, differentiable with respect to
    ``log_probs``. The gradient is the exact derivative of the loss with
    respect to ``log_probs`` (minus the CTC posteriors), so it is right for
    any input, log-softmax-normalised or not.

    Parameters
    ----------
    log_probs : torch.Tensor
        ``[T, N, C]`` (time-major, as in torch), or ``[T, C]`` for one
        sample; log-probabilities, usually the output of ``log_softmax``
        (not required). float32 or float64; float16 and bfloat16 are
        computed in float32 and the loss is returned in the input dtype. CPU
        tensors only.
    targets : torch.Tensor
        Integer labels, padded ``[N, S]`` (entries past ``target_lengths``
        are never read), or 1-D with the N sequences concatenated
        (``sum(target_lengths)`` entries); ``[S]`` for an unbatched input.
        Labels index the classes of ``log_probs`` and must not be the blank.
    input_lengths : torch.Tensor or tuple of int
        ``[N]`` frames per sample, at most T; frames past it get gradient 0.
        A tensor (any integer dtype) or a tuple or list of ints; a single
        integer (or a 0-d tensor) for an unbatched input.
    target_lengths : torch.Tensor or tuple of int
        ``[N]`` labels per sample, in the same forms as ``input_lengths``.
    blank : int, default 0
        Index of the blank class; negative values count from the end
        (``-1`` is the last class).
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        ``'none'``: the per-sample losses ``[N]`` (a 0-d tensor for an
        unbatched input); ``'sum'``: their sum; ``'mean'``: each loss divided
        by its target length (at least 1), then averaged over the batch, as
        torch does.
    zero_infinity : bool, default False
        Give infeasible samples (more labels than their frames can hold)
        loss 0 and gradient 0 instead of loss ``inf`` (their gradient is 0
        either way).
    num_threads : int or None, default None
        Threads of the C core for this call; None means
        ``torch.get_num_threads()`` when the loss runs, 0 all available
        cores.
    alpha : float, optional
        Keyword-only (ctcc extension): non-blank proportion in [0, 1] of the
        training targets (Li and Wang, "Reinterpreting CTC training as
        iterative fitting", eq. 13-16), computed over the batch of this
        call; None (the default) is plain CTC. Changes the gradient only,
        never the loss.
    gamma : float, default 0.0
        Keyword-only (ctcc extension): key-frame reweighting exponent in
        ``[0, 1e300]`` (eq. 17-18); 0 is plain CTC. Changes the gradient
        only, never the loss.

    Returns
    -------
    loss : torch.Tensor
        The loss, in the dtype of ``log_probs``: ``[N]`` with
        ``reduction='none'``, a scalar otherwise.

    Raises
    ------
    TypeError
        If an argument has the wrong type: ``log_probs`` not a floating
        tensor, ``targets`` or lengths not integers, flags not bools,
        ``alpha`` or ``gamma`` not a real number, etc.
    ValueError
        If a tensor is not on the CPU (the message says how to move the loss
        there), shapes disagree, ``reduction`` is unknown, ``alpha`` is
        outside [0, 1], ``gamma`` outside ``[0, 1e300]``, or, when the loss
        runs, a label is outside ``[0, C)`` or equals the blank, a length is
        negative or too large, or the lengths of concatenated targets do not
        add up. Each message names the argument (and the sample).

    See Also
    --------
    CTCLoss : The same loss as a ``torch.nn.Module``.
    ctcc.ctc_loss : The NumPy function underneath.

    Notes
    -----
    torch's own backward pass returns ``exp(log_probs) - posteriors``,
    which is the gradient with respect to the logits before a
    ``log_softmax``: it is right only after one. After a ``log_softmax``
    both give the same gradient with respect to the logits. ctcc returns
    the gradient of an infeasible sample as 0 where torch returns NaN.
    There is no second derivative with respect to ``log_probs`` (nor in
    torch): differentiating the gradient again (``create_graph=True``, e.g.
    a gradient penalty) raises ``RuntimeError``.

    With ``alpha`` or ``gamma`` set, the gradient with respect to
    ``log_probs`` is the modified one of ``ctcc.ctc_loss(...,
    log_probs=True, alpha=alpha, gamma=gamma)``; the loss stays the plain
    CTC loss. ``gamma`` alone keeps the samples independent, but ``alpha``
    couples the samples of one call (its class sums run over the whole
    batch): under ``DistributedDataParallel`` each process computes
    ``alpha``'s sums over its own shard of the batch, so training with
    ``alpha`` on several processes is not the same as on one.

    The operator is ``torch.ops.ctcc.ctc_loss``, registered with
    ``torch.library.custom_op``: ``torch.compile(..., fullgraph=True)``
    traces it without a graph break, and it runs under
    ``DistributedDataParallel`` like any other loss.

    Examples
    --------
    >>> import torch
    >>> import ctcc.torch
    >>> log_probs = torch.randn(50, 2, 6).log_softmax(2).requires_grad_()
    >>> targets = torch.tensor([[1, 2, 3], [4, 4, 0]])
    >>> loss = ctcc.torch.ctc_loss(log_probs, targets, (50, 40), (3, 2))
    >>> loss.backward()
    >>> torch.allclose(loss, torch.nn.functional.ctc_loss(log_probs, targets, (50, 40), (3, 2)))
    True
    >>> log_probs.grad.shape
    torch.Size([50, 2, 6])
    """
    reduction = as_choice(reduction, "reduction", _REDUCTIONS, _FN)
    zero_infinity = as_flag(zero_infinity, "zero_infinity", _FN)
    threads = as_num_threads(num_threads, _FN)
    blank = as_int(blank, "blank", _FN)
    alpha_value, gamma = _modifications(alpha, gamma, _FN)

    x = _check_log_probs(log_probs)
    batched = x.dim() == 3
    N = x.shape[1] if batched else 1
    y = _check_targets(targets, N, batched)
    frames = _lengths(input_lengths, "input_lengths", N, batched)
    labels = _lengths(target_lengths, "target_lengths", N, batched)

    dtype = x.dtype
    if dtype in _HALVES:
        x = x.float()
    if not batched:
        x = x.unsqueeze(1)
    need_grad = torch.is_grad_enabled() and x.requires_grad
    costs, _ = torch.ops.ctcc.ctc_loss(
        x,
        y,
        frames,
        labels,
        blank,
        zero_infinity,
        -1 if threads is None else threads,
        need_grad,
        alpha_value,
        gamma,
    )

    if reduction == "none":
        loss = costs if batched else costs[0]
    elif reduction == "sum":
        loss = costs.sum()
    else:
        loss = (costs / labels.clamp(min=1).to(costs.dtype)).mean()
    return loss.to(dtype) if dtype in _HALVES else loss


class CTCLoss(torch.nn.Module):
    """CTC loss module with the signature and results of ``torch.nn.CTCLoss``.

    ``CTCLoss(...)(log_probs, targets, input_lengths, target_lengths)`` is
    ``ctcc.torch.ctc_loss(log_probs, targets, input_lengths,
    target_lengths, ...)`` with the arguments given here; see that function
    for the shapes, the gradient and the errors.

    Parameters
    ----------
    blank : int, default 0
        Index of the blank class; negative values count from the end.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        ``'none'``: per-sample losses; ``'sum'``: their sum; ``'mean'``: each
        loss divided by its target length (at least 1), averaged over the
        batch.
    zero_infinity : bool, default False
        Give infeasible samples loss 0 instead of ``inf``.
    num_threads : int or None, default None
        Threads of the C core; None means ``torch.get_num_threads()``, 0 all
        available cores.
    alpha : float, optional
        Non-blank proportion in [0, 1] of the training targets (Li and Wang,
        eq. 13-16), over the batch of each call; None is plain CTC. Changes
        the gradient only.
    gamma : float, default 0.0
        Key-frame reweighting exponent in ``[0, 1e300]`` (eq. 17-18); 0 is
        plain CTC. Changes the gradient only.

    Raises
    ------
    TypeError
        If ``blank`` or ``num_threads`` is not an integer (a bool is not),
        ``zero_infinity`` is not a bool, or ``alpha`` or ``gamma`` is not a
        real number.
    ValueError
        If ``reduction`` is not one of the three, ``num_threads`` is
        negative, ``alpha`` is outside [0, 1] or ``gamma`` outside
        ``[0, 1e300]``.

    See Also
    --------
    ctc_loss : The function, with the details.

    Examples
    --------
    >>> import torch
    >>> import ctcc.torch
    >>> criterion = ctcc.torch.CTCLoss(blank=0, reduction="sum")
    >>> log_probs = torch.randn(50, 2, 6, dtype=torch.float64).log_softmax(2)
    >>> targets = torch.tensor([1, 2, 3, 4, 4])  # concatenated
    >>> loss = criterion(log_probs, targets, torch.tensor([50, 40]), torch.tensor([3, 2]))
    >>> reference = torch.nn.CTCLoss(reduction="sum")
    >>> torch.allclose(loss, reference(log_probs, targets, (50, 40), (3, 2)))
    True
    """

    def __init__(
        self,
        blank: int = 0,
        reduction: str = "mean",
        zero_infinity: bool = False,
        *,
        num_threads: int | None = None,
        alpha: float | None = None,
        gamma: float = 0.0,
    ) -> None:
        super().__init__()
        fn = "ctcc.torch.CTCLoss"
        self.blank = as_int(blank, "blank", fn)
        self.reduction = as_choice(reduction, "reduction", _REDUCTIONS, fn)
        self.zero_infinity = as_flag(zero_infinity, "zero_infinity", fn)
        self.num_threads = as_num_threads(num_threads, fn)
        checked_alpha, self.gamma = _modifications(alpha, gamma, fn)
        self.alpha = None if checked_alpha < 0 else checked_alpha

    def forward(
        self,
        log_probs: torch.Tensor,
        targets: torch.Tensor,
        input_lengths: Any,
        target_lengths: Any,
    ) -> torch.Tensor:
        """The loss of a batch; see :func:`ctc_loss` for the arguments.

        Parameters
        ----------
        log_probs : torch.Tensor
            ``[T, N, C]`` or ``[T, C]`` log-probabilities.
        targets : torch.Tensor
            Padded ``[N, S]`` or concatenated 1-D integer labels.
        input_lengths : torch.Tensor or tuple of int
            ``[N]`` frames per sample.
        target_lengths : torch.Tensor or tuple of int
            ``[N]`` labels per sample.

        Returns
        -------
        loss : torch.Tensor
            The loss, reduced as ``reduction`` says.
        """
        return ctc_loss(
            log_probs,
            targets,
            input_lengths,
            target_lengths,
            self.blank,
            self.reduction,
            self.zero_infinity,
            num_threads=self.num_threads,
            alpha=self.alpha,
            gamma=self.gamma,
        )

    def extra_repr(self) -> str:
        """The arguments, for ``repr``."""
        text = f"blank={self.blank}, reduction={self.reduction!r}"
        text += f", zero_infinity={self.zero_infinity}"
        if self.num_threads is not None:
            text += f", num_threads={self.num_threads}"
        if self.alpha is not None:
            text += f", alpha={self.alpha}"
        if self.gamma != 0.0:
            text += f", gamma={self.gamma}"
        return text
