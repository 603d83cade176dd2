"""Metric functions against hand-computed values."""

from __future__ import annotations

import pytest

from adaptfile.evaluate.scores import (
    accuracy,
    exact_match,
    macro_f1,
    normalize_answer,
    normalize_label,
    rouge_l,
    token_f1,
)


def test_normalisation_drops_case_punctuation_articles_and_spaces() -> None:
    assert normalize_answer("  The Reset-button, an  answer! ") == "resetbutton answer"


def test_exact_match() -> None:
    assert exact_match("The router.", "router") == 1.0
    assert exact_match("the modem", "router") == 0.0


def test_token_f1_hand_computed() -> None:
    # prediction: hold reset button 10 seconds (5 tokens); gold: press and hold reset 10 seconds (6)
    # common: hold, reset, 10, seconds = 4 -> precision 4/5, recall 4/6
    assert token_f1("hold the reset button 10 seconds", "press and hold reset 10 seconds") == pytest.approx(
        2 * (4 / 5) * (4 / 6) / (4 / 5 + 4 / 6)
    )
    assert token_f1("", "") == 1.0
    assert token_f1("x", "") == 0.0
    assert token_f1("blue", "red") == 0.0


def test_rouge_l_hand_computed() -> None:
    # LCS("police killed the gunman", "the police kill the gunman") = police, the, gunman = 3
    # precision 3/4, recall 3/5 -> F = 2 * .75 * .6 / 1.35
    assert rouge_l("police killed the gunman", "the police kill the gunman") == pytest.approx(
        2 * 0.75 * 0.6 / 1.35
    )
    assert rouge_l("a b c", "a b c") == 1.0
    assert rouge_l("x", "y") == 0.0


def test_accuracy_and_macro_f1_hand_computed() -> None:
    golds = ["a", "a", "b", "c"]
    predictions = ["a", "b", "b", "a"]
    assert accuracy(predictions, golds) == 0.5
    # a: tp1 fp1 fn1 -> 0.5; b: tp1 fp1 fn0 -> 2/3; c: tp0 -> 0 ; mean = (0.5 + 2/3 + 0) / 3
    assert macro_f1(predictions, golds) == pytest.approx((0.5 + 2 / 3) / 3)
    assert macro_f1([" A "], ["a"]) == 1.0


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("card_arrival", "card_arrival"),
        ("CARD-ARRIVAL!", "card_arrival"),
        ("card_arrival\nIt has not arrived yet.", "card_arrival"),  # the first line names it
        ("It is about card arrival.", "card_arrival"),  # the only label inside the answer
        ("card_arrival or card_linking", "card_arrival or card_linking"),  # two labels: no match
        (" Missing Parcel ", "missing parcel"),  # no label: the answer, stripped and case-folded
        ("The Card", "card"),  # a label nested in no other wins as a whole word
    ],
)
def test_normalize_label(answer: str, expected: str) -> None:
    labels = ["card", "card_arrival", "card_linking", "lost_or_stolen_card"]
    assert normalize_label(answer, labels) == expected
