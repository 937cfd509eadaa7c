"""The C API of the shared library libctcc, through ctypes, for tests that
check C status codes from Python.

The library is looked up in the directories of ``ctcc.get_library_dirs()``
(the copy shipped inside the Python package) and then in the paths of the
``CTCC_LIBRARY`` environment variable; ``load()`` returns None when none is
found, and the tests that need it skip.
"""

from __future__ import annotations

import ctypes
import glob
import os

import numpy as np

c_int32_p = ctypes.POINTER(ctypes.c_int32)
c_float_p = ctypes.POINTER(ctypes.c_float)
c_double_p = ctypes.POINTER(ctypes.c_double)

# The values of include/ctcc.h (pinned there).
STATUS = {
    "SUCCESS": 0,
    "NULL_POINTER": 1,
    "INVALID_BATCH_SIZE": 2,
    "INVALID_ALPHABET_SIZE": 3,
    "INVALID_BLANK": 4,
    "INVALID_MAX_TIME": 5,
    "INVALID_INPUT_LENGTH": 6,
    "INVALID_LABEL_LENGTH": 7,
    "LABEL_OUT_OF_RANGE": 8,
    "LABEL_IS_BLANK": 9,
    "WORKSPACE_TOO_SMALL": 10,
    "SIZE_OVERFLOW": 11,
    "INVALID_OPTION": 12,
    "INVALID_DTYPE": 13,
    "INVALID_BEAM": 14,
}
FLOAT32, FLOAT64 = 1, 2


class Options(ctypes.Structure):
    """ctcc_options, field for field."""

    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("blank", ctypes.c_int),
        ("num_threads", ctypes.c_int),
        ("input_kind", ctypes.c_int),
        ("layout", ctypes.c_int),
        ("zero_infinity", ctypes.c_int),
        ("alpha", ctypes.c_double),
        ("gamma", ctypes.c_double),
        ("kernel", ctypes.c_int),
        ("kernel_used", ctypes.POINTER(ctypes.c_ubyte)),
        ("align_end_tie", ctypes.c_int),
    ]


def _candidates() -> list[str]:
    paths: list[str] = []
    try:
        import ctcc

        for d in ctcc.get_library_dirs():
            paths += sorted(glob.glob(os.path.join(d, "libctcc.so*")))
    except (ImportError, AttributeError):
        pass
    env = os.environ.get("CTCC_LIBRARY")
    if env:
        paths += env.split(os.pathsep)
    return [p for p in paths if os.path.isfile(p)]


_lib = None


def load():
    """The library with argument types declared, or None."""
    global _lib
    if _lib is not None:
        return _lib
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        _declare(lib)
        _lib = lib
        return lib
    return None


def load_path(path: str):
    """The library at path, with argument types declared (loaded beside
    load()'s, not in its place)."""
    lib = ctypes.CDLL(path)
    _declare(lib)
    return lib


def _declare(lib) -> None:
    i32 = ctypes.c_int32
    lib.ctcc_options_init.argtypes = [ctypes.POINTER(Options)]
    lib.ctcc_options_init.restype = None
    lib.ctcc_options_init_size.argtypes = [ctypes.POINTER(Options), ctypes.c_size_t]
    lib.ctcc_options_init_size.restype = None
    lib.ctcc_status_string.argtypes = [ctypes.c_int]
    lib.ctcc_status_string.restype = ctypes.c_char_p
    lib.ctcc_workspace_size.argtypes = [
        c_int32_p, c_int32_p, i32, i32, i32, ctypes.c_int, ctypes.c_int,
        ctypes.POINTER(Options), ctypes.POINTER(ctypes.c_size_t),
    ]  # fmt: skip
    lib.ctcc_workspace_size.restype = ctypes.c_int
    for name, real in (("f32", c_float_p), ("f64", c_double_p)):
        fn = getattr(lib, f"ctcc_loss_{name}")
        fn.argtypes = [
            real, real, c_int32_p, c_int32_p, c_int32_p, i32, i32, i32, real,
            ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(Options),
        ]  # fmt: skip
        fn.restype = ctypes.c_int
    lib.ctcc_beam_workspace_size.argtypes = [
        c_int32_p, i32, i32, i32, i32, i32, ctypes.POINTER(Options),
        ctypes.POINTER(ctypes.c_size_t),
    ]  # fmt: skip
    lib.ctcc_beam_workspace_size.restype = ctypes.c_int


def ptr(a: np.ndarray | None, ctype):
    """A ctypes pointer to a's data, or NULL for None."""
    if a is None:
        return None
    return a.ctypes.data_as(ctypes.POINTER(ctype))


def options(**fields) -> Options:
    o = Options()
    load().ctcc_options_init_size(ctypes.byref(o), ctypes.sizeof(Options))
    for k, v in fields.items():
        setattr(o, k, v)
    return o


def loss_f32(
    x: np.ndarray | None,
    labels: np.ndarray | None,
    label_lengths: np.ndarray | None,
    input_lengths: np.ndarray | None,
    max_time: int,
    batch: int,
    alphabet: int,
    *,
    grad: bool = True,
    workspace_bytes: int | None = None,
    opts: Options | None = None,
    costs: np.ndarray | None = None,
    gradients: np.ndarray | None = None,
    lib=None,
) -> int:
    """Calls ctcc_loss_f32 (a workspace of workspace_bytes, or of what
    ctcc_workspace_size reports, or 1 MiB when that query fails); returns
    the status. Pass costs/gradients to inspect them afterwards, and lib
    (from load_path) to call another library than load()'s."""
    lib = lib if lib is not None else load()
    o = opts if opts is not None else options()
    if workspace_bytes is None:
        size = ctypes.c_size_t(0)
        st = lib.ctcc_workspace_size(
            ptr(label_lengths, ctypes.c_int32),
            ptr(input_lengths, ctypes.c_int32),
            max_time, batch, alphabet, FLOAT32, int(grad), ctypes.byref(o),
            ctypes.byref(size),
        )  # fmt: skip
        workspace_bytes = size.value if st == 0 else 1 << 20
    ws = np.zeros(max(workspace_bytes, 1), np.uint8)
    if costs is None:
        costs = np.zeros(max(batch, 1), np.float32)
    return lib.ctcc_loss_f32(
        ptr(x, ctypes.c_float),
        ptr(gradients, ctypes.c_float) if grad else None,
        ptr(labels, ctypes.c_int32),
        ptr(label_lengths, ctypes.c_int32),
        ptr(input_lengths, ctypes.c_int32),
        max_time, batch, alphabet,
        ptr(costs, ctypes.c_float),
        ws.ctypes.data_as(ctypes.c_void_p), workspace_bytes, ctypes.byref(o),
    )  # fmt: skip
