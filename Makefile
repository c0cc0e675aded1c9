# userservice: `make run` serves on the embedded SQLite default; `make test` runs every test.
# Code generators are pinned in tools/go.mod, golangci-lint in tools/lint/go.mod and govulncheck
# in tools/vuln/go.mod, all run with `go tool`, so a fresh machine needs nothing but Go.

SHELL     := /bin/bash
GO        ?= go
TOOL      := $(GO) tool -modfile=tools/go.mod
BIN       := bin/userservice
# sqlc's parser works without cgo (it then uses a wasm parser; output is identical).
SQLC      := CGO_ENABLED=0 $(TOOL) sqlc
OGEN      := $(TOOL) ogen
# A module of its own: golangci-lint would otherwise move a dozen dependencies that sqlc and
# ogen share (x/tools, grpc, protobuf), and every lint upgrade would rebuild the generators.
# An absolute path, so that it also works from deploy/.
LINT      := $(GO) tool -modfile=$(CURDIR)/tools/lint/go.mod golangci-lint
VULN      := $(GO) tool -modfile=$(CURDIR)/tools/vuln/go.mod
# The version of golang.org/x/vulndb whose reports make vuln checks against: the newest, as a
# vulnerability check wants; a pseudo-version replays an older run.
VULNDB    ?= latest
# What a vulnerable standard library does to make vuln: warn, or fail.
VULN_STDLIB ?= warn
# The version `userservice version` prints: the commit, -dirty with uncommitted changes.
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo devel)
LDFLAGS   := -X main.version=$(VERSION)

.PHONY: module run build bench bench-scale bench-micro test test-all test-race generate check-generated lint vet vuln fuzz clean help

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

# Where `make run` keeps the mails it does not send (SMTP_URL unset), so that a developer can
# follow a verification or reset link with nothing configured.
MAIL_DIR  ?= mail

run: ## start the service (SQLite at ./userservice.db unless DATABASE_URL says otherwise; unsent mail in ./mail)
	MAIL_DIR=$(MAIL_DIR) $(GO) run ./cmd/userservice serve

build: ## build the binary into bin/
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/userservice

bench: ## load benchmark: the service vs the database's ceiling, PostgreSQL (BENCH_DATABASE_URL) and SQLite
	$(GO) run ./cmd/loadbench $(BENCHFLAGS)

bench-scale: ## latency at 10^3, 10^5 and 10^6 users (PostgreSQL)
	$(GO) run ./cmd/loadbench -scale 1000,100000,1000000 -d 2s -rounds 3 -json bin/bench-scale.json

bench-micro: ## Go micro-benchmarks of each operation through the handler chain, with allocations
	$(GO) test -run '^$$' -bench . -benchmem ./cmd/userservice

module: ## scaffold a working module: make module NAME=<m>, then make generate && make test
	@test -n "$(NAME)" || { echo "usage: make module NAME=<name>"; exit 2; }
	@$(GO) build -o bin/scaffold ./cmd/scaffold && bin/scaffold $(NAME)

test: ## run the whole test suite (PostgreSQL tests skip, loudly, when no server answers), the deployment files' too
	@mkdir -p bin
	@$(GO) build -o bin/testreport ./cmd/testreport
	@# go test -json into testreport: failures in full, a line per skip with its reason, the logs
	@# of passing tests only in bin/test.log, and a closing "N passed, N failed, N skipped".
	@set -o pipefail; { $(GO) test -json -count=1 -timeout 30m ./...; main=$$?; \
		(cd deploy && $(GO) test -json -count=1 ./...); deploy=$$?; exit $$((main | deploy)); } 2>&1 | bin/testreport -log bin/test.log

test-all: ## the test suite including the slow tests (database outage, shutdown under load, two instances); CI runs this
	SLOW_TESTS=1 $(MAKE) test

# -shuffle=on runs each package's tests in a random order (the seed is printed, replay with
# -shuffle=<seed>): a test that passes only after another has run is a bug the fixed order hides.
# deploy/ is left out: its tests read YAML files in one goroutine, the race detector has
# nothing to watch there.
test-race: ## the test suite under the race detector, in a shuffled order
	$(GO) test -count=1 -timeout 30m -race -shuffle=on ./...

generate: ## bundle the modules' parts (openapi.yaml, sqlc.yaml, the HTTP composition), then run ogen and sqlc on the bundles
	$(GO) run ./cmd/bundle
	$(OGEN) --loglevel error --config tools/ogen.yml --target platform/oas --package oas --clean openapi.yaml
	$(SQLC) generate

