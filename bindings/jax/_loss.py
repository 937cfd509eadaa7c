"""The JAX CTC loss on ctcc's C core: a drop-in for ``optax.ctc_loss``.

One ``jax.pure_callback`` does the work: it calls ``ctcc.ctc_loss`` on the
host, which checks the values and computes the loss (and, when JAX
differentiates, the gradient in the same C call, with the GIL released).
``jax.custom_vjp`` keeps that gradient and, on the backward pass, only scales
it by the upstream gradient of each sample. Labels and paddings get no
gradient.

The callback takes a whole batch, so ``vmap_method="broadcast_all"`` is
exact: under ``jax.vmap`` it receives every argument with the mapped axes in
front (unmapped ones tiled to match), and the host function folds them into
the batch. With ``alpha`` set, whose sums couple the samples of a call,
each instance of the mapped axes is computed as a call of its own, as if
the function had been called once per instance.
"""

from __future__ import annotations

import functools
import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import ctcc
from ctcc._checks import as_flag, as_int, as_num_threads, as_real, describe, reject_masked
from ctcc._loss import _check_modifications

_FN = "ctcc.jax.ctc_loss"


class _Settings(NamedTuple):
    """The static (hashable) arguments of the callback."""

    blank: int
    num_threads: int | None
    zero_infinity: bool
    alpha: float | None
    gamma: float


def _where(shape: tuple[int, ...], flat: int) -> str:
    return "[" + ", ".join(str(int(i)) for i in np.unravel_index(flat, shape)) + "]"


def _check_paddings(p: np.ndarray, name: str) -> np.ndarray:
    """The padding indicators as a bool array (True = padded); ValueError
    for a value other than 0 and 1."""
    bad = np.flatnonzero((p != 0) & (p != 1))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{_FN}: {name}{_where(p.shape, i)} = {p.reshape(-1)[i].item()!r}: paddings must be "
            "1 on padded positions and 0 elsewhere"
        )
    return p == 1


def _host(
    logits: Any,
    logit_paddings: Any,
    labels: Any,
    label_paddings: Any,
    *,
    settings: _Settings,
    grad: bool,
) -> tuple[np.ndarray, ...]:
    """Loss [..., B] (and gradient [..., B, T, K] when ``grad``) on the host.

    Leading axes in front of [B, T, K] come from ``jax.vmap`` and are folded
    into the batch."""
    x = np.asarray(logits)
    lead, (B, T, K) = x.shape[:-3], x.shape[-3:]
    frames_padded = _check_paddings(np.asarray(logit_paddings), "logit_paddings")
    labels_padded = _check_paddings(np.asarray(label_paddings), "label_paddings")
    lab = np.asarray(labels)
    out_of_order = labels_padded[..., :-1] & ~labels_padded[..., 1:]
    if out_of_order.any():
        row = np.argwhere(out_of_order)[0][:-1]
        where = ", ".join(str(int(i)) for i in row)
        raise ValueError(
            f"{_FN}: label_paddings[{where}] = {labels_padded[tuple(row)].astype(int).tolist()}: "
            "the labels must be right-padded (zeros, then ones), as optax.ctc_loss requires"
        )
    n = int(np.prod(lead, dtype=np.int64)) * B
    x = x.reshape(n, T, K)
    valid = ~frames_padded.reshape(n, T)
    lab = lab.reshape(n, lab.shape[-1])
    label_lengths = (~labels_padded).reshape(n, -1).sum(axis=1)
    if n == 0:  # an empty batch, or an empty vmap axis
        zeros = np.zeros((*lead, B), x.dtype)
        return (zeros, np.zeros((*lead, B, T, K), x.dtype)) if grad else (zeros,)
    # Frames are skipped wherever they are padded (as optax does): a sample
    # whose padded frames are not all at the end is packed first.
    order = None
    if (valid[:, 1:] & ~valid[:, :-1]).any():
        order = np.argsort(~valid, axis=1, kind="stable")
        x = np.take_along_axis(x, order[:, :, None], axis=1)
    # alpha's sums run over the batch of one call: each instance of the
    # vmapped axes is a call of its own (without alpha the samples are
    # independent and one call computes them all).
    size = B if settings.alpha is not None and lead else n
    pieces = [
        _call(
            x[i : i + size],
            lab[i : i + size],
            valid[i : i + size],
            label_lengths[i : i + size],
            settings,
            grad,
        )
        for i in range(0, n, size)
    ]
    if len(pieces) == 1:
        loss, g = pieces[0]
    else:
        loss = np.concatenate([p[0] for p in pieces])
        g = np.concatenate([p[1] for p in pieces]) if grad else None
    loss = loss.reshape(*lead, B)
    if not grad:
        return (loss,)
    if order is not None:
        unpacked = np.empty_like(g)
        np.put_along_axis(unpacked, order[:, :, None], g, axis=1)
        g = unpacked
    return loss, g.reshape(*lead, B, T, K)


