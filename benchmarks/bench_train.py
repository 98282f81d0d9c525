"""LoRA training throughput: supportbot's trainer (TRL SFTTrainer) vs a plain PEFT loop.

The records are what ``supportbot train`` builds: the e-manual is ingested into a temporary
home and each ``qa-train.jsonl`` question becomes a RAFT record (the serving prompt with the
chunk holding the answer among retrieved distractors, ~480 tokens). Both loops train the same
LoRA (the product's default layers, r=16), with the same precision, one example per pass, the
same number of passes; throughput = tokens processed per second. With --examples N, also the
wall time of one epoch over N records with the product's CPU defaults (target: 500 ≤ 15 min;
the ~380 records of ``qa-train.jsonl`` repeat to make up N). With --compare-attention, the
same short run again with the other attention kernel (eager against SDPA; the ratio is the
default's tokens/s over the other's).

    python benchmarks/bench_train.py [--data ../shared/data] [--steps 12] [--examples 500]
                                     [--top-layers 0.5] [--compare-attention] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import emanual, make_runtime  # noqa: E402

from training.dataset import load_jsonl, to_chat_records  # noqa: E402
from training.train import (  # noqa: E402
    BaseModel,
    TrainConfig,
    load_base,
    lora_targets,
    train_lora,
    use_bf16,
)


def build_records(data: Path, home: Path, limit: int) -> list[dict[str, Any]]:
    """RAFT records from qa-train.jsonl over the ingested e-manual, as ``train`` builds them."""
    docs, _ = emanual(data, need_qa=False)
    rt = make_runtime(home, company_name="Samsung TV support")
    rt.kb.update([docs])
    examples = load_jsonl(data / "emanual-smart-tv" / "qa-train.jsonl")[:limit]
    records = to_chat_records(examples, rt.retrieve_chunks, company="Samsung TV support",
                              decline_share=0.2)
    # 457 questions give ~380 records; longer runs repeat them (same length distribution)
    return [records[i % len(records)] for i in range(limit)] if records else []


def plain_peft(records: list[dict[str, Any]], config: TrainConfig, steps: int) -> float:
    """A hand-written PEFT training loop (the baseline); returns tokens/s."""
    import torch
    from peft import LoraConfig, get_peft_model

    model, tok = load_base(BaseModel.embedded())
    model = get_peft_model(model, LoraConfig(r=config.rank, lora_alpha=config.alpha,
                                             lora_dropout=config.dropout, task_type="CAUSAL_LM",
                                             **lora_targets(model, config)))
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
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16(config)):
            loss = model(input_ids=input_ids, attention_mask=mask, labels=label_t).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        tokens += int(mask.sum())
    return tokens / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--steps", type=int, default=12, help="passes (examples) per loop")
    parser.add_argument("--examples", type=int, default=0, help="also time one epoch of N")
    parser.add_argument("--top-layers", type=float, default=TrainConfig.top_layers)
    parser.add_argument("--compare-attention", action="store_true",
                        help="also train the same steps with the other attention kernel")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not (args.data / "emanual-smart-tv" / "qa-train.jsonl").exists():
        sys.exit(f"error: {args.data}/emanual-smart-tv/qa-train.jsonl not found — pass --data")
    # one example per pass and per optimizer step in both loops
    config = TrainConfig(batch_size=1, grad_accum=1, top_layers=args.top_layers)
    with tempfile.TemporaryDirectory() as tmp:
        records = build_records(args.data, Path(tmp) / "home", max(args.examples, args.steps))
        compare = records[: args.steps]
        baseline = plain_peft(compare, config, args.steps)
        run = train_lora(compare, replace(config, max_steps=args.steps), BaseModel.embedded(),
                         Path(tmp) / "short", show_progress=False)
        result: dict[str, Any] = {
            "steps": args.steps, "top_layers": args.top_layers,
            "tokens_per_record": round(run.metrics["tokens"] / args.steps),
            "plain_peft_tokens_per_s": round(baseline, 1),
            "supportbot_tokens_per_s": run.metrics["tokens_per_s"],
            "ratio": round(run.metrics["tokens_per_s"] / baseline, 3),
            "attention": run.metrics["attention"]}
        if args.compare_attention:
            other = "sdpa" if run.metrics["attention"] == "eager" else "eager"
            alt = train_lora(compare, replace(config, max_steps=args.steps, attention=other),
                             BaseModel.embedded(), Path(tmp) / "alt", show_progress=False)
            result |= {f"{other}_tokens_per_s": alt.metrics["tokens_per_s"],
                       "attention_ratio": round(run.metrics["tokens_per_s"]
                                                / alt.metrics["tokens_per_s"], 3)}
        if args.examples:
            full = train_lora(records[: args.examples], TrainConfig(top_layers=args.top_layers),
                              BaseModel.embedded(), Path(tmp) / "full", show_progress=False)
            result |= {"examples": args.examples, "epoch_seconds": full.seconds,
                       "epoch_tokens": full.metrics["tokens"],
                       "epoch_tokens_per_s": full.metrics["tokens_per_s"],
                       "target_seconds": 900}
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key:>26}: {value}")


if __name__ == "__main__":
    main()
