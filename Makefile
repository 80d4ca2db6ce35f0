# Lambda Scale: build, test and run the Mesos/AWS autoscaler.
# Needs only Go (the version in go.mod) and the Go module proxy; every tool is installed here.

GO        ?= go
BIN       ?= bin
LOCALBIN  := $(abspath $(BIN))
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK := $(LOCALBIN)/staticcheck-$(STATICCHECK_VERSION)

# The embedded default: the controller on config/samples against the simulated cluster.
RUN_ARGS ?= demo --policies config/samples

.DEFAULT_GOAL := help

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-12s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: fmt
fmt: ## Format the Go code (gofmt -s).
	gofmt -s -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet.
	$(GO) vet ./...

.PHONY: lint
lint: $(STATICCHECK) vet ## Run staticcheck (installed into bin/ through the Go toolchain) and go vet.
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed on:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(STATICCHECK) ./...

.PHONY: test
test: vet ## Run go vet and every test (fuzz seeds included); real captures come from ../shared when present.
	$(GO) test -count=1 ./...

.PHONY: bench
bench: ## Run the planner and decoder benchmarks.
	$(GO) test -run='^$$' -bench=. -benchmem ./internal/...

##@ Build and run

.PHONY: build
build: ## Build bin/lambdascale.
	$(GO) build -o $(BIN)/lambdascale ./cmd/lambdascale

.PHONY: run
run: build ## Run the controller on the embedded simulated cluster (no cloud account needed).
	$(BIN)/lambdascale $(RUN_ARGS)

$(STATICCHECK):
	@mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	@mv $(LOCALBIN)/staticcheck $(STATICCHECK)
