"""ctcc.torch: agreement with torch.nn.functional.ctc_loss (loss and
gradient), the exact gradient (gradcheck), the custom operator under
torch.compile and opcheck, zero-copy input, the GIL, device and argument
errors, and training under DistributedDataParallel."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="ctcc.torch needs PyTorch")
F = torch.nn.functional

import ctcc  # noqa: E402
import ctcc._loss  # noqa: E402
import ctcc.torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TOL = {torch.float32: 1e-5, torch.float64: 1e-10}


def _batch(dtype, C=7, blank=0, N=5, T=30, seed=0):
    """Logits [T, N, C] and padded targets with varied lengths: an empty
    sample, repeated labels, a sample with every frame."""
    rng = np.random.default_rng(seed)
    logits = torch.from_numpy(rng.standard_normal((T, N, C)) * 2).to(dtype)
    classes = np.array([c for c in range(C) if c != blank])
    target_lengths = np.array([4, 0, 6, 3, 5][:N])
    targets = classes[rng.integers(0, len(classes), (N, 6))]
    targets[0, 1] = targets[0, 0]  # a repeat
    targets[np.arange(6)[None, :] >= target_lengths[:, None]] = blank  # padding
    input_lengths = np.array([30, 12, 25, 9, 30][:N])
    return logits, torch.from_numpy(targets), input_lengths, target_lengths


def _lengths(values, kind):
    if kind == "tuple":
        return tuple(int(v) for v in values)
    if kind == "list":
        return [int(v) for v in values]
    return torch.tensor(values, dtype=getattr(torch, kind))


def _loss_and_grad(fn, logits, *args, **kw):
    x = logits.detach().clone().requires_grad_()
    loss = fn(x.log_softmax(-1), *args, **kw)
    (grad,) = torch.autograd.grad(loss.sum(), x)
    return loss.detach(), grad


def _close(a, b, tol):
    torch.testing.assert_close(a, b, rtol=tol, atol=tol)


# ------------------------------------------------------------ agreement


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("form", ["padded", "concatenated", "unbatched"])
@pytest.mark.parametrize("blank", [0, 3], ids=["blank0", "blank_mid"])
@pytest.mark.parametrize("kind", ["int32", "int64", "tuple", "list"])
def test_matches_torch(dtype, form, blank, kind):
    logits, targets, in_len, tg_len = _batch(dtype, blank=blank)
    if form == "concatenated":
        targets = torch.cat([targets[n, :k] for n, k in enumerate(tg_len)])
    if form == "unbatched":
        logits, targets = logits[:, 2], targets[2, : tg_len[2]]
        # a tuple of one, or 0-d tensors as torch documents for one sample
        one = kind in ("tuple", "list")
        in_len, tg_len = (in_len[2:3], tg_len[2:3]) if one else (in_len[2], tg_len[2])
    a_in, a_tg = _lengths(in_len, kind), _lengths(tg_len, kind)
    for reduction in ("none", "sum", "mean"):
        kw = dict(blank=blank, reduction=reduction)
        ours, g_ours = _loss_and_grad(ctcc.torch.ctc_loss, logits, targets, a_in, a_tg, **kw)
        ref, g_ref = _loss_and_grad(F.ctc_loss, logits, targets, a_in, a_tg, **kw)
        assert ours.dtype == dtype and ours.shape == ref.shape, reduction
        _close(ours, ref, TOL[dtype])
        _close(g_ours, g_ref, TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("zero_infinity", [False, True])
def test_infeasible_samples(dtype, zero_infinity):
    """Samples with more labels (and repeats) than frames: loss inf, or 0
    with zero_infinity, as torch; gradient 0 where torch's is NaN."""
    logits, targets, in_len, tg_len = _batch(dtype)
    in_len = in_len.copy()
    in_len[[0, 2]] = [4, 5]  # 4 labels with a repeat need 5 frames; 6 labels need >= 6
    infeasible = [0, 2]
    args = (targets, torch.tensor(in_len), torch.tensor(tg_len))
    for reduction in ("none", "sum", "mean"):
        kw = dict(reduction=reduction, zero_infinity=zero_infinity)
        ours, g_ours = _loss_and_grad(ctcc.torch.ctc_loss, logits, *args, **kw)
        ref, g_ref = _loss_and_grad(F.ctc_loss, logits, *args, **kw)
        _close(ours, ref, TOL[dtype])  # inf == inf
        if reduction == "none":
            assert torch.isinf(ours[infeasible]).all() != zero_infinity
        feasible = [1, 3, 4]
        if zero_infinity:
            _close(g_ours, g_ref, TOL[dtype])
        else:
            assert torch.isnan(g_ref[:, infeasible]).any()
            _close(g_ours[:, feasible], g_ref[:, feasible], TOL[dtype])
        assert (g_ours[:, infeasible] == 0).all()


