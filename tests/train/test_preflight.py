"""The preflight counts the loaded model as the planner counts its description."""

from __future__ import annotations

import pytest

from adaptfile.plan import estimate as est
from adaptfile.train import preflight


@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_dropout_inputs_of_a_loaded_lora_model_match_the_planners_count(dropout: float) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=128, hidden_size=32, intermediate_size=80, num_hidden_layers=3, num_attention_heads=4,
        num_key_value_heads=2,
    )  # fmt: skip
    lora = LoraConfig(r=4, lora_dropout=dropout, target_modules="all-linear", task_type="CAUSAL_LM")
    model = get_peft_model(LlamaForCausalLM(config), lora)
    info = preflight.model_info(model)
    expected = est.lora_dropout_inputs(info, "all-linear") * info.layers if dropout else 0
    assert preflight.dropout_inputs(model) == expected
