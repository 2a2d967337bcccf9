# Two commands for a newcomer: `make sandbox` and `make test`. Each installs what it needs
# into .venv first (Python 3.11+ required).
VENV ?= .venv
PY := $(VENV)/bin/python

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

.PHONY: install sandbox test lint proto
install: $(VENV)/.installed

sandbox: install
	$(PY) run_connector.py sandbox

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: lint
	$(VENV)/bin/pytest

# The Pub/Sub API stubs are committed (running needs only the protobuf runtime); regenerate after editing the proto.
proto: install
	$(PY) -m grpc_tools.protoc -I. --python_out=. --pyi_out=. adapters/salesforce/pubsub/pubsub_api.proto