def test_module_matches_torch():
    logits, targets, in_len, tg_len = _batch(torch.float64, blank=6)
    lp = logits.log_softmax(-1)
    for reduction in ("none", "sum", "mean"):
        ours = ctcc.torch.CTCLoss(blank=-1, reduction=reduction, zero_infinity=True)
        ref = torch.nn.CTCLoss(blank=6, reduction=reduction, zero_infinity=True)
        args = (lp, targets, torch.tensor(in_len), torch.tensor(tg_len))
        _close(ours(*args), ref(*args), 1e-10)
    assert "reduction='mean'" in repr(ours) and "blank=-1" in repr(ours)


# ---------------------------------- alpha and gamma (Li and Wang's modifications)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize(
    "alpha, gamma", [(0.3, 0.0), (None, 0.8), (0.6, 2.0)], ids=["alpha", "gamma", "both"]
)
@pytest.mark.parametrize("form", ["padded", "concatenated"])
def test_alpha_gamma_match_ctcc(dtype, alpha, gamma, form):
    """The gradient with respect to log_probs is the modified one of
    ctcc.ctc_loss(log_probs=True) with the same alpha and gamma (scaled by
    the reduction); the loss is the plain loss (torch's F.ctc_loss)."""
    logits, targets, in_len, tg_len = _batch(dtype, blank=3)
    if form == "concatenated":
        targets = torch.cat([targets[n, :k] for n, k in enumerate(tg_len)])
    lp = logits.log_softmax(-1)
    _, ref_grad = ctcc.ctc_loss(
        lp.numpy(),
        targets.numpy(),
        in_len,
        tg_len,
        blank=3,
        log_probs=True,
        reduction="none",
        alpha=alpha,
        gamma=gamma,
    )
    _, plain_grad = ctcc.ctc_loss(
        lp.numpy(), targets.numpy(), in_len, tg_len, blank=3, log_probs=True
    )
    assert np.abs(ref_grad - plain_grad).max() > 1e-2  # the modifications change it
    scale = {"none": np.ones(5), "sum": np.ones(5), "mean": 1 / (np.maximum(tg_len, 1) * 5)}
    lengths = (torch.tensor(in_len), torch.tensor(tg_len))
    for reduction in ("none", "sum", "mean"):
        x = lp.clone().requires_grad_()
        kw = dict(blank=3, reduction=reduction)
        loss = ctcc.torch.ctc_loss(x, targets, *lengths, **kw, alpha=alpha, gamma=gamma)
        (grad,) = torch.autograd.grad(loss.sum(), x)
        _close(loss.detach(), F.ctc_loss(lp, targets, *lengths, **kw), TOL[dtype])
        expected = torch.from_numpy(ref_grad * scale[reduction][None, :, None])
        _close(grad, expected.to(dtype), TOL[dtype])
    module = ctcc.torch.CTCLoss(blank=3, reduction="sum", alpha=alpha, gamma=gamma)
    x = lp.clone().requires_grad_()
    (grad,) = torch.autograd.grad(module(x, targets, *lengths), x)
    _close(grad, torch.from_numpy(ref_grad).to(dtype), TOL[dtype])
    assert f"gamma={gamma}" in repr(module) or gamma == 0.0


