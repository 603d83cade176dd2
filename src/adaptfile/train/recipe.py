"""The training recipe, top to bottom: setup model → setup data → preflight → train (resumable) → save."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adaptfile.engine.protocol import StepContext
from adaptfile.errors import StepFailed
from adaptfile.train import data as td
from adaptfile.train import metrics, models, packing, preflight
from adaptfile.train.settings import Settings


@dataclass
class Prepared:
    """Everything `train()` needs, built by `setup()`."""

    settings: Settings
    model: Any
    tokenizer: Any
    train_rows: list[packing.Row]
    eval_rows: list[packing.Row]
    collator: packing.Collator
    rows_per_batch: int
    notes: list[str] = field(default_factory=list)
    estimated_gb: float | None = None  # the preflight's estimate, recorded beside the measured peak
    baseline_gb: float = 0.0  # memory in use before the model loaded (metrics.start_peak)
    # gathered after FSDP training (on rank 0), saved instead of the shards
    full_state: dict[str, Any] | None = None


def setup(ctx: StepContext, method: str) -> Prepared:
    """Tokenizer and model, then the data rendered, packed and split, then the memory preflight."""
    import transformers

    settings = Settings.from_params(method, ctx.params)
    transformers.set_seed(settings.seed)
    baseline = metrics.start_peak(settings.device)
    tokenizer, model = _setup_model(ctx, settings)
    train_records, eval_records = _setup_data(ctx, settings, tokenizer)
    if not train_records:
        raise StepFailed(
            f"{ctx.step_id}: no training data", hint="add examples or corpus text to the project"
        )
    packed = settings.packing
    to_rows = packing.pack if packed else packing.unpacked
    train_rows = to_rows(train_records)
    per_batch = packing.rows_per_batch(train_rows, settings.batch_size) if packed else settings.batch_size
    prepared = Prepared(
        settings=settings,
        model=model,
        tokenizer=tokenizer,
        train_rows=train_rows,
        eval_rows=to_rows(eval_records),
        collator=packing.Collator(tokenizer.pad_token_id, packed),
        rows_per_batch=per_batch,
        baseline_gb=baseline,
    )
    _preflight(ctx, prepared)
    return prepared


def _setup_model(ctx: StepContext, s: Settings) -> tuple[Any, Any]:
    params = ctx.params
    if s.method == "pretrain":
        tokenizer = models.load_tokenizer(str(ctx.upstream["pretrain.tokenizer"] / "tokenizer"), None)
        shape = models.scratch_shape(
            params["model.scratch.layers"],
            params["model.scratch.hidden"],
            params["model.scratch.heads"],
            params["model.scratch.vocab_size"],
            params["model.scratch.context"],
        )
        return tokenizer, models.scratch_llama(shape, tokenizer, s.seed)
    location, revision = models.base_location(params, ctx.upstream)
    trust = bool(params.get("model.trust_remote_code", False))
    tokenizer = models.load_tokenizer(location, revision, trust)
    model = models.load_base(location, revision, s.method, s.precision, trust)
    return tokenizer, models.wrap_peft(model, s.method, params)


def _setup_data(ctx: StepContext, s: Settings, tokenizer: Any) -> tuple[list[td.Record], list[td.Record]]:
    if s.sft:
        contexts = None
        if "rag.train_context" in ctx.upstream:  # a RAG variant trains on what retrieval really returns
            contexts = td.read_contexts(ctx.upstream["rag.train_context"])
        render = td.serving_renderer(ctx.root, ctx.params, tokenizer, contexts)
        everything = td.read_examples_dir(ctx.upstream["examples.load"])
        from adaptfile.train.launch import is_main_process

        if is_main_process():  # one writer under torchrun
            _write_prompts(ctx, td.prompt_rows(everything, render, tokenizer), s.max_seq_len)
        # eval loss on a seeded slice of the training examples, never on the eval set: a training step
        # must not depend on data.eval (editing the eval set would retrain every model)
        examples, heldout = td.split_heldout(everything, s.seed, s.heldout)
        return (
            td.sft_records(examples, render, tokenizer, s.max_seq_len),
            td.sft_records(heldout, render, tokenizer, s.max_seq_len),
        )
    corpus_step = "knowledge.load" if "knowledge.load" in ctx.upstream else "examples.load"
    records = td.corpus_records(td.read_corpus_dir(ctx.upstream[corpus_step]), tokenizer, s.max_seq_len)
    return td.split_heldout(records, s.seed, s.heldout)


def _write_prompts(ctx: StepContext, rows: list[dict[str, Any]], max_len: int) -> None:
    """train_prompts.jsonl: what the model reads, one example a line; warns where max_seq_len cuts a prompt."""
    lines = "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows)
    ctx.output("train_prompts.jsonl").write_text(lines, encoding="utf-8", newline="\n")
    cut = sum(1 for row in rows if row["prompt_tokens"] + row["target_tokens"] > max_len)
    if cut:
        ctx.log(
            f"warning: {cut} of {len(rows)} training prompts exceed max_seq_len {max_len} and lose their "
            "start; raise the method's max_seq_len so training sees the whole serving prompt"
        )


def _preflight(ctx: StepContext, p: Prepared) -> None:
    s = p.settings
    seq = max(len(r.input_ids) for r in p.train_rows)
    # the loss computes logits only at target tokens (objective.target_loss_sum): at most a batch of the
    # rows with the most
    targets = max(sum(1 for label in r.labels[1:] if label != td.IGNORE) for r in p.train_rows)
    memory = preflight.estimate_memory(
        s.method,
        p.model,
        p.rows_per_batch,
        seq,
        s.gradient_checkpointing,
        s.precision,
        s.devices,
        s.parallel,
        s.device,
        targets * p.rows_per_batch,
    )
    p.estimated_gb = memory.total_gb
    free, device = preflight.available_gb(s.device, s.per_node)
    ctx.log(f"memory: ≈{memory.total_gb:.3g} GB estimated per process ({s.parallel}), {device}")
    preflight.check_fits(ctx.step_id, memory, free, device, s.describe())


def train(ctx: StepContext, p: Prepared, stop_after: int | None = None) -> dict[str, Any]:
    """Run the Trainer from the last checkpoint under ctx.work (if any); returns the run's metrics."""

    from adaptfile.train import callbacks
    from adaptfile.train.launch import distributed_arguments, wrap_classes
    from adaptfile.train.objective import eval_loss, trainer_class

    s = p.settings
    checkpoints = ctx.work / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    resume = last_complete_checkpoint(checkpoints)
    rows = packing.epoch_order(p.train_rows, s.epochs, s.seed)
    steps = math.ceil(len(rows) / (p.rows_per_batch * s.grad_accum * s.devices))
    tokens = sum(len(r.input_ids) for r in rows)
    targets = sum(sum(1 for label in r.labels[1:] if label != td.IGNORE) for r in rows)
    interrupt = callbacks.InterruptCallback()
    cbs: list[Any] = [callbacks.ProgressCallback(ctx.progress, tokens / max(steps, 1)), interrupt]
    if stop_after is not None:
        cbs.append(callbacks.StopAfterCallback(stop_after))
    wrap = wrap_classes(p.model, ctx.step_id) if s.sharded else None
    tied = tied_aliases(p.model) if s.sharded else []
    distributed = distributed_arguments(s.device, s.devices, s.parallel, wrap)
    trainer = trainer_class()(
        model=p.model,
        args=_arguments(s, checkpoints, p.rows_per_batch, distributed),
        train_dataset=rows,
        data_collator=p.collator,
        callbacks=cbs,
    )
    eval_batches = _batches(p, p.eval_rows)  # none with heldout = 0: no eval loss then
    start_file = checkpoints / "eval_loss_start.json"
    if resume is None:
        start_loss = eval_loss(p.model, eval_batches) if eval_batches else None
        start_file.write_text(json.dumps(start_loss))
    else:
        start_loss = json.loads(start_file.read_text()) if start_file.exists() else None
    resumed_step = int(Path(resume).name.split("-")[-1]) if resume else 0
    ctx.log(f"training {s.method}: {len(rows)} rows, {steps} steps, {s.describe()}; resume from {resume}")
    started = time.perf_counter()
    with callbacks.interrupts_checkpoint(interrupt):
        trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - started
    if trainer.state.global_step < trainer.state.max_steps:
        raise KeyboardInterrupt(
            f"{ctx.step_id} interrupted at step {trainer.state.global_step}; checkpoint saved"
        )
    # under FSDP every rank takes part in the gathers
    final_loss = eval_loss(p.model, eval_batches) if eval_batches else None
    if s.sharded:  # every rank joins the gather; rank 0 receives the full state dict, the others nothing
        p.full_state = trainer.accelerator.get_state_dict(trainer.model)
        for name in tied:  # the gather copies tied weights apart; save each once, as save_pretrained does
            p.full_state.pop(name, None)
    curve = metrics.loss_curve(trainer.state.log_history)
    return {
        "method": s.method,
        "settings": {**s.__dict__, "rows_per_batch": p.rows_per_batch},
        "steps": trainer.state.global_step,
        "resumed_from_step": resumed_step if resume else None,
        "loss_curve": curve,
        "eval_loss_start": start_loss,
        "eval_loss": final_loss,
        "train_tokens": tokens,
        "target_tokens": targets,
        "tokens_per_s": tokens
        * (trainer.state.global_step - resumed_step)
        / max(steps, 1)
        / max(seconds, 1e-9),
        "wall_seconds": seconds,
        "peak_memory_gb": metrics.peak_memory_gb(s.device, p.baseline_gb),
        "estimated_memory_gb": p.estimated_gb,
        "fsdp_wrap": wrap,
        "packing": s.packing,
        "packed_rows": len(p.train_rows),
    }


