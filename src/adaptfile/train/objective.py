"""The loss on target tokens only, with logits computed only where a target follows (no wasted vocab matmuls)."""

from __future__ import annotations

from typing import Any

from adaptfile.train.data import IGNORE


def target_loss_sum(model: Any, batch: dict[str, Any]) -> tuple[Any, int]:
    """(sum of next-token cross-entropy over target tokens, number of target tokens)."""
    import torch
    import torch.nn.functional as F

    labels = batch["labels"]
    targets = labels[:, 1:]
    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = targets != IGNORE
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    logits = model(**inputs, logits_to_keep=keep, use_cache=False).logits
    logits = logits.reshape(-1, logits.shape[-1]).float()
    wanted = targets[targets != IGNORE]
    return F.cross_entropy(logits, wanted, reduction="sum"), int(wanted.numel())


def trainer_class() -> type:
    """transformers.Trainer whose loss is the target-token cross-entropy, normalised over the whole
    accumulated batch (num_items_in_batch), exactly as the model's own loss would be."""
    from transformers import Trainer

    class TargetTokenTrainer(Trainer):
        def compute_loss(
            self,
            model: Any,
            inputs: dict[str, Any],
            return_outputs: bool = False,
            num_items_in_batch: Any = None,
        ) -> Any:
            total, count = target_loss_sum(model, inputs)
            if num_items_in_batch is None:
                self.loss_is_scaled_for_ga = False
                loss = total / max(count, 1)
            else:
                self.loss_is_scaled_for_ga = True
                loss = total / num_items_in_batch
                if self.args.average_tokens_across_devices and self.accelerator.num_processes > 1:
                    loss = loss * self.accelerator.num_processes
            return (loss, None) if return_outputs else loss

        def create_accelerator_and_postprocess(self) -> None:
            super().create_accelerator_and_postprocess()
            if self.args.fsdp_plugin_args and self.args.use_cpu:
                shard_on_cpu(self)

    return TargetTokenTrainer


def shard_on_cpu(trainer: Any) -> None:
    """FSDP2 on CPU processes over gloo. accelerate only turns its FSDP plugin on for accelerator devices and
    leaves CPU processes on DDP, although torch's fully_shard runs on CPU; no library offers the switch, so
    the distributed type is set here, in both shared states, before the model is prepared. This is what makes
    the FSDP path (wrapping, full-state-dict checkpoints, resume) testable on CPU-only machines."""
    from accelerate import FullyShardedDataParallelPlugin
    from accelerate.state import PartialState
    from accelerate.utils import DistributedType

    state = trainer.accelerator.state
    if state.distributed_type != DistributedType.MULTI_CPU:
        return
    PartialState().distributed_type = DistributedType.FSDP
    state.distributed_type = DistributedType.FSDP
    state.fsdp_plugin = FullyShardedDataParallelPlugin(**trainer.args.fsdp_plugin_args)
    trainer.is_fsdp_enabled = True


def eval_loss(model: Any, batches: Any) -> float:
    """Mean cross-entropy per target token over `batches` (token-weighted, exact)."""
    import torch

    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in batches:
            batch_total, batch_count = target_loss_sum(model, batch)
            total += float(batch_total)
            count += batch_count
    model.train(was_training)
    return total / max(count, 1)