def test_non_contiguous_input():
    """A batch-first model output transposed to [T, N, C] (a strided view)."""
    logits, targets, in_len, tg_len = _batch(torch.float64)
    strided = logits.transpose(0, 1).contiguous().transpose(0, 1)
    assert not strided.is_contiguous()
    args = (targets, torch.tensor(in_len), torch.tensor(tg_len))
    ours, g_ours = _loss_and_grad(ctcc.torch.ctc_loss, strided, *args)
    ref, g_ref = _loss_and_grad(F.ctc_loss, logits, *args)
    _close(ours, ref, 1e-10)
    _close(g_ours, g_ref, 1e-10)


def test_accepts_numpy_scalars_and_bools():
    logits, targets, in_len, tg_len = _batch(torch.float64, blank=6)
    args = (logits.log_softmax(-1), targets, tuple(in_len), tuple(tg_len))
    ours = ctcc.torch.ctc_loss(*args, np.int64(6), "sum", np.bool_(True), num_threads=np.int32(1))
    _close(ours, F.ctc_loss(*args, 6, "sum", True), 1e-10)


@pytest.mark.parametrize("half", [torch.float16, torch.bfloat16], ids=["f16", "bf16"])
def test_half_precision(half):
    """Computed in float32 from the half input; loss and gradient in the
    input dtype."""
    logits, targets, in_len, tg_len = _batch(torch.float32)
    lp = logits.log_softmax(-1).to(half)
    args = (targets, tuple(in_len), tuple(tg_len))
    for reduction in ("none", "mean"):
        x = lp.clone().requires_grad_()
        loss = ctcc.torch.ctc_loss(x, *args, reduction=reduction)
        (grad,) = torch.autograd.grad(loss.sum(), x)
        assert loss.dtype == half and grad.dtype == half
        y = lp.float().requires_grad_()
        ref = F.ctc_loss(y, *args, reduction=reduction)
        ref.sum().backward()
        # torch's gradient w.r.t. log-probabilities is exp(y) - posterior on
        # the valid frames, 0 past them
        valid = (torch.arange(30)[:, None] < torch.tensor(in_len)[None, :])[..., None]
        posterior = (torch.exp(y.detach()) - y.grad) * valid
        tol = torch.finfo(half).eps
        _close(loss.float(), ref.detach(), tol)
        if reduction == "none":
            _close(grad.float(), -posterior, tol)


# ------------------------------------------------------ the exact gradient


def test_gradcheck_unnormalised_input():
    """gradcheck passes for unnormalised log_probs; torch's own gradient
    assumes a log_softmax upstream and fails it."""
    rng = np.random.default_rng(3)
    x = torch.from_numpy(rng.standard_normal((6, 3, 5))).requires_grad_()
    targets = torch.tensor([[1, 2, 2], [3, 0, 0], [4, 1, 0]])
    in_len, tg_len = torch.tensor([6, 5, 4]), torch.tensor([3, 1, 2])
    for reduction in ("none", "mean"):

        def ours(x, reduction=reduction):
            return ctcc.torch.ctc_loss(
                x, targets, in_len, tg_len, reduction=reduction, num_threads=1
            )

        def ref(x, reduction=reduction):
            return F.ctc_loss(x, targets, in_len, tg_len, reduction=reduction)

        assert torch.autograd.gradcheck(ours, (x,))
        assert not torch.autograd.gradcheck(ref, (x,), raise_exception=False)
        _close(ours(x), ref(x), 1e-12)  # the same loss, though


