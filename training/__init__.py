"""Fine-tuning: datasets, LoRA training, evaluation and the adapter registry (issue 4)."""
