"""Train a small OCR model with Keras, first with tf.nn.ctc_loss, then with ctcc.

The data are synthetic "text lines": digit strings rendered column by column.
Each digit 0-9 is a fixed random glyph (12 features high, 4 to 6 columns
wide), placed with random spacing on a 64-column canvas, plus Gaussian noise.
The model (Conv1D, bidirectional LSTM, Dense) reads the 64 columns as frames
and emits 11 classes per frame: the blank (0) and the digits (1-10).

Both runs start from the same weights and see the same batches in the same
order, so their loss curves should lie on top of each other. The script
prints the loss and time of every epoch for both, the greedy-decoding
accuracy on held-out lines, and saves a plot of the loss curves, of one
held-out input line (its digits marked) and of the per-frame output
probabilities the ctcc-trained model gives it.

    python examples/keras_ocr.py              # about a minute on a laptop CPU
    python examples/keras_ocr.py --quick      # a few seconds (a smoke test)
    python examples/keras_ocr.py --epochs 12 --out /tmp/ocr.png

Needs TensorFlow with Keras 3 and ctcc (with its TensorFlow/Keras adapter);
the plot needs matplotlib (`pip install matplotlib`), without it the script
still trains and prints, and says that it skipped the plot.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # a CPU example: ctcc is a CPU loss

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import ctcc.keras  # noqa: E402

HEIGHT, WIDTH = 12, 64  # features per column, columns (= frames) per line
DIGITS = 10
BLANK = 0  # class 0 is the blank, digit d is class d + 1
CLASSES = DIGITS + 1
MAX_LEN = 6
PAD = -1


def make_glyphs(rng: np.random.Generator) -> list[np.ndarray]:
    """One fixed random binary glyph [HEIGHT, width] per digit."""
    glyphs = []
    for _ in range(DIGITS):
        width = int(rng.integers(4, 7))
        glyph = (rng.random((HEIGHT, width)) < 0.45).astype(np.float32)
        glyph[rng.integers(0, HEIGHT), [0, -1]] = 1.0  # no empty edge column
        glyphs.append(glyph)
    return glyphs


def render(glyphs, count: int, rng: np.random.Generator, noise: float = 0.3, spans=None):
    """`count` lines: features [count, WIDTH, HEIGHT] (frames first, as the
    model reads them) and labels [count, MAX_LEN] padded with PAD. When
    `spans` is a list, one list of (first column, end column, digit) per
    line is appended to it (for the plot)."""
    x = np.zeros((count, WIDTH, HEIGHT), np.float32)
    y = np.full((count, MAX_LEN), PAD, np.int32)
    for i in range(count):
        while True:
            digits = rng.integers(0, DIGITS, size=int(rng.integers(2, MAX_LEN + 1)))
            gaps = rng.integers(1, 4, size=len(digits))
            start = int(rng.integers(0, 4))
            if start + sum(glyphs[d].shape[1] for d in digits) + gaps.sum() <= WIDTH:
                break
        col = start
        placed = []
        for d, gap in zip(digits, gaps):
            w = glyphs[d].shape[1]
            x[i, col : col + w] = glyphs[d].T
            placed.append((col, col + w, int(d)))
            col += w + gap
        if spans is not None:
            spans.append(placed)
        y[i, : len(digits)] = digits + 1
    x += rng.normal(scale=noise, size=x.shape).astype(np.float32)
    return x, y


class TFCTCLoss(keras.losses.Loss):
    """The reference: tf.nn.ctc_loss as a Keras loss (blank 0, labels
    padded with PAD, every frame used)."""

    def call(self, y_true, y_pred):
        labels = tf.cast(y_true, tf.int32)
        label_length = tf.reduce_sum(tf.cast(labels != PAD, tf.int32), axis=1)
        logit_length = tf.fill([tf.shape(y_pred)[0]], tf.shape(y_pred)[1])
        return tf.nn.ctc_loss(
            labels,
            y_pred,
            label_length,
            logit_length,
            logits_time_major=False,
            blank_index=BLANK,
        )


def build_model(seed: int, units: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((WIDTH, HEIGHT))
    h = keras.layers.Conv1D(units, 3, padding="same", activation="relu")(inputs)
    h = keras.layers.Bidirectional(keras.layers.LSTM(units, return_sequences=True))(h)
    logits = keras.layers.Dense(CLASSES)(h)
    return keras.Model(inputs, logits, name="ocr")


class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._start)


def greedy_decode(logits: np.ndarray) -> list[list[int]]:
    """Best path: argmax per frame, merge repeats, drop blanks."""
    best = logits.argmax(axis=-1)
    out = []
    for path in best:
        keep = np.ones(path.shape, bool)
        keep[1:] = path[1:] != path[:-1]
        out.append([int(c) for c in path[keep] if c != BLANK])
    return out


def edit_distance(a: list[int], b: list[int]) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def accuracy(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(sequence accuracy, character error rate) of greedy decoding."""
    decoded = greedy_decode(logits)
    truth = [[int(c) for c in row if c != PAD] for row in y]
    exact = np.mean([d == t for d, t in zip(decoded, truth)])
    errors = sum(edit_distance(d, t) for d, t in zip(decoded, truth))
    return float(exact), errors / sum(len(t) for t in truth)


