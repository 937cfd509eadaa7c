"""One rule for the scalar arguments of every public Python function
(ctcc.*, ctcc.tensorflow.*, ctcc.keras.*):

- a flag accepts only a bool (True, False, numpy.bool_): 0, 1, "False",
  "no" and None raise TypeError;
- an integer argument accepts what operator.index accepts (int, numpy
  integers) but not a bool;
- a real argument accepts real numbers (int, float, numpy scalars) but not
  a bool, a string or a complex number.

Every message names the argument (and, in the adapters, the function).
The tables below list every flag, integer and real argument of every
public function; a test checks them against the signatures, so a new
argument cannot be left out.
"""

from __future__ import annotations

import inspect
import re
from fractions import Fraction

import numpy as np
import pytest

ctcc = pytest.importorskip("ctcc")

T, N, C = 6, 2, 5
LABELS = [[1, 2], [3]]

BAD_FLAGS = ["False", "no", "", 0, 1, None, 1.0, np.int64(1), [True]]
BAD_INTS = [True, False, np.bool_(True), 1.0, 2.5, "1", None, np.float64(1.0), [1]]
BAD_REALS = [True, np.bool_(False), "0.5", "1", 1j, [0.5]]


def _x(dtype=np.float64):
    return np.random.default_rng(0).normal(size=(T, N, C)).astype(dtype)


# name -> (callable, positional args, {flag: good value}, {int: good value},
#          {real: good value}); the good values are valid for that call
NUMPY = {
    "ctc_loss": (
        ctcc.ctc_loss,
        lambda: (_x(), LABELS),
        {"time_major": True, "log_probs": False, "zero_infinity": False, "grad": True},
        {"blank": 0, "num_threads": 1},
        {"alpha": 0.5, "gamma": 1.0},
    ),
    "ctc_posteriors": (
        ctcc.ctc_posteriors,
        lambda: (_x(), LABELS),
        {"time_major": True, "log_probs": False, "return_weights": False},
        {"blank": 0, "num_threads": 1},
        {"alpha": 0.5, "gamma": 1.0},
    ),
    "forced_align": (
        ctcc.forced_align,
        lambda: (_x(), LABELS),
        {"time_major": True, "log_probs": False},
        {"blank": 0, "num_threads": 1},
        {"star_penalty": -1.0},
    ),
    "greedy_decode": (
        ctcc.greedy_decode,
        lambda: (_x(),),
        {"time_major": True, "log_probs": False},
        {"blank": 0, "num_threads": 1},
        {},
    ),
    "beam_search_decode": (
        ctcc.beam_search_decode,
        lambda: (_x(),),
        {"time_major": True, "log_probs": False},
        {"blank": 0, "num_threads": 1, "beam_width": 4, "top_paths": 2},
        {"blank_penalty": 0.5},
    ),
    "workspace_size": (
        ctcc.workspace_size,
        lambda: ([T, T], [2, 1]),
        {"grad": True},
        {"alphabet_size": C, "num_threads": 1},
        {},
    ),
    "status_string": (
        ctcc.status_string,
        lambda: (),
        {},
        {"status": 3},
        {},
    ),
}


def _cases(table):
    for fn, (_, _, flags, ints, reals) in table.items():
        for arg in flags:
            yield pytest.param(fn, "flag", arg, id=f"{fn}-{arg}")
        for arg in ints:
            yield pytest.param(fn, "int", arg, id=f"{fn}-{arg}")
        for arg in reals:
            yield pytest.param(fn, "real", arg, id=f"{fn}-{arg}")


def _call(table, fn, arg=None, value=None):
    call, args, flags, ints, reals = table[fn]
    kwargs = {**flags, **ints, **reals}
    if arg is not None:
        kwargs[arg] = value
    return call(*args(), **kwargs)


def _bad_values(kind):
    return {"flag": BAD_FLAGS, "int": BAD_INTS, "real": BAD_REALS}[kind]


def _good_values(kind, good):
    """Other spellings of the good value: each must give the same result."""
    if kind == "flag":
        return [np.bool_(good)]
    if kind == "int":
        return [np.int64(good), np.int32(good), np.int8(good)]
    return [np.float32(good), np.float64(good), Fraction(good).limit_denominator()]


def _same(a, b):
    if isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b)
        for u, v in zip(a, b):
            _same(u, v)
    elif a is None or isinstance(a, (str, int)):
        assert a == b
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _optional(fn, arg):
    """True if None is a valid value of the argument (its default)."""
    target = fn.__init__ if inspect.isclass(fn) else fn
    return inspect.signature(target).parameters[arg].default is None


def _check_bad(table, fn, kind, arg, prefix=""):
    for value in _bad_values(kind):
        if value is None and _optional(table[fn][0], arg):
            continue
        with pytest.raises(TypeError) as info:
            _call(table, fn, arg, value)
        message = str(info.value)
        assert re.search(rf"\b{arg}\b", message), (value, message)
        assert message.startswith(prefix), (value, message)


