# Developer entry points. `make demo` and `make test` are the two commands a
# fresh machine needs (see README.md).

SHELL := /bin/bash
K8S_VERSION := v1.36.3
TESTENV_DIR := target/testenv
TESTENV := $(TESTENV_DIR)/kube-testenv
KUBECTL := $(TESTENV_DIR)/kubectl
GO_LDFLAGS := -s -w \
	-X k8s.io/component-base/version.gitVersion=$(K8S_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=36 \
	-X k8s.io/component-base/version.gitTreeState=clean \
	-X k8s.io/client-go/pkg/version.gitVersion=$(K8S_VERSION) \
	-X k8s.io/client-go/pkg/version.gitMajor=1 \
	-X k8s.io/client-go/pkg/version.gitMinor=36
CONTROL_PLANE_DIR ?= target/control-plane

.PHONY: testenv control-plane test chaos demo fmt clippy clean-testenv bless manifests release images

## testenv: build the local control plane (etcd + kube-apiserver + kube-controller-manager) and kubectl.
## Go's build cache makes a second run take seconds.
testenv:
	@mkdir -p $(TESTENV_DIR)
	cd tests/testenv && go build -trimpath -ldflags '$(GO_LDFLAGS)' -o ../../$(TESTENV) .
	cd tests/testenv && go build -trimpath -ldflags '$(GO_LDFLAGS)' -o ../../$(KUBECTL) k8s.io/kubernetes/cmd/kubectl

## control-plane: run the control plane in the foreground (Ctrl-C stops it).
control-plane: testenv
	@echo "kubeconfig: $(abspath $(CONTROL_PLANE_DIR))/kubeconfig  (kubectl: $(abspath $(KUBECTL)))"
	$(TESTENV) --dir $(CONTROL_PLANE_DIR)

## test: formatting, lints and every test, against the real control plane.
test: testenv
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --all-features -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features
	KUBE_TESTENV=$(abspath $(TESTENV)) KUBECTL=$(abspath $(KUBECTL)) cargo test --workspace --all-features

## chaos: the fault-injection suite at full size (100 faults, 1,000 ConfigMaps, 50 Bots; about 20 minutes);
## results in target/chaos-report.md (`make test` runs a short version: 12 faults).
CHAOS_FAULTS ?= 100
chaos: testenv
	CHAOS_FAULTS=$(CHAOS_FAULTS) CHAOS_REPORT=$(abspath target/chaos-report.md) KUBE_TESTENV=$(abspath $(TESTENV)) \
		cargo test -p bot-tests --test chaos -- --nocapture

## steady-state: issue 12's steady state at scale: 1,000 unchanged Bots converge, then the operator sends
## 0 writes over resyncs, on the real control plane (~2 minutes) and on the fake API server (~1 minute);
## figures in docs/reliability.md (`make test` runs 20 and 100 Bots).
.PHONY: steady-state
STEADY_STATE_BOTS ?= 1000
steady-state: testenv
	STEADY_STATE_BOTS=$(STEADY_STATE_BOTS) KUBE_TESTENV=$(abspath $(TESTENV)) KUBECTL=$(abspath $(KUBECTL)) \
		cargo test -p bot-tests --test operator unchanged_bots_cost_no_writes_over_resyncs -- --nocapture
	STEADY_STATE_BOTS=$(STEADY_STATE_BOTS) \
		cargo test -p bot-operator --test fake many_unchanged_bots_write_nothing_over_resyncs -- --nocapture

## bench-queue: the work-queue benchmark (tests/benches/queue.rs) with client-go's workqueue
## (tests/testenv/bench/workqueue) measured in the same run; results in docs/benchmarks.md.
## QUEUE_BENCH_ARGS: backlog size, rounds and optionally one section (priority, metrics, hot-path).
.PHONY: bench-queue
QUEUE_BENCH_ARGS ?= 10000 9
bench-queue:
	@mkdir -p $(TESTENV_DIR)
	cd tests/testenv && go build -trimpath -o ../../$(TESTENV_DIR)/workqueue-bench ./bench/workqueue
	WORKQUEUE_BENCH_GO=$(abspath $(TESTENV_DIR)/workqueue-bench) cargo bench -p bot-tests --bench queue -- $(QUEUE_BENCH_ARGS)

## demo: the operator on a local control plane.
demo: testenv
	KUBE_TESTENV=$(abspath $(TESTENV)) KUBECTL=$(abspath $(KUBECTL)) ./examples/demo.sh

## bench-informer: informer initial sync time and memory per cached object at 10,000 and 50,000
## ConfigMaps (tests/benches/informer.rs), bot-runtime beside client-go (tests/testenv/bench/informer)
## and kube-rs, each measured in fresh processes in the same run; results in docs/benchmarks.md.
## INFORMER_BENCH_ARGS: the sizes; BENCH_RUNS: processes per figure (median; default 5).
.PHONY: bench-informer
INFORMER_BENCH_ARGS ?= 10000 50000
bench-informer: testenv
	cd tests/testenv && go build -trimpath -o ../../$(TESTENV_DIR)/informer-bench ./bench/informer
	KUBE_TESTENV=$(abspath $(TESTENV)) KUBECTL=$(abspath $(KUBECTL)) INFORMER_BENCH_GO=$(abspath $(TESTENV_DIR)/informer-bench) \
		cargo bench -p bot-tests --bench informer -- $(INFORMER_BENCH_ARGS)

## bless: regenerate golden files (generated code, CRD manifest, UI test stderr); review the diff.
bless: testenv
	BLESS=1 TRYBUILD=overwrite KUBE_TESTENV=$(abspath $(TESTENV)) KUBECTL=$(abspath $(KUBECTL)) \
		cargo test --workspace --all-features

## proto-schema: regenerate bot-runtime's table of the built-in kinds' protobuf messages (bot-runtime/src/protobuf/schema.txt) from k8s.io/api.
.PHONY: proto-schema
proto-schema:
	cd tests/testenv && go run ./protoschema -o ../../bot-runtime/src/protobuf/schema.txt

## manifests: regenerate the operator's CRDs (manifests/crds/) and RBAC (manifests/rbac.yaml, from its
## #[rbac(...)] markers) with bot-gen; `cargo test` fails while the committed ones are stale.
manifests:
	BLESS=1 cargo test -p bot-operator --test manifests

## release: the release binaries the images package (bot-operator, bot-engine, platform-standin).
release:
	cargo build --release --locked -p bot-operator -p bot-engine

## images: the bot-operator and bot-engine images (needs docker or podman; see the Containerfiles).
CONTAINER ?= $(shell command -v podman || command -v docker)
images:
	$(CONTAINER) build -f examples/bot-operator/Containerfile -t ghcr.io/botops/bot-operator:0.1.0 .
	$(CONTAINER) build -f examples/bot-engine/Containerfile -t ghcr.io/botops/bot-engine:0.1.0 .
