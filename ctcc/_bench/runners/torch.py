"""PyTorch: ``torch.nn.functional.ctc_loss`` and the adapter
``ctcc.torch.ctc_loss`` in its place, both after ``torch.log_softmax`` of
the logits, forward and ``backward()`` of the summed loss: the same work,
the same gradient (with respect to the logits)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

from ctcc._bench.runners.base import Impl, ImplSpec, Outputs, Runner, adapter_spec, add_impl


def set_threads(threads: int) -> Any:
    """Imports PyTorch and sets its intra- and inter-op thread counts;
    returns the module."""
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:  # already started; the intra-op count is what matters
        pass
    return torch


def thread_info() -> dict[str, Any]:
    import torch

    return {
        "intra_op_threads": torch.get_num_threads(),
        "inter_op_threads": torch.get_num_interop_threads(),
    }


def loss_and_grad(loss_fn: Callable[[Any], Any], x_np: np.ndarray) -> Impl:
    """``loss_fn`` (a tensor to per-sample losses) and ``backward()`` of
    their sum into a leaf tensor made from ``x_np``; outputs in ``x_np``'s
    layout."""
    import torch

    x = torch.tensor(x_np, requires_grad=True)

    def call() -> Any:
        x.grad = None
        loss = loss_fn(x)
        loss.sum().backward()
        return loss, x.grad

    def outputs(out: Any) -> Outputs:
        loss, grad = out
        return loss.detach().numpy().astype(np.float64), grad.numpy().copy()

    return call, outputs


def build(
    threads: int, logits: np.ndarray, labels: np.ndarray, names: Sequence[str]
) -> tuple[dict[str, Impl], dict[str, Any]]:
    torch = set_threads(threads)
    import torch.nn.functional as F

    T, N, C = logits.shape
    targets = torch.tensor(labels, dtype=torch.long)
    input_lengths = torch.full((N,), T, dtype=torch.long)
    target_lengths = torch.full((N,), labels.shape[1], dtype=torch.long)

    def with_log_softmax(ctc_loss: Callable[..., Any]) -> Impl:
        return loss_and_grad(
            lambda x: ctc_loss(
                torch.log_softmax(x, dim=2),
                targets,
                input_lengths,
                target_lengths,
                blank=0,
                reduction="none",
                zero_infinity=False,
            ),
            logits,
        )

    def ctcc_adapter() -> Impl:
        import ctcc.torch

        def ctc_loss(*args: Any, **kwargs: Any) -> Any:
            return ctcc.torch.ctc_loss(*args, **kwargs, num_threads=threads)

        return with_log_softmax(ctc_loss)

    impls: dict[str, Impl] = {}
    info: dict[str, Any] = {"versions": {"torch": torch.__version__, "numpy": np.__version__}}
    add_impl(impls, info, names, "torch", lambda: with_log_softmax(F.ctc_loss))
    add_impl(impls, info, names, "ctcc-torch", ctcc_adapter)
    info.update(thread_info())
    return impls, info


RUNNER = Runner(
    kind="torch",
    module="torch",
    impls=(
        ImplSpec("torch", "torch.nn.functional.ctc_loss after torch.log_softmax", group="torch"),
        adapter_spec(
            "ctcc-torch",
            "ctcc.torch.ctc_loss after torch.log_softmax (in the place of torch)",
            "torch",
            after_f32_log_softmax=True,
        ),
    ),
    build=build,
)
