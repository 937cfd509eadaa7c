"""ctcc: an exact CTC (Connectionist Temporal Classification) loss for the CPU.

``ctcc.ctc_loss`` computes the per-sample negative log-likelihood of label
sequences under per-frame class scores, and its gradient, with a C core
(log-space forward/backward, OpenMP threads over the batch, float32 and
float64).

Conventions
-----------
- ``logits``: [T, N, C] when ``time_major`` (default), else [N, T, C].
- ``blank``: class index of the blank; negative values count from the end
  (``blank=-1`` is TensorFlow's classic blank-as-last-class convention).
- Gradient: for logits, ``softmax(logits) - posterior`` (TensorFlow and
  warp-ctc); with ``log_probs=True``, the exact ``-posterior``.
- ``reduction``: ``"none"`` ([N]), ``"sum"``, or ``"mean"`` (each loss
  divided by its target length, then averaged, as in PyTorch).

``ctcc.forced_align`` takes the same arguments and returns the most
probable alignment (Viterbi path) of each sample's labels;
``ctcc.token_spans`` scores each aligned label and ``ctcc.word_spans``
groups the labels into words.
``ctcc.greedy_decode`` (best path) and ``ctcc.beam_search_decode`` (prefix
beam search) decode the same inputs into label sequences.
"""

# The compiled core first: when it cannot be imported, say why. The usual
# cause is Python running in the root of a source checkout, whose folder
# ctcc/ (without a compiled extension unless it was built in place) comes
# first on sys.path and hides the installed package.
try:
    from ctcc import _core  # noqa: F401 - the modules below import it too
except ImportError as _error:
    import os as _os
    from importlib.machinery import EXTENSION_SUFFIXES as _suffixes

    _here = _os.path.dirname(_os.path.abspath(__file__))
    _root = _os.path.dirname(_here)
    _built = any(_os.path.exists(_os.path.join(_here, "_core" + s)) for s in _suffixes)
    if not _built and _os.path.isfile(_os.path.join(_root, "setup.py")):
        raise ImportError(
            f"ctcc is being imported from its source tree, {_here}, which has no compiled "
            f"extension: it hides any installed ctcc because Python looks in the current "
            f"directory ({_root}) first. Run Python from another directory to use the "
            f"installed ctcc, or install this checkout in place with "
            f"'pip install -e .' in {_root}."
        ) from None
    raise ImportError(
        f"ctcc's compiled core (ctcc._core, in {_here}) cannot be imported: {_error}. "
        f"Reinstall ctcc (in a checkout: pip install -e .)."
    ) from _error

from ctcc._align import STAR, Alignment, forced_align
from ctcc._core import (
    KERNEL_LOG_SPACE,
    KERNEL_SCALED,
    CTCCError,
    clear_workspace_cache,
    default_num_threads,
    status_string,
)
from ctcc._core import openmp_enabled as _openmp_enabled
from ctcc._core import version as _c_version
from ctcc._decode import beam_search_decode, greedy_decode
from ctcc._loss import ctc_loss, ctc_posteriors, workspace_size
from ctcc._spans import TokenSpans, WordSpans, merge_tokens, token_spans, word_spans

__version__ = "0.3.0"

if _c_version() != __version__:  # pragma: no cover - a broken build
    raise ImportError(
        f"ctcc: the compiled core is version {_c_version()}, the Python "
        f"package {__version__}; rebuild the package"
    )


def openmp_enabled() -> bool:
    """Whether the C core was compiled with OpenMP (threads over the batch).

    Without OpenMP every call runs on one thread, whatever `num_threads`
    says.

    Returns
    -------
    bool
        True if the core was built with OpenMP.

    See Also
    --------
    ctcc.default_num_threads : The threads a call uses by default.

    Examples
    --------
    >>> import ctcc
    >>> isinstance(ctcc.openmp_enabled(), bool)
    True
    """
    return _openmp_enabled()


def get_include() -> str:
    """The directory that holds ``ctcc.h``, the C API header, in the package.

    For ``include_dirs=[ctcc.get_include()]`` of downstream C and Cython
    extensions (``cimport ctcc`` declares the functions of ``ctcc.h``).

    Returns
    -------
    str
        The absolute path of the directory.

    See Also
    --------
    ctcc.get_library_dirs : Where the shared library is.
    ctcc.get_libraries : What to link with.

    Examples
    --------
    >>> import os
    >>> import ctcc
    >>> os.path.isfile(os.path.join(ctcc.get_include(), "ctcc.h"))
    True
    """
    import os

    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "include")


def get_library_dirs() -> list:
    """The directories that hold the shared library ``libctcc`` of the package.

    For ``library_dirs`` and ``runtime_library_dirs`` (rpath) of downstream
    extensions. The package ships the library on Linux.

    Returns
    -------
    list of str
        The directory, or an empty list where the build made no library.

    See Also
    --------
    ctcc.get_libraries : What to link with.

    Examples
    --------
    >>> import os
    >>> import ctcc
    >>> all(os.path.isdir(d) for d in ctcc.get_library_dirs())
    True
    """
    import os

    lib = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib")
    return [lib] if os.path.isdir(lib) else []


def get_libraries() -> list:
    """The libraries to link downstream extensions with, for ``libraries``.

    Returns
    -------
    list of str
        ``[":libctcc.so.0"]`` when the package ships the shared library
        (Linux; linked by its file name, ``-l:libctcc.so.0``, since a wheel
        holds no ``libctcc.so`` link), else ``["ctcc"]`` (a libctcc
        installed with CMake on the linker's search path).

    See Also
    --------
    ctcc.get_library_dirs : Where the shipped library is.
    ctcc.get_include : Where the header is.

    Examples
    --------
    >>> import ctcc
    >>> ctcc.get_libraries() in ([":libctcc.so.0"], ["ctcc"])
    True
    """
    import os

    dirs = get_library_dirs()
    if dirs and os.path.isfile(os.path.join(dirs[0], "libctcc.so.0")):
        return [":libctcc.so.0"]
    return ["ctcc"]


__all__ = [
    "Alignment",
    "CTCCError",
    "KERNEL_LOG_SPACE",
    "KERNEL_SCALED",
    "STAR",
    "TokenSpans",
    "WordSpans",
    "beam_search_decode",
    "clear_workspace_cache",
    "ctc_loss",
    "ctc_posteriors",
    "default_num_threads",
    "forced_align",
    "get_include",
    "get_libraries",
    "get_library_dirs",
    "greedy_decode",
    "merge_tokens",
    "openmp_enabled",
    "status_string",
    "token_spans",
    "word_spans",
    "workspace_size",
    "__version__",
]