def test_gradient_is_minus_posteriors():
    logits, targets, in_len, tg_len = _batch(torch.float64)
    x = logits.clone().requires_grad_()  # unnormalised
    lengths = torch.tensor(in_len), torch.tensor(tg_len)
    ctcc.torch.ctc_loss(x, targets, *lengths, reduction="sum").backward()
    post = ctcc.ctc_posteriors(logits.numpy(), targets.numpy(), in_len, tg_len, log_probs=True)
    _close(x.grad, -torch.from_numpy(post), 1e-12)


def test_backward_twice_and_through_a_weighted_sum():
    """retain_graph: the stored gradient is not consumed; the upstream
    gradient scales each sample."""
    logits, targets, in_len, tg_len = _batch(torch.float64)
    x = logits.log_softmax(-1).detach().requires_grad_()
    args = (targets, torch.tensor(in_len), torch.tensor(tg_len))
    weights = torch.tensor([0.5, 2.0, -1.0, 0.0, 3.0], dtype=torch.float64)
    total = (ctcc.torch.ctc_loss(x, *args, reduction="none") * weights).sum()
    total.backward(retain_graph=True)
    once = x.grad.clone()
    total.backward()
    _close(x.grad, 2 * once, 0)
    y = x.detach().requires_grad_()
    (F.ctc_loss(y, *args, reduction="none") * weights).sum().backward()
    valid = (torch.arange(30)[:, None] < torch.tensor(in_len)[None, :])[..., None]
    _close(once, y.grad - torch.exp(y.detach()) * weights[:, None] * valid, 1e-10)


def test_large_gradients_over_training_steps():
    """From 1 MiB on, the forward's gradient and the backward's product are
    written into memory that ctcc reuses once released (ctcc/_outputs.pxi):
    over steps that drop their tensors, accumulate into .grad or retain the
    graph, every gradient matches torch.nn.functional.ctc_loss's, and
    earlier gradients still held are left untouched."""
    rng = np.random.default_rng(5)
    T, N, C = 40, 4, 1000  # float64: a 1.28 MB gradient
    logits = torch.from_numpy(rng.standard_normal((T, N, C)))
    targets = torch.from_numpy(rng.integers(1, C, (N, 10)))
    args = (targets, torch.tensor([40, 30, 40, 20]), torch.tensor([10, 5, 8, 0]))
    weights = torch.tensor([1.0, 0.5, 2.0, -1.0], dtype=torch.float64)

    def total(fn, x):
        return (fn(x.log_softmax(-1), *args, reduction="none") * weights).sum()

    ref = logits.clone().requires_grad_()
    total(F.ctc_loss, ref).backward()
    want = ref.grad
    ctcc.clear_workspace_cache()
    x = logits.clone().requires_grad_()
    held = []
    for _ in range(6):
        x.grad = None
        total(ctcc.torch.ctc_loss, x).backward()
        _close(x.grad, want, 1e-10)
        held.append((x.grad, x.grad.clone()))
        assert ctcc._core.kept_output_bytes() > 0  # released ones are kept
    total(ctcc.torch.ctc_loss, x).backward()  # accumulates into the last
    loss = total(ctcc.torch.ctc_loss, x)
    loss.backward(retain_graph=True)
    loss.backward()
    _close(x.grad, 4 * want, 1e-10)
    for grad, copy in held[:-1]:
        assert torch.equal(grad, copy)
    ctcc.clear_workspace_cache()


def _penalty(x, targets, in_len, tg_len, create_graph=True, fn=ctcc.torch.ctc_loss):
    """A gradient penalty: the squared norm of the gradient of the loss of
    log_softmax(x) with respect to x."""
    loss = fn(x.log_softmax(-1), targets, in_len, tg_len, reduction="sum")
    (grad,) = torch.autograd.grad(loss, x, create_graph=create_graph)
    return (grad**2).sum(), grad


