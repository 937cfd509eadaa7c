"""The registry of runners: one line per kind of worker.

Adding a framework means adding a runner module (see ``base``) and its line
in ``RUNNERS``; the command line, the agreement check and the report take
their lists of frameworks and implementations from here. The order of
``RUNNERS`` and of each runner's implementations is the order of the report.
"""

from __future__ import annotations

from collections.abc import Sequence

from ctcc._bench.agreement import Tolerance
from ctcc._bench.runners import ctcc, jax, keras, tensorflow, torch
from ctcc._bench.runners.base import ImplSpec, Runner

RUNNERS: tuple[Runner, ...] = (
    ctcc.RUNNER,
    tensorflow.RUNNER,
    torch.RUNNER,
    jax.RUNNER,
    keras.runner("tensorflow"),
    keras.runner("jax"),
    keras.runner("torch"),
)

BY_KIND: dict[str, Runner] = {r.kind: r for r in RUNNERS}
FRAMEWORKS: tuple[str, ...] = tuple(BY_KIND)
IMPLEMENTATIONS: dict[str, ImplSpec] = {spec.name: spec for r in RUNNERS for spec in r.impls}
KIND_OF: dict[str, str] = {spec.name: r.kind for r in RUNNERS for spec in r.impls}
# Summary columns: group -> (its label, whether it shows the fastest of several paths)
# (ctcc's log-space kernel first: next to ctcc's own columns)
GROUPS: dict[str, tuple[str, bool]] = {
    "ctcc-log": ("ctcc-log", False),
    "tf": ("TF", True),
    "torch": ("torch", False),
}
GROUPS.update(
    {
        spec.group: (spec.group, False)
        for spec in IMPLEMENTATIONS.values()
        if spec.group and spec.group not in GROUPS
    }
)


def impls_for(kind: str, with_softmax_limit: bool, exclude: Sequence[str] = ()) -> list[str]:
    """The implementations a worker of ``kind`` runs on a workload."""
    return [
        spec.name
        for spec in BY_KIND[kind].impls
        if spec.name not in exclude and (with_softmax_limit or not spec.limit_only)
    ]


def tolerances() -> dict[str, Tolerance]:
    return {name: spec.tolerance for name, spec in IMPLEMENTATIONS.items()}


__all__ = [
    "BY_KIND",
    "FRAMEWORKS",
    "GROUPS",
    "IMPLEMENTATIONS",
    "KIND_OF",
    "RUNNERS",
    "ImplSpec",
    "Runner",
    "impls_for",
    "tolerances",
]
