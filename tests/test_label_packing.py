"""The one-pass check and packing of int32 / int64 labels (padded 2-D and
flat 1-D, ``ctcc/_labels.pxi``), against a plain Python reference and the
NumPy path that other dtypes take: the same flat labels and lengths, the
same errors naming the same entry."""

import numpy as np
import pytest

import ctcc
from ctcc import _loss

C = 12
BLANK = 0


def _reference(rows):
    """Flat int32 labels and int32 lengths of a list of label lists."""
    flat = [v for row in rows for v in row]
    return np.array(flat, np.int32), np.array([len(r) for r in rows], np.int32)


def _rows(rng, N, S):
    lengths = rng.integers(0, S + 1, size=N)
    return [list(rng.integers(1, C, size=int(k))) for k in lengths]


def _padded(rows, S, dtype, fill):
    """[N, S] of dtype: each row's labels, then `fill` (a value, or a
    callable giving the junk for the row's remaining width)."""
    out = np.empty((len(rows), S), dtype)
    for n, row in enumerate(rows):
        out[n, : len(row)] = row
        rest = S - len(row)
        out[n, len(row) :] = fill(rest) if callable(fill) else fill
    return out


@pytest.fixture
def packs(monkeypatch):
    """Counts the calls of the compiled packing that succeed."""
    calls = []
    real = _loss._core.pack_padded_labels

    def counted(*args):
        count = real(*args)
        calls.append(count)
        return count

    monkeypatch.setattr(_loss._core, "pack_padded_labels", counted)
    return calls


def _layouts(arr):
    """The same labels in the memory layouts a caller may pass."""
    fortran = np.asfortranarray(arr)
    wide = np.zeros((arr.shape[0], 2 * arr.shape[1]), arr.dtype)
    wide[:, ::2] = arr
    frozen = arr.copy()
    frozen.flags.writeable = False
    return {"C": arr, "F": fortran, "strided": wide[:, ::2], "read-only": frozen}


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("seed", range(4))
def test_padded_inferred_lengths_match_reference(dtype, seed, packs):
    rng = np.random.default_rng(seed)
    N, S = 7, 9
    rows = _rows(rng, N, S)
    # Pads: -1, or any negative value followed by junk (even bad labels),
    # since only the first negative ends a sample.
    arr = _padded(
        rows, S, dtype, lambda k: ([-5] + list(rng.integers(-3, 3 * C, size=max(k - 1, 0))))[:k]
    )
    want_flat, want_lengths = _reference(rows)
    for name, labels in _layouts(arr).items():
        flat, lengths = _loss._normalise_labels(labels, None, N, C, BLANK)
        assert flat.dtype == np.int32 and lengths.dtype == np.int32, name
        np.testing.assert_array_equal(flat, want_flat, err_msg=name)
        np.testing.assert_array_equal(lengths, want_lengths, err_msg=name)
    assert len(packs) == 4 and min(packs) == want_flat.size


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_padded_given_lengths_ignore_what_lies_beyond(dtype, packs):
    rng = np.random.default_rng(7)
    N, S = 6, 8
    rows = _rows(rng, N, S)
    # Beyond each length: values a check would refuse (negative, >= C,
    # the blank), which the given lengths leave out.
    arr = _padded(rows, S, dtype, lambda k: rng.choice([-1, BLANK, C, 10**6], size=k))
    want_flat, want_lengths = _reference(rows)
    for name, labels in _layouts(arr).items():
        for lengths_in in (want_lengths, want_lengths.astype(np.int64), list(want_lengths)):
            flat, lengths = _loss._normalise_labels(labels, lengths_in, N, C, BLANK)
            np.testing.assert_array_equal(flat, want_flat, err_msg=name)
            np.testing.assert_array_equal(lengths, want_lengths, err_msg=name)
    assert len(packs) == 12 and all(p == want_flat.size for p in packs)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_packed_and_numpy_paths_agree(dtype, packs):
    """int16 labels take the NumPy path; the same values as int32 / int64
    the compiled one."""
    rng = np.random.default_rng(11)
    N, S = 16, 20
    rows = _rows(rng, N, S)
    arr = _padded(rows, S, np.int16, -1)
    slow = _loss._normalise_labels(arr, None, N, C, BLANK)
    assert not packs
    fast = _loss._normalise_labels(arr.astype(dtype), None, N, C, BLANK)
    assert len(packs) == 1
    for a, b in zip(slow, fast):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_flat_labels_match_reference(dtype, packs):
    rng = np.random.default_rng(3)
    rows = _rows(rng, 5, 6)
    want_flat, want_lengths = _reference(rows)
    flat_in = want_flat.astype(dtype)
    for labels in (flat_in, np.repeat(flat_in, 2)[::2]):  # contiguous, strided
        flat, lengths = _loss._normalise_labels(labels, want_lengths, 5, C, BLANK)
        np.testing.assert_array_equal(flat, want_flat)
        np.testing.assert_array_equal(lengths, want_lengths)
        assert flat.dtype == np.int32
    assert packs == [want_flat.size, want_flat.size]


BAD = [
    (-1, "outside the alphabet"),
    (C, "outside the alphabet"),
    (BLANK, "which is the blank"),
]


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("value, message", BAD)
def test_bad_padded_entry_is_named(dtype, value, message, packs):
    arr = np.full((4, 5), 3, dtype)
    lengths = np.array([5, 4, 5, 2])
    arr[2, 3] = value
    with pytest.raises(ValueError, match=rf"sample 2, position 3 holds {value}\b.*{message}"):
        _loss._normalise_labels(arr, lengths, 4, C, BLANK)
    assert packs == [-1]  # the compiled pass saw it, the NumPy one named it


def test_int64_label_that_truncates_to_a_valid_int32_is_refused(packs):
    """2^32 + 5 would be 5 as an int32: the check runs on the int64."""
    arr = np.full((2, 3), 4, np.int64)
    arr[1, 1] = 2**32 + 5
    with pytest.raises(ValueError, match=rf"sample 1, position 1 holds {2**32 + 5}, outside"):
        _loss._normalise_labels(arr, None, 2, C, BLANK)
    with pytest.raises(ValueError, match=r"sample 1, position 1 holds"):
        _loss._normalise_labels(arr.reshape(-1), np.array([3, 3]), 2, C, BLANK)
    assert packs == [-1, -1]


def test_a_nonzero_blank_is_refused_and_zero_accepted(packs):
    arr = np.array([[0, 3, 5], [2, 0, -1]], np.int32)
    flat, lengths = _loss._normalise_labels(arr, None, 2, C, 7)  # blank = 7
    np.testing.assert_array_equal(flat, [0, 3, 5, 2, 0])
    np.testing.assert_array_equal(lengths, [3, 2])
    with pytest.raises(ValueError, match=r"sample 0, position 2 holds 5, which is the blank"):
        _loss._normalise_labels(arr, None, 2, C, 5)


def test_loss_through_packed_labels_matches_list_labels():
    """End to end: the packed int32 / int64 forms give the list form's loss
    and gradient to the bit."""
    rng = np.random.default_rng(5)
    T, N = 20, 6
    rows = _rows(rng, N, 6)
    x = rng.standard_normal((T, N, C)).astype(np.float32)
    want = ctcc.ctc_loss(x, rows)
    for dtype in (np.int32, np.int64):
        got = ctcc.ctc_loss(x, _padded(rows, 6, dtype, -1))
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
