# cython: language_level=3, boundscheck=False, wraparound=False
# cython: initializedcheck=False, cdivision=True
"""Typed calls into the C core. Arguments arrive already validated and
converted by the public functions in ``ctcc._loss``; this module only moves
pointers, releases the GIL, and turns status codes into exceptions. Two
helpers of those public functions live here too, where compiled loops pay:
the output arrays (``_outputs.pxi``) and the labels' check and packing
(``_labels.pxi``)."""

import threading

import numpy as np

from libc.stdint cimport int32_t, int64_t
cimport cython
from cython cimport floating

from ctcc.libctcc cimport (
    CTCC_FLOAT32,
    CTCC_FLOAT64,
    CTCC_INPUT_LOG_PROBS,
    CTCC_INPUT_LOGITS,
    CTCC_LAYOUT_BATCH_MAJOR,
    CTCC_LAYOUT_TIME_MAJOR,
    CTCC_ALPHA_NONE,
    CTCC_KERNEL_AUTO,
    CTCC_KERNEL_LOG_SPACE,
    CTCC_KERNEL_USED_LOG_SPACE,
    CTCC_KERNEL_USED_SCALED,
    CTCC_STATUS_SUCCESS,
    ctcc_default_num_threads,
    ctcc_dtype,
    ctcc_loss_f32,
    ctcc_loss_f64,
    ctcc_loss_posteriors_f32,
    ctcc_loss_posteriors_f64,
    ctcc_openmp_enabled,
    ctcc_options,
    ctcc_options_init,
    ctcc_status,
    ctcc_status_string,
    ctcc_version_string,
    ctcc_workspace_size,
)


# What ctcc_options.kernel_used reports for a sample.
KERNEL_SCALED = CTCC_KERNEL_USED_SCALED
KERNEL_LOG_SPACE = CTCC_KERNEL_USED_LOG_SPACE


class CTCCError(RuntimeError):
    """A status code from the C core that the Python checks did not catch.

    The public functions check their arguments before calling C and raise
    ``ValueError`` or ``TypeError`` with a precise message, so a status
    from C means the two checks disagree. Argument statuses are raised as
    ``ValueError``, workspace and size overflow statuses as
    ``MemoryError``; ``CTCCError`` carries the others (a NULL pointer).

    Parameters
    ----------
    status : int
        The ``ctcc_status`` code (see `ctcc.status_string`).
    message : str
        The message: the C function and the status's description.

    Attributes
    ----------
    status : int
        The ``ctcc_status`` code.

    See Also
    --------
    ctcc.status_string : The description of a status code.

    Examples
    --------
    >>> import ctcc
    >>> error = ctcc.CTCCError(1, "ctcc_loss: " + ctcc.status_string(1))
    >>> error.status, str(error)
    (1, 'ctcc_loss: a required pointer argument is NULL')
    >>> isinstance(error, RuntimeError)
    True
    """

    def __init__(self, int status, str message):
        super().__init__(message)
        self.status = status


# The one place that maps C status codes to Python exceptions. The public
# functions validate arguments with precise messages before calling C, so
# reaching here with an argument error means the two checks disagree.
cdef int check_status(ctcc_status status, str where) except -1:
    if status == CTCC_STATUS_SUCCESS:
        return 0
    message = "%s: %s (ctcc status %d)" % (
        where, ctcc_status_string(status).decode("ascii"), <int>status)
    if status == 1:  # CTCC_STATUS_NULL_POINTER
        raise CTCCError(status, message)
    if status in (10, 11):  # workspace too small, size overflow
        raise MemoryError(message)
    raise ValueError(message)


# Each Python thread keeps its workspace between calls. A fresh allocation
# of tens of megabytes is mapped from the kernel and faults in page by page
# on every call: on speech-sized batches that costs a quarter of the loss.
# Buffers above _CACHE_LIMIT bytes are not kept.
_CACHE_LIMIT = 1 << 30
_local = threading.local()


