"""The benchmark harness: ctcc against the CTC losses of TensorFlow, PyTorch,
optax (JAX) and Keras, and ctcc's framework adapters against the losses they
replace, on the CPU.

Run ``python -m ctcc bench --help`` (from a checkout, ``python
bench/ctcc_bench.py`` does the same; or call ``main(argv)``). Every
implementation is timed for loss + gradient with respect to the logits,
after a check that all of them agree with ctcc in float64.

One module per concern:

- ``workloads``: the shapes and the batches (random logits, or a trained
  model's peaked outputs) every process builds alike;
- ``runners``: one module per framework (``runners/ctcc.py``,
  ``tensorflow.py``, ``torch.py``, ``jax.py``, ``keras.py``) and the
  registry (``runners/__init__.py``); adding a framework is one runner
  module and one line there;
- ``worker``: the worker processes, one per (framework, thread count), and
  their one-line JSON protocol;
- ``agreement``: the check of losses and gradients against float64;
- ``measure``: one workload, phase by phase (start, check, warm-up, timed
  rounds, statistics);
- ``report``: summary rows, Markdown tables, JSON; ``machine``: what it ran
  on;
- ``cli``: the command line and ``main``.

Only the standard library and NumPy are imported at the top level; each
framework is imported inside its workers.
"""

from ctcc._bench.cli import main

__all__ = ["main"]