def test_second_derivative_raises():
    """The gradient is computed by the C core, a constant to autograd: a
    gradient of the gradient through it must not be silently incomplete.
    It raises (torch's own loss raises too); a second derivative, if one
    is ever given, must match central differences of the first."""
    rng = np.random.default_rng(4)
    x = torch.from_numpy(rng.standard_normal((6, 3, 5))).requires_grad_()
    args = (torch.tensor([[1, 2, 2], [3, 0, 0], [4, 1, 0]]), (6, 5, 4), (3, 1, 2))
    penalty, grad = _penalty(x, *args)
    _close(grad, _penalty(x, *args, create_graph=False)[1], 0)  # first order unchanged
    with pytest.raises(RuntimeError, match="derivative"):  # torch's has none either
        torch.autograd.grad(_penalty(x, *args, fn=F.ctc_loss)[0], x)
    try:
        (second,) = torch.autograd.grad(penalty, x)
    except RuntimeError as e:
        assert "ctcc.torch.ctc_loss has no second derivative with respect to log_probs" in str(e)
    else:
        eps, flat = 1e-6, x.detach().reshape(-1)
        expected = torch.empty_like(flat)
        for i in range(flat.numel()):
            shift = torch.zeros_like(flat)
            shift[i] = eps
            up, down = ((flat + s).reshape(x.shape).requires_grad_() for s in (shift, -shift))
            expected[i] = (_penalty(up, *args)[0] - _penalty(down, *args)[0]) / (2 * eps)
        _close(second, expected.reshape(x.shape), 1e-6)
        pytest.fail("a second derivative was given: replace this test by the check above")


def test_derivative_through_the_weights_of_the_losses():
    """With create_graph=True the gradient is still differentiable with
    respect to the upstream weights of the per-sample losses (linear in
    them): that derivative is exact and does not raise."""
    logits, targets, in_len, tg_len = _batch(torch.float64)
    x = logits.log_softmax(-1).detach().requires_grad_()
    args = (targets, torch.tensor(in_len), torch.tensor(tg_len))
    weights = torch.tensor([0.5, 2.0, -1.0, 0.0, 3.0], dtype=torch.float64, requires_grad=True)
    loss = (ctcc.torch.ctc_loss(x, *args, reduction="none") * weights).sum()
    (grad,) = torch.autograd.grad(loss, x, create_graph=True)
    probe = torch.from_numpy(np.random.default_rng(5).standard_normal(x.shape))
    (dweights,) = torch.autograd.grad((grad * probe).sum(), weights)
    y = x.detach().requires_grad_()
    F.ctc_loss(y, *args, reduction="sum").backward()
    valid = (torch.arange(30)[:, None] < torch.tensor(in_len)[None, :])[..., None]
    per_sample = y.grad - torch.exp(y.detach()) * valid  # d loss_n / d x, torch's
    _close(dweights, (per_sample * probe).sum(dim=(0, 2)), 1e-10)


# ------------------------------------------- the operator and torch.compile


@pytest.mark.parametrize("alpha, gamma", [(-1.0, 0.0), (0.4, 0.7)], ids=["plain", "alpha_gamma"])
def test_opcheck(alpha, gamma):
    x = torch.randn(6, 2, 5, dtype=torch.float64, requires_grad=True)
    args = (x, torch.tensor([[1, 2], [3, 0]]), torch.tensor([6, 4]), torch.tensor([2, 1]))
    results = torch.library.opcheck(
        torch.ops.ctcc.ctc_loss.default, (*args, 0, False, 1, True, alpha, gamma)
    )
    assert set(results.values()) == {"SUCCESS"}, results


