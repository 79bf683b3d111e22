# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast soak bench lint chromium fuzz dist check-aarch64

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/onetrip demo --dir .demo

# Four workers on two cores: most of an end-to-end test is waiting (servers starting, rounds, timeouts), so the
# whole suite took 453 s against 710 s in one process; a worker that runs dry takes queued tests from another.
test: $(STAMP) chromium
	$(BIN)/python -m pytest -n 4 --dist worksteal

# The browser test drives Debian's chromium (Playwright cannot download a browser here): install it when
# missing, as root or through sudo. Without apt-get (not Debian) nothing is tried and the test says so.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	command -v chromium >/dev/null || ! command -v apt-get >/dev/null || \
		($(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

# The unit layer alone (pure rules, the protocol, property tests): seconds, for the edit-and-run loop.
test-fast: $(STAMP)
	$(BIN)/python -m pytest tests/unit -m 'not e2e and not postgres'

soak: $(STAMP)
	HYPOTHESIS_PROFILE=soak $(BIN)/python -m pytest tests/unit tests/integration

# schemathesis over every JSON API operation, as an agent and as a clerk, against a county served on loopback
# (harness/fuzz.py): no 5xx, no answer outside /api/v1/openapi.json. A few minutes; `make test` runs it short.
fuzz: $(STAMP)
	$(BIN)/python -m harness.fuzz --max-examples 300

# The release: dist/onetrip-<version>-linux-<machine>.tar.gz (OneTrip and every dependency as wheels, a manifest,
# install.sh) for x86-64 and aarch64, and dist/onetrip_<version>_<arch>.deb from each; both install with no
# network (docs/operations.md, Installing). The wheels are fetched afresh: this needs the package registries.
dist: $(STAMP)
	$(BIN)/python -m installers --out dist

# The aarch64 archive `make dist` left installed and run on this x86-64 PC by emulation: an arm64 Debian 12 root
# (debootstrap, kept in /var/tmp), qemu-user through binfmt_misc, install.sh, every compiled module imported,
# `onetrip serve` answering /healthz (installers/emulated_check.sh; docs/operations.md, Installing). Needs root,
# qemu-user-static, debootstrap and Debian's mirror; takes minutes. Not part of `make test`. ARCHIVE=… for another.
ARCHIVE ?= dist/onetrip-$(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)-linux-aarch64.tar.gz
check-aarch64:
	installers/emulated_check.sh $(ARCHIVE)

bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