def tied_aliases(model: Any) -> list[str]:
    """Parameter names that alias an earlier one (tied input / output embeddings), found before sharding."""
    first: dict[int, str] = {}
    aliases = []
    for name, parameter in model.named_parameters(remove_duplicate=False):
        if id(parameter) in first:
            aliases.append(name)
        else:
            first[id(parameter)] = name
    return aliases


def _arguments(s: Settings, output_dir: Path, rows_per_batch: int, extra: dict[str, Any]) -> Any:
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=rows_per_batch,
        gradient_accumulation_steps=s.grad_accum,
        num_train_epochs=1,  # the dataset already holds every epoch, in a seeded order
        train_sampling_strategy="sequential",
        learning_rate=s.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=0.03,
        weight_decay=0.0,
        optim="adamw_torch",
        bf16=s.precision == "bf16",
        fp16=s.precision == "fp16",
        activation_checkpointing=s.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False} if s.gradient_checkpointing else None,
        logging_steps=1,
        save_strategy="steps",
        save_steps=s.save_every,
        save_total_limit=2,
        seed=s.seed,
        data_seed=s.seed,
        use_cpu=s.device == "cpu",
        report_to="none",
        disable_tqdm=True,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        **extra,
    )


def _batches(p: Prepared, rows: list[packing.Row]) -> list[dict[str, Any]]:
    step = p.rows_per_batch
    return [p.collator(rows[i : i + step]) for i in range(0, len(rows), step)]