@pytest.mark.parametrize("backend", ["eager", "aot_eager"])
@pytest.mark.parametrize("alpha, gamma", [(None, 0.0), (0.4, 0.7)], ids=["plain", "alpha_gamma"])
def test_compile_fullgraph(backend, alpha, gamma):
    torch._dynamo.reset()
    torch.manual_seed(0)
    linear = torch.nn.Linear(4, 6)
    feats = torch.randn(12, 3, 4)
    targets = torch.tensor([[1, 2, 3], [4, 4, 0], [5, 1, 2]])
    target_lengths = torch.tensor([3, 2, 1])

    def step(feats):
        log_probs = linear(feats).log_softmax(-1)
        return ctcc.torch.ctc_loss(
            log_probs, targets, (12, 10, 8), target_lengths, alpha=alpha, gamma=gamma
        )

    compiled = torch.compile(step, fullgraph=True, backend=backend)  # raises on a break
    loss = compiled(feats)
    grads = torch.autograd.grad(loss, list(linear.parameters()))
    loss0 = step(feats)
    grads0 = torch.autograd.grad(loss0, list(linear.parameters()))
    _close(loss, loss0, 0)
    for g, g0 in zip(grads, grads0):
        _close(g, g0, 0)


# --------------------------------------------- zero copy, threads, the GIL


class _Spy:
    """Stands in for ctcc._loss._core and records ctc_loss_raw's calls."""

    def __init__(self, core, during=None):
        self._core, self._during = core, during
        self.calls = []

    def __getattr__(self, name):
        return getattr(self._core, name)

    def ctc_loss_raw(self, *args):
        start = time.perf_counter()
        result = self._core.ctc_loss_raw(*args)
        self.calls.append((args, start, time.perf_counter()))
        return result


@pytest.fixture
def spy(monkeypatch):
    s = _Spy(ctcc._loss._core)
    monkeypatch.setattr(ctcc._loss, "_core", s)
    return s


def test_contiguous_input_is_not_copied(spy):
    logits, targets, in_len, tg_len = _batch(torch.float32)
    for lp in (logits, logits[:, 2]):  # batched, and an unbatched view
        x = lp.clone().requires_grad_()
        single = x.dim() == 2
        t, n = (targets[2, :6], 6) if single else (targets, torch.tensor(tg_len))
        ctcc.torch.ctc_loss(x, t, 30 if single else torch.tensor(in_len), n).backward()
        inputs = spy.calls[-1][0][0]
        assert np.shares_memory(inputs, x.detach().numpy())
        assert inputs.ctypes.data == x.data_ptr()


@pytest.fixture
def calls(monkeypatch):
    """The keyword arguments of every ctcc.ctc_loss call."""
    seen, real = [], ctcc.ctc_loss

    def record(*args, **kwargs):
        seen.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(ctcc, "ctc_loss", record)
    return seen


def test_num_threads(calls):
    logits, targets, in_len, tg_len = _batch(torch.float32)
    args = (logits.log_softmax(-1), targets, tuple(in_len), tuple(tg_len))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        ctcc.torch.ctc_loss(*args)
        ctcc.torch.ctc_loss(*args, num_threads=2)
        ctcc.torch.CTCLoss(num_threads=0)(*args)
    finally:
        torch.set_num_threads(before)
    assert [kw["num_threads"] for kw in calls] == [1, 2, 0]
    assert all(kw["log_probs"] for kw in calls)


def test_no_gradient_without_grad_mode(calls):
    logits, targets, in_len, tg_len = _batch(torch.float32)
    x = logits.log_softmax(-1).requires_grad_()
    args = (targets, tuple(in_len), tuple(tg_len))
    with torch.no_grad():
        ctcc.torch.ctc_loss(x, *args)
    ctcc.torch.ctc_loss(x.detach(), *args)
    ctcc.torch.ctc_loss(x, *args)
    assert [kw["grad"] for kw in calls] == [False, False, True]


