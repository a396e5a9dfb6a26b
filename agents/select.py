"""Which chat lines are worth remembering: a logistic regression over the embedding Mnemo
already computes plus six cheap features, trained when first needed on a small labelled set
written for Mnemo (resources/selector/lines.tsv) with whatever embedder is configured.

Measured on LoCoMo's development conversations (label: the turn is evidence for a gold
observation, base rate 0.41), with the bundled MiniLM:
- the rule "first person and over 60 characters": precision 0.57 at recall 0.87;
- this selector: precision 0.66 at recall 0.63 (threshold 0.70, chosen with bench.memories:
  at 0.65 memory precision fell to 0.64, at 0.75 fact recall to 0.71);
- the same model trained on four LoCoMo conversations and tested on the fifth: 0.72 / 0.62.
LoCoMo is evaluation data under a non-commercial licence, so the shipped selector learns from
our own lines only; the figures above are how it transfers to conversations it never saw.
SmolLM2-135M asked to pick did worse than chance, so no model call is made here.
"""

import functools
import re
import threading
from collections.abc import Sequence
from importlib import resources

import numpy as np

from core.embed import Embedder

THRESHOLD = 0.70
L2 = 10.0  # strong: 180 training lines against 390 weights
_FIRST_PERSON = re.compile(r"\b(i|i'm|i've|i'd|i'll|me|my|mine|we|we're|our|us)\b", re.I)
_TIME = re.compile(
    r"\b(yesterday|today|tomorrow|last|next|ago|week|weekend|month|year|since|recently)\b", re.I
)
_INNER_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")
_lock = threading.Lock()
_weights: dict[str, np.ndarray] = {}


def features(text: str) -> list[float]:
    """Six cheap signals of a line about one's own life."""
    return [
        float(bool(_FIRST_PERSON.search(text))),
        min(len(text), 400) / 100,
        float("?" in text),
        float(bool(re.search(r"\d", text))),
        float(bool(_INNER_NAME.search(text))),
        float(bool(_TIME.search(text))),
    ]


@functools.cache
def training_lines() -> tuple[tuple[int, str], ...]:
    text = resources.files("resources").joinpath("selector/lines.tsv").read_text("utf-8")
    rows = [line.split("\t", 1) for line in text.splitlines() if line and line[0] in "01"]
    return tuple((int(label), words.strip()) for label, words in rows)


def fit(x: np.ndarray, y: np.ndarray, l2: float = L2, steps: int = 30) -> np.ndarray:
    """Logistic regression by Newton's method (the intercept is not penalised)."""
    a = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(a.shape[1])
    penalty = l2 * np.diag(np.r_[np.ones(len(w) - 1), 0.0])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(a @ w)))
        gradient = a.T @ (p - y) + penalty @ w
        hessian = (a * (p * (1 - p))[:, None]).T @ a + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    return w


def _design(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    vectors = np.asarray(embedder.embed(list(texts)), dtype=np.float64)
    return np.hstack([vectors, np.array([features(t) for t in texts])])


def weights(embedder: Embedder) -> np.ndarray:
    """The selector for this embedder, trained once per process (a second or two)."""
    with _lock:
        if embedder.name not in _weights:
            labels, texts = zip(*training_lines(), strict=True)
            _weights[embedder.name] = fit(_design(embedder, texts), np.array(labels, float))
        return _weights[embedder.name]


def scores(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Each line's probability of being worth remembering."""
    if not texts:
        return np.zeros(0)
    w = weights(embedder)
    design = _design(embedder, texts)
    return 1 / (1 + np.exp(-(design @ w[:-1] + w[-1])))
