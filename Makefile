# Two commands matter: `make run` (whole pipeline, locally, on embedded vineyard) and `make test`.
# uv is installed on first use when it is missing.
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
MULTIPLIER ?= 1
SINK ?= vineyard

.PHONY: run test lint bench uv sync

# pip refuses --user installs into an "externally managed" system Python (Debian, Ubuntu);
# uv is one static binary with no dependencies, so overriding that is harmless.
uv:
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --user --quiet uv \
	  || python3 -m pip install --user --quiet --break-system-packages uv

sync: uv
	$(UV) sync --frozen --compile-bytecode

# Only what running needs (no dev group: pytest, ruff, testcontainers, ...) and no bytecode
# compiled ahead: on a fresh clone here, `uv sync --compile-bytecode` took 43-53 s, nearly all of
# it compiling; this takes about 2 s, and Python compiles what a run imports as it first imports it
# (about 1.5 s, once). `uv run` syncs inexactly: a dev environment keeps its tools.
run: uv
	$(UV) run --frozen --no-dev pipeline --sink $(SINK) --multiplier $(MULTIPLIER)

# The linters first: CI runs this target, so style and import order are checked with the tests.
test: lint
	$(UV) run --frozen pytest

lint: sync
	$(UV) run --frozen ruff check . && $(UV) run --frozen ruff format --check .

bench: sync
	$(UV) run --frozen pipeline-bench $(BENCH_ARGS)

# --- images -------------------------------------------------------------
# One image per step, each with only its own package (deploy/images/step.Dockerfile).
# Air-gapped: `make base-image BASE_IMAGE=local/py:air` builds that tag from Debian packages, then
# `make images BASE_IMAGE=local/py:air` needs no container registry. EXTRA_CA_CERTS: a PEM bundle
# for builds behind a TLS-intercepting proxy.
REGISTRY ?= test-registry
TAG ?= latest
BASE_IMAGE ?= python:3.11-slim-bookworm
EXTRA_CA_CERTS ?=
KIND_CLUSTER ?= kind
DOCKER ?= docker
# Host networking: builds work on engines started without a bridge (as in CI) and on normal ones.
DOCKER_BUILD_FLAGS ?= --network host
# The step images, their distributions, package folders and console scripts: one table, read by
# the tests and the docs too.
STEPS_TABLE := packages/steps.tsv
STEP_IMAGES := $(shell awk '!/^\#/ {print $$1}' $(STEPS_TABLE))
step_field = $(shell awk -v image=$(1) '!/^\#/ && $$1 == image {print $$$(2)}' $(STEPS_TABLE))
VINEYARD_VERSION := $(shell sed -n '/^name = "vineyard-bdist"$$/{n;s/^version = "\(.*\)"/\1/p}' uv.lock)

CA_STAGE := deploy/images/.build/extra-ca-certs.pem

.PHONY: base-image images vineyardd-image load-images push-images $(addprefix image-,$(STEP_IMAGES)) $(CA_STAGE)

base-image:
	bash deploy/images/base-image.sh $(BASE_IMAGE)

# Rewritten only when the content changes: the builder stage's cache keys on it.
$(CA_STAGE):
	@mkdir -p $(@D)
	@if [ -n "$(EXTRA_CA_CERTS)" ]; then cat "$(EXTRA_CA_CERTS)"; fi > $@.new
	@cmp -s $@.new $@ && rm $@.new || mv $@.new $@

images: $(addprefix image-,$(STEP_IMAGES))

$(addprefix image-,$(STEP_IMAGES)): image-%: $(CA_STAGE)
	$(DOCKER) build $(DOCKER_BUILD_FLAGS) -f deploy/images/step.Dockerfile \
	  --build-arg BASE_IMAGE=$(BASE_IMAGE) \
	  --build-arg PACKAGE=$(call step_field,$*,2) \
	  --build-arg PACKAGE_DIR=$(call step_field,$*,3) \
	  --build-arg STEP_COMMAND=$(call step_field,$*,5) \
	  -t $(REGISTRY)/$*:$(TAG) .

vineyardd-image: $(CA_STAGE)
	$(DOCKER) build $(DOCKER_BUILD_FLAGS) -f deploy/images/vineyardd.Dockerfile \
	  --build-arg BASE_IMAGE=$(BASE_IMAGE) --build-arg VINEYARD_VERSION=$(VINEYARD_VERSION) \
	  -t $(REGISTRY)/vineyardd:$(TAG) .

load-images:
	for i in $(STEP_IMAGES); do kind load docker-image $(REGISTRY)/$$i:$(TAG) --name $(KIND_CLUSTER) || exit 1; done