def test_gil_is_released(spy):
    """A Python thread keeps running while the C core computes."""
    rng = np.random.default_rng(0)
    T, N, C, L = 700, 96, 29, 100
    x = torch.from_numpy(rng.standard_normal((T, N, C), dtype=np.float32)).requires_grad_()
    targets = torch.from_numpy(rng.integers(1, C, (N, L)))
    ticks, stop = [], threading.Event()

    def count():
        while not stop.is_set():
            ticks.append(time.perf_counter())

    thread = threading.Thread(target=count)
    thread.start()
    try:
        loss = ctcc.torch.ctc_loss(x, targets, (T,) * N, (L,) * N, num_threads=1)
    finally:
        stop.set()
        thread.join()
    loss.backward()
    _, start, end = spy.calls[-1]
    middle = (start + 0.25 * (end - start), start + 0.75 * (end - start))
    assert end - start > 0.02, "the call is too short to tell"
    inside = [t for t in ticks if middle[0] <= t <= middle[1]]
    assert len(inside) > 100, (len(inside), end - start)


# ------------------------------------------------------------------ errors


def _args(**changes):
    logits, targets, in_len, tg_len = _batch(torch.float32)
    args = dict(
        log_probs=logits.log_softmax(-1),
        targets=targets,
        input_lengths=torch.tensor(in_len),
        target_lengths=torch.tensor(tg_len),
    )
    args.update(changes)
    return args


@pytest.mark.parametrize(
    "changes, error, words",
    [
        (
            dict(log_probs=torch.empty(3, 5, 7, device="meta")),
            ValueError,
            ["log_probs is on meta", "log_probs.cpu()"],
        ),
        (
            dict(targets=torch.zeros(5, 6, dtype=torch.long, device="meta")),
            ValueError,
            ["targets is on meta"],
        ),
        (
            dict(input_lengths=torch.zeros(5, dtype=torch.long, device="meta")),
            ValueError,
            ["input_lengths is on meta"],
        ),
        (
            dict(log_probs=np.zeros((30, 5, 7), np.float32)),
            TypeError,
            ["log_probs must be a torch.Tensor"],
        ),
        (
            dict(log_probs=torch.zeros(30, 5, 7, dtype=torch.int32)),
            TypeError,
            ["log_probs", "torch.int32"],
        ),
        (dict(log_probs=torch.zeros(30, 5, 7, 1)), ValueError, ["log_probs must be [T, N, C]"]),
        (
            dict(targets=torch.zeros(4, 6, dtype=torch.long)),
            ValueError,
            ["targets must be padded [N, S] with N = 5"],
        ),
        (
            dict(targets=torch.zeros(5, 6)),
            TypeError,
            ["targets must hold integers", "torch.float32"],
        ),
        (dict(input_lengths=(30, 30)), ValueError, ["input_lengths must have shape (5,)"]),
        (dict(input_lengths=(30, 30, True, 30, 30)), TypeError, ["input_lengths[2]", "bool"]),
        (dict(input_lengths=30), TypeError, ["input_lengths must be a tensor or a tuple"]),
        (
            dict(target_lengths=torch.ones(5, dtype=torch.bool)),
            TypeError,
            ["target_lengths must hold integers"],
        ),
        (dict(blank=7), ValueError, ["blank = 7"]),
        (dict(blank=True), TypeError, ["blank must be an integer, not a bool"]),
        (dict(reduction="avg"), ValueError, ["reduction must be one of"]),
        (dict(zero_infinity=1), TypeError, ["zero_infinity must be a bool"]),
        (dict(num_threads=-1), ValueError, ["num_threads must be in"]),
        (dict(num_threads=True), TypeError, ["num_threads must be an integer, not a bool"]),
        (dict(num_threads=1.0), TypeError, ["num_threads must be an integer"]),
        (dict(alpha=1.5), ValueError, ["alpha must be None or in [0, 1]", "1.5"]),
        (dict(alpha=True), TypeError, ["alpha must be None or a real number", "bool"]),
        (dict(gamma=-0.5), ValueError, ["gamma must be a finite number >= 0", "-0.5"]),
        (dict(gamma="1"), TypeError, ["gamma must be a real number", "'1'"]),
        (dict(gamma=float("nan")), ValueError, ["gamma must be a finite number >= 0"]),
        # value checks of ctcc.ctc_loss, when the operator runs, in torch's names
        (
            dict(input_lengths=torch.tensor([30, 12, 31, 9, 30])),
            ValueError,
            ["input_lengths[2] = 31", "log_probs"],
        ),
        (dict(target_lengths=torch.tensor([4, 0, 7, 3, 5])), ValueError, ["target_lengths[2] = 7"]),
        (
            dict(targets=torch.full((5, 6), 9)),
            ValueError,
            ["targets: sample 0, position 0 holds 9"],
        ),
        (
            dict(targets=torch.zeros(5, 6, dtype=torch.long)),
            ValueError,
            ["targets: sample 0", "blank"],
        ),
        (
            dict(targets=torch.ones(17, dtype=torch.long)),
            ValueError,
            ["targets has 17 entries but target_lengths sums to 18"],
        ),
    ],
)
def test_bad_arguments(changes, error, words):
    with pytest.raises(error) as info:
        ctcc.torch.ctc_loss(**_args(**changes))
    message = str(info.value)
    assert message.startswith("ctcc.torch.ctc_loss: "), message
    for word in words:
        assert word in message, message