# --- the NumPy API ---------------------------------------------------------------


@pytest.mark.parametrize("fn, kind, arg", list(_cases(NUMPY)))
def test_numpy_api_rejects_the_wrong_types(fn, kind, arg):
    _check_bad(NUMPY, fn, kind, arg)


@pytest.mark.parametrize("fn, kind, arg", list(_cases(NUMPY)))
def test_numpy_api_accepts_every_spelling_of_a_good_value(fn, kind, arg):
    good = {**NUMPY[fn][2], **NUMPY[fn][3], **NUMPY[fn][4]}[arg]
    want = _call(NUMPY, fn)
    for value in _good_values(kind, good):
        _same(_call(NUMPY, fn, arg, value), want)


def test_string_flags_do_not_change_the_result_silently():
    """log_probs="False" used to count as True: negative losses."""
    x = _x()
    with pytest.raises(TypeError, match=r"log_probs must be a bool .* got str 'False'"):
        ctcc.ctc_loss(x, LABELS, log_probs="False")
    with pytest.raises(TypeError, match=r"time_major must be a bool"):
        ctcc.ctc_loss(x, LABELS, time_major="no")
    with pytest.raises(TypeError, match=r"blank must be an integer, not a bool"):
        ctcc.greedy_decode(x, blank=True)
    with pytest.raises(TypeError, match=r"num_threads must be an integer, not a bool"):
        ctcc.ctc_loss(x, LABELS, num_threads=True)


def test_alpha_accepts_none_and_gamma_does_not():
    x = _x()
    ctcc.ctc_loss(x, LABELS, alpha=None)
    with pytest.raises(TypeError, match="gamma must be a real number"):
        ctcc.ctc_loss(x, LABELS, gamma=None)


# --- every flag/int/real argument is in the tables -------------------------------


_KINDS = {"bool": "flag", "int": "int", "float": "real"}


def _annotated(fn):
    """{parameter: kind} from the annotations of fn's signature."""
    out = {}
    for p in inspect.signature(fn).parameters.values():
        ann = p.annotation
        ann = ann if isinstance(ann, str) else getattr(ann, "__name__", "")
        base = ann.replace(" | None", "").replace("Optional[", "").rstrip("]")
        if base in _KINDS:
            out[p.name] = _KINDS[base]
    return out


def _tabled(entry):
    _, _, flags, ints, reals = entry
    return {**{a: "flag" for a in flags}, **{a: "int" for a in ints}, **{a: "real" for a in reals}}


def test_numpy_tables_cover_every_scalar_argument():
    for fn, entry in NUMPY.items():
        assert _annotated(getattr(ctcc, fn)) == _tabled(entry), fn


# --- the TensorFlow adapter -------------------------------------------------------


def _tf_tables():
    tf = pytest.importorskip("tensorflow")
    ctf = pytest.importorskip("ctcc.tensorflow")
    dense = np.array([[1, 2], [3, 0]], np.int32)
    lens = np.array([2, 1], np.int32)
    frames = np.array([T, T], np.int32)
    sparse = tf.sparse.from_dense(np.array([[1, 2], [3, 0]], np.int64))
    return {
        "ctc_loss": (
            ctf.ctc_loss,
            lambda: (dense, _x(np.float32), lens, frames),
            {"logits_time_major": True, "zero_infinity": False},
            {"blank_index": 0, "num_threads": 1},
            {"alpha": 0.5, "gamma": 1.0},
        ),
        "ctc_posteriors": (
            ctf.ctc_posteriors,
            lambda: (dense, _x(np.float32), lens, frames),
            {"logits_time_major": True},
            {"blank_index": 0, "num_threads": 1},
            {"alpha": 0.5, "gamma": 1.0},
        ),
        "ctc_loss_v1": (
            ctf.ctc_loss_v1,
            lambda: (sparse, _x(np.float32), frames),
            {
                "preprocess_collapse_repeated": False,
                "ctc_merge_repeated": True,
                "ignore_longer_outputs_than_inputs": False,
                "time_major": True,
            },
            {"num_threads": 1},
            {},
        ),
        "forced_align": (
            ctf.forced_align,
            lambda: (_x(np.float32), dense, frames, lens),
            {"logits_time_major": True, "log_probs": False},
            {"blank_index": 0, "num_threads": 1},
            {"star_penalty": -1.0},
        ),
        "greedy_decode": (
            ctf.greedy_decode,
            lambda: (_x(np.float32), frames),
            {"logits_time_major": True},
            {"blank_index": 0, "num_threads": 1},
            {},
        ),
        "beam_search_decode": (
            ctf.beam_search_decode,
            lambda: (_x(np.float32), frames),
            {"logits_time_major": True},
            {"blank_index": 0, "num_threads": 1, "beam_width": 4, "top_paths": 2},
            {"blank_penalty": 0.5},
        ),
    }


