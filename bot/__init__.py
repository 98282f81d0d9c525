"""supportbot: a support assistant that is fine-tuned (LoRA) and informed (RAG)."""

__version__ = "0.1.0"
