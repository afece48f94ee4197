# The two commands of the quickstart. Both set up what they need on a fresh machine (see scripts/setup-envs).
.PHONY: serve test setup lint

serve:  ## start the engine (tiny model unless FACELLAVA_MODEL is set) and the gateway; prints the URL
	./scripts/serve

test:  ## run every test suite (lint, engine side, gateway side, end to end)
	./scripts/test

setup:
	./scripts/setup-envs

lint:
	./.venv/gateway/bin/ruff check common model service tests bench docker
