# payment-migration-operator
#
#   make demo     the main job: local control plane + AWS emulator + manager + sample
#   make test     every check and every test suite (what CI runs)

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN_VERSION ?= v0.23.0
STATICCHECK_VERSION ?= v0.8.2
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
STATICCHECK ?= $(LOCALBIN)/staticcheck-$(STATICCHECK_VERSION)

GO_TEST_FLAGS ?=

.PHONY: all
all: build

##@ Development

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Regenerate deepcopy code, the CRD, RBAC and the webhook configuration from the Go markers.
	$(CONTROLLER_GEN) object paths="./api/..."
	$(CONTROLLER_GEN) crd rbac:roleName=manager-role paths="./api/..." paths="./controllers/..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	$(CONTROLLER_GEN) webhook paths="./internal/webhook/..." output:webhook:artifacts:config=config/webhook

.PHONY: verify-generated
verify-generated: generate ## Fail when committed generated files are stale.
	@if [ -n "$$(git status --porcelain -- api config)" ]; then \
		echo "generated files are stale; run 'make generate' and commit:"; git status --porcelain -- api config; git diff -- api config | head -50; exit 1; fi

.PHONY: fmt-check
fmt-check: ## Fail when a Go file is not gofmt-formatted.
	@bad=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$bad" ]; then echo "gofmt needed: $$bad"; exit 1; fi

.PHONY: vet
vet:
	go vet ./...

.PHONY: lint
lint: $(STATICCHECK) ## staticcheck over every package.
	$(STATICCHECK) ./...

.PHONY: envtest-assets
envtest-assets: ## Build (once per machine) and print the KUBEBUILDER_ASSETS directory.
	@hack/envtest-bins.sh

.PHONY: unit
unit: ## Fast tests that need no control plane.
	go test $(GO_TEST_FLAGS) $$(go list ./... | grep -v /test/)

.PHONY: integration
integration: ## Suites that cross a boundary: real kube-apiserver and etcd, the AWS emulator.
	KUBEBUILDER_ASSETS="$$(hack/envtest-bins.sh)" go test -timeout 45m $(GO_TEST_FLAGS) ./test/...

.PHONY: test
test: fmt-check verify-generated vet lint unit integration ## Everything CI runs.

##@ Build

.PHONY: build
build: ## Build the manager binary.
	go build -o $(LOCALBIN)/manager ./cmd/manager

IMAGE_ARCH ?= $(shell go env GOARCH)

.PHONY: image
image: ## Build the manager's image without a container engine: bin/image (OCI layout) and bin/image.tar (docker load).
	go run ./hack/image -arch $(IMAGE_ARCH) -out $(LOCALBIN)/image -tar $(LOCALBIN)/image.tar

.PHONY: demo
demo: ## Start a local control plane, install the CRD, run the manager and apply the sample.
	hack/demo.sh

$(CONTROLLER_GEN):
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(LOCALBIN)/controller-gen $@

$(STATICCHECK):
	GOBIN=$(LOCALBIN) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(LOCALBIN)/staticcheck $@

.PHONY: help
help:
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-18s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
