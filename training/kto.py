"""Preference tuning on reactions: TRL's ``KTOTrainer`` on 👍 (desirable) and 👎 (undesirable)
answers, continuing the SFT adapter. KTO needs no paired answers, which is what reactions give:
one answer, one thumb. It runs only with enough votes of both kinds (``MIN_EACH``).
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from training.train import BaseModel, TrainConfig, load_base

MIN_EACH = 8  # fewer 👍 or 👎 than this and KTO is skipped (too little signal)


def kto_ready(records: Sequence[dict[str, Any]]) -> bool:
    good = sum(1 for r in records if r.get("label", True))
    return good >= MIN_EACH and len(records) - good >= MIN_EACH


def train_kto(records: Sequence[dict[str, Any]], adapter_dir: Path, config: TrainConfig,
              base: BaseModel, show_progress: bool = True) -> dict[str, Any]:
    """Continue the PEFT adapter in ``adapter_dir`` with KTO; saves it in place."""
    from datasets import Dataset
    from peft import PeftModel
    from trl import KTOConfig, KTOTrainer

    model, tokenizer = load_base(base)
    model = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=True)
    rows = [{"prompt": r["messages"][:-1], "completion": r["messages"][-1:],
             "label": bool(r.get("label", True))} for r in records]
    with tempfile.TemporaryDirectory() as scratch, contextlib.redirect_stdout(sys.stderr):
        args = KTOConfig(
            output_dir=scratch, per_device_train_batch_size=max(2, config.batch_size),
            learning_rate=config.learning_rate / 5, num_train_epochs=1, seed=config.seed,
            max_length=config.max_length, gradient_checkpointing=False, use_cpu=True,
            bf16=False, report_to="none", save_strategy="no", logging_steps=1,
            disable_tqdm=not show_progress,
        )
        trainer: Any = KTOTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows),
                                  processing_class=tokenizer)
        output = trainer.train()
    trainer.model.save_pretrained(str(adapter_dir))
    return {"kto_loss": round(float(output.training_loss), 4), "kto_examples": len(rows)}