def _workspace(size_t nbytes):
    buf = getattr(_local, "buffer", None)
    if buf is not None and buf.nbytes >= nbytes:
        return buf
    buf = np.empty(max(nbytes, 1), dtype=np.uint8)
    if nbytes <= _CACHE_LIMIT:
        _local.buffer = buf
    return buf


def clear_workspace_cache() -> None:
    """Free the memory that ctcc keeps between calls.

    Each Python thread keeps the scratch buffer of its last call (up to
    1 GiB) and reuses it: a fresh mapping of tens of megabytes would be
    faulted in page by page on every call. Likewise the memory of up to
    two gradient or posteriors arrays of 1 MiB or more (returned by
    earlier calls and since dropped by the caller) is kept for the next
    outputs. This frees the calling thread's scratch buffer and the kept
    outputs' memory; other threads' scratch buffers are kept. The results
    never depend on either.

    See Also
    --------
    ctcc.workspace_size : The size of the buffer a call needs.

    Examples
    --------
    >>> import numpy as np
    >>> import ctcc
    >>> loss, _ = ctcc.ctc_loss(np.zeros((700, 32, 29), np.float32), [[1] * 100] * 32)
    >>> ctcc.clear_workspace_cache()  # gives the memory back
    """
    _local.buffer = None
    release_outputs()


def version() -> str:
    return ctcc_version_string().decode("ascii")


def openmp_enabled() -> bool:
    return ctcc_openmp_enabled() != 0


def default_num_threads() -> int:
    """The number of threads a call uses when `num_threads` is None or 0.

    OpenMP's maximum (``OMP_NUM_THREADS``, else the available cores);
    1 when the core was built without OpenMP.

    Returns
    -------
    int
        At least 1.

    See Also
    --------
    ctcc.openmp_enabled : Whether the core was built with OpenMP.

    Examples
    --------
    >>> import ctcc
    >>> ctcc.default_num_threads() >= 1
    True
    """
    return ctcc_default_num_threads()


@cython.annotation_typing(False)  # a bool must reach as_int, not become 1
def status_string(status: int) -> str:
    """The description of a C status code (``ctcc_status_string``).

    Parameters
    ----------
    status : int
        A ``ctcc_status`` value; any other integer is an unknown status.

    Returns
    -------
    str
        The description, ``"unknown status"`` for an unknown value.

    Raises
    ------
    TypeError
        If `status` is not an integer, or is a bool.

    Examples
    --------
    >>> import ctcc
    >>> ctcc.status_string(0)
    'success'
    >>> ctcc.status_string(8)
    'a label is outside [0, alphabet_size)'
    >>> ctcc.status_string(99)
    'unknown status'
    """
    from ctcc._checks import INT32_MAX, INT32_MIN, as_int

    cdef long long value = -1  # any value outside int32 is no status
    code = as_int(status, "status")
    if INT32_MIN <= code <= INT32_MAX:
        value = code
    return ctcc_status_string(<ctcc_status>value).decode("ascii")


cdef inline const int32_t *int_ptr(const int32_t[::1] a) noexcept nogil:
    return &a[0] if a.shape[0] > 0 else NULL


cdef inline floating *opt_ptr(floating[::1] a, bint wanted) noexcept nogil:
    return &a[0] if wanted and a.shape[0] > 0 else NULL


