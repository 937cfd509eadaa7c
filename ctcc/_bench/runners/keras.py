"""Keras 3: ``keras.losses.CTC`` and the adapter ``ctcc.keras.CTCLoss``
(``padding_value=0``, which gives ``keras.losses.CTC``'s losses) in its
place, both with ``reduction="none"``, loss and gradient of the summed loss
with respect to batch-major logits ``y_pred`` ``[N, T, C]`` (transposed
outside the timed region), on one Keras backend per worker.

A backend is one line of ``BACKENDS``: the backend's name and the runner
module of its framework, whose ``loss_and_grad`` differentiates there (a
``tf.function`` with ``tf.GradientTape``, ``jax.jit(jax.value_and_grad)``,
``backward()``) and whose ``set_threads``/``env`` set its thread count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

import numpy as np

from ctcc._bench.runners import jax as jax_runner
from ctcc._bench.runners import tensorflow as tf_runner
from ctcc._bench.runners import torch as torch_runner
from ctcc._bench.runners.base import (
    Impl,
    ImplSpec,
    Outputs,
    Runner,
    adapter_spec,
    add_impl,
    to_time_major,
)

# KERAS_BACKEND -> (short name in the implementation names, runner module)
BACKENDS: dict[str, tuple[str, ModuleType]] = {
    "tensorflow": ("tf", tf_runner),
    "jax": ("jax", jax_runner),
    "torch": ("torch", torch_runner),
}


def runner(backend: str) -> Runner:
    """The runner of Keras on ``backend`` (a key of ``BACKENDS``)."""
    short, framework = BACKENDS[backend]
    keras_name, adapter_name = f"keras-{short}", f"ctcc-keras-{short}"

    def env(threads: int) -> Mapping[str, str]:
        extra = getattr(framework, "env", None)
        return {**(extra(threads) if extra else {}), "KERAS_BACKEND": backend}

    def build(
        threads: int, logits: np.ndarray, labels: np.ndarray, names: Sequence[str]
    ) -> tuple[dict[str, Impl], dict[str, Any]]:
        set_threads = getattr(framework, "set_threads", None)
        if set_threads:  # before Keras starts the framework
            set_threads(threads)
        import keras

        if keras.backend.backend() != backend:
            raise RuntimeError(f"Keras runs on {keras.backend.backend()}, not {backend}")
        x_np = np.ascontiguousarray(np.swapaxes(logits, 0, 1))  # [N, T, C]
        y_true = keras.ops.convert_to_tensor(labels)  # no 0: every label counts

        def batch_major(loss: Any) -> Impl:
            call, outputs = framework.loss_and_grad(lambda x: loss(y_true, x), x_np)

            def time_major(out: Any) -> Outputs:
                loss, grad = outputs(out)
                return loss, to_time_major(grad)

            return call, time_major

        def ctcc_adapter() -> Impl:
            import ctcc.keras

            return batch_major(
                ctcc.keras.CTCLoss(blank=0, padding_value=0, num_threads=threads, reduction="none")
            )

        impls: dict[str, Impl] = {}
        info: dict[str, Any] = {
            "versions": {"keras": keras.__version__, "numpy": np.__version__},
            "keras_backend": backend,
        }
        add_impl(
            impls, info, names, keras_name, lambda: batch_major(keras.losses.CTC(reduction="none"))
        )
        add_impl(impls, info, names, adapter_name, ctcc_adapter)
        info.update(getattr(framework, "thread_info", dict)())
        return impls, info

    return Runner(
        kind=f"keras-{short}",
        module="keras",
        impls=(
            ImplSpec(keras_name, f"keras.losses.CTC on the {backend} backend"),
            adapter_spec(
                adapter_name,
                f"ctcc.keras.CTCLoss(padding_value=0) on the {backend} backend",
                keras_name,
                # on torch, ctcc.torch after torch's log_softmax
                after_f32_log_softmax=backend == "torch",
            ),
        ),
        build=build,
        env=env,
    )
