"""Align a long recording with a transcript that misses a part: word timestamps out.

Any CTC acoustic model gives the emissions (per-frame log-probabilities);
this example stands one in with a synthetic model, so that it runs anywhere
and the true word times are known: a hidden alignment of the spoken words
(random durations, pauses) turned into log-probabilities with noise. The
speaker says a phrase that the transcript lacks; a ``ctcc.STAR`` in the
transcript absorbs it, so the words around it still land on their frames.

    python examples/align_long_recording.py              # prints the words
    python examples/align_long_recording.py --minutes 60  # an hour
    python examples/align_long_recording.py --plot docs/img/alignment_long_recording.png

The plot (matplotlib) shows the emissions around the missing phrase and
the word spans found, with and without the star.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import ctcc

VOCAB = ["-", "|", *"abcdefghijklmnopqrstuvwxyz'"]  # wav2vec2-like: blank 0, separator 1
BLANK, SEP = 0, 1
FPS = 50  # frames per second (20 ms frames)
WORDS = (
    "the quick brown fox jumps over the lazy dog while seven wizards quietly hex "
    "a jovial knight who keeps on talking about the weather and the price of bread"
).split()


def synthesize(rng, words, noise=1.0):
    """Emissions [T, C] (log-probabilities) of `words` spoken in a row, and
    the true (start, end) frames of each word. Each character lasts 1 to 4
    frames, followed by 0 to 3 blank frames; words are separated by a pause
    (blank frames) around a separator frame, as wav2vec2 models emit them."""
    frames, truth = [], []
    for i, word in enumerate(words):
        if i:
            frames += [BLANK] * int(rng.integers(1, 12)) + [SEP] + [BLANK] * int(rng.integers(0, 3))
        start = len(frames)
        for ch in word:
            frames += [VOCAB.index(ch)] * int(rng.integers(1, 5))
            end = len(frames)
            frames += [BLANK] * int(rng.integers(0, 4))
        truth.append((start, end))
    frames = [BLANK] * 25 + frames + [BLANK] * 25
    truth = [(s + 25, e + 25) for s, e in truth]
    path = np.array(frames)
    logits = rng.normal(scale=noise, size=(len(path), len(VOCAB)))
    logits[np.arange(len(path)), path] += 6.0  # the model's pick at each frame
    logits -= np.logaddexp.reduce(logits, axis=1, keepdims=True)  # log-softmax
    return logits.astype(np.float32), truth


def encode(words):
    """Labels of a transcript: the characters' classes, SEP between words;
    a word "*" is ctcc.STAR."""
    labels = []
    for i, word in enumerate(words):
        if i:
            labels.append(SEP)
        labels += [ctcc.STAR] if word == "*" else [VOCAB.index(ch) for ch in word]
    return labels


def align_words(emissions, transcript):
    """(word spans, token spans) of a transcript (a list of words, "*" for
    a gap) aligned to emissions [T, C]."""
    labels = encode(transcript)
    logp = emissions[:, None, :]  # [T, N = 1, C]
    result = ctcc.forced_align(logp, [labels], log_probs=True)
    tokens = ctcc.token_spans(result, logp, log_probs=True)[0]
    return ctcc.word_spans(tokens, separator=SEP), tokens


def make_recording(minutes, seed=0):
    """The spoken words (the sentence repeated to fill `minutes`, with one
    extra phrase in the middle that the transcript leaves out) and their
    emissions; returns (emissions, truth, transcript, index of the gap)."""
    rng = np.random.default_rng(seed)
    repeats = max(1, round(minutes * 60 * FPS / 790))  # about 790 frames per sentence
    spoken = WORDS * repeats
    gap = len(spoken) // 2
    missing = "and nobody wrote this down".split()
    spoken = spoken[:gap] + missing + spoken[gap:]
    emissions, truth = synthesize(rng, spoken)
    transcript = spoken[:gap] + ["*"] + spoken[gap + len(missing) :]
    truth = (
        truth[:gap]
        + [(truth[gap][0], truth[gap + len(missing) - 1][1])]
        + truth[gap + len(missing) :]
    )
    return emissions, truth, transcript, gap


def frame_scores(emissions, transcript):
    """Log-probability of the class the path emits at each frame (the
    scores of torchaudio's and ctcc.torch's forced_align): low on frames the
    path has to cover with a class the model does not see there."""
    logp = emissions[:, None, :]
    frames = ctcc.forced_align(logp, [encode(transcript)], log_probs=True).frames[0]
    picked = np.take_along_axis(emissions, np.maximum(frames, 0)[:, None], axis=1)[:, 0]
    return np.where(frames >= 0, picked, emissions.max(axis=1))  # star frames: the best class


def plot(path, emissions, truth, transcript, gap):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    without = transcript[:gap] + transcript[gap + 1 :]
    cases = [
        (align_words(emissions, transcript)[0], transcript, "transcript with ctcc.STAR"),
        (align_words(emissions, without)[0], without, "transcript without the star"),
    ]
    lo, hi = truth[gap - 3][0] - 10, truth[gap + 3][1] + 10
    fig, axes = plt.subplots(4, 1, figsize=(12, 7.5), sharex=True, height_ratios=[3, 1, 1, 1.4])
    axes[0].imshow(
        emissions[lo:hi].T,
        aspect="auto",
        origin="lower",
        cmap="viridis",
        extent=(lo / FPS, hi / FPS, -0.5, len(VOCAB) - 0.5),
        vmin=-8,
        vmax=0,
        interpolation="nearest",
    )
    axes[0].set_yticks(range(len(VOCAB)), VOCAB, fontsize=6)
    axes[0].set_ylabel("class")
    axes[0].set_title("emissions (log-probabilities) around the phrase the transcript lacks")
    for ax, (words, names, title) in zip(axes[1:3], cases):
        for w in range(len(words.start)):
            s, e = words.start[w], words.end[w]
            if e < lo or s > hi:
                continue
            star = names[w] == "*"
            conf = np.nan if star else float(np.exp(words.score[w]))
            color = "lightgrey" if star else plt.cm.RdYlGn(conf)
            ax.axvspan(s / FPS, e / FPS, ymin=0.15, color=color, alpha=0.9)
            label = "*" if star else f"{names[w]}\n{conf:.2f}"
            ax.text((s + e) / 2 / FPS, 0.57, label, ha="center", va="center", fontsize=7)
        for s, e in truth[gap - 3 : gap + 4]:
            ax.plot([s / FPS, e / FPS], [0.06, 0.06], color="k", lw=2)
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        ax.set_title(f"word spans, {title} (black: the true spans)", fontsize=9)
    t = np.arange(lo, hi) / FPS
    for (_, names, title), color in zip(cases, ("tab:blue", "tab:red")):
        axes[3].plot(t, frame_scores(emissions, names)[lo:hi], color=color, lw=0.8, label=title)
    axes[3].set_ylabel("log p", fontsize=8)
    axes[3].set_title("log-probability of the path's class at each frame", fontsize=9)
    axes[3].legend(fontsize=7, loc="lower left")
    axes[3].set_xlim(lo / FPS, hi / FPS)
    axes[3].set_xlabel("time (s); numbers: exp(word score), the geometric mean frame probability")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0, help="length of the recording")
    parser.add_argument("--plot", help="save a plot of the emissions and word spans (PNG)")
    args = parser.parse_args()

    emissions, truth, transcript, gap = make_recording(args.minutes)
    tic = time.perf_counter()
    words, tokens = align_words(emissions, transcript)
    took = time.perf_counter() - tic
    T = emissions.shape[0]
    print(
        f"{T} frames ({T / FPS / 60:.1f} min), {len(tokens.token)} labels: aligned in {took:.2f} s"
    )
    errors = []
    for w, word in enumerate(transcript):
        s, e = int(words.start[w]), int(words.end[w])
        errors.append(max(abs(s - truth[w][0]), abs(e - truth[w][1])))
        if abs(w - gap) <= 3:
            conf = "" if word == "*" else f"  confidence {np.exp(words.score[w]):.2f}"
            print(f"  {word:>8}  {s / FPS:8.2f} s - {e / FPS:8.2f} s{conf}")
    print(f"largest error of a word boundary: {max(errors)} frames")
    assert max(errors) <= 1, "the word boundaries should match the synthetic truth"
    if args.plot:
        plot(args.plot, emissions, truth, transcript, gap)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
