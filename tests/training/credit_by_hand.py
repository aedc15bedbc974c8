"""MRT's credit written out by hand, as plain Python loops over one batch (no tensors, no
package code): what the tests compare every engine's advantages with; and a small
byte-level tokenizer for the credit tests to read text with."""

from __future__ import annotations

import math


def mean(xs):
    return sum(xs) / len(xs)


def std(xs):  # sample std, as GRPO's
    m = mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / max(1, len(xs) - 1))


def hand_block_credit(rows, *, alpha, baseline, group_size, eps=1e-6):
    """rows: (R, [J_0..J_k]) per completion, None when left out; returns per-block lists."""
    out = []
    for i, row in enumerate(rows):
        if row is None:
            out.append(None)
            continue
        r, js = row
        group = [
            rows[m] for m in range(len(rows)) if m // group_size == i // group_size and rows[m]
        ]
        credit = []
        for j in range(len(js) - 1):
            progress = js[j + 1] - js[j]
            if baseline == "termination":
                credit.append(r - js[j] + alpha * progress)
                continue
            others = [g[1][j + 1] - g[1][j] for g in group if len(g[1]) - 1 > j]
            rs = [g[0] for g in group]
            outcome = (r - mean(rs)) / (std(rs) + eps)
            credit.append(outcome + alpha * (progress - mean(others)))
        out.append(credit)
    return out


def token_starts(tokenizer, ids):
    """By definition: token i starts where the decode of ids[:i] ends."""
    return [len(tokenizer.decode(ids[:i], skip_special_tokens=True)) for i in range(len(ids))]


def byte_level_tokenizer(corpus, *, wrap=False):
    """A byte-level BPE trained on ``corpus`` (a character outside it, such as "é", is
    split across byte tokens); ``wrap``: it puts <s> before a text and </s> after it, as
    special tokens at offset 0."""
    import tokenizers
    from transformers import PreTrainedTokenizerFast

    bpe = tokenizers.Tokenizer(tokenizers.models.BPE())
    bpe.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<s>", "</s>"],
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator(list(corpus) * 20, trainer)
    if wrap:
        bpe.post_processor = tokenizers.processors.TemplateProcessing(
            single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 1)]
        )
    return PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>")
