"""Answer-quality metrics: exact match, token F1, ROUGE-L, accuracy, macro-F1.

Hand-written on purpose: each is a few lines with a standard definition (SQuAD's answer
normalisation for EM/F1, LCS-based ROUGE-L F-measure, per-class F1 averaged for macro-F1), and the
packages that ship them (evaluate, rouge-score + nltk + absl, scikit-learn) would add hundreds of
megabytes to score a list of strings.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when the normalised strings are equal."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def token_f1(prediction: str, gold: str) -> float:
    """Harmonic mean of token precision and recall after normalisation (SQuAD F1)."""
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not predicted or not expected:
        return float(predicted == expected)
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def rouge_l(prediction: str, gold: str) -> float:
    """ROUGE-L F-measure: longest common subsequence of lower-cased word tokens."""
    predicted, expected = prediction.lower().split(), gold.lower().split()
    if not predicted or not expected:
        return float(predicted == expected)
    lcs = _lcs_length(predicted, expected)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(predicted), lcs / len(expected)
    return 2 * precision * recall / (precision + recall)


def _lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    previous = [0] * (len(b) + 1)
    for token in a:
        current = [0]
        for j, other in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if token == other else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def accuracy(predictions: Sequence[str], golds: Sequence[str]) -> float:
    """Share of predictions equal to the gold label (after stripping and case-folding)."""
    if not golds:
        return 0.0
    return sum(_label(p) == _label(g) for p, g in zip(predictions, golds, strict=True)) / len(golds)


def macro_f1(predictions: Sequence[str], golds: Sequence[str]) -> float:
    """F1 per gold label, averaged with equal weight (labels only predicted count as false positives)."""
    predicted, expected = [_label(p) for p in predictions], [_label(g) for g in golds]
    labels = sorted(set(expected))
    if not labels:
        return 0.0
    total = 0.0
    for label in labels:
        tp = sum(p == label and g == label for p, g in zip(predicted, expected, strict=True))
        fp = sum(p == label and g != label for p, g in zip(predicted, expected, strict=True))
        fn = sum(p != label and g == label for p, g in zip(predicted, expected, strict=True))
        total += 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return total / len(labels)


def _label(text: str) -> str:
    return text.strip().casefold()


def _label_key(text: str) -> str:
    """A label compared loosely: case-folded, with spaces, hyphens and underscores alike."""
    return " ".join(re.split(r"[\s_\-]+", text.strip().casefold())).strip()


def normalize_label(answer: str, labels: Sequence[str]) -> str:
    """The label a generated answer names: the answer equal to a label (case, whitespace, `_`/`-` and
    surrounding punctuation ignored), else its first line equal to one, else the one label (the longest,
    when several nest) that the answer contains as whole words; else the answer itself, stripped and
    case-folded, which matches no label and is scored wrong."""
    if not labels:
        return _label(answer)
    keys = {_label_key(label): label for label in labels}
    lines = answer.strip().splitlines() or [""]
    for candidate in (answer, lines[0]):
        key = _label_key(candidate.strip().strip(string.punctuation + " "))
        if key in keys:
            return keys[key]
    text = f" {_label_key(answer.translate(_PUNCTUATION_BUT_LABEL))} "
    found = [key for key in keys if key and f" {key} " in text]
    if found:
        longest = max(found, key=len)
        if all(key in longest for key in found):
            return keys[longest]
    return _label(answer)


_PUNCTUATION_BUT_LABEL = str.maketrans({c: " " for c in string.punctuation if c not in "_-"})
