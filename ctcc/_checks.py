"""The rules every Python API of ctcc applies to its scalar arguments.

The NumPy API (``ctcc.*``) and the framework adapters (``ctcc.tensorflow``,
``ctcc.keras``, and any adapter added later) all check their arguments with
these functions, so that each accepts and rejects the same values with the
same messages:

- a **flag** (an on/off argument such as ``log_probs``) accepts only a bool:
  ``True``, ``False`` or a ``numpy.bool_``. Anything else, ``0`` and ``1``,
  strings such as ``"False"``, ``None``, raises ``TypeError``: a string would
  otherwise count as True whatever it says.
- an **integer** argument (``blank``, ``num_threads``, ``beam_width``, ...)
  accepts what ``operator.index`` accepts (``int``, NumPy integer scalars,
  integer scalar tensors) except a bool, which raises ``TypeError``, as do
  floats, even integral ones, and strings.
- a **real** argument (``alpha``, ``gamma``, ``blank_penalty``) accepts a
  ``numbers.Real`` (``int``, ``float``, NumPy floating and integer scalars,
  ``fractions.Fraction``) except a bool; strings, complex numbers and
  ``None`` (unless the argument is optional) raise ``TypeError``.
- a value of the right type outside the argument's range raises
  ``ValueError``.

Every message names the argument and the value it got; ``fn``, when given,
names the public function (``"ctcc.tensorflow.ctc_loss"``) and prefixes the
message.

Array arguments are converted by the functions that take them; this module
only refuses ``numpy.ma.MaskedArray`` (``reject_masked``), whose mask NumPy
would drop without a word.
"""

from __future__ import annotations

import math
import numbers
import operator
from typing import Any

import numpy as np

INT32_MAX = int(np.iinfo(np.int32).max)
INT32_MIN = int(np.iinfo(np.int32).min)

_BOOLS = (bool, np.bool_)


def _prefix(fn: str | None) -> str:
    return f"{fn}: " if fn else ""


def short(value: Any) -> str:
    """``repr(value)``, cut to 80 characters, for messages."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def describe(value: Any) -> str:
    """The type and a short repr of ``value``, for messages."""
    return f"{type(value).__name__} {short(value)}"


def _range_text(low: Any, high: Any) -> str:
    if low is not None and high is not None:
        return f"in [{low}, {high}]"
    if low is not None:
        return f">= {low}"
    return f"<= {high}"


def as_flag(value: Any, name: str, fn: str | None = None) -> bool:
    """``value`` as a Python bool; ``TypeError`` unless it is a bool or a
    ``numpy.bool_``."""
    if isinstance(value, _BOOLS):
        return bool(value)
    raise TypeError(f"{_prefix(fn)}{name} must be a bool (True or False), got {describe(value)}")


def as_int(
    value: Any,
    name: str,
    fn: str | None = None,
    *,
    low: int | None = None,
    high: int | None = None,
    hint: str = "",
) -> int:
    """``value`` as a Python int (through ``operator.index``).

    ``TypeError`` for a bool or a value ``operator.index`` refuses;
    ``ValueError`` outside ``[low, high]`` (either bound may be None).
    ``hint`` follows the range in the message, e.g. ``" (0 = all
    available)"``.
    """
    if isinstance(value, _BOOLS):
        raise TypeError(f"{_prefix(fn)}{name} must be an integer, not a bool: got {value!r}")
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{_prefix(fn)}{name} must be an integer, got {describe(value)}") from None
    if (low is not None and v < low) or (high is not None and v > high):
        raise ValueError(f"{_prefix(fn)}{name} must be {_range_text(low, high)}{hint}, got {v}")
    return v


def as_optional_int(
    value: Any,
    name: str,
    fn: str | None = None,
    *,
    low: int | None = None,
    high: int | None = None,
    hint: str = "",
) -> int | None:
    """``None``, or ``value`` checked by :func:`as_int`."""
    if value is None:
        return None
    return as_int(value, name, fn, low=low, high=high, hint=hint)


def as_num_threads(value: Any, fn: str | None = None) -> int | None:
    """``num_threads``: None, or an integer in [0, 2**31 - 1] (0 and None
    mean every available thread)."""
    return as_optional_int(
        value, "num_threads", fn, low=0, high=INT32_MAX, hint=" (0 = all available)"
    )


def as_real(
    value: Any,
    name: str,
    fn: str | None = None,
    *,
    optional: bool = False,
    low: float | None = None,
    high: float | None = None,
    finite: bool = True,
) -> float | None:
    """``value`` as a Python float (``None`` stays ``None`` when
    ``optional``).

    ``TypeError`` for a bool or anything that is not a ``numbers.Real``;
    ``ValueError`` for a value that is not finite (when ``finite``; an
    integer beyond the float range counts as infinite) or outside
    ``[low, high]``.
    """
    if value is None and optional:
        return None
    if isinstance(value, _BOOLS) or not isinstance(value, numbers.Real):
        what = "None or a real number" if optional else "a real number"
        raise TypeError(f"{_prefix(fn)}{name} must be {what}, got {describe(value)}")
    try:
        v = float(value)
    except OverflowError:  # an int or a Fraction beyond the float range
        v = math.inf if value > 0 else -math.inf
    outside = (low is not None and not v >= low) or (high is not None and not v <= high)
    if outside or (finite and not math.isfinite(v)):
        if low is not None and high is not None:
            what = _range_text(low, high)
        elif low is not None or high is not None:
            what = ("finite and " if finite else "") + _range_text(low, high)
        else:
            what = "finite"
        none = "None or " if optional else ""
        raise ValueError(f"{_prefix(fn)}{name} must be {none}{what}, got {short(value)}")
    return v


def as_choice(value: Any, name: str, choices: tuple[str, ...], fn: str | None = None) -> str:
    """``value`` if it is one of the strings ``choices``; ``ValueError``
    otherwise."""
    if isinstance(value, str) and value in choices:
        return str(value)
    raise ValueError(f"{_prefix(fn)}{name} must be one of {choices}, got {value!r}")


def reject_masked(value: Any, name: str, fn: str | None = None) -> None:
    """``TypeError`` if ``value`` is a ``numpy.ma.MaskedArray``: NumPy's
    conversions keep its data and drop its mask, so the masked entries would
    be used as if they were valid."""
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(
            f"{_prefix(fn)}{name} is a numpy.ma.MaskedArray: ctcc would read the data "
            "under its mask as valid values. Pass a plain array (e.g. "
            f"{name}.filled(...)) and give the valid extent of each sample with the "
            "length arguments instead"
        )
