"""What profiling found in the data: counts, sizes, token estimates, formats, bad rows."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RowIssue:
    """One bad row of a data file: where it is and what is wrong with it."""

    path: str  # relative to the project root
    line: int  # 1-based line in the file (JSON array: the line where the record starts)
    message: str


@dataclass(frozen=True)
class KnowledgeProfile:
    """The unannotated corpus matched by data.knowledge.paths."""

    files: int
    bytes: int
    tokens: int  # estimate, from sampled text
    by_type: dict[str, int] = field(default_factory=dict)  # extension -> file count
    skipped: dict[str, str] = field(default_factory=dict)  # relative path -> why it is not read


@dataclass(frozen=True)
class ExamplesProfile:
    """One file of annotated pairs (data.examples or data.eval)."""

    path: str  # relative to the project root
    file_type: str  # jsonl | json | csv
    format: str  # messages | alpaca | prompt-completion | text-label
    rows: int  # valid rows
    tokens_mean: float  # estimated tokens per example (input + output)
    tokens_max: int
    input_tokens_max: int  # longest input (the question side), for prompt budgets
    duplicates: int  # exact duplicate rows
    labels: int | None = None  # distinct labels, where rows carry one
    with_source: int = 0  # rows naming a gold document ("source")
    output_tokens_max: int = 0  # longest answer or label, for the answer budget
    bad_rows: tuple[RowIssue, ...] = ()
    omitted_issues: int = 0  # bad rows beyond those listed in bad_rows

    @property
    def tokens_total(self) -> int:
        return round(self.tokens_mean * self.rows)

    @property
    def bad_row_count(self) -> int:
        return len(self.bad_rows) + self.omitted_issues


@dataclass(frozen=True)
class DataProfile:
    """Everything the planner knows about the data; absent tables are None."""

    knowledge: KnowledgeProfile | None = None
    examples: ExamplesProfile | None = None
    eval: ExamplesProfile | None = None
    eval_overlap: int = 0  # distinct eval inputs also found in the examples (train/eval leakage)
    unknown_sources: dict[str, int] = field(default_factory=dict)  # example sources naming no corpus file
    unknown_eval_sources: dict[str, int] = field(default_factory=dict)  # the same for data.eval
