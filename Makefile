# Two entry points for a fresh machine (see README): `make run` and `make test`.
.PHONY: run test lint

run:
	./scripts/setup.sh
	.venv/bin/supportbot serve

test:
	./scripts/setup.sh dev
	HF_HUB_OFFLINE=1 .venv/bin/python -m pytest -q

lint:
	.venv/bin/ruff check .
	.venv/bin/mypy bot knowledge training benchmarks tests
	.venv/bin/lint-imports
