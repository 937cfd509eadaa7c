# The labels' check and conversion in one pass, for the common forms: an
# int32 or int64 array, padded 2-D [N, S] or flat 1-D. Included by
# _core.pyx.
#
# Why: the same work in NumPy (lengths from the first negative pad, a mask
# of the entries inside each sample's length, the gather through it, three
# reductions for the range and the blank, a cast to int32) takes about
# 17 us a call on a batch of 32 samples of 40 labels, each step small
# enough that its call overhead dominates: a third of what ctcc_loss
# costs around the C core on speech-sized batches.
#
# A bad entry raises nothing here: the function returns -1 and the caller
# runs its NumPy check, which names the sample, the position and the value
# (one place writes the messages).

ctypedef fused label_int:
    int32_t
    int64_t


def pack_padded_labels(const label_int[:, :] labels,
                       const int32_t[::1] lengths, bint infer_lengths,
                       long long num_classes, long long blank,
                       int32_t[::1] flat_out, int32_t[::1] lengths_out):
    """Checks and packs padded labels [N, S] into warp-ctc's flat layout.

    With ``infer_lengths``, sample n's length is the position of the first
    negative entry of row n (S when there is none) and ``lengths`` is not
    read; otherwise it is ``lengths[n]``, which the caller has checked to
    lie in [0, S]. The entries inside each length, in sample order, go to
    ``flat_out`` (at least N * S entries), the lengths to ``lengths_out``
    ([N]).

    Returns the number of labels written, or -1 if an entry inside a
    length is outside [0, num_classes) or equals ``blank``; ``flat_out``
    and ``lengths_out`` then hold partial results.
    """
    cdef Py_ssize_t N = labels.shape[0], S = labels.shape[1]
    cdef Py_ssize_t n, j, length, count = 0
    cdef long long v
    cdef bint bad = False
    with nogil:
        for n in range(N):
            if infer_lengths:
                length = S
                for j in range(S):
                    if labels[n, j] < 0:
                        length = j
                        break
            else:
                length = lengths[n]
            lengths_out[n] = <int32_t>length
            for j in range(length):
                v = labels[n, j]
                # (One test for both ends: v < 0 wraps to a huge value.)
                bad |= (<unsigned long long>v >= <unsigned long long>num_classes) | (v == blank)
                flat_out[count + j] = <int32_t>v
            count += length
            if bad:
                break
    return -1 if bad else count
