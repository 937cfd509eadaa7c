# The large output arrays (gradient, posteriors), reused once the caller
# drops them. Included by _core.pyx.
#
# Why: an output of tens of megabytes is a fresh mapping on every call,
# and the kernel zeroes its pages as the C core first writes them: on
# ocr-large-vocab (an 82 MB float32 gradient) that was 6 ms of a 20 ms
# call on one thread, and barely less on two, because every sample writes
# rows spread over the whole array, so the first sample's thread faults
# in nearly every page while the other waits on the same pages.
#
# How: such an array is a view of a byte buffer held by an _OutputBlock.
# NumPy points every view of it (and every view of a view) at the block,
# an object that is not an array, so the block dies only when the last
# array using its memory is gone; then it hands the buffer back, and the
# next call's output of a size it fits reuses it without a page fault. The
# C core writes every element of its outputs (frames past a sample's
# length get 0), so what the buffer held before never shows.
#
# Kept: at most _KEEP_BLOCKS buffers, the most recently released, each of
# at most _CACHE_LIMIT bytes; outputs under _POOL_MIN bytes come from
# np.empty (the C library's heap serves them again without page faults).
# The list is only changed by code that runs no Python bytecode in
# between, so under the GIL no other thread sees it half changed.

_POOL_MIN = 1 << 20
_KEEP_BLOCKS = 2
cdef enum:
    _OUTPUT_ALIGN = 64  # bytes: a cache line, and what TensorFlow aliases
_released = []


cdef inline size_t _address(const unsigned char[::1] raw):
    """The address of raw's data (cheaper than raw.ctypes.data)."""
    return <size_t>&raw[0]


cdef class _OutputBlock:
    """The owner of one reused output buffer (see _outputs.pxi)."""

    cdef object buffer  # a uint8 ndarray
    cdef size_t address  # where the output starts in it
    cdef Py_ssize_t nbytes

    def __cinit__(self, buffer, size_t address, Py_ssize_t nbytes):
        self.buffer = buffer
        self.address = address
        self.nbytes = nbytes

    @property
    def __array_interface__(self):
        return {
            "shape": (self.nbytes,),
            "typestr": "|u1",
            "data": (self.address, False),
            "version": 3,
        }

    def __dealloc__(self):
        released = _released
        if released is not None and self.buffer is not None:
            released.append(self.buffer)
            if len(released) > _KEEP_BLOCKS:
                del released[0]


def output_array(shape, dtype):
    """An uninitialised C-contiguous array of `shape` and `dtype` whose data
    starts at a multiple of 64 bytes: for an output that the C core fills
    entirely. From 1 MiB on, its memory is a released output's where one
    of between the same and twice the size is kept (see _outputs.pxi)."""
    dtype = np.dtype(dtype)
    count = 1
    for d in shape:
        count *= d
    cdef Py_ssize_t nbytes = count * dtype.itemsize
    cdef Py_ssize_t need = nbytes + _OUTPUT_ALIGN, size, best_size = -1
    cdef Py_ssize_t i, best = -1
    cdef size_t address, start
    if nbytes < _POOL_MIN or nbytes > _CACHE_LIMIT:
        raw = np.empty(need, np.uint8)
        start = (_OUTPUT_ALIGN - _address(raw) % _OUTPUT_ALIGN) % _OUTPUT_ALIGN
        return raw[start:start + nbytes].view(dtype).reshape(shape)
    # The smallest that fits, the most recently released among equals (the
    # list's later entries: its memory is the likeliest still cached).
    for i in range(len(_released)):
        size = _released[i].nbytes
        if need <= size <= 2 * need and (best < 0 or size <= best_size):
            best, best_size = i, size
    raw = _released.pop(best) if best >= 0 else np.empty(need, np.uint8)
    address = _address(raw)
    address += (_OUTPUT_ALIGN - address % _OUTPUT_ALIGN) % _OUTPUT_ALIGN
    return np.asarray(_OutputBlock(raw, address, nbytes)).view(dtype).reshape(shape)


def release_outputs():
    """Frees the released output buffers kept for reuse."""
    _released.clear()


def kept_output_bytes() -> int:
    """The bytes of the released output buffers kept for reuse."""
    return sum(b.nbytes for b in _released)
