# Dashboard SaaS Industrial — common tasks. `make help` lists them.
#
# Overridable: MODE (fcgid|cgi), PORT, LISTEN, DEMO_PASSWORD, e.g.
#   make demo MODE=cgi PORT=8081 DEMO_PASSWORD=another-secret

SHELL := /bin/bash
.DEFAULT_GOAL := help

MODE ?= fcgid
PORT ?= 8080
LISTEN ?= 127.0.0.1
DEMO_PASSWORD ?= demo-password

.PHONY: help deps build demo demo-stop test quick bench fmt lint db-start db-stop db-url \
        apache-start apache-stop apache-status cpanel-bundle package-cpanel lint-aws clean-run \
        soak faults fuzz

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "  variables: MODE=$(MODE) PORT=$(PORT) LISTEN=$(LISTEN) DEMO_PASSWORD=..."

deps: ## install missing system packages and cargo tools (as root)
	@scripts/deps.sh

build: ## front end (if package.json) + cargo build --release --workspace
	@scripts/build.sh

demo: ## database, demo tenants and users, Apache on http://127.0.0.1:PORT/
	@DEMO_MODE='$(MODE)' DEMO_PORT='$(PORT)' DEMO_LISTEN='$(LISTEN)' \
	  DEMO_PASSWORD='$(DEMO_PASSWORD)' scripts/demo.sh

demo-stop: ## stop the demo's Apache and the private database
	@scripts/demo.sh stop

test: ## everything CI runs: fmt, clippy, build, tests, cargo-deny, browser, faults, schemathesis, fuzz
	@scripts/test.sh

quick: ## the edit loop: fmt, clippy, unit tests, in-process API tests (no hosts, browser, fuzz)
	@scripts/quick.sh

bench: ## benchmarks against baselines (scripts/bench.sh; table + bench-results/latest.json)
	@scripts/bench.sh

soak: ## mixed FastCGI traffic for MINUTES (5) with memory and rows-lost figures
	@scripts/soak.sh --minutes $(or $(MINUTES),5)

faults: ## the fault checks alone (scripts/faults.sh)
	@scripts/faults.sh

fuzz: ## the cargo-fuzz targets, FUZZ_SECONDS (20) each
	@scripts/fuzz.sh --seconds $(or $(FUZZ_SECONDS),20)

fmt: ## format the Rust code
	cargo fmt --all

lint: ## rustfmt check, clippy -D warnings, shellcheck
	cargo fmt --all -- --check
	cargo clippy --release --workspace --all-targets -- -D warnings
	@if command -v shellcheck >/dev/null 2>&1; then \
	  shellcheck -x scripts/*.sh cgi/install.sh .ci/run && echo "shellcheck ok"; \
	 else echo "shellcheck not installed: skipped"; fi

db-start: ## start (or find) the database
	@scripts/db.sh start && scripts/db.sh status

db-stop: ## stop the private database
	@scripts/db.sh stop

db-url: ## print the DATABASE_URL in use
	@scripts/db.sh url

apache-start: ## start Apache only (MODE, PORT; env file .run/dashboard.env)
	@scripts/apache.sh start --mode '$(MODE)' --port '$(PORT)' --listen '$(LISTEN)'

apache-stop: ## stop Apache
	@scripts/apache.sh stop

apache-status: ## is Apache running?
	@scripts/apache.sh status || true

cpanel-bundle: ## target/cpanel/dashboard-cpanel.tar.gz: glibc-2.17 binaries (zigbuild) for cPanel
	@scripts/package-cpanel.sh

package-cpanel: cpanel-bundle ## the same as cpanel-bundle

lint-aws: ## cfn-lint + sam validate --lint (SAM template), OpenAPI 3.1 validation
	@scripts/lint-aws.sh

clean-run: demo-stop ## stop everything and delete .run/ (database included)
	rm -rf .run
