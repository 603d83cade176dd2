"""The answer's n-gram ban looks at the answer only: copying a phrase from the prompt stays possible."""

from __future__ import annotations

import torch

from adaptfile.runtime.sampling import AnswerNgramBan


def _banned(prompt: list[int], answer: list[int], size: int = 3) -> set[int]:
    """Token ids the ban forbids next, after `prompt` + `answer`, in a 10-token vocabulary."""
    ids = torch.tensor([prompt + answer])
    scores = AnswerNgramBan(size, len(prompt))(ids, torch.zeros(1, 10))
    return {i for i in range(10) if scores[0, i] == float("-inf")}


def test_a_phrase_of_the_prompt_can_be_copied() -> None:
    # the prompt holds 1 2 3 twice; the answer "1 2" may go on to 3
    assert _banned([1, 2, 3, 4, 1, 2, 3], [1, 2]) == set()


def test_the_answer_does_not_repeat_its_own_ngram() -> None:
    assert _banned([5, 6], [1, 2, 3, 1, 2]) == {3}
    assert _banned([5, 6], [1, 2, 3, 1, 2, 4, 1, 2]) == {3, 4}


def test_a_short_answer_bans_nothing() -> None:
    assert _banned([1, 2, 1], [1, 2]) == set()


def test_each_row_of_a_batch_is_judged_on_its_own() -> None:
    ids = torch.tensor([[0, 1, 2, 3, 1, 2], [0, 4, 5, 6, 7, 4]])
    scores = AnswerNgramBan(3, 1)(ids, torch.zeros(2, 10))
    assert (scores[0] == float("-inf")).nonzero().flatten().tolist() == [3]
    assert not torch.isinf(scores[1]).any()