_TF_NAMES = [
    "ctc_loss",
    "ctc_posteriors",
    "ctc_loss_v1",
    "forced_align",
    "greedy_decode",
    "beam_search_decode",
]
_TF_ARGS = {
    "ctc_loss": (
        ["logits_time_major", "zero_infinity"],
        ["blank_index", "num_threads"],
        ["alpha", "gamma"],
    ),
    "ctc_posteriors": (["logits_time_major"], ["blank_index", "num_threads"], ["alpha", "gamma"]),
    "ctc_loss_v1": (
        [
            "preprocess_collapse_repeated",
            "ctc_merge_repeated",
            "ignore_longer_outputs_than_inputs",
            "time_major",
        ],
        ["num_threads"],
        [],
    ),
    "forced_align": (
        ["logits_time_major", "log_probs"],
        ["blank_index", "num_threads"],
        ["star_penalty"],
    ),
    "greedy_decode": (["logits_time_major"], ["blank_index", "num_threads"], []),
    "beam_search_decode": (
        ["logits_time_major"],
        ["blank_index", "num_threads", "beam_width", "top_paths"],
        ["blank_penalty"],
    ),
}


def _tf_cases():
    for fn in _TF_NAMES:
        flags, ints, reals = _TF_ARGS[fn]
        for kind, args in (("flag", flags), ("int", ints), ("real", reals)):
            for arg in args:
                yield pytest.param(fn, kind, arg, id=f"{fn}-{arg}")


@pytest.mark.parametrize("fn, kind, arg", list(_tf_cases()))
def test_tensorflow_adapter_rejects_the_wrong_types(fn, kind, arg):
    _check_bad(_tf_tables(), fn, kind, arg, prefix=f"ctcc.tensorflow.{fn}: ")


@pytest.mark.parametrize("fn, kind, arg", list(_tf_cases()))
def test_tensorflow_adapter_accepts_every_spelling_of_a_good_value(fn, kind, arg):
    table = _tf_tables()
    good = {**table[fn][2], **table[fn][3], **table[fn][4]}[arg]

    def numpy(out):
        if isinstance(out, tuple):
            return tuple(numpy(o) for o in out)
        return out.to_list() if hasattr(out, "to_list") else np.asarray(out)

    want = numpy(_call(table, fn))
    for value in _good_values(kind, good):
        got = numpy(_call(table, fn, arg, value))
        _same(got, want)


def test_tensorflow_tables_cover_every_scalar_argument():
    table = _tf_tables()
    for fn in _TF_NAMES:
        assert set(_TF_ARGS[fn][0]) == set(table[fn][2]), fn
        assert set(_TF_ARGS[fn][1]) == set(table[fn][3]), fn
        assert set(_TF_ARGS[fn][2]) == set(table[fn][4]), fn
        assert _annotated(table[fn][0]) == _tabled(table[fn]), fn


# --- the Keras loss ---------------------------------------------------------------

_KERAS = (
    {"zero_infinity": False},
    {"blank": 0, "padding_value": -1, "num_threads": 1},
    {"alpha": 0.5, "gamma": 1.0},
)


def _keras_cases():
    for kind, args in zip(("flag", "int", "real"), _KERAS):
        for arg in args:
            yield pytest.param(kind, arg, id=arg)


def _keras_loss():
    pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    if not keras.__version__.startswith("3."):
        pytest.skip("ctcc.keras needs Keras 3")
    return pytest.importorskip("ctcc.keras").CTCLoss


@pytest.mark.parametrize("kind, arg", list(_keras_cases()))
def test_keras_loss_rejects_the_wrong_types(kind, arg):
    CTCLoss = _keras_loss()
    for value in _bad_values(kind):
        if value is None and _optional(CTCLoss, arg):
            continue
        with pytest.raises(TypeError) as info:
            CTCLoss(**{arg: value})
        message = str(info.value)
        assert message.startswith("ctcc.keras.CTCLoss: "), message
        assert re.search(rf"\b{arg}\b", message), (value, message)


@pytest.mark.parametrize("kind, arg", list(_keras_cases()))
def test_keras_loss_accepts_every_spelling_of_a_good_value(kind, arg):
    CTCLoss = _keras_loss()
    good = {**_KERAS[0], **_KERAS[1], **_KERAS[2]}[arg]
    want = CTCLoss(**{arg: good}).get_config()[arg]
    for value in _good_values(kind, good):
        got = CTCLoss(**{arg: value}).get_config()[arg]
        assert got == want and type(got) is type(want), (value, got)


def test_keras_zero_infinity_string_is_refused():
    CTCLoss = _keras_loss()
    with pytest.raises(TypeError, match=r"zero_infinity must be a bool .*got str 'no'"):
        CTCLoss(zero_infinity="no")


def test_keras_table_covers_every_scalar_argument():
    CTCLoss = _keras_loss()
    assert _annotated(CTCLoss.__init__) == _tabled((None, None, *_KERAS))
