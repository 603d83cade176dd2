"""The language model of a variant: load base (+ adapter) once, generation (greedy or seeded sampling), teacher-forced NLL."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from adaptfile.errors import ConfigError
from adaptfile.prompt.budget import prompt_ids
from adaptfile.runtime.artifacts import VariantArtifacts
from adaptfile.runtime.generation import Generation, Sampling, final_text, first_stop

REPEAT_NGRAM = 4  # an answer never repeats one of its own 4-grams (copying from the prompt is fine)
BLOCK_MASK_TOKENS = 4096  # label_nlls' one-pass limit: prompt + every label (its mask is this squared)
SMALL_MODEL = 20_000_000  # parameters: below this, CPU inference runs single-threaded
SHARED_PREFIX_TOKENS = 32  # label scoring caches a prefix every prompt shares when it is at least this long


@dataclass(frozen=True)
class SharedPrefix:
    """The keys and values of the tokens every prompt of an eval pass starts with (instruction, label list),
    computed once; each label_nlls pass continues it and crops it back."""

    ids: list[int]
    cache: Any


@dataclass
class LoadedModel:
    """A causal LM and its tokenizer in eval mode, with the context window it was built for."""

    model: Any
    tokenizer: Any
    window: int
    threads: int | None = None  # torch threads while this model computes (None: leave as is)
    _label_tokens: dict[tuple[str, ...], list[list[int]]] = field(
        default_factory=dict, init=False, repr=False
    )

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
        return prompt_ids(prompt, self.tokenizer)

    def generate(
        self,
        prompt_ids: list[int],
        max_new_tokens: int,
        sampling: Sampling | None = None,
        on_text: Callable[[str], bool] | None = None,
    ) -> Generation:
        """Continue the prompt until EOS, a stop string or `max_new_tokens`: greedily unless
        `sampling` has a temperature. `on_text` receives the answer piece by piece as it settles
        (the pieces join up to the returned text); returning False from it stops generating."""
        import torch
        from transformers import LogitsProcessorList, StoppingCriteriaList

        from adaptfile.runtime.sampling import AnswerNgramBan, SeededSampler, TextProgress

        sampling = sampling or Sampling()
        keep = max(1, self.window - max_new_tokens)
        ids = torch.tensor([prompt_ids[-keep:]], device=self.device)
        eos = self.tokenizer.eos_token_id
        progress = TextProgress(self.tokenizer, ids.shape[1], eos, sampling.stop, on_text)
        processors = LogitsProcessorList([AnswerNgramBan(REPEAT_NGRAM, ids.shape[1])])
        if not sampling.greedy:
            generator = torch.Generator(device=self.device)
            if sampling.seed is None:
                generator.seed()  # a fresh nondeterministic seed, not the generator's fixed default
            else:
                generator.manual_seed(sampling.seed)
            processors.append(SeededSampler(sampling.temperature, sampling.top_p, generator))
        watching = sampling.stop or on_text is not None  # decoding every step costs; only when needed
        with self._computing():
            out = self.model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_new_tokens,
                do_sample=False,  # sampling, when asked for, is SeededSampler's
                logits_processor=processors,
                stopping_criteria=StoppingCriteriaList([progress] if watching else []),
                eos_token_id=eos,
                pad_token_id=self._pad_id(),
            )
        new = self._until_eos(out[0, ids.shape[1] :].tolist())
        decoded = progress.decoded(new)
        text = final_text(decoded, sampling.stop)
        progress.show(text)
        stopped = first_stop(decoded, sampling.stop) is not None or len(new) < max_new_tokens
        return Generation(text, len(new), "stop" if stopped else "length")

    def generate_batch(
        self, prompts: Sequence[list[int]], max_new_tokens: int, golds: Sequence[str] | None = None
    ) -> tuple[list[Generation], list[float | None]]:
        """Greedy continuations of several prompts in one left-padded batch: the answers `generate` gives
        one by one (up to float rounding in the padded matmuls), at about twice the throughput on a CPU.
        With `golds`, also each gold answer's `answer_nll`, scored in the same prefill: the prompts run
        once with the golds after them, the cache is cut back to the prompts and generation continues it
        (all None when a prompt would be cut differently for scoring than for generating: score alone)."""
        import torch
        from transformers import LogitsProcessorList

        from adaptfile.runtime.sampling import AnswerNgramBan

        keep = max(1, self.window - max_new_tokens)
        rows = [list(p[-keep:]) for p in prompts]
        width = max(len(r) for r in rows)
        pad = self._pad_id()
        ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=self.device)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=self.device)
        nlls: list[float | None] = [None] * len(rows)
        cache = None
        targets = [self._gold_ids(g) for g in golds] if golds is not None else []
        if targets and all(
            len(p) <= min(keep, self.window - len(t)) for p, t in zip(prompts, targets, strict=True)
        ):
            nlls, cache = self._score_golds(ids, mask, targets)
        with self._computing():
            out = self.model.generate(
                input_ids=ids,
                attention_mask=mask,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                logits_processor=LogitsProcessorList([AnswerNgramBan(REPEAT_NGRAM, width)]),
                eos_token_id=self.tokenizer.eos_token_id,
                pad_token_id=pad,
                cache=cache,
            )
        generations = []
        for row in out[:, width:].tolist():
            new = self._until_eos(row)
            text = final_text(self.tokenizer.decode(new, skip_special_tokens=True), ())
            generations.append(Generation(text, len(new), "stop" if len(new) < max_new_tokens else "length"))
        return generations, nlls

    def _score_golds(self, ids: Any, mask: Any, targets: list[list[int]]) -> tuple[list[float | None], Any]:
        """Each target's mean NLL after its left-padded prompt, and the prompts' cache minus their last
        token (generate runs that token, then decodes). Every gold starts at the same column (the prompts
        are left-padded to one width) and is right-padded, so logits are needed only for the last
        longest-gold + 1 positions. The cache is None where it cannot be cut back to exactly the prompts
        (a sliding-window layer past its window, prefix tuning's virtual tokens, a model without a Cache):
        generation then runs its own prefill."""
        import torch
        from transformers import Cache

        pad, longest = self._pad_id(), max(len(t) for t in targets)
        after = torch.tensor([t + [pad] * (longest - len(t)) for t in targets], device=self.device)
        after_mask = torch.tensor(
            [[1] * len(t) + [0] * (longest - len(t)) for t in targets], device=self.device
        )
        full_mask = torch.cat([mask, after_mask], 1)
        positions = (full_mask.cumsum(-1) - 1).clamp(min=0)  # pads are masked: their positions never count
        with self._computing():
            out = self.model(
                input_ids=torch.cat([ids, after], 1),
                attention_mask=full_mask,
                position_ids=positions,
                use_cache=True,
                logits_to_keep=longest + 1,
            )
        nlls: list[float | None] = []
        for row, target in enumerate(targets):
            predicted = out.logits[row, : len(target)].float()
            gold = torch.tensor(target, device=predicted.device)
            nlls.append(float(torch.nn.functional.cross_entropy(predicted, gold, reduction="mean")))
        cache = getattr(out, "cache", None)
        if not isinstance(cache, Cache):
            return nlls, None
        try:
            cache.crop(-(longest + 1))  # back to the prompts without their last token
        except (RuntimeError, ValueError):  # e.g. a sliding-window layer past its window
            return nlls, None
        return nlls, cache if cache.get_seq_length() == ids.shape[1] - 1 else None

    def _pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return int(pad if pad is not None else self.tokenizer.eos_token_id)

    def _until_eos(self, new: list[int]) -> list[int]:
        """Generated ids before the first EOS (a finished row of a batch is padded after it)."""
        eos = self.tokenizer.eos_token_id
        return new[: new.index(eos)] if eos is not None and eos in new else new

    def label_nlls(
        self, prompt_ids: list[int], labels: Sequence[str], shared: SharedPrefix | None = None
    ) -> list[float]:
        """Total negative log-likelihood of each label (+ EOS) as the answer to the prompt, in one forward
        pass over the prompt followed by every label: a block mask lets each label see the prompt and its
        own tokens only, and its positions restart where the prompt ends. No label copies the prompt's keys
        and values (77 BANKING77 labels after a 550-token prompt: one pass of 1,000 tokens instead of 77
        copies of the cache). Labels that start with the same tokens share them (`LabelTrie`: 459 tokens
        for BANKING77's labels instead of 558). With `shared` (see `shared_prefix`) the pass starts after
        the tokens every prompt shares, continuing their cache. Where that pass does not fit
        (`_block_mask_fits`) labels continue a copy of the prompt's cache."""
        import torch

        targets = self._label_targets(labels)
        context = prompt_ids[-max(1, self.window - max(len(t) for t in targets)) :]
        trie = LabelTrie(targets)
        total = len(context) + len(trie.tokens)
        if not self._block_mask_fits(total):
            return self._label_nlls_cached(context, targets)
        done = len(shared.ids) if shared and _extends(context, shared.ids) else 0  # tokens already cached
        prompt = len(context)
        allowed = torch.ones(total, total, dtype=torch.bool, device=self.device).tril()
        allowed[prompt:, prompt:] = False
        for node, parent in enumerate(trie.parents):  # a label token sees the prompt and its own path
            if parent >= 0:
                allowed[prompt + node, prompt:] = allowed[prompt + parent, prompt:]
            allowed[prompt + node, prompt + node] = True
        mask = torch.zeros(total - done, total, device=self.device, dtype=self.model.dtype)
        mask.masked_fill_(~allowed[done:], torch.finfo(self.model.dtype).min)
        ids = context[done:] + trie.tokens
        positions = list(range(done, prompt)) + [prompt + depth for depth in trie.depths]
        cache = shared.cache if done else None
        with self._computing():
            try:
                logits = self.model(
                    input_ids=torch.tensor([ids], device=self.device),
                    attention_mask=mask[None, None],
                    position_ids=torch.tensor([positions], device=self.device),
                    cache=cache,
                    use_cache=cache is not None,
                    logits_to_keep=len(trie.tokens) + 1,
                ).logits[0]
            finally:
                if cache is not None:
                    cache.crop(-(total - done))  # back to the shared prefix for the next prompt
        # row 0 predicts every label's first token; row 1 + n predicts the token after trie node n
        logp = logits.float().log_softmax(-1)
        totals = []
        for path, target in zip(trie.paths, targets, strict=True):
            rows = [0] + [1 + node for node in path[:-1]]
            totals.append(-float(logp[rows, target].sum()))
        return totals

    def shared_prefix(self, prompts: Sequence[list[int]]) -> SharedPrefix | None:
        """The cache of the tokens all `prompts` start with (each keeps at least one of its own), for
        `label_nlls` to continue: a 77-label instruction is then computed once per eval pass, not once per
        row. None when the shared part is short (SHARED_PREFIX_TOKENS) or the model cannot continue a cropped
        cache under a block mask (sliding windows, ALiBi, prefix tuning)."""
        import torch
        from transformers import Cache

        if not prompts:
            return None
        shortest = min(len(p) for p in prompts)
        length = next((i for i in range(shortest) if any(p[i] != prompts[0][i] for p in prompts)), shortest)
        length = min(length, shortest - 1)
        if length < SHARED_PREFIX_TOKENS or not self._block_mask_fits(length):
            return None
        ids = list(prompts[0][:length])
        with self._computing():
            out = self.model(input_ids=torch.tensor([ids], device=self.device), use_cache=True)
        cache = getattr(out, "cache", None)
        return SharedPrefix(ids, cache) if isinstance(cache, Cache) else None

    def _block_mask_fits(self, total: int) -> bool:
        """Whether `label_nlls` may score in one block-masked pass of `total` tokens: not past BLOCK_MASK_TOKENS
        (attention is quadratic in it), nor a sliding window (the one mask would widen it), nor for ALiBi
        models (they build their bias from a 2D mask) or prompt-learning PEFT models (prefix tuning joins a
        2D mask for its virtual tokens)."""
        config = self.model.config
        config = config.get_text_config() if hasattr(config, "get_text_config") else config
        sliding = getattr(config, "sliding_window", None)
        if total > BLOCK_MASK_TOKENS or (sliding and total > sliding):
            return False
        if getattr(config, "alibi", False) or getattr(config, "model_type", "") in ("bloom", "mpt"):
            return False
        peft = getattr(self.model, "active_peft_config", None)
        return not getattr(peft, "is_prompt_learning", False)

    def _label_nlls_cached(self, context: list[int], targets: list[list[int]]) -> list[float]:
        """label_nlls where one block-masked pass does not fit: the prompt runs once and every label continues
        a copy of its cached keys and values in one padded batch."""
        import torch

        longest = max(len(t) for t in targets)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        batch = torch.tensor([t + [pad] * (longest - len(t)) for t in targets], device=self.device)
        mask = torch.tensor([[1] * len(t) + [0] * (longest - len(t)) for t in targets], device=self.device)
        with self._computing():
            prompt = self.model(input_ids=torch.tensor([context], device=self.device), use_cache=True)
            cache = prompt.cache
            cache.batch_repeat_interleave(len(targets))
            attention = torch.cat([torch.ones(len(targets), len(context), device=self.device), mask], 1)
            logits = self.model(input_ids=batch, attention_mask=attention, cache=cache).logits
        first = prompt.logits[0, -1].float().log_softmax(-1)
        rest = logits[:, :-1].float().log_softmax(-1)
        totals = []
        for row, target in enumerate(targets):
            nll = -float(first[target[0]])
            nll -= sum(float(rest[row, i, token]) for i, token in enumerate(target[1:]))
            totals.append(nll)
        return totals

    def answer_nll(self, prompt_ids: list[int], answer: str) -> tuple[float, int]:
        """Mean negative log-likelihood per gold-answer token (answer + EOS) given the prompt, one forward pass
        (logits only where the answer is predicted)."""
        import torch

        target = self._gold_ids(answer)
        context = prompt_ids[-max(1, self.window - len(target)) :]
        ids = torch.tensor([context + target], device=self.device)
        with self._computing():
            logits = self.model(input_ids=ids, logits_to_keep=len(target) + 1).logits[0].float()
        predicted = logits[: len(target)]
        gold = torch.tensor(target, device=predicted.device)
        nll = torch.nn.functional.cross_entropy(predicted, gold, reduction="mean")
        return float(nll), len(target)

    def answer_nll_of_label(
        self, prompt_ids: list[int], labels: Sequence[str], nlls: Sequence[float], answer: str
    ) -> float | None:
        """`answer_nll(prompt_ids, answer)` read off `label_nlls(prompt_ids, labels)`'s totals, without another
        pass: the same tokens after the same context when `answer` is a label and neither cut the prompt
        (the prompt and the longest label fit the window, the answer is under half of it). None otherwise."""
        if answer not in labels:
            return None
        targets = self._label_targets(labels)
        target = targets[labels.index(answer)]
        if len(prompt_ids) + max(map(len, targets)) > self.window or len(target) * 2 >= self.window:
            return None
        return nlls[labels.index(answer)] / len(target)

    def _label_targets(self, labels: Sequence[str]) -> list[list[int]]:
        """Each label's tokens + EOS, tokenized once per label set (an eval scores the same labels every row)."""
        from adaptfile.prompt.chat import eos_token

        key = tuple(labels)
        if key not in self._label_tokens:
            eos = eos_token(self.tokenizer)
            self._label_tokens[key] = [
                list(self.tokenizer(label + eos, add_special_tokens=False)["input_ids"]) for label in labels
            ]
        return self._label_tokens[key]

    def _gold_ids(self, answer: str) -> list[int]:
        """The tokens a gold answer is scored on: the answer and EOS, at most half the window."""
        from adaptfile.prompt.chat import eos_token

        target = self.tokenizer(answer + eos_token(self.tokenizer), add_special_tokens=False)["input_ids"]
        return list(target)[: max(1, self.window // 2)]


class LabelTrie:
    """Label token sequences as a prefix tree, so labels that start alike ("card_arrival", "card_linking")
    share the forward pass of their common tokens: nodes in insertion order (a parent before its
    children), each with its token, parent (-1: the prompt) and depth, and each label's path of nodes."""

    def __init__(self, targets: Sequence[Sequence[int]]) -> None:
        self.tokens: list[int] = []
        self.parents: list[int] = []
        self.depths: list[int] = []
        self.paths: list[list[int]] = []
        nodes: dict[tuple[int, ...], int] = {}
        for target in targets:
            path: list[int] = []
            for depth, token in enumerate(target):
                key = tuple(target[: depth + 1])
                if key not in nodes:
                    nodes[key] = len(self.tokens)
                    self.tokens.append(token)
                    self.parents.append(path[-1] if path else -1)
                    self.depths.append(depth)
                path.append(nodes[key])
            self.paths.append(path)


def _extends(ids: Sequence[int], prefix: Sequence[int]) -> bool:
    """Whether `ids` starts with `prefix` and has at least one token after it."""
    return len(ids) > len(prefix) and list(ids[: len(prefix)]) == list(prefix)
