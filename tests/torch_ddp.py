"""Training with ctcc.torch under DistributedDataParallel, for test_torch.py.

``train(rank, world_size)`` trains a small model (Linear + log_softmax) with
``ctcc.torch.ctc_loss`` for a few SGD steps on the part of a fixed batch that
belongs to ``rank`` and returns the final parameters. With world_size 1 it
is the single-process reference on the whole batch; as a script it is one
rank of a gloo process group:

    MASTER_ADDR=127.0.0.1 MASTER_PORT=PORT python tests/torch_ddp.py RANK WORLD_SIZE OUT.npz

Each rank gets an equal share of the batch and uses reduction="mean", so the
gradient DDP averages over the ranks is the gradient of the whole batch's
mean.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import torch

import ctcc.torch

T, N, FEATURES, C = 40, 8, 7, 6
STEPS = 5
LR = 0.5


def batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Features [T, N, FEATURES], padded targets [N, S] and both lengths."""
    rng = np.random.default_rng(7)
    feats = torch.from_numpy(rng.standard_normal((T, N, FEATURES)))
    target_lengths = torch.from_numpy(rng.integers(1, 6, N))
    input_lengths = torch.from_numpy(rng.integers(25, T + 1, N))
    targets = torch.from_numpy(rng.integers(1, C, (N, 5)))
    return feats, targets, input_lengths, target_lengths


def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Linear(FEATURES, C).double()


def train(rank: int, world_size: int) -> dict[str, np.ndarray]:
    feats, targets, input_lengths, target_lengths = batch()
    share = slice(rank * N // world_size, (rank + 1) * N // world_size)
    net = model()
    trained = net
    if world_size > 1:
        trained = torch.nn.parallel.DistributedDataParallel(net)
    optimizer = torch.optim.SGD(trained.parameters(), lr=LR)
    for _ in range(STEPS):
        optimizer.zero_grad()
        log_probs = trained(feats[:, share]).log_softmax(-1)
        loss = ctcc.torch.ctc_loss(
            log_probs, targets[share], input_lengths[share], target_lengths[share]
        )
        loss.backward()
        optimizer.step()
    return {name: p.detach().numpy().copy() for name, p in net.named_parameters()}


def main() -> None:
    rank, world_size, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        params = train(rank, world_size)
    finally:
        torch.distributed.destroy_process_group()
    np.savez(out, **params)
    # Leave without the interpreter's teardown: gloo's threads can still be
    # winding down when torch's static objects are destroyed, which now and
    # then aborts the process ("terminate called without an active
    # exception") after its work is done and saved.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
