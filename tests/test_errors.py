"""Bad inputs raise ValueError / TypeError with a message that names the
argument and, where it applies, the bad value and the sample index."""

import re

import numpy as np
import pytest

ctcc = pytest.importorskip("ctcc")

T, N, C = 6, 5, 5


def _good():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(T, N, C))
    labels = [[1, 2], [3], [], [4, 4], [2, 1, 3]]
    lengths = np.array([6, 5, 4, 6, 3])
    return x, labels, lengths


def _check(exc_type, fn, *patterns):
    """fn() raises exc_type and its message matches every regex pattern."""
    with pytest.raises(exc_type) as info:
        fn()
    msg = str(info.value)
    for p in patterns:
        assert re.search(p, msg), f"{p!r} not found in message {msg!r}"
    return msg


def _num(v):
    """Regex for the number v standing alone (not part of a longer number)."""
    return rf"(?<![\d.]){re.escape(str(v))}(?![\d.])"


def test_good_inputs_work():
    """The base case of this file is valid (so the errors below come from the
    one thing each test breaks)."""
    x, labels, lengths = _good()
    loss, grad = ctcc.ctc_loss(x, labels, lengths)
    assert np.all(np.isfinite(loss))


# --- logits ----------------------------------------------------------------


@pytest.mark.parametrize("shape", [(T, N), (T,), (1, T, N, C), ()])
def test_logits_wrong_ndim(shape):
    x, labels, lengths = _good()
    bad = np.zeros(shape)
    # the message tells what was given: the number of dimensions or the shape
    _check(
        ValueError,
        lambda: ctcc.ctc_loss(bad, labels, lengths),
        r"logits",
        _num(len(shape)) + "|" + re.escape(str(shape)),
    )


@pytest.mark.parametrize("dtype", [np.float16, np.int32, np.int64, np.complex128, np.bool_])
def test_logits_wrong_dtype(dtype):
    x, labels, lengths = _good()
    _check(TypeError, lambda: ctcc.ctc_loss(x.astype(dtype), labels, lengths), r"logits")


def test_logits_float16_message_names_dtype():
    x, labels, lengths = _good()
    _check(
        TypeError,
        lambda: ctcc.ctc_loss(x.astype(np.float16), labels, lengths),
        r"logits",
        r"float16",
    )


def test_empty_batch():
    x = np.zeros((T, 0, C))
    _check(ValueError, lambda: ctcc.ctc_loss(x, np.zeros((0, 2), dtype=np.int64)), r"logits|batch")


def test_empty_batch_list_labels():
    x = np.zeros((T, 0, C))
    _check(ValueError, lambda: ctcc.ctc_loss(x, []), r"logits|batch")


def test_empty_alphabet():
    x = np.zeros((T, N, 0))
    _check(ValueError, lambda: ctcc.ctc_loss(x, [[]] * N), r"logits|alphabet|class")


# --- blank -----------------------------------------------------------------


@pytest.mark.parametrize("blank", [C, C + 3, -C - 1, -100])
def test_blank_out_of_range(blank):
    x, labels, lengths = _good()
    _check(
        ValueError, lambda: ctcc.ctc_loss(x, [[]] * N, lengths, blank=blank), r"blank", _num(blank)
    )


def test_label_equal_to_blank():
    x, _, lengths = _good()
    labels = [[1, 3], [3], [], [1, 2], [4, 1, 3]]  # only sample 3 holds 2
    _check(
        ValueError,
        lambda: ctcc.ctc_loss(x, labels, lengths, blank=2),
        r"label",
        r"blank",
        _num(3),
        _num(2),
    )


def test_label_equal_to_negative_blank():
    """blank=-1 is class C-1 = 4: a label 4 in sample 3 is rejected."""
    x, labels, lengths = _good()
    labels = [[1, 2], [3], [], [2, 4], [2, 1, 3]]
    _check(
        ValueError, lambda: ctcc.ctc_loss(x, labels, lengths, blank=-1), r"label", r"blank", _num(3)
    )


def test_label_equal_to_blank_padded():
    x, _, lengths = _good()
    labels = np.array([[1, 2], [3, -1], [-1, -1], [4, 0], [2, 1]])
    _check(ValueError, lambda: ctcc.ctc_loss(x, labels, lengths), r"label", r"blank", _num(3))


# --- labels ----------------------------------------------------------------


