# The two commands of the quickstart. Both set up what they need on a fresh machine (see scripts/setup-envs).
.PHONY: serve test setup lint

# make serve PORT=9000 ENGINE_PORT=9001 HOST=0.0.0.0 MODEL=/path/to/converted  (each optional; ARGS="..." passes
# any other option of `python -m service.stack --help`). Unset, the FACELLAVA_* variables or 8000 / 8001 apply.
serve:  ## start the engine (tiny model unless MODEL / FACELLAVA_MODEL is set) and the gateway; prints the URL
	./scripts/serve $(if $(PORT),--port $(PORT)) $(if $(ENGINE_PORT),--engine-port $(ENGINE_PORT)) \
		$(if $(HOST),--host $(HOST)) $(if $(MODEL),--model $(MODEL)) $(ARGS)

test:  ## run every test suite (lint, engine side, gateway side, end to end)
	./scripts/test

setup:
	./scripts/setup-envs

lint:
	./.venv/gateway/bin/ruff check common model conversion service devkit tests bench docker
	./.venv/gateway/bin/lint-imports  # the layering rules in pyproject.toml