def ctc_loss_raw(const floating[::1] inputs,
                 floating[::1] gradients,
                 floating[::1] costs,
                 const int32_t[::1] flat_labels,
                 const int32_t[::1] label_lengths,
                 const int32_t[::1] input_lengths,
                 int max_time, int batch_size, int alphabet_size,
                 int blank, int num_threads, bint log_probs,
                 bint batch_major, bint zero_infinity, bint with_gradient,
                 floating[::1] posteriors, floating[::1] frame_weights,
                 bint with_posteriors, bint with_weights,
                 double alpha, double gamma, bint log_space_kernel,
                 unsigned char[::1] kernel_used, bint with_kernel_used):
    """Runs ctcc_loss_posteriors_f32/f64 on flat, C-contiguous buffers.
    ``gradients``, ``posteriors``, ``frame_weights`` and ``kernel_used``
    are ignored (may be empty) unless their ``with_`` flag is set.
    ``alpha`` < 0 means none."""
    cdef ctcc_options opts
    cdef ctcc_status status
    cdef size_t nbytes = 0
    cdef void *workspace = NULL
    cdef ctcc_dtype dtype = CTCC_FLOAT32 if floating is float else CTCC_FLOAT64
    cdef bint backward = with_gradient or with_posteriors or with_weights

    ctcc_options_init(&opts)
    opts.blank = blank
    opts.num_threads = num_threads
    opts.input_kind = CTCC_INPUT_LOG_PROBS if log_probs else CTCC_INPUT_LOGITS
    opts.layout = CTCC_LAYOUT_BATCH_MAJOR if batch_major else CTCC_LAYOUT_TIME_MAJOR
    opts.zero_infinity = 1 if zero_infinity else 0
    opts.alpha = alpha if alpha >= 0 else CTCC_ALPHA_NONE
    opts.gamma = gamma
    opts.kernel = CTCC_KERNEL_LOG_SPACE if log_space_kernel else CTCC_KERNEL_AUTO
    if with_kernel_used:
        opts.kernel_used = &kernel_used[0]

    with nogil:
        status = ctcc_workspace_size(int_ptr(label_lengths),
                                     int_ptr(input_lengths), max_time,
                                     batch_size, alphabet_size, dtype,
                                     1 if backward else 0, &opts, &nbytes)
    check_status(status, "ctcc_workspace_size")
    cdef unsigned char[::1] buffer = _workspace(nbytes)
    workspace = <void *>&buffer[0]
    with nogil:
        if floating is float:
            status = ctcc_loss_posteriors_f32(
                &inputs[0] if inputs.shape[0] > 0 else NULL,
                opt_ptr(gradients, with_gradient),
                opt_ptr(posteriors, with_posteriors),
                opt_ptr(frame_weights, with_weights),
                int_ptr(flat_labels), int_ptr(label_lengths),
                int_ptr(input_lengths), max_time, batch_size,
                alphabet_size, &costs[0], workspace, nbytes, &opts)
        else:
            status = ctcc_loss_posteriors_f64(
                &inputs[0] if inputs.shape[0] > 0 else NULL,
                opt_ptr(gradients, with_gradient),
                opt_ptr(posteriors, with_posteriors),
                opt_ptr(frame_weights, with_weights),
                int_ptr(flat_labels), int_ptr(label_lengths),
                int_ptr(input_lengths), max_time, batch_size,
                alphabet_size, &costs[0], workspace, nbytes, &opts)
    check_status(status, "ctcc_loss")


def workspace_size_raw(const int32_t[::1] label_lengths,
                       const int32_t[::1] input_lengths,
                       int max_time, int alphabet_size, bint float64,
                       bint with_gradient, int num_threads=0):
    """Bytes of workspace ctcc_loss_f32/f64 needs for these lengths."""
    cdef ctcc_options opts
    cdef ctcc_status status
    cdef size_t nbytes = 0
    ctcc_options_init(&opts)
    opts.num_threads = num_threads
    with nogil:
        status = ctcc_workspace_size(int_ptr(label_lengths),
                                     int_ptr(input_lengths), max_time,
                                     <int32_t>label_lengths.shape[0],
                                     alphabet_size,
                                     CTCC_FLOAT64 if float64 else CTCC_FLOAT32,
                                     1 if with_gradient else 0, &opts,
                                     &nbytes)
    check_status(status, "ctcc_workspace_size")
    return nbytes


include "_outputs.pxi"
include "_labels.pxi"
include "_align.pxi"
include "_decode.pxi"
