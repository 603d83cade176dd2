"""Stop strings cut the answer, and the text shown while it grows always begins the final answer."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from adaptfile.runtime.generation import final_text, first_stop, settled_text


def test_the_answer_ends_before_the_earliest_stop_string() -> None:
    assert final_text(" Two years.\nQuestion: next", ("\nQuestion:", ".")) == "Two years"
    assert final_text(" Two years. ", ()) == "Two years."
    assert first_stop("abc", ("x", "")) is None


def test_a_possible_stop_string_is_held_back() -> None:
    assert settled_text("Two years.\n\nQue", ("\n\nQuestion:",)) == "Two years."
    assert settled_text("Two years", ()) == "Two"  # the last word is never settled
    assert settled_text("It lasts two years and", ("years and more",)) == "It lasts two"
    assert settled_text("It lasts two years and", ("two or",)) == "It lasts two years"


def _grown(text: str, stops: tuple[str, ...]) -> list[str]:
    """`text` as it is decoded token by token (a character at a time), up to the first stop string."""
    prefixes = []
    for end in range(len(text) + 1):
        prefixes.append(text[:end])
        if first_stop(text[:end], stops) is not None:
            break
    return prefixes


@given(
    text=st.text(alphabet="ab .\n", max_size=40),
    stops=st.lists(st.text(alphabet="ab .\n", min_size=1, max_size=4), max_size=3).map(tuple),
)
def test_settled_text_only_grows_and_ends_as_the_answer(text: str, stops: tuple[str, ...]) -> None:
    grown = _grown(text, stops)
    answer = final_text(grown[-1], stops)
    shown = ""
    for partial in grown:
        settled = settled_text(partial, stops)
        assert settled.startswith(shown)
        assert answer.startswith(settled)
        shown = settled
