"""The language model of a variant: load base (+ adapter) once, greedy generation, teacher-forced NLL."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from adaptfile.errors import ConfigError
from adaptfile.runtime.artifacts import VariantArtifacts

SMALL_MODEL = 20_000_000  # parameters: below this, CPU inference runs single-threaded


@dataclass
class LoadedModel:
    """A causal LM and its tokenizer in eval mode, with the context window it was built for."""

    model: Any
    tokenizer: Any
    window: int
    threads: int | None = None  # torch threads while this model computes (None: leave as is)

    @classmethod
    def load(cls, artifacts: VariantArtifacts) -> LoadedModel:
        """Base model (local directory or hub id at its revision), then the PEFT adapter when there is one."""
        import torch
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars are noise on a command's stderr
        where = f"model {artifacts.model!r}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # deprecations inside peft/transformers
            model, tokenizer = cls._load(artifacts, where)
        if torch.cuda.is_available():
            model = model.to("cuda")
        # tiny matmuls: threads cost more than they give (10x on 2 busy cores)
        small = not torch.cuda.is_available() and sum(p.numel() for p in model.parameters()) < SMALL_MODEL
        model.eval()
        config = model.config
        window = int(getattr(config, "max_position_embeddings", 0) or 0) or 2048
        return cls(model, tokenizer, window, 1 if small else None)

    @contextlib.contextmanager
    def _computing(self) -> Iterator[None]:
        """Inference with this model's thread count, restored after: a build's later steps (training,
        embedding) must not inherit it, or their bytes would depend on what ran before them."""
        import torch

        before = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                yield
        finally:
            torch.set_num_threads(before)

    @staticmethod
    def _load(artifacts: VariantArtifacts, where: str) -> tuple[Any, Any]:
        """(model, tokenizer); load failures become a ConfigError naming the model or adapter."""
        import torch
        from transformers import AutoModelForCausalLM

        from adaptfile.train.models import load_tokenizer

        try:
            tokenizer = load_tokenizer(artifacts.model, artifacts.revision, artifacts.trust_remote_code)
            model = AutoModelForCausalLM.from_pretrained(
                artifacts.model,
                revision=artifacts.revision,
                trust_remote_code=artifacts.trust_remote_code,
                use_safetensors=True,  # never unpickle weights from a model directory
                dtype=torch.bfloat16 if torch.cuda.is_available() else torch.float32,
            )
            if artifacts.adapter is not None:
                from peft import PeftModel

                where = f"adapter {artifacts.adapter}"
                model = PeftModel.from_pretrained(model, str(artifacts.adapter))
                if model.peft_config["default"].peft_type == "LORA":
                    model = model.merge_and_unload()  # same outputs, no adapter overhead per token
        except (OSError, ValueError) as err:
            raise ConfigError(
                f"variant {artifacts.name!r}: cannot load {where}: {err}",
                hint="run `adapt build` again; for a hub model check model.base and network access",
            ) from None
        return model, tokenizer

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    def prompt_ids(self, prompt: str) -> list[int]:
        """The prompt's tokens, exactly as training tokenized prompts (special tokens added)."""
        return list(self.tokenizer(prompt, add_special_tokens=True)["input_ids"])

    def generate(self, prompt_ids: list[int], max_new_tokens: int) -> tuple[str, int]:
        """Greedy continuation until EOS or `max_new_tokens`; returns (text, tokens generated)."""
        import torch

        keep = max(1, self.window - max_new_tokens)
        ids = torch.tensor([prompt_ids[-keep:]], device=self.device)
        eos = self.tokenizer.eos_token_id
        with self._computing():
            out = self.model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                no_repeat_ngram_size=4,  # greedy decoding of small models loops on a phrase otherwise
                eos_token_id=eos,
                pad_token_id=self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else eos,
            )
        new = out[0, ids.shape[1] :].tolist()
        if eos is not None and eos in new:
            new = new[: new.index(eos)]
        return self.tokenizer.decode(new, skip_special_tokens=True).strip(), len(new)

    def answer_nll(self, prompt_ids: list[int], answer: str) -> tuple[float, int]:
        """Mean negative log-likelihood per gold-answer token (answer + EOS) given the prompt, one forward pass."""
        import torch

        from adaptfile.prompt.chat import eos_token

        target = list(
            self.tokenizer(answer + eos_token(self.tokenizer), add_special_tokens=False)["input_ids"]
        )
        target = target[: max(1, self.window // 2)]
        context = prompt_ids[-max(1, self.window - len(target)) :]
        ids = torch.tensor([context + target], device=self.device)
        with self._computing():
            logits = self.model(input_ids=ids).logits[0].float()
        start = len(context)
        predicted = logits[start - 1 : start - 1 + len(target)]
        gold = torch.tensor(target, device=predicted.device)
        nll = torch.nn.functional.cross_entropy(predicted, gold, reduction="mean")
        return float(nll), len(target)
