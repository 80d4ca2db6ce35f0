# Lambda Scale: build, test and run the Mesos/AWS autoscaler.
# Needs only Go (the version in go.mod) and the Go module proxy; every tool is installed here.

GO        ?= go
BIN       ?= bin
LOCALBIN  := $(abspath $(BIN))
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK := $(LOCALBIN)/staticcheck-$(STATICCHECK_VERSION)
CONTROLLER_TOOLS_VERSION ?= v0.23.0
CONTROLLER_GEN := $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
# IMG is the image docker-build tags.
IMG ?= lambdascale:dev
# LAMBDA_ARCH is the GOARCH of the Lambda bootstrap: amd64 for the x86_64 architecture, arm64 for arm64.
LAMBDA_ARCH ?= amd64

# The embedded default: the controller on config/samples against the simulated cluster.
RUN_ARGS ?= demo --policies config/samples

.DEFAULT_GOAL := help

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-17s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

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
test: vet verify-manifests build-static ## Run go vet, verify-manifests, build-static and every test (fuzz seeds included); real captures come from ../shared when present.
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

##@ Deployment

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the ScalingPolicy CRD (config/crd/bases) and api/v1alpha1/zz_generated.deepcopy.go from api/.
	$(CONTROLLER_GEN) crd object paths=./api/... output:crd:artifacts:config=config/crd/bases

.PHONY: verify-manifests
verify-manifests: $(CONTROLLER_GEN) ## Fail when the CRD or the deepcopy code is stale (regenerates into a temporary directory and diffs).
	bash hack/verify-manifests.sh $(CONTROLLER_GEN)

# build-static runs the Dockerfile's build command byte for byte (config/manifests_test.go checks
# that they agree). GOOS=linux keeps the binary a Linux one, as in the image, when make runs elsewhere.
.PHONY: build-static
build-static: export GOOS := linux
build-static: ## Build bin/lambdascale-linux as the Dockerfile's build stage does (static, CGO_ENABLED=0).
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o bin/lambdascale-linux ./cmd/lambdascale
	@$(GO) version -m bin/lambdascale-linux | grep -q 'CGO_ENABLED=0' || { echo "bin/lambdascale-linux is not a CGO_ENABLED=0 build"; exit 1; }

.PHONY: docker-build
docker-build: ## Build the image (IMG, default lambdascale:dev); with no Docker engine, run the build stage's command (build-static) instead.
	@if docker info >/dev/null 2>&1; then \
		echo "docker build -t $(IMG) ."; \
		docker build -t $(IMG) . ; \
	else \
		echo "No Docker engine runs here (docker info failed): running the Dockerfile's build command locally (make build-static) instead."; \
		$(MAKE) --no-print-directory build-static; \
	fi

.PHONY: build-lambda
build-lambda: export GOOS := linux
build-lambda: export GOARCH := $(LAMBDA_ARCH)
build-lambda: ## Build bin/lambda/bootstrap, the AWS Lambda entry (runtime provided.al2023); zip it to deploy.
	CGO_ENABLED=0 go build -trimpath -tags lambda.norpc -ldflags "-s -w" -o bin/lambda/bootstrap ./cmd/lambdascale-lambda

$(CONTROLLER_GEN):
	@mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	@mv $(LOCALBIN)/controller-gen $(CONTROLLER_GEN)

$(STATICCHECK):
	@mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	@mv $(LOCALBIN)/staticcheck $(STATICCHECK)
