"""Train the tiny model the package ships: supervised learning on synthetic traces.

    python -m mrt_env.pretrain.train --out runs/tiny          # or: mrt-pretrain --out ...
    python -m mrt_env.pretrain.train --help

One small Llama-style causal LM with a character tokenizer (built here, no download) learns
both synthetic families (:mod:`mrt_env.data.synthetic`) from generated traces:

* solution traces in every solver style of each family (efficient and wasteful mixed, so
  that both behaviours are in the model's repertoire and RL has something to amplify);
* forced-answer samples: a trace cut after a random block, the family's forcing text, and
  the solver's best answer at that point, so the model can serve as its own meta-prover.

The loss covers the blocks and answers only (not the problem statement, which is random).
The evaluation problems (seed 0, the first ``EVAL_PROBLEMS`` of each family) never appear in
training. Everything is a pure function of ``--seed``. A checkpoint
(``checkpoint.safetensors``) is written every ``--save-every`` steps and a killed run
resumes from it.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mrt_env.cli import CommandConfig, exit_status, parse_command
from mrt_env.data.synthetic import (
    TASKS,
    SyntheticTask,
    get_task,
    held_out_questions,
)
from mrt_env.errors import ConfigError, DataFormatError, RunStateError
from mrt_env.extras import require
from mrt_env.lm.masks import packed_causal_mask
from mrt_env.runfiles import (
    checkpoint_number,
    load_checkpoint,
    restore_optimizer,
    restore_weights,
    save_checkpoint,
)
from mrt_env.schedule import lr_factor
from mrt_env.threads import set_threads

__all__ = ["PretrainConfig", "main", "train"]

_TRAIN_SEED_OFFSET = 1000  # training problems come from seeds far from the eval seed 0
_ROW_WIDTH = 512  # tokens per packed training row
CHECKPOINT = "checkpoint.safetensors"
OLD_CHECKPOINT = "checkpoint.pt"  # torch.save, before: read only as tensors and plain values
_BAD_CHECKPOINT = "delete it to start afresh, or choose another --out"


@dataclass(frozen=True)
class PretrainConfig(CommandConfig):
    """Supervised training of the tiny shipped model on synthetic traces."""

    out: Path = Path("runs/tiny-model")
    """Folder for the model (save_pretrained), its tokenizer and train_log.jsonl."""
    tasks: tuple[str, ...] = ("arithmetic", "search")
    """Synthetic families to train on (sampled uniformly)."""
    seed: int = 0
    """Seed of the weights, the problems, the traces and the batches (0 to 2**32 - 1)."""
    steps: int = 1400
    """Optimizer steps."""
    batch_size: int = 48
    """Sequences per step."""
    lr: float = 2e-3
    """Peak learning rate (AdamW, linear warmup, cosine decay to 10%)."""
    warmup: int = 100
    """Warmup steps."""
    hidden_size: int = 128
    """Model width."""
    num_layers: int = 4
    """Transformer blocks."""
    num_heads: int = 4
    """Attention heads."""
    forced_fraction: float = 0.3
    """Share of sequences that are forced-answer samples."""
    efficient_fraction: float = 0.5
    """Share of solution traces in a family's first (efficient) style."""
    max_minutes: float = 14.5
    """Stop (and save) after this much training time."""
    save_every: int = 250
    """Steps between checkpoints (a killed run resumes from the last)."""

    def validate(self) -> None:
        """Raise a :class:`ValueError` naming the first bad setting."""
        unknown = sorted(set(self.tasks) - set(TASKS))
        if unknown or not self.tasks:
            raise ConfigError(f"tasks must be some of {sorted(TASKS)}, got {list(self.tasks)}")
        for name in ("steps", "batch_size", "hidden_size", "num_layers", "num_heads", "save_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.hidden_size % self.num_heads:
            raise ConfigError(
                f"hidden_size ({self.hidden_size}) must be a multiple of num_heads "
                f"({self.num_heads})"
            )
        for name in ("forced_fraction", "efficient_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must lie in [0, 1], got {getattr(self, name)}")
        if not 0 <= self.seed <= 2**32 - 1:
            raise ConfigError(f"seed must be an integer from 0 to 2**32 - 1, got {self.seed}")


class TraceSampler:
    """Draws training sequences as (text, loss mask by character) pairs."""

    def __init__(self, config: PretrainConfig):
        self.config = config
        self.rng = np.random.default_rng([config.seed, 7])
        self.tasks: list[SyntheticTask] = [
            get_task(name, seed=config.seed + _TRAIN_SEED_OFFSET) for name in config.tasks
        ]
        self.held_out = {name: held_out_questions(name) for name in config.tasks}
        self.index = 0

    def sample(self) -> tuple[str, list[bool]]:
        cfg, rng = self.config, self.rng
        task = self.tasks[int(rng.integers(len(self.tasks)))]
        while True:
            problem = task.problem(self.index)
            self.index += 1
            if problem.question not in self.held_out[task.name]:
                break
        style = task.styles[0] if rng.random() < cfg.efficient_fraction else task.styles[-1]
        trace = task.trace(problem, rng, style)
        prompt = task.prompt_template.replace("{question}", problem.question)
        if rng.random() < cfg.forced_fraction:
            cut = int(rng.integers(len(trace.blocks) + 1))  # after any block, or none
            context = prompt + "".join(trace.blocks[:cut]) + task.forcing_text
            answer = task.forced_answer(problem, trace.blocks[:cut], rng) + "}\n"
            return context + answer, [False] * len(context) + [True] * len(answer)
        body = trace.text
        return prompt + body, [False] * len(prompt) + [True] * len(body)


def _packed_batch(
    tokenizer: Any, samples: list[tuple[str, list[bool]]], width: int, torch: Any
) -> dict[str, Any]:
    """Pack whole samples into rows of ``width`` tokens (no sample is split).

    Packing instead of padding: no compute is spent on pad tokens, and every row mixes
    both tasks. Positions restart at every sample and a block-diagonal causal mask keeps
    each sample from seeing the others, so every sample is trained exactly as it is read
    at inference (the tasks copy numbers from their prompt: another sample's numbers
    within reach would be a trap).
    """
    rows: list[list[tuple[list[int], list[bool]]]] = [[]]
    used = [0]
    for text, mask in samples:
        ids = tokenizer(text)["input_ids"] + [tokenizer.eos_token_id]  # BOS + chars + EOS
        if len(ids) > width:
            raise ConfigError(
                f"a training sample of {len(ids)} tokens exceeds the row width {width}"
            )
        if used[-1] + len(ids) > width:
            rows.append([])
            used.append(0)
        rows[-1].append((ids, [False, *mask, True]))  # no loss on BOS; the EOS is learned
        used[-1] += len(ids)
    input_ids = torch.full((len(rows), width), tokenizer.pad_token_id)  # [R, W]
    labels = torch.full((len(rows), width), -100)  # [R, W]: -100 = no loss
    positions = torch.zeros((len(rows), width), dtype=torch.long)  # [R, W]
    masks = []
    for r, row in enumerate(rows):
        at, spans = 0, []
        for ids, mask in row:
            n = len(ids)
            input_ids[r, at : at + n] = torch.tensor(ids)
            labels[r, at : at + n] = torch.tensor(
                [i if m else -100 for i, m in zip(ids, mask, strict=True)]
            )
            positions[r, at : at + n] = torch.arange(n)
            spans.append((at, n, 0))  # no cache: each sample sees only itself
            at += n
        row_mask = packed_causal_mask(spans, cache_length=0, width=width, dtype=torch.float32)
        row_mask[at:, :] = 0.0  # padding rows: anything (they carry no loss)
        masks.append(row_mask)
    attention = torch.stack(masks)[:, None]  # [R, 1, W, W]
    return {
        "input_ids": input_ids,
        "labels": labels,
        "position_ids": positions,
        "attention_mask": attention,  # [R, 1, W, W]
    }


def _lr_at(step: int, cfg: PretrainConfig) -> float:
    return cfg.lr * lr_factor(step, cfg.steps, cfg.warmup)


def train(cfg: PretrainConfig) -> Path:
    """Train (or resume) and save the model in ``cfg.out``; returns the folder."""
    torch = require("torch", extra="hf", feature="mrt-pretrain")
    tqdm = require("tqdm", extra="hf", feature="mrt-pretrain").tqdm
    from mrt_env.lm.testing import tiny_llama, tiny_tokenizer

    set_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = tiny_tokenizer()
    tokenizer.chat_template = None  # the tasks have their own plain prompts
    model = tiny_llama(
        tokenizer,
        seed=cfg.seed,
        hidden_size=cfg.hidden_size,
        num_layers=cfg.num_layers,
        num_heads=cfg.num_heads,
        max_positions=1024,
    )
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=0.01
    )
    sampler = TraceSampler(cfg)
    checkpoint = out / CHECKPOINT
    start = 0
    found = [p for p in (checkpoint, out / OLD_CHECKPOINT) if p.exists()]
    if found:
        start = _restore(found[0], cfg, model, optimizer, sampler, torch)
    else:
        torch.manual_seed(cfg.seed)
    params = sum(p.numel() for p in model.parameters())
    log_path = out / "train_log.jsonl"
    began = time.monotonic()
    model.train()
    bar = tqdm(
        range(start, cfg.steps), initial=start, total=cfg.steps, desc=f"train {params / 1e6:.2f}M"
    )
    step = start
    for step in bar:
        batch = _packed_batch(
            tokenizer, [sampler.sample() for _ in range(cfg.batch_size)], _ROW_WIDTH, torch
        )
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(step, cfg)
        loss = model(**batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if step % 50 == 0 or step == cfg.steps - 1:
            with log_path.open("a") as f:
                f.write(
                    json.dumps({"step": step, "loss": loss.item(), "lr": _lr_at(step, cfg)}) + "\n"
                )
        timed_out = (time.monotonic() - began) / 60 > cfg.max_minutes
        if (step + 1) % cfg.save_every == 0 or timed_out:
            _save_checkpoint(torch, checkpoint, cfg, model, optimizer, sampler, step + 1)
        if timed_out:
            bar.write(f"stopping after {cfg.max_minutes} minutes at step {step + 1}")
            break
    bar.close()
    model.eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "train_config.json").write_text(json.dumps(_jsonable(cfg), indent=2) + "\n")
    checkpoint.unlink(missing_ok=True)
    (out / OLD_CHECKPOINT).unlink(missing_ok=True)
    return out


