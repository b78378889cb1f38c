# Two commands on a fresh machine with Python 3.11, git and make: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BUILD := build
STAGE ?= prod
STACK ?= followups-$(STAGE)

.PHONY: run test test-fast lint install clean package deploy stack-env routes

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check 'pip<26.3'
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt -e .
	touch $(STAMP)

install: $(STAMP)

## Start the embedded AWS and the API on localhost:8000 with a demo clinic (Ctrl-C stops it).
run: $(STAMP)
	@exec $(BIN)/python -m devtools.devstack

## The whole test suite, after the linters (which check the packaged AWS template too), on
## TEST_WORKERS pytest-xdist workers (default 2, the CI machine's cores; TEST_WORKERS=0 runs it in
## one process). Each test file is one unit of work (tests/conftest.py unit_of): its moto is made once.
TEST_WORKERS ?= 2
test: lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --no-loadscope-reorder

## The domain rules and the service behaviour on the in-memory store: no AWS, no sockets, well
## under a minute. `make test` runs these too, with the moto tier, the browser and deploy checks.
test-fast: $(STAMP)
	$(BIN)/python -m pytest tests/unit tests/fast -q

## ruff on the code; cfn-lint on the packaged template (built first).
lint: package
	$(BIN)/ruff check .
	$(BIN)/cfn-lint $(BUILD)/sam.json

## chalicelib/api/route_table.py from the routes' decorators (app.py registers routes from it;
## a test fails when it is stale). Run after adding, removing or changing a route.
routes: $(STAMP)
	$(BIN)/python -m chalicelib.api.wiring --write

## build/sam.json (SAM template: chalice's functions and API merged with deploy/resources.json)
## and build/deployment.zip. Downloads Linux wheels from PyPI the first time (cached in
## .chalice/deployments/), about 10 s after that.
package: $(STAMP)
	$(BIN)/python -m deploy.package --stage $(STAGE) $(BUILD)

## Deploy to AWS (needs AWS CLI v2 and credentials; see README "Deploy to AWS"):
##   make deploy DEPLOY_BUCKET=my-artifacts-bucket [STACK=followups-prod] [STAGE=prod]
deploy: package
	@test -n "$(DEPLOY_BUCKET)" || { echo "set DEPLOY_BUCKET=<an S3 bucket for the code zip>"; exit 2; }
	@test $$(printf %s "$(STACK)" | wc -c) -le 40 || { echo "STACK must be at most 40 characters"; exit 2; }
	aws cloudformation package --template-file $(BUILD)/sam.json --s3-bucket $(DEPLOY_BUCKET) \
		--s3-prefix $(STACK) --output-template-file $(BUILD)/packaged.json --use-json
	aws cloudformation deploy --template-file $(BUILD)/packaged.json --stack-name $(STACK) \
		--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset \
		$(if $(PARAMETERS),--parameter-overrides $(PARAMETERS),)
	aws cloudformation describe-stacks --stack-name $(STACK) --query 'Stacks[0].Outputs' --output table

## The exports that point the CLI at a deployed stack: eval "$$(make -s stack-env STACK=followups-prod)"
stack-env: $(STAMP)
	@$(BIN)/python -m deploy.stack_env --stack $(STACK)

clean:
	rm -rf $(VENV) .local .pytest_cache .hypothesis $(BUILD)