def _call(x, lab, valid, label_lengths, settings: _Settings, grad: bool):
    try:
        return ctcc.ctc_loss(
            x,
            lab,
            valid.sum(axis=1),
            label_lengths,
            blank=settings.blank,
            time_major=False,
            zero_infinity=settings.zero_infinity,
            num_threads=settings.num_threads,
            grad=grad,
            alpha=settings.alpha,
            gamma=settings.gamma,
        )
    except ValueError as e:  # labels outside the alphabet or equal to the blank
        raise ValueError(f"{_FN}: {e}") from None


def _callback(settings: _Settings, grad: bool, *args: jax.Array) -> tuple[jax.Array, ...]:
    logits = args[0]
    out = [jax.ShapeDtypeStruct(logits.shape[:-2], logits.dtype)]
    if grad:
        out.append(jax.ShapeDtypeStruct(logits.shape, logits.dtype))
    results = jax.pure_callback(
        functools.partial(_host, settings=settings, grad=grad),
        tuple(out),
        *args,
        vmap_method="broadcast_all",
    )
    # Inside jax.shard_map the results differ from device to device when the
    # inputs do, but a callback's results are typed as the same everywhere:
    # adding a zero made from the inputs gives them the inputs' type (XLA
    # drops the addition), so that gradients are transposed correctly.
    zero = sum(jnp.zeros_like(a, shape=(), dtype=logits.dtype) for a in args)
    return tuple(r + zero for r in results)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _ctc(settings, logits, logit_paddings, labels, label_paddings):
    return _callback(settings, False, logits, logit_paddings, labels, label_paddings)[0]


def _ctc_fwd(settings, logits, logit_paddings, labels, label_paddings):
    loss, grad = _callback(settings, True, logits, logit_paddings, labels, label_paddings)
    return loss, grad


def _ctc_bwd(settings, grad, upstream):
    return (upstream[..., None, None].astype(grad.dtype) * grad, None, None, None)


_ctc.defvjp(_ctc_fwd, _ctc_bwd)


def _array(value: Any, name: str) -> jax.Array:
    reject_masked(value, name, _FN)
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{_FN}: {name} must be an array, got {describe(value)}")
    try:
        return jnp.asarray(value)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{_FN}: {name} cannot be made into a JAX array ({e})") from None


def _check_log_epsilon(value: Any) -> None:
    """log_epsilon is not used; it must still be a real scalar."""
    if hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, np.generic):
        dtype = np.dtype(value.dtype)
        if value.shape != () or dtype == np.bool_ or dtype.kind not in "fiu":
            raise TypeError(
                f"{_FN}: log_epsilon must be a real scalar, got an array of shape "
                f"{tuple(value.shape)} and dtype {dtype}"
            )
    elif not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{_FN}: log_epsilon must be a real number, got {describe(value)}")
    else:
        as_real(value, "log_epsilon", _FN, finite=False)