def text(classes: list[int]) -> str:
    return "".join(str(c - 1) for c in classes)


def plot(path, histories, sample_x, sample_spans, probs, truth, decoded) -> bool:
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: skipped the plot (pip install matplotlib)")
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    fig, axes = plt.subplots(
        3, 1, figsize=(9, 10.5), height_ratios=[1.2, 0.9, 1.2], layout="constrained"
    )
    ax = axes[0]
    for (name, losses), style in zip(histories.items(), ["-o", "--x", ":s"]):
        epochs = np.arange(1, len(losses) + 1)
        ax.plot(epochs, losses, style, label=name, markersize=7)
    ax.set_yscale("log")
    ax.set_xticks(np.arange(1, max(len(v) for v in histories.values()) + 1))
    ax.set_xlabel("epoch")
    ax.set_ylabel("training CTC loss (mean per line)")
    ax.set_title("(a) loss curves, same initial weights and batches")
    ax.legend()
    ax.grid(True, alpha=0.3)

    # The input as the model reads it: one column per frame, 12 features per
    # column, glyph pixels (1) dark on the background (0), plus noise. The
    # boxes mark where each digit was drawn.
    ax = axes[1]
    ax.imshow(
        sample_x.T, aspect="auto", cmap="gray_r", interpolation="nearest", vmin=-0.6, vmax=1.4
    )
    for first, end, digit in sample_spans:
        ax.add_patch(
            Rectangle((first - 0.5, -0.5), end - first, HEIGHT, fill=False, ec="tab:red", lw=1.5)
        )
        ax.text(
            (first + end - 1) / 2,
            -0.9,
            str(digit),
            ha="center",
            va="bottom",
            color="tab:red",
            fontsize=12,
            fontweight="bold",
        )
    ax.set_ylim(HEIGHT - 0.5, -2.6)
    ax.set_yticks([0, HEIGHT // 2, HEIGHT - 1])
    ax.set_ylabel("feature")
    ax.set_xlabel("column (= frame)")
    ax.set_title(
        f"(b) a held-out input line (noisy glyphs; red: where each digit is), text {truth!r}"
    )

    ax = axes[2]
    im = ax.imshow(probs.T, aspect="auto", cmap="viridis", interpolation="nearest", vmin=0, vmax=1)
    ax.set_yticks(range(CLASSES), ["blank"] + [str(d) for d in range(DIGITS)])
    ax.set_xlabel("frame (= column)")
    ax.set_ylabel("class")
    ax.set_title(f"(c) per-frame output probabilities (ctcc model), greedy decoding {decoded!r}")
    bar = fig.colorbar(im, ax=ax, orientation="horizontal", fraction=0.05, aspect=40)
    bar.set_label("output probability p(class | frame)")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=None, help="default 8 (2 with --quick)")
    parser.add_argument("--quick", action="store_true", help="tiny run for a smoke test")
    parser.add_argument("--out", default="keras_ocr.png", help="where to save the plot")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--alpha",
        type=float,
        default=None,
        help="also train with ctcc's non-blank proportion alpha (e.g. 0.5)",
    )
    parser.add_argument(
        "--gamma",
        type=float,
        default=0.0,
        help="also train with ctcc's key-frame reweighting gamma (e.g. 1)",
    )
    args = parser.parse_args(argv)

    if args.quick:
        n_train, n_test, units, epochs = 128, 32, 8, 2
    else:
        n_train, n_test, units, epochs = 2000, 500, 32, 8
    if args.epochs is not None:
        epochs = args.epochs
    batch = 32

    rng = np.random.default_rng(args.seed)
    glyphs = make_glyphs(rng)
    x_train, y_train = render(glyphs, n_train, rng)
    test_spans = []
    x_test, y_test = render(glyphs, n_test, rng, spans=test_spans)
    initial = build_model(args.seed, units).get_weights()
    print(
        f"{n_train} training and {n_test} held-out lines of {WIDTH} frames, "
        f"{CLASSES} classes (blank 0); batch {batch}, {epochs} epochs, "
        f"ctcc OpenMP: {ctcc.openmp_enabled()}"
    )

    runs = {"tf.nn.ctc_loss": TFCTCLoss(name="tf_ctc"), "ctcc": ctcc.keras.CTCLoss()}
    if args.alpha is not None or args.gamma:
        # The paper's modifications change the gradient, not the reported loss.
        label = f"ctcc a={args.alpha} g={args.gamma:g}"
        runs[label] = ctcc.keras.CTCLoss(alpha=args.alpha, gamma=args.gamma)
    histories, times, models = {}, {}, {}
    for name, loss in runs.items():
        model = build_model(args.seed, units)
        model.set_weights(initial)
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss)
        keras.utils.set_random_seed(args.seed + 1)  # the same shuffling for both
        timer = EpochTimer()
        hist = model.fit(
            x_train, y_train, batch_size=batch, epochs=epochs, callbacks=[timer], verbose=0
        )
        histories[name], times[name], models[name] = hist.history["loss"], timer.times, model

    names = list(runs)
    width = max(16, *(len(n) + 2 for n in names))
    print(f"\n{'':8}training loss, then time per epoch (s)")
    print(f"{'':8}" + "".join(f"{n:>{width}}" for n in names) * 2)
    for e in range(epochs):
        losses = "".join(f"{histories[n][e]:{width}.5f}" for n in names)
        secs = "".join(f"{times[n][e]:{width}.2f}" for n in names)
        note = "  (includes tracing)" if e == 0 else ""
        print(f"epoch {e + 1:2d}{losses}{secs}{note}")
    rel = max(abs(a - b) / abs(a) for a, b in zip(histories[names[0]], histories[names[1]]))
    print(f"largest relative difference, {names[0]} vs {names[1]} loss curves: {rel:.2e}")
    if epochs > 1:
        for name in names:
            print(f"mean time per epoch after the first, {name}: {np.mean(times[name][1:]):.2f} s")

    print("\nheld-out greedy decoding:")
    test_logits = {}
    for name in names:
        test_logits[name] = models[name].predict(x_test, batch_size=256, verbose=0)
        seq_acc, cer = accuracy(test_logits[name], y_test)
        print(f"  {name:>16}: sequence accuracy {seq_acc:6.1%}, character error rate {cer:6.2%}")

    sample = 0  # one held-out line, as the ctcc-trained model sees it
    logits = test_logits["ctcc"]
    probs = tf.nn.softmax(logits[sample]).numpy()
    truth = text([c for c in y_test[sample] if c != PAD])
    decoded = text(greedy_decode(logits[sample : sample + 1])[0])
    print(f"\nheld-out line {sample}: text {truth}, greedy decoding {decoded}")
    if plot(args.out, histories, x_test[sample], test_spans[sample], probs, truth, decoded):
        print(f"saved the plot to {os.path.abspath(args.out)}")


if __name__ == "__main__":
    main()
