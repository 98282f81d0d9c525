"""LoRA training throughput: supportbot's trainer (TRL SFTTrainer) vs a plain PEFT loop.

Both train the same LoRA (r=16, all linear layers) on the same chat records (context-aware
examples built from the e-manual's qa-train.jsonl with the serving prompt, plus the seed tone
set), same batch size, same number of steps; throughput = tokens processed per second
(prompt + answer tokens, padding excluded). Then, with --examples N, the wall time of one epoch
over N examples with the product's CPU defaults (the issue's target: 500 examples ≤ 15 min).

    python benchmarks/bench_train.py [--data ../shared/data] [--steps 6] [--examples 500] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from training.dataset import load_jsonl, load_seed, to_chat_records  # noqa: E402
from training.train import BaseModel, TrainConfig, load_base, train_lora  # noqa: E402


def build_records(data: Path, limit: int) -> list[dict[str, Any]]:
    qa = load_jsonl(data / "emanual-smart-tv" / "qa-train.jsonl")
    examples = (qa + load_seed())[:limit]
    return to_chat_records(examples, None, company="Samsung TV support")


def plain_peft(records: list[dict[str, Any]], config: TrainConfig, steps: int) -> float:
    """A hand-written PEFT training loop (the baseline); returns tokens/s."""
    import torch
    from peft import LoraConfig, get_peft_model

    model, tok = load_base(BaseModel.embedded())
    model = get_peft_model(model, LoraConfig(r=config.rank, lora_alpha=config.alpha,
                                             target_modules="all-linear", task_type="CAUSAL_LM"))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=config.learning_rate)
    model.train()
    tokens, started = 0, time.perf_counter()
    for step in range(steps):
        batch = records[step * config.batch_size:(step + 1) * config.batch_size]
        ids, labels = [], []
        for record in batch:
            prompt = tok.apply_chat_template(record["messages"][:-1], tokenize=False,
                                             add_generation_prompt=True)
            p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
            a_ids = tok(record["messages"][-1]["content"] + tok.eos_token,
                        add_special_tokens=False)["input_ids"]
            seq = (p_ids + a_ids)[: config.max_length]
            ids.append(seq)
            labels.append(([-100] * len(p_ids) + a_ids)[: config.max_length])
        width = max(len(s) for s in ids)
        pad = tok.pad_token_id
        input_ids = torch.tensor([s + [pad] * (width - len(s)) for s in ids])
        mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in ids])
        label_t = torch.tensor([s + [-100] * (width - len(s)) for s in labels])
        loss = model(input_ids=input_ids, attention_mask=mask, labels=label_t).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        tokens += int(mask.sum())
    return tokens / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--examples", type=int, default=0, help="also time one epoch of N")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not (args.data / "emanual-smart-tv" / "qa-train.jsonl").exists():
        sys.exit(f"error: {args.data}/emanual-smart-tv/qa-train.jsonl not found — pass --data")
    config = TrainConfig(batch_size=4, grad_accum=1)  # one pass per step in both loops
    records = build_records(args.data, max(args.examples, args.steps * config.batch_size))
    compare = records[: args.steps * config.batch_size]
    baseline = plain_peft(compare, config, args.steps)
    with tempfile.TemporaryDirectory() as tmp:
        run = train_lora(compare, TrainConfig(max_steps=args.steps, batch_size=4, grad_accum=1),
                         BaseModel.embedded(),
                         Path(tmp), show_progress=False)
        result: dict[str, Any] = {
            "steps": args.steps, "batch_size": config.batch_size,
            "plain_peft_tokens_per_s": round(baseline, 1),
            "supportbot_tokens_per_s": run.metrics["tokens_per_s"],
            "ratio": round(run.metrics["tokens_per_s"] / baseline, 3)}
        if args.examples:
            full = train_lora(records[: args.examples], TrainConfig(), BaseModel.embedded(),
                              Path(tmp) / "full", show_progress=False)
            result |= {"examples": args.examples, "epoch_seconds": full.seconds,
                       "epoch_tokens_per_s": full.metrics["tokens_per_s"],
                       "target_seconds": 900}
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key:>26}: {value}")


if __name__ == "__main__":
    main()