def ctc_loss(
    logits: Any,
    logit_paddings: Any,
    labels: Any,
    label_paddings: Any,
    *,
    blank_id: int = 0,
    log_epsilon: Any = -1e5,
    num_threads: int | None = None,
    zero_infinity: bool = False,
    alpha: float | None = None,
    gamma: float = 0.0,
) -> jax.Array:
    """Per-sample CTC loss of a padded batch: ``optax.ctc_loss``, exact.

    The arguments, shapes and defaults of ``optax.ctc_loss``; the result is
    ctcc's exact negative log-likelihood. It is differentiable with respect
    to ``logits`` (``jax.custom_vjp``) and works under ``jax.jit``,
    ``jax.grad``, ``jax.value_and_grad``, ``jax.vmap`` and with a batch
    sharded over several devices. The loss runs on the host CPU, in ctcc's C
    core, through ``jax.pure_callback``.

    Parameters
    ----------
    logits : array_like, shape [B, T, K]
        Unnormalised scores (a ``log_softmax`` is applied inside, as optax
        does; log-probabilities are unchanged by it). float32 or float64;
        float16 and bfloat16 are computed in float32.
    logit_paddings : array_like, shape [B, T]
        1 on padded frames, 0 on valid ones (any real or bool dtype). Padded
        frames are skipped wherever they are, as in optax; usually they
        are at the end of each row.
    labels : array_like of int, shape [B, N]
        The label sequences, padded on the right. Entries under a padding
        are ignored; the others must lie in ``[0, K)`` and differ from the
        blank.
    label_paddings : array_like, shape [B, N]
        1 on padded label positions, 0 elsewhere; each row is zeros, then
        ones.
    blank_id : int, default 0
        The index of the blank class, in ``[-K, K)`` (negative values count
        from the end, as in ``ctcc.ctc_loss``).
    log_epsilon : float, default -1e5
        Accepted for compatibility with ``optax.ctc_loss`` and not used:
        optax adds it in place of log(0) to its forward variables; ctcc
        computes in log space without such a stand-in. Must be a real
        scalar.
    num_threads : int or None, default None
        Threads of the C core; None or 0 uses every available thread.
    zero_infinity : bool, default False
        Return a loss of 0 instead of +inf for a sample that no alignment
        can produce (too few frames for its labels). Its gradient is 0
        either way.
    alpha : float, optional
        A ctcc extension: non-blank proportion in [0, 1] of the training
        targets (Li and Wang, "Reinterpreting CTC training as iterative
        fitting", eq. 13-16), computed over the batch of this call; None
        (the default) is plain CTC. A static Python number. Changes the
        gradient only, never the loss.
    gamma : float, default 0.0
        A ctcc extension: key-frame reweighting exponent in ``[0, 1e300]``
        (eq. 17-18); 0 is plain CTC. A static Python number. Changes the
        gradient only, never the loss.

    Returns
    -------
    loss : jax.Array, shape [B]
        The loss of each sample, in the dtype of ``logits``.

    Raises
    ------
    TypeError
        For logits that are not floating point, labels that are not
        integers, and for flags, integers and reals of the wrong type (a
        traced ``alpha`` or ``gamma`` included), when the function is called
        (or traced).
    ValueError
        For shapes that do not fit together, a ``blank_id`` outside
        ``[-K, K)``, ``alpha`` outside [0, 1] or ``gamma`` outside
        ``[0, 1e300]``, when the function is called (or traced). Values are
        checked on the host when the loss is computed: a padding other than
        0 or 1, a label row not padded on the right, or a label outside the
        alphabet or equal to the blank. Under ``jax.jit`` the error reaches
        the caller wrapped in JAX's runtime error, with this message.

    Notes
    -----
    Where optax gives a sample that no alignment can produce (more labels
    and repeats than frames) a large finite loss of about ``-log_epsilon``,
    ctcc gives +inf (0 with ``zero_infinity=True``) and a zero gradient.
    Elsewhere both compute the same quantity; optax's float32 result is
    accurate to about 1e-4 relative, ctcc's to float32 rounding.

    The gradient is ``softmax(logits) - posteriors`` per valid frame (0 on
    padded frames), computed together with the loss. Paddings and labels
    get a zero gradient. Second derivatives are not available. With
    ``alpha`` or ``gamma`` set it is the modified gradient of
    ``ctcc.ctc_loss(logits, ..., alpha=alpha, gamma=gamma)``; the loss is
    unchanged. ``gamma`` alone keeps the samples independent; ``alpha``
    couples the samples of one call (its sums run over the batch). Under
    ``jax.vmap`` each mapped instance is a call of its own. With a batch
    sharded over devices under ``jax.jit`` the batch is gathered and
    ``alpha`` uses all of it; inside ``jax.shard_map`` each shard is a call
    of its own, so ``alpha`` uses its own shard only.

    Under ``jax.jit`` with a batch sharded over several devices, JAX gathers
    the batch to one device for the callback; to compute each shard on its
    own device, call the loss inside ``jax.shard_map`` over the batch axis.

    Examples
    --------
    Two frames of uniform scores over a blank and one label: three of the
    four paths emit the label, so the loss is ``-log(3/4)``.

    >>> import jax, jax.numpy as jnp, numpy as np
    >>> import ctcc.jax
    >>> logits = jnp.zeros((1, 2, 2))
    >>> loss = ctcc.jax.ctc_loss(logits, jnp.zeros((1, 2)), jnp.array([[1]]), jnp.zeros((1, 1)))
    >>> print(f"{float(loss[0]):.6f} {-jnp.log(0.75):.6f}")
    0.287682 0.287682
    >>> grad = jax.grad(lambda x: ctcc.jax.ctc_loss(x, jnp.zeros((1, 2)), jnp.array([[1]]),
    ...                                             jnp.zeros((1, 1))).sum())(logits)
    >>> print(np.asarray(grad[0]).round(4))
    [[ 0.1667 -0.1667]
     [ 0.1667 -0.1667]]
    """
    threads = as_num_threads(num_threads, _FN)
    zero_infinity = as_flag(zero_infinity, "zero_infinity", _FN)
    _check_log_epsilon(log_epsilon)
    checked_alpha, gamma = _check_modifications(alpha, gamma, _FN)
    x = _array(logits, "logits")
    frames = _array(logit_paddings, "logit_paddings")
    lab = _array(labels, "labels")
    lab_pad = _array(label_paddings, "label_paddings")
    if x.ndim != 3:
        raise ValueError(f"{_FN}: logits must be a 3-D array [B, T, K], got shape {x.shape}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{_FN}: logits must be floating point, got dtype {x.dtype}")
    if lab.ndim != 2:
        raise ValueError(f"{_FN}: labels must be a 2-D array [B, N], got shape {lab.shape}")
    if not jnp.issubdtype(lab.dtype, jnp.integer):
        raise TypeError(f"{_FN}: labels must hold integers, got dtype {lab.dtype}")
    B, T, K = x.shape
    if frames.shape != (B, T):
        raise ValueError(
            f"{_FN}: logit_paddings must have shape [B, T] = {[B, T]} to match logits, "
            f"got {list(frames.shape)}"
        )
    if lab.shape[0] != B:
        raise ValueError(
            f"{_FN}: labels has {lab.shape[0]} rows for a batch of {B} (logits {list(x.shape)})"
        )
    if lab_pad.shape != lab.shape:
        raise ValueError(
            f"{_FN}: label_paddings must have the shape of labels {list(lab.shape)}, "
            f"got {list(lab_pad.shape)}"
        )
    for value, name in ((frames, "logit_paddings"), (lab_pad, "label_paddings")):
        if not (jnp.issubdtype(value.dtype, jnp.number) or value.dtype == jnp.bool_):
            raise TypeError(f"{_FN}: {name} must be numbers, got dtype {value.dtype}")
    if K < 1:
        raise ValueError(f"{_FN}: logits must have at least one class, got shape {x.shape}")
    blank = as_int(blank_id, "blank_id", _FN, low=-K, high=K - 1)
    settings = _Settings(
        blank % K, threads, zero_infinity, None if checked_alpha < 0 else checked_alpha, gamma
    )
    if B == 0:
        return jnp.zeros((0,), x.dtype)
    compute = x if x.dtype in (jnp.float32, jnp.float64) else x.astype(jnp.float32)
    args = (compute, frames, lab, lab_pad)
    if not any(isinstance(a, jax.core.Tracer) for a in args):
        # Called eagerly, outside any transformation: compute at once (value
        # errors then raise here as themselves, not wrapped by JAX).
        (loss,) = _host(*args, settings=settings, grad=False)
        return jnp.asarray(loss).astype(x.dtype)
    return _ctc(settings, *args).astype(x.dtype)
