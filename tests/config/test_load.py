"""adapt.toml loading: every class of error is collected, located and explained."""

from __future__ import annotations

from pathlib import Path

import pytest

from adaptfile.config import find_config, load_project, parse_config, parse_param_count
from adaptfile.errors import ConfigError

MINIMAL = '[project]\nname = "demo"\n\n[model]\nbase = "Qwen/Qwen2.5-0.5B-Instruct"\n'


def problems(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="adapt.toml")
    return caught.value.render()


def test_minimal_config_fills_defaults() -> None:
    config = parse_config(MINIMAL)
    assert config.project.task == "qa"
    assert config.model.revision == "main"
    assert config.rag.embed_model == "sentence-transformers/all-MiniLM-L6-v2"
    assert config.goal is None
    assert config.data.knowledge is None


def test_config_is_frozen() -> None:
    config = parse_config(MINIMAL)
    with pytest.raises(ValueError):
        config.project.name = "other"  # type: ignore[misc]


def test_syntax_error_names_line_and_column() -> None:
    message = problems('[project]\nname = "demo"\nseed = \n')
    assert message.startswith("adapt.toml:3:8: TOML syntax error")


def test_unknown_key_suggests_the_known_one_with_its_line() -> None:
    message = problems(MINIMAL + "\n[rag]\nchunk_sise = 256\n")
    assert "adapt.toml:8: rag.chunk_sise: unknown key 'chunk_sise'; did you mean 'chunk_size'?" in message


def test_unknown_key_without_close_match_lists_known_keys() -> None:
    message = problems(MINIMAL + "\n[needs]\nzzz = 1\n")
    assert "unknown key 'zzz' (known keys: citations, custom_style" in message


def test_unknown_table_at_top_level() -> None:
    message = problems(MINIMAL + "\n[lorra]\nr = 8\n")
    assert "adapt.toml:7: lorra: unknown key 'lorra'; did you mean 'lora'?" in message


def test_wrong_type_shows_the_value() -> None:
    message = problems(MINIMAL + '\n[rag]\ntop_k = "4"\n')
    assert "adapt.toml:8: rag.top_k: Input should be a valid integer (got '4')" in message


def test_missing_required_field_and_table() -> None:
    assert "project.name: required, but missing" in problems('[project]\ntask = "qa"\n[model]\nbase = "x"\n')
    assert "model: required table, but missing" in problems('[project]\nname = "x"\n')


def test_bad_enum_lists_allowed_values() -> None:
    message = problems(MINIMAL.replace('name = "demo"', 'name = "demo"\ntask = "qna"'))
    assert "adapt.toml:3: project.task: Input should be 'qa', 'classify'" in message


def test_out_of_range_values() -> None:
    message = problems(MINIMAL + "\n[constraints]\nbudget_usd = -1\nmax_prompt_tokens = 0\n")
    assert (
        "adapt.toml:8: constraints.budget_usd: Input should be greater than or equal to 0 (got -1)" in message
    )
    assert "adapt.toml:9: constraints.max_prompt_tokens:" in message


def test_union_fields_give_one_message() -> None:
    message = problems(MINIMAL + '\n[lora]\nbatch_size = "big"\n')
    assert "lora.batch_size: expected an integer or \"auto\" (got 'big')" in message
    assert message.count("lora.batch_size") == 1


def test_cross_field_checks() -> None:
    assert "cannot be both included and excluded" in problems(
        MINIMAL + '\n[strategy]\ninclude = ["lora"]\nexclude = ["lora"]\n'
    )
    assert "chunk_overlap (300) must be smaller than chunk_size (256)" in problems(
        MINIMAL + "\n[rag]\nchunk_size = 256\nchunk_overlap = 300\n"
    )
    assert "f1 lies in 0..1" in problems(MINIMAL + '\n[goal]\nmetric = "f1"\ntarget = 5\n')


def test_all_problems_reported_at_once_in_line_order() -> None:
    text = '[project]\nname = ""\ntask = "x"\n[model]\nbase = "m"\nparams = "7Q"\n[icl]\nshots = -1\n'
    message = problems(text)
    assert message.splitlines()[0] == "adapt.toml: 4 problems in the configuration"
    lines = [int(line.split(":")[1]) for line in message.splitlines()[1:5]]
    assert lines == sorted(lines) == [2, 3, 6, 8]


def test_inline_and_dotted_keys_are_located() -> None:
    message = problems(MINIMAL + "scratch = { layers = 0 }\n\n[hardware]\ntrain.count = 0\n")
    assert "adapt.toml:6: model.scratch.layers:" in message
    assert "adapt.toml:9: hardware.train.count:" in message


def test_toml_types_are_strict() -> None:
    assert "project.seed" in problems(MINIMAL.replace('name = "demo"', 'name = "demo"\nseed = true'))


@pytest.mark.parametrize(
    ("text", "count"), [("7B", 7_000_000_000), ("0.5b", 500_000_000), ("125M", 125_000_000), (1300, 1300)]
)
def test_param_counts(text: str | int, count: int) -> None:
    assert parse_param_count(text) == count


def test_equivalent_documents_give_equal_configs() -> None:
    reordered = '[model]\nbase = "Qwen/Qwen2.5-0.5B-Instruct"\n\n[project]\nname   =   "demo"  # comment\n'
    assert parse_config(reordered) == parse_config(MINIMAL)


def test_missing_config_suggests_init(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        find_config(tmp_path)
    assert "no adapt.toml in" in caught.value.message
    assert "adapt init" in (caught.value.hint or "")


def test_load_from_directory_or_file_with_bom(tmp_path: Path) -> None:
    (tmp_path / "adapt.toml").write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load_project(tmp_path).config.project.name == "demo"
    other = tmp_path / "other.toml"
    other.write_text(MINIMAL.replace("demo", "other"))
    project = load_project(file=other)
    assert project.config.project.name == "other"
    assert project.root == tmp_path.resolve()


def test_non_utf8_config_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "adapt.toml").write_bytes(MINIMAL.replace("demo", "d\xe9mo").encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_project(tmp_path)
