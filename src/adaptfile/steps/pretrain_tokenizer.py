"""`pretrain.tokenizer`: a byte-level BPE trained on the corpus, for a model trained from scratch."""

from __future__ import annotations

from adaptfile.engine.protocol import StepContext


def run(ctx: StepContext) -> None:
    from adaptfile.train.data import read_corpus_dir
    from adaptfile.train.tokenizer import train_tokenizer

    corpus = "knowledge.load" if "knowledge.load" in ctx.upstream else "examples.load"
    texts = read_corpus_dir(ctx.upstream[corpus])
    vocab = int(ctx.params["model.scratch.vocab_size"])
    tokenizer = train_tokenizer(texts, vocab, ctx.output("tokenizer/"))
    ctx.log(f"trained a byte-level BPE of {len(tokenizer)} tokens on {len(texts)} texts from {corpus}")


class PretrainTokenizer:
    """The step kind (registered as adaptfile.steps.pretrain_tokenizer:PretrainTokenizer)."""

    name = "pretrain.tokenizer"
    version = "1"
    params: tuple[str, ...] | None = None
    outputs = ("tokenizer/",)
    packages = ("tokenizers", "transformers")

    def run(self, ctx: StepContext) -> None:
        run(ctx)


kind = PretrainTokenizer()