def test_device_error_names_cuda():
    """A CUDA tensor (made under FakeTensorMode, so no GPU is needed)."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        log_probs = torch.empty(30, 5, 7, device="cuda")
        with pytest.raises(ValueError, match=r"log_probs is on cuda:0.*log_probs\.cpu\(\)"):
            ctcc.torch.ctc_loss(log_probs, torch.zeros(5, 3, dtype=torch.long), (30,) * 5, (3,) * 5)


def test_module_checks_its_arguments():
    with pytest.raises(TypeError, match="ctcc.torch.CTCLoss: blank must be an integer"):
        ctcc.torch.CTCLoss(blank=1.0)
    with pytest.raises(ValueError, match="reduction must be one of"):
        ctcc.torch.CTCLoss(reduction="elementwise_mean")
    with pytest.raises(TypeError, match="zero_infinity must be a bool"):
        ctcc.torch.CTCLoss(zero_infinity="False")
    with pytest.raises(ValueError, match=r"ctcc.torch.CTCLoss: alpha must be None or in \[0, 1\]"):
        ctcc.torch.CTCLoss(alpha=-0.1)
    with pytest.raises(TypeError, match="ctcc.torch.CTCLoss: gamma must be a real number"):
        ctcc.torch.CTCLoss(gamma=None)


# ------------------------------------------------- DistributedDataParallel


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_matches_one_process(tmp_path):
    """Two gloo ranks with half the batch each train the same parameters
    as one process on the whole batch."""
    if not torch.distributed.is_available():
        pytest.skip("this torch build has no torch.distributed")
    import torch_ddp

    env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()))
    env["PYTHONPATH"] = os.pathsep.join([HERE, env.get("PYTHONPATH", "")])
    outs = [tmp_path / f"rank{r}.npz" for r in range(2)]
    procs = [
        subprocess.Popen(
            [sys.executable, os.path.join(HERE, "torch_ddp.py"), str(r), "2", str(outs[r])],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for r in range(2)
    ]
    reference = torch_ddp.train(0, 1)
    logs = []
    for p in procs:
        try:
            logs.append(p.communicate(timeout=120)[0].decode(errors="replace"))
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("the DDP ranks did not finish in 120 s")
    assert all(p.returncode == 0 for p in procs), "\n".join(logs)
    initial = {n: p.detach().numpy() for n, p in torch_ddp.model().named_parameters()}
    for out in outs:
        with np.load(out) as params:
            assert set(params) == set(reference)
            for name, value in reference.items():
                np.testing.assert_allclose(params[name], value, rtol=1e-6, atol=1e-6)
                assert not np.allclose(value, initial[name])  # it did train
