"""Knowledge: ingest documents, index them, retrieve, and answer with a local model."""