def save(ctx: StepContext, p: Prepared, run: dict[str, Any]) -> None:
    """Publish only the final artifact: adapter or model (+ tokenizer), metrics.json and loss.png."""
    s = p.settings
    state = {"state_dict": p.full_state} if p.full_state is not None else {}
    if s.peft:
        target = ctx.output("adapter/")
        p.model.save_pretrained(target, **state)
        _portable_adapter_config(target, ctx.params)
        models.save_tokenizer(p.tokenizer, target)
        if ctx.params.get(f"{s.method}.merge"):
            merged = _merged(ctx, p, target) if state else p.model.merge_and_unload()
            merged.save_pretrained(ctx.output("merged/"))
            models.save_tokenizer(p.tokenizer, ctx.output("merged/"))
    else:
        p.model.save_pretrained(ctx.output("model/"), **state)
        models.save_tokenizer(p.tokenizer, ctx.output("model/"))
    metrics.write_metrics(ctx.output("metrics.json"), run)
    measured = [(0, run["eval_loss_start"]), (run["steps"], run["eval_loss"])]
    eval_points = [(step, loss) for step, loss in measured if loss is not None]
    metrics.write_loss_png(run["loss_curve"], eval_points, ctx.output("loss.png"), ctx.step_id)


def _merged(ctx: StepContext, p: Prepared, adapter: Path) -> Any:
    """The base with the saved adapter merged in: an FSDP-sharded model cannot merge in place."""
    from peft import PeftModel

    location, revision = models.base_location(ctx.params, ctx.upstream)
    base = models.load_base(location, revision, p.settings.method, p.settings.precision)  # the same dtype
    return PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()


def _portable_adapter_config(adapter: Path, params: dict[str, Any]) -> None:
    """adapter_config.json names model.base, not this machine's path to it (same bytes everywhere)."""
    import json

    path = adapter / "adapter_config.json"
    config = json.loads(path.read_text())
    base = params.get("model.base", "scratch")
    config["base_model_name_or_path"] = "pretrain.train/model" if base == "scratch" else base
    if isinstance(config.get("target_modules"), list):  # peft writes a set, in hash order
        config["target_modules"] = sorted(config["target_modules"])
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    # peft's model card names this machine's path to the base model: not part of the artifact
    (adapter / "README.md").unlink(missing_ok=True)


def run_step(ctx: StepContext, method: str, launch: dict[str, Any] | None = None) -> None:
    """The whole recipe for one training step kind; several devices relaunch it under torchrun."""
    from adaptfile.train.launch import in_worker, is_main_process, launch_distributed

    settings = Settings.from_params(method, ctx.params)
    if settings.launched and not in_worker():
        s = settings
        launch_distributed(ctx, method, s.per_node, s.nodes, s.device, s.parallel)
        return
    prepared = setup(ctx, method)
    run = train(ctx, prepared)
    if is_main_process():
        save(ctx, prepared, {**run, "launch": launch})


def last_complete_checkpoint(checkpoints: Path) -> str | None:
    """The newest checkpoint that was written to the end; a half-written one (killed mid-save) is removed."""
    import shutil

    def step(path: Path) -> int:
        return int(path.name.rsplit("-", 1)[1]) if path.name.rsplit("-", 1)[-1].isdigit() else -1

    for candidate in sorted(checkpoints.glob("checkpoint-*"), key=step, reverse=True):
        try:
            json.loads((candidate / "trainer_state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            shutil.rmtree(candidate, ignore_errors=True)
            continue
        return str(candidate)
    return None
