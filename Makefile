# django-reqlog developer entry points. Everything installs into project-local
# virtualenvs, so a fresh machine needs nothing but python3, Java and Maven.
PYTHON ?= python3
VENV ?= .venv
VENV42 ?= .venv-dj42
VENV310 ?= .venv-py310
VENV313 ?= .venv-py313
PY := $(VENV)/bin/python
PY42 := $(VENV42)/bin/python
STAMP := $(VENV)/.installed
STAMP42 := $(VENV42)/.installed
PYTEST_ARGS ?=
# The fast suite: every test that needs no server (Elasticsearch, Kafka,
# Redis) and is not a slow end-to-end run.
FAST := -m "not es and not slow and not kafka and not redis"
# pytest-xdist, one worker per core. Each test module stays on one worker
# (loadfile): its module-scoped fixtures are built once, and the privacy
# suites' checks of their own figures see all of their module's tests.
# XDIST= runs on one process.
XDIST ?= -n auto --dist loadfile
# Editing the compiled core (native/) reinstalls, which rebuilds it.
NATIVE_SOURCES := native/Cargo.toml native/Cargo.lock $(shell find native/src -name "*.rs")

.PHONY: help venv lint typecheck check test test-core test-dj42 test-py310 test-py313 test-reference test-native test-no-rust demo bench clean es-start es-stop kafka-start kafka-stop redis-start redis-stop elastalert-venv

help:
	@echo "make demo   - run example_project under gunicorn, drive traffic, print the report"
	@echo "make check  - lint, type-check and run the tests that need no server (a few minutes)"
	@echo "make test   - install everything, lint, type-check, start a real Elasticsearch, Kafka and Redis, run tests"
	@echo "make bench  - measure request overhead and shipper throughput (benchmarks/results.md)"

# `pip install -e .` builds the compiled core (django_reqlog._native) with
# the Rust toolchain on PATH; without one it installs the pure-Python package.
$(STAMP): setup.cfg pyproject.toml $(NATIVE_SOURCES)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' 'Django>=5.2,<5.3' 'djangorestframework>=3.16'
	touch $@

$(STAMP42): setup.cfg pyproject.toml $(NATIVE_SOURCES)
	$(PYTHON) -m venv $(VENV42)
	$(PY42) -m pip install --quiet --upgrade pip
	$(PY42) -m pip install --quiet -e '.[dev]' 'Django>=4.2,<4.3' 'djangorestframework>=3.15,<3.17'
	touch $@

# The oldest and newest supported Pythons, found through pyenv or PATH
# (tests/testbed/pythons.py; $REQLOG_PYTHON310 / $REQLOG_PYTHON313 name
# one), each with its own virtualenv and the `test` extra (the `dev` tools
# need not install there).
define python_venv
	rm -rf $(2)
	base=$$($(PYTHON) tests/testbed/pythons.py $(1)) && "$$base" -m venv $(2)
	$(2)/bin/python -m pip install --quiet --upgrade pip
	$(2)/bin/python -m pip install --quiet -e '.[test]' 'Django>=5.2,<5.3' 'djangorestframework>=3.16'
	touch $(2)/.installed
endef

$(VENV310)/.installed: setup.cfg pyproject.toml $(NATIVE_SOURCES)
	$(call python_venv,3.10,$(VENV310))

$(VENV313)/.installed: setup.cfg pyproject.toml $(NATIVE_SOURCES)
	$(call python_venv,3.13,$(VENV313))

venv: $(STAMP)

lint: $(STAMP)
	$(PY) -m ruff check django_reqlog tests benchmarks example_project
	$(PY) -m ruff format --check django_reqlog

typecheck: $(STAMP)
	$(PY) -m mypy

# Quick feedback while working: ruff, mypy and the fast suite.
check: lint typecheck
	$(PY) -m pytest $(FAST) -q $(XDIST) $(PYTEST_ARGS)