def _restore(path, cfg, model, optimizer, sampler, torch) -> int:
    """Load the checkpoint at ``path`` (model, optimizer, both random streams, the problem
    index); returns its step. A bad checkpoint is one :class:`DataFormatError` naming it."""
    fix = _BAD_CHECKPOINT
    state = load_checkpoint(path, fix=fix)
    if state.get("config") != _jsonable(cfg):
        raise RunStateError(
            f"{path} was written with other settings; use another --out or delete it"
        )
    start = checkpoint_number(state, "step", path, fix=fix)
    index = checkpoint_number(state, "index", path, fix=fix)
    if start > cfg.steps:
        raise DataFormatError(f"{path}: step {start} is past --steps {cfg.steps}; {fix}")
    rng, torch_rng = state.get("rng"), state.get("torch_rng")
    try:
        sampler.rng.bit_generator.state = rng
        torch.set_rng_state(torch_rng)
    except (TypeError, ValueError, KeyError, RuntimeError):  # what numpy and torch raise
        raise DataFormatError(
            f"{path}: its random states (rng, torch_rng) are unreadable; {fix}"
        ) from None
    restore_weights(model, state.get("model"), path, fix=fix)
    restore_optimizer(optimizer, state.get("optimizer"), path, fix=fix)
    sampler.index = index
    return start


def _jsonable(cfg: PretrainConfig) -> dict[str, Any]:
    d = asdict(cfg)
    del d["threads"]  # a resumed run may use other threads
    d["out"] = str(d["out"])
    d["tasks"] = list(d["tasks"])
    return d


def _save_checkpoint(torch, path, cfg, model, optimizer, sampler, step) -> None:
    save_checkpoint(
        {
            "config": _jsonable(cfg),
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "rng": sampler.rng.bit_generator.state,
            "index": sampler.index,
            "step": step,
            "torch_rng": torch.get_rng_state(),
        },
        path,
    )
    path.with_name(OLD_CHECKPOINT).unlink(missing_ok=True)  # resumed from, now superseded


def main(argv: list[str] | None = None) -> int:
    """The ``mrt-pretrain`` command."""
    cfg = parse_command(PretrainConfig, "mrt-pretrain", argv, description=__doc__)
    if cfg is None:
        return 2
    return exit_status(
        "mrt-pretrain",
        lambda: print(f"saved to {train(cfg)}"),
        Path(cfg.out),
        resume="Run the same command again to continue from the last checkpoint.",
    )


if __name__ == "__main__":
    raise SystemExit(main())