@pytest.mark.parametrize("bad", [C, 17, -3])
def test_label_out_of_range_list(bad):
    x, labels, lengths = _good()
    labels[3] = [1, bad]
    _check(ValueError, lambda: ctcc.ctc_loss(x, labels, lengths), r"label", _num(bad), _num(3))


def test_label_out_of_range_padded_explicit_lengths():
    x, labels, lengths = _good()
    padded = np.array([[1, 2, -1], [3, -1, -1], [-1, -1, -1], [4, 17, -1], [2, 1, 3]])
    lab_lens = np.array([2, 1, 0, 2, 3])
    _check(
        ValueError, lambda: ctcc.ctc_loss(x, padded, lengths, lab_lens), r"label", _num(17), _num(3)
    )


def test_label_out_of_range_flat():
    x, labels, lengths = _good()
    flat = np.array([1, 2, 3, 4, 4, 2, 9, 3])
    lab_lens = np.array([2, 1, 0, 2, 3])  # 9 belongs to sample 4
    _check(
        ValueError, lambda: ctcc.ctc_loss(x, flat, lengths, lab_lens), r"label", _num(9), _num(4)
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_integer_labels_array(dtype):
    x, labels, lengths = _good()
    padded = np.array([[1, 2, -1], [3, -1, -1], [-1, -1, -1], [4, 4, -1], [2, 1, 3]], dtype=dtype)
    _check(TypeError, lambda: ctcc.ctc_loss(x, padded, lengths), r"labels")


def test_non_integer_labels_list():
    x, labels, lengths = _good()
    labels[1] = [1.5]
    _check(TypeError, lambda: ctcc.ctc_loss(x, labels, lengths), r"labels")


@pytest.mark.parametrize("count", [N - 1, N + 1, 0])
def test_list_labels_wrong_count(count):
    x, labels, lengths = _good()
    labels = [[1]] * count
    _check(ValueError, lambda: ctcc.ctc_loss(x, labels, lengths), r"labels", _num(count))


def test_padded_labels_wrong_batch():
    x, labels, lengths = _good()
    padded = np.ones((N + 2, 3), dtype=np.int64)
    _check(ValueError, lambda: ctcc.ctc_loss(x, padded, lengths), r"labels", _num(N + 2))


def test_labels_3d():
    x, labels, lengths = _good()
    _check(
        ValueError, lambda: ctcc.ctc_loss(x, np.ones((N, 2, 2), dtype=np.int64), lengths), r"labels"
    )


def test_flat_labels_without_label_lengths():
    x, labels, lengths = _good()
    flat = np.array([1, 2, 3, 4, 4, 2, 1, 3])
    _check(ValueError, lambda: ctcc.ctc_loss(x, flat, lengths), r"label_lengths")


def test_flat_labels_lengths_do_not_add_up():
    x, labels, lengths = _good()
    flat = np.array([1, 2, 3, 4, 4, 2, 1, 3])  # 8 labels
    lab_lens = np.array([2, 1, 0, 2, 4])  # sum 9
    _check(
        (ValueError, TypeError),
        lambda: ctcc.ctc_loss(x, flat, lengths, lab_lens),
        r"label_lengths|labels",
    )


# --- logit_lengths ---------------------------------------------------------


@pytest.mark.parametrize("bad", [-2, T + 3])
def test_logit_lengths_out_of_range(bad):
    x, labels, lengths = _good()
    lengths[2] = bad
    _check(
        ValueError, lambda: ctcc.ctc_loss(x, labels, lengths), r"logit_lengths", _num(bad), _num(2)
    )


@pytest.mark.parametrize("shape", [(N - 1,), (N + 1,), (N, 1)])
def test_logit_lengths_wrong_shape(shape):
    x, labels, _ = _good()
    bad = np.full(shape, 3)
    _check(ValueError, lambda: ctcc.ctc_loss(x, labels, bad), r"logit_lengths")


def test_logit_lengths_non_integer():
    x, labels, lengths = _good()
    _check(
        (TypeError, ValueError),
        lambda: ctcc.ctc_loss(x, labels, lengths.astype(np.float64) + 0.5),
        r"logit_lengths",
    )


def test_logit_lengths_batch_major():
    """The bound is T (axis 1 of a batch-major array), not N."""
    x, labels, lengths = _good()
    xb = np.ascontiguousarray(np.transpose(x, (1, 0, 2)))  # [N=5, T=6, C]
    lengths[1] = T + 1
    _check(
        ValueError,
        lambda: ctcc.ctc_loss(xb, labels, lengths, time_major=False),
        r"logit_lengths",
        _num(T + 1),
        _num(1),
    )
    lengths[1] = T  # fine: T > N here
    ctcc.ctc_loss(xb, labels, lengths, time_major=False)


# --- label_lengths ---------------------------------------------------------


def test_label_lengths_negative():
    x, labels, lengths = _good()
    padded = np.array([[1, 2, -1], [3, -1, -1], [-1, -1, -1], [4, 4, -1], [2, 1, 3]])
    lab_lens = np.array([2, 1, 0, -3, 3])
    _check(
        ValueError,
        lambda: ctcc.ctc_loss(x, padded, lengths, lab_lens),
        r"label_lengths",
        _num(-3),
        _num(3),
    )


def test_label_lengths_greater_than_width():
    x, labels, lengths = _good()
    padded = np.array([[1, 2, -1], [3, -1, -1], [-1, -1, -1], [4, 4, -1], [2, 1, 3]])
    lab_lens = np.array([2, 1, 0, 2, 7])
    _check(
        ValueError,
        lambda: ctcc.ctc_loss(x, padded, lengths, lab_lens),
        r"label_lengths",
        _num(7),
        _num(4),
    )


@pytest.mark.parametrize("shape", [(N - 1,), (N + 1,), (N, 1)])
def test_label_lengths_wrong_shape(shape):
    x, labels, lengths = _good()
    padded = np.array([[1, 2, -1], [3, -1, -1], [-1, -1, -1], [4, 4, -1], [2, 1, 3]])
    _check(
        ValueError,
        lambda: ctcc.ctc_loss(x, padded, lengths, np.ones(shape, dtype=np.int64)),
        r"label_lengths",
    )


# --- options ---------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["avg", "MEAN", "", "elementwise_mean"])
def test_unknown_reduction(reduction):
    x, labels, lengths = _good()
    _check(
        ValueError,
        lambda: ctcc.ctc_loss(x, labels, lengths, reduction=reduction),
        r"reduction",
        re.escape(repr(reduction)),
    )


@pytest.mark.parametrize("threads", [-1, -8])
def test_negative_num_threads(threads):
    x, labels, lengths = _good()
    _check(
        ValueError,
        lambda: ctcc.ctc_loss(x, labels, lengths, num_threads=threads),
        r"num_threads",
        _num(threads),
    )


def test_options_are_keyword_only():
    x, labels, lengths = _good()
    with pytest.raises(TypeError):
        ctcc.ctc_loss(x, labels, lengths, None, 0)


def test_errors_leave_inputs_untouched():
    x, labels, lengths = _good()
    x_before = x.copy()
    labels[4] = [2, 0]  # blank
    with pytest.raises(ValueError):
        ctcc.ctc_loss(x, labels, lengths)
    assert np.array_equal(x, x_before)


@pytest.mark.parametrize("dtype", [np.uint32, np.uint64])
def test_huge_unsigned_label_reported_as_is(dtype):
    """An unsigned label too large for any class is rejected, and the message
    shows its real value (not a wrapped-around negative number)."""
    x, _, lengths = _good()
    big = int(np.iinfo(dtype).max)
    padded = np.array([[1, 2, 0], [3, 0, 0], [1, 0, 0], [4, big, 0], [2, 1, 3]], dtype=dtype)
    lab_lens = np.array([2, 1, 1, 2, 3])
    _check(
        ValueError,
        lambda: ctcc.ctc_loss(x, padded, lengths, lab_lens),
        r"label",
        _num(big),
        _num(3),
    )


def test_zero_width_padded_labels_need_no_lengths():
    """Not an error: labels of shape [N, 0] mean N empty label sequences
    (the inferred length of a row with no negative value is its width)."""
    x, _, lengths = _good()
    loss, _ = ctcc.ctc_loss(x, np.zeros((N, 0), dtype=np.int64), lengths, grad=False)
    assert np.all(np.isfinite(loss))


# --- limits the C core sets, forms of labels, masked arrays ------------------


@pytest.mark.parametrize("fn", ["ctc_loss", "ctc_posteriors"])
@pytest.mark.parametrize("gamma", [1e301, 1.7e308, 10**400], ids=["1e301", "1.7e308", "1e400"])
def test_gamma_above_the_c_limit_names_gamma_and_the_limit(fn, gamma):
    """The C core accepts gamma <= 1e300 (src/validate.c); above it the
    error used to come from C as 'an option has an invalid value (ctcc
    status 12)'."""
    x, labels, lengths = _good()
    _check(
        ValueError,
        lambda: getattr(ctcc, fn)(x, labels, lengths, gamma=gamma),
        r"^gamma\b",
        r"1e\+300",
    )
    # the limit itself is accepted
    getattr(ctcc, fn)(x, labels, lengths, gamma=1e300)


@pytest.mark.parametrize("size", [2**31, 2**40, 2**64])
def test_workspace_size_huge_alphabet_names_the_argument(size):
    """It used to raise a bare OverflowError from the Cython call."""
    _check(
        ValueError,
        lambda: ctcc.workspace_size([5], [1], size),
        r"alphabet_size",
        _num(size),
        r"2147483647",
    )


@pytest.mark.parametrize("name", ["logit_lengths", "label_lengths"])
def test_workspace_size_huge_lengths_name_the_argument(name):
    kwargs = {"logit_lengths": [5], "label_lengths": [1], name: [2**40]}
    _check(
        ValueError,
        lambda: ctcc.workspace_size(kwargs["logit_lengths"], kwargs["label_lengths"], 4),
        name,
        _num(2**40),
    )


_ACCEPTED_FORMS = r"a list .*sequences.*padded 2-D .*\[N, S\].*flat 1-D"


@pytest.mark.parametrize(
    "labels, where",
    [
        ([[1, [2, 3]], [3], [], [4], [1]], r"labels\[0\]"),  # ragged inside a sample
        ([[[1, 2], [3]], [3], [], [4], [1]], r"labels\[0\]"),
        ((lab for lab in [[1], [2], [], [4], [1]]), r"labels"),  # a generator
        (iter([[1], [2], [], [4], [1]]), r"labels"),
        ({0: [1]}, r"labels"),
        ("12345", r"labels"),
        (None, r"labels"),
    ],
    ids=["ragged", "nested", "generator", "iterator", "dict", "str", "none"],
)
def test_labels_in_an_unknown_form_name_labels_and_the_accepted_forms(labels, where):
    """Nested ragged or generator labels used to give NumPy's 'inhomogeneous
    shape' or a dtype message that named neither labels nor the forms."""
    x, _, lengths = _good()
    for fn in (ctcc.ctc_loss, ctcc.ctc_posteriors, ctcc.forced_align):
        msg = _check((TypeError, ValueError), lambda f=fn: f(x, labels, lengths), where)
        assert re.search(_ACCEPTED_FORMS, msg, re.S), msg


def test_labels_as_a_tuple_or_an_object_array_of_sequences_work():
    x, labels, lengths = _good()
    want = ctcc.ctc_loss(x, labels, lengths)[0]
    rows = np.empty(len(labels), dtype=object)
    rows[:] = [np.array(lab, np.int64) for lab in labels]
    np.testing.assert_array_equal(ctcc.ctc_loss(x, tuple(labels), lengths)[0], want)
    np.testing.assert_array_equal(ctcc.ctc_loss(x, rows, lengths)[0], want)
    tuples = [tuple(lab) for lab in labels]
    np.testing.assert_array_equal(ctcc.ctc_loss(x, tuples, lengths)[0], want)


def _masked_cases():
    x, labels, lengths = _good()
    padded = np.full((N, 3), -1, np.int64)
    for n, lab in enumerate(labels):
        padded[n, : len(lab)] = lab
    mask_x = np.zeros(x.shape, bool)
    mask_x[-1] = True
    return {
        "logits": (lambda f: f(np.ma.array(x, mask=mask_x), labels, lengths), "logits"),
        "labels": (lambda f: f(x, np.ma.masked_less(padded, 0), lengths), "labels"),
        "labels-row": (
            lambda f: f(x, [np.ma.array(labels[0])] + labels[1:], lengths),
            r"labels\[0\]",
        ),
        "logit_lengths": (
            lambda f: f(x, labels, np.ma.array(lengths, mask=[0, 0, 1, 0, 0])),
            "logit_lengths",
        ),
        "label_lengths": (
            lambda f: f(x, padded, lengths, np.ma.array([2, 1, 0, 2, 3])),
            "label_lengths",
        ),
    }


@pytest.mark.parametrize("case", list(_masked_cases()))
@pytest.mark.parametrize("fn", ["ctc_loss", "ctc_posteriors", "forced_align"])
def test_masked_arrays_are_refused(fn, case):
    """np.ma arrays used to lose their mask silently: the masked entries were
    read as valid values."""
    call, name = _masked_cases()[case]
    _check(TypeError, lambda: call(getattr(ctcc, fn)), rf"^{name} is a numpy\.ma\.MaskedArray")


@pytest.mark.parametrize("fn", ["greedy_decode", "beam_search_decode"])
def test_masked_arrays_are_refused_by_the_decoders(fn):
    x, _, lengths = _good()
    f = getattr(ctcc, fn)
    _check(TypeError, lambda: f(np.ma.array(x)), r"^logits is a numpy\.ma\.MaskedArray")
    _check(
        TypeError, lambda: f(x, np.ma.array(lengths)), r"^logit_lengths is a numpy\.ma\.MaskedArray"
    )
    if fn == "beam_search_decode":
        _check(
            TypeError,
            lambda: f(x, log_prior=np.ma.zeros(C)),
            r"^log_prior is a numpy\.ma\.MaskedArray",
        )


def test_masked_arrays_are_refused_by_workspace_size():
    _check(
        TypeError,
        lambda: ctcc.workspace_size(np.ma.array([5]), [1], 4),
        r"^logit_lengths is a numpy\.ma\.MaskedArray",
    )
    _check(
        TypeError,
        lambda: ctcc.workspace_size([5], np.ma.array([1]), 4),
        r"^label_lengths is a numpy\.ma\.MaskedArray",
    )


def _first_bad_label(rows, C, blank, per_row):
    """The message label rows must get: the first label outside [0, C) in
    (sample, position) order, else the first blank, else None; per_row
    (labels given as a list of rows, checked one row at a time): the same
    within the first row that holds a bad label."""
    groups = [[(n, row)] for n, row in enumerate(rows)] if per_row else [list(enumerate(rows))]
    for group in groups:
        for n, row in group:
            for j, v in enumerate(row):
                if not 0 <= v < C:
                    return rf"sample {n}, position {j} holds {v}, outside the alphabet"
        for n, row in group:
            for j, v in enumerate(row):
                if v == blank:
                    return rf"sample {n}, position {j} holds {blank}, which is the blank"
    return None


@pytest.mark.parametrize("form", ["list", "padded", "flat"])
def test_random_labels_rejected_exactly_where_a_reference_says(form):
    """Random labels with a few values outside the alphabet or at the blank,
    in each form the API takes (padded with values that are not labels):
    ctc_loss raises exactly when a label within its sample's length is bad,
    naming the first one, out-of-range values before blanks (within the
    first bad row, for a list of rows)."""
    rng = np.random.default_rng(7)
    Tn, Nn, Cn = 8, 6, 7
    x = rng.normal(size=(Tn, Nn, Cn))
    for _ in range(150):
        blank = int(rng.integers(-Cn, Cn))
        resolved = blank % Cn
        lengths = rng.integers(0, 4, size=Nn)
        rows = []
        for n in range(Nn):
            row = [int(v) for v in rng.integers(0, Cn, size=lengths[n])]
            row = [v if v != resolved else (v + 1) % Cn for v in row]
            for j in range(len(row)):
                if rng.random() < 0.04:
                    row[j] = int(rng.choice([-3, -1, resolved, Cn, Cn + 5]))
            rows.append(row)
        want = _first_bad_label(rows, Cn, resolved, per_row=form == "list")
        if form == "list":
            labels, label_lengths = rows, None
        elif form == "padded":
            labels = np.full((Nn, 4), Cn + 9, np.int64)  # padding that is no label
            for n, row in enumerate(rows):
                labels[n, : len(row)] = row
            label_lengths = lengths
        else:
            labels = np.array([v for row in rows for v in row], np.int64)
            label_lengths = lengths
        if want is None:
            loss, _ = ctcc.ctc_loss(x, labels, label_lengths=label_lengths, blank=blank)
            assert loss.shape == (Nn,)
        else:
            with pytest.raises(ValueError, match=want):
                ctcc.ctc_loss(x, labels, label_lengths=label_lengths, blank=blank)