# The integration tests need a real Elasticsearch node: esnode.py fetches
# Elastic's own distribution from Maven Central, starts it on 127.0.0.1 with
# security on, runs the command with its URL and credentials in the
# environment, and stops it by PID whatever the outcome. kafkanode.py does the
# same for Apache Kafka's broker (kafka_2.13 and its dependencies, fetched with
# mvn), inside it, and redisnode.py for Redis (Debian's redis-server, installed
# with apt-get when missing), the Celery tests' broker, inside that.
KAFKANODE := $(PY) tests/testbed/kafkanode.py
REDISNODE := $(PY) tests/testbed/redisnode.py

# Masking and formatting have two implementations that must agree: the
# compiled core (used when it is built) and the pure-Python reference
# (REQLOG_NATIVE=0, and every install without a Rust toolchain). test-core
# runs everything with the core; test-reference runs the privacy, masking,
# formatter and field suites at full size on the reference; test-dj42 runs the rest of the suite on the reference too
# (masking does not depend on the Django version, so the second leg covers
# both); test-native runs the Rust crate's own tests; test-no-rust installs
# the package where no Rust toolchain can be found and formats a masked event.
# test-py310 and test-py313 run the fast suite on the oldest and newest
# supported Pythons.
test: lint typecheck test-native test-core test-reference test-dj42 test-py310 test-py313 test-no-rust

test-core: $(STAMP) elastalert-venv
	$(PY) tests/testbed/esnode.py run -- $(KAFKANODE) run -- $(REDISNODE) run -- $(PY) -m pytest $(PYTEST_ARGS)

# ElastAlert2 pins an old elasticsearch client and needs Python 3.12, so it
# lives in its own virtualenv under .cache/ (found via pyenv or PATH).
elastalert-venv: $(STAMP)
	$(PY) tests/testbed/elastalert_venv.py

# Django 4.2 LTS: the whole suite except the Elasticsearch, slow and
# end-to-end tests, which do not depend on the Django version. The property
# tests ran at full size on Django 5.2; here their smoke profile (5% of the
# cases, same code paths) keeps the second leg short.
test-dj42: $(STAMP42)
	REQLOG_NATIVE=0 REQLOG_HYPOTHESIS_PROFILE=reqlog-privacy-smoke $(PY42) -m pytest -m "not es and not slow" -q $(PYTEST_ARGS)

test-py310: $(VENV310)/.installed
	$(VENV310)/bin/python -m pytest $(FAST) -q $(XDIST) $(PYTEST_ARGS)

test-py313: $(VENV313)/.installed
	$(VENV313)/bin/python -m pytest $(FAST) -q $(XDIST) $(PYTEST_ARGS)

test-reference: $(STAMP)
	REQLOG_NATIVE=0 $(PY) -m pytest -q $(PYTEST_ARGS) tests/privacy/ tests/test_masking.py \
		tests/test_formatters.py tests/test_request_fields.py tests/test_middleware.py \
		tests/test_labels.py tests/test_query_stats.py tests/test_view_options.py \
		tests/request_events/test_otel.py

test-native:
	cargo test --quiet --no-default-features --manifest-path native/Cargo.toml

test-no-rust: $(STAMP)
	$(PY) tests/testbed/no_rust_install.py

es-start: $(STAMP)
	$(PY) tests/testbed/esnode.py start

es-stop: $(STAMP)
	$(PY) tests/testbed/esnode.py stop

kafka-start: $(STAMP)
	$(KAFKANODE) start

kafka-stop: $(STAMP)
	$(KAFKANODE) stop

redis-start: $(STAMP)
	$(REDISNODE) start

redis-stop: $(STAMP)
	$(REDISNODE) stop

demo: $(STAMP)
	$(PY) example_project/demo.py

bench: $(STAMP)
	$(PY) -m pip install --quiet -r benchmarks/requirements.txt
	$(PY) tests/testbed/esnode.py run --optional -- $(KAFKANODE) run --optional -- $(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) $(VENV42) $(VENV310) $(VENV313) .cache build dist *.egg-info example_project/var native/target django_reqlog/_native*.so