# A generated file says so on its first line (Go's convention, and ours for the YAML bundles
# and, as an HTML comment, for the Markdown pages).
# Every file carrying the mark, in the last commit (a deleted one counts) or in the work tree (a
# new one counts), is checked: no list of generated directories to keep up to date.
GENERATED_MARK := ^((//|\#) Code generated .* DO NOT EDIT\.|<!-- Code generated .* DO NOT EDIT\. -->)$$
GENERATED_FILES = { git grep -lE '$(GENERATED_MARK)' HEAD -- . 2>/dev/null | sed 's/^HEAD://'; \
	git ls-files -z -co --exclude-standard | xargs -0 grep -lE '$(GENERATED_MARK)' 2>/dev/null; } | sort -u

check-generated: generate ## fail when committed generated code differs from a fresh generation
	@files=$$($(GENERATED_FILES)); test -n "$$files" || { echo "no generated files found"; exit 1; }; \
	changed=$$(git status --porcelain -- $$files); \
	if [ -n "$$changed" ]; then echo "$$changed"; git --no-pager diff --stat -- $$files; \
		echo "generated code is stale or not committed: run make generate and commit"; exit 1; fi

vet: ## go vet alone, a quick check (make lint runs the same analyzers)
	$(GO) vet ./...
	cd deploy && $(GO) vet ./...

# golangci-lint's govet runs go vet's own analyzers (its default set is go vet's), and its
# staticcheck the standalone tool's checks: lint does not depend on vet, so CI, which runs
# lint, vets once. The linters and why each is there: .golangci.yml. deploy/ is a module of
# its own, linted with the same configuration.
lint: ## gofmt, then golangci-lint (govet, staticcheck and the rest of .golangci.yml) on the service and deploy/ (the import rule runs as a test: architecture_test.go)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); test -z "$$unformatted" || { echo "not gofmt-ed: $$unformatted"; exit 1; }
	$(LINT) run ./...
	cd deploy && $(LINT) run -c ../.golangci.yml ./...

# govulncheck's own database is a web service this machine cannot reach, but the same reports
# are published as a Go module, golang.org/x/vulndb, which the module proxy serves: its data/osv
# holds every report as OSV JSON, and its cmd/indexdb (pinned in tools/vuln/go.mod) writes them
# in the layout that govulncheck reads with -db file://. Only reports of code the service
# calls count. One in a module fails: upgrading it is in our hands. One in the standard library
# warns (VULN_STDLIB=fail makes it fail): its fix is a newer Go on the machine.
vuln: ## govulncheck on the service and deploy/, offline: the reports come from the module proxy (golang.org/x/vulndb)
	@mkdir -p bin
	@dir=$$($(GO) mod download -json golang.org/x/vulndb@$(VULNDB) | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p'); \
	test -n "$$dir" || { echo "vuln: golang.org/x/vulndb@$(VULNDB) could not be downloaded"; exit 1; }; \
	echo "vuln: reports of $$(basename "$$dir")"; \
	rm -rf bin/vulndb && $(VULN) indexdb -vulns "$$dir/data/osv" -out bin/vulndb
	@: > bin/vuln.log; for m in . deploy; do \
		echo "vuln: govulncheck in $$m" | tee -a bin/vuln.log; \
		(cd $$m && $(VULN) govulncheck -db file://$(CURDIR)/bin/vulndb ./...) 2>&1 | tee -a bin/vuln.log; \
		s=$${PIPESTATUS[0]}; [ $$s -eq 0 ] || [ $$s -eq 3 ] || exit $$s; \
	done; \
	if grep -q '^  Module: ' bin/vuln.log; then echo "vuln: a module the code calls is vulnerable (above): upgrade it"; exit 1; fi; \
	if grep -q '^  Standard library' bin/vuln.log; then \
		echo "vuln: WARNING: the standard library of $$($(GO) env GOVERSION) is vulnerable (above): the fix is a newer Go"; \
		test "$(VULN_STDLIB)" != fail || exit 1; \
	fi

# Budgets are execution counts, not durations: a -fuzztime duration races the deadline inside
# Go's fuzz coordinator, and on a loaded machine a run that found nothing then fails with
# "context deadline exceeded". A count has no deadline to race. Each is about 10s here.
FUZZ_API ?= 15000x
FUZZ_DOMAIN ?= 400000x
fuzz: ## a short run of every fuzz target (FUZZ_API / FUZZ_DOMAIN executions each)
	$(GO) test ./cmd/userservice -run '^$$' -fuzz '^FuzzAPI$$' -fuzztime $(FUZZ_API)
	$(GO) test ./cmd/userservice -run '^$$' -fuzz '^FuzzAPIPostgres$$' -fuzztime $(FUZZ_API)
	$(GO) test ./modules/users/internal/domain -run '^$$' -fuzz '^FuzzValidateUsername$$' -fuzztime $(FUZZ_DOMAIN)
	$(GO) test ./modules/users/internal/domain -run '^$$' -fuzz '^FuzzValidateEmail$$' -fuzztime $(FUZZ_DOMAIN)

clean: ## remove build output, the default SQLite database and make run's mail
	rm -rf bin userservice.db userservice.db-wal userservice.db-shm mail