push-images:
	for i in $(STEP_IMAGES); do $(DOCKER) push $(REGISTRY)/$$i:$(TAG) || exit 1; done

# --- cluster ---------------------------------------------------
# From an empty machine to a finished run on kind; deploy/README.md walks through the same steps.
# Order matters: Argo and Fluid first (their CRDs), then the NAS claim and the service account the
# prepare-data Job uses, then vineyard, then the webhook profile, images and workflows.
ARGO_VERSION ?= v3.7.18
# Size of a run in 10,000-row blocks; the prepare-data Job and the workflows must agree on it.
DATA_MULTIPLIER ?= 100
# Where kind-config.yaml mounts the stand-in NAS from (fixed there: kind does not expand variables).
NAS_HOST_DIR := /tmp/shmpipe-nas

.PHONY: cluster cluster-argo cluster-fluid cluster-nas cluster-rbac cluster-data-manifest \
	cluster-data cluster-vineyard cluster-fluid-profile cluster-images cluster-up \
	submit-nas submit-vineyard cluster-delete

cluster:
	# World-writable: the steps run as uid 1000, and a hostPath volume ignores fsGroup.
	mkdir -p $(NAS_HOST_DIR) && chmod 0777 $(NAS_HOST_DIR)
	kind create cluster --name $(KIND_CLUSTER) --config deploy/kind-config.yaml

cluster-argo:
	kubectl create namespace argo --dry-run=client -o yaml | kubectl apply -f -
	kubectl apply --server-side -n argo \
	  -f https://github.com/argoproj/argo-workflows/releases/download/$(ARGO_VERSION)/install.yaml
	kubectl -n argo rollout status deployment/workflow-controller --timeout=5m

cluster-fluid:
	kubectl create namespace fluid-system --dry-run=client -o yaml | kubectl apply -f -
	helm repo add fluid https://fluid-cloudnative.github.io/charts && helm repo update fluid
	helm upgrade --install fluid fluid/fluid --namespace fluid-system --wait --timeout 10m

cluster-nas:
	kubectl apply -f deploy/nas.yaml
	kubectl wait --for=jsonpath='{.status.phase}'=Bound pvc/benchmark-data --timeout=2m

cluster-rbac:
	kubectl apply -f deploy/rbac.yaml

# The Job as applied: the registry, tag and multiplier of this make invocation substituted in.
cluster-data-manifest:
	@sed -e 's#image: test-registry/prepare-data:latest#image: $(REGISTRY)/prepare-data:$(TAG)#' \
	  -e '/- --multiplier/{' -e 'n' -e 's/"[0-9]*"/"$(DATA_MULTIPLIER)"/' -e '}' \
	  deploy/prepare-data-job.yaml

cluster-data:
	# A Job's pod template cannot change; a rerun with other values replaces the Job.
	kubectl delete job prepare-data --ignore-not-found
	$(MAKE) --no-print-directory -s cluster-data-manifest | kubectl apply -f -
	kubectl wait --for=condition=complete job/prepare-data --timeout=30m
	kubectl logs job/prepare-data --tail=5

cluster-vineyard:
	kubectl apply -f deploy/vineyard.yaml
	kubectl wait --for=jsonpath='{.status.phase}'=Bound dataset/vineyard --timeout=10m

cluster-fluid-profile:
	kubectl apply -f deploy/fluid-webhook-plugins.yaml
	# The webhook reads its profile at start.
	kubectl -n fluid-system delete pod -l control-plane=fluid-webhook
	kubectl -n fluid-system wait --for=condition=Ready pod -l control-plane=fluid-webhook --timeout=3m

cluster-images:
	$(MAKE) --no-print-directory images load-images

# Everything up to a cluster ready for `make submit-nas` / `make submit-vineyard`.
cluster-up: cluster cluster-argo cluster-fluid cluster-images cluster-nas cluster-rbac cluster-data \
	cluster-vineyard cluster-fluid-profile

submit-nas:
	argo submit --wait workflows/pipeline.yaml -p data_multiplier=$(DATA_MULTIPLIER) \
	  -p registry=$(REGISTRY) -p tag=$(TAG)
	argo get @latest

submit-vineyard:
	argo submit --wait workflows/pipeline-with-vineyard.yaml -p data_multiplier=$(DATA_MULTIPLIER) \
	  -p registry=$(REGISTRY) -p tag=$(TAG)
	argo get @latest

cluster-delete:
	kind delete cluster --name $(KIND_CLUSTER)
