# Two commands matter: `make run` (whole pipeline, locally, on embedded vineyard) and `make test`.
# uv is installed on first use when it is missing.
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
MULTIPLIER ?= 1
SINK ?= vineyard
PARTITIONS ?= 1

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
	$(UV) run --frozen --no-dev pipeline --sink $(SINK) --multiplier $(MULTIPLIER) \
	  --partitions $(PARTITIONS)

# The linters first: CI runs this target, so style and import order are checked with the tests.
test: lint
	$(UV) run --frozen pytest

lint: sync
	$(UV) run --frozen ruff check . && $(UV) run --frozen ruff format --check .
	$(UV) run --frozen lint-imports
	$(UV) run --frozen python tests/layout/prose_ratio.py >/dev/null

bench: sync
	$(UV) run --frozen pipeline-bench $(BENCH_ARGS)

# --- Kubeflow Pipelines ----------------------------------------------------------------------
# Both pipelines as KFP v2 definitions (workflows/kfp/pipelines.py), compiled to the IR YAML beside
# them, which is committed: tests/kfp/ fails when it differs from a fresh compile.
.PHONY: kfp
kfp: sync
	$(UV) run --frozen python workflows/kfp/pipelines.py

# --- images -------------------------------------------------------------
# One image per step, each with only its own package (deploy/images/step.Dockerfile).
# Air-gapped: `make base-image BASE_IMAGE=local/py:air` builds that tag from Debian packages, then
# `make images BASE_IMAGE=local/py:air` needs no container registry. EXTRA_CA_CERTS: a PEM bundle
# for builds behind a TLS-intercepting proxy.
REGISTRY ?= test-registry
# Each build gets its own tag, so a node that cached an image under an older tag can never run it
# in place of a newer one: the workflows pull only IfNotPresent. The tag is the commit; a working
# tree with changes not committed (untracked files too, not ignored ones) adds `-dirty-` and the
# hash of that tree, written through a scratch index so the real one is untouched. Exported, so
# that `make test` looks for the images `make images` built; computed once per make, so one
# invocation uses one tag throughout.
ifeq ($(origin TAG),undefined)
TAG := $(shell git rev-parse --short HEAD 2>/dev/null || echo latest)$(shell \
	test -z "$$(git status --porcelain 2>/dev/null)" || { i=$$(mktemp -u); \
	GIT_INDEX_FILE=$$i git add -A && echo -dirty-$$(GIT_INDEX_FILE=$$i git write-tree | cut -c1-12); \
	rm -f $$i; })
endif
export REGISTRY TAG
BASE_IMAGE ?= python:3.11-slim-bookworm
EXTRA_CA_CERTS ?=
KIND_CLUSTER ?= kind
DOCKER ?= docker
# Host networking: builds work on engines started without a bridge (as in CI) and on normal ones.
DOCKER_BUILD_FLAGS ?= --network host
# The nodes' platform, e.g. linux/amd64 when building on an arm64 Mac for an amd64 cluster: without
# it the images are the build machine's architecture, and an amd64 node fails them with "exec format
# error". uv.lock holds manylinux wheels for x86_64 and aarch64 of every binary dependency.
PLATFORM ?=
# The step images, their distributions, package folders and console scripts: one table, read by
# the tests and the docs too.
STEPS_TABLE := packages/steps.tsv
STEP_IMAGES := $(shell awk '!/^\#/ {print $$1}' $(STEPS_TABLE))
step_field = $(shell awk -v image=$(1) '!/^\#/ && $$1 == image {print $$$(2)}' $(STEPS_TABLE))
# The vineyard the steps' client is (uv.lock), which vineyardd-image and deploy/vineyard.yaml's
# images must match (tests check both).
VINEYARD_VERSION := $(shell sed -n '/^name = "vineyard"$$/{n;s/^version = "\(.*\)"/\1/p}' uv.lock)

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
	$(DOCKER) build $(DOCKER_BUILD_FLAGS) $(if $(PLATFORM),--platform $(PLATFORM)) \
	  -f deploy/images/step.Dockerfile \
	  --build-arg BASE_IMAGE=$(BASE_IMAGE) \
	  --build-arg PACKAGE=$(call step_field,$*,2) \
	  --build-arg PACKAGE_DIR=$(call step_field,$*,3) \
	  --build-arg STEP_COMMAND=$(call step_field,$*,5) \
	  -t $(REGISTRY)/$*:$(TAG) .

vineyardd-image: $(CA_STAGE)
	$(DOCKER) build $(DOCKER_BUILD_FLAGS) $(if $(PLATFORM),--platform $(PLATFORM)) \
	  -f deploy/images/vineyardd.Dockerfile \
	  --build-arg BASE_IMAGE=$(BASE_IMAGE) --build-arg VINEYARD_VERSION=$(VINEYARD_VERSION) \
	  -t $(REGISTRY)/vineyardd:$(TAG) .

# Both build first: the images exist only under the REGISTRY and TAG they were built with, so
# `make images` then `make push-images REGISTRY=...` would find nothing to push. A rebuild with
# nothing changed takes every layer from the cache and only adds the new names.
load-images: images
	for i in $(STEP_IMAGES); do kind load docker-image $(REGISTRY)/$$i:$(TAG) --name $(KIND_CLUSTER) || exit 1; done

push-images: images
	for i in $(STEP_IMAGES); do $(DOCKER) push $(REGISTRY)/$$i:$(TAG) || exit 1; done

# --- cluster ---------------------------------------------------
# From an empty machine to a finished run on kind; deploy/README.md walks through the same steps.
# Order matters: Argo and Fluid first (their CRDs), then the pipeline's namespace, images, the NAS
# claim and the service account the prepare-data Job uses, then vineyard.
ARGO_VERSION ?= v3.7.18
# The chart version of the Fluid source deploy/ was read against (deploy/NOTES.md).
FLUID_CHART_VERSION ?= 1.1.0
# The one namespace of the pipeline: its claims, service account, Job, vineyard Dataset and runtime,
# and the workflows (every command below names it; nothing in deploy/ or workflows/ does).
NAMESPACE ?= shmpipe
# Size of a run in 10,000-row blocks; the prepare-data Job, the vineyard quota and the workflows
# must agree on it.
DATA_MULTIPLIER ?= 100
# Memory each vineyard worker holds for objects: empty, deploy/vineyard-quota.sh sizes it for
# DATA_MULTIPLIER. Set it (500Mi-999Mi or 1Gi-20Gi) to run several workflows at once (each holds
# its own split until its exit handler deletes it).
VINEYARD_QUOTA ?=
# Where kind-config.yaml mounts the stand-in NAS from (fixed there: kind does not expand variables).
NAS_HOST_DIR := /tmp/shmpipe-nas
KUBECTL := kubectl -n $(NAMESPACE)
# The images deploy/vineyard.yaml names (master, worker, fuse), as image:tag.
VINEYARD_IMAGES = $(shell sed -n '/^    image: /{s/^    image: //;h;n;s/^    imageTag: //;H;x;s/\n/:/p}' \
	deploy/vineyard.yaml | sort -u)

.PHONY: cluster cluster-argo cluster-fluid cluster-namespace cluster-nas cluster-rbac \
	cluster-data-manifest cluster-data cluster-vineyard-manifest cluster-vineyard-images \
	cluster-vineyard-image-names \
	cluster-vineyard cluster-images cluster-check cluster-up submit-nas submit-vineyard cluster-delete

cluster:
	# World-writable: the steps run as uid 1000, and a hostPath volume ignores fsGroup.
	mkdir -p $(NAS_HOST_DIR) && chmod 0777 $(NAS_HOST_DIR)
	kind create cluster --name $(KIND_CLUSTER) --config deploy/kind-config.yaml

# Argo, and its settings for the init and wait containers of every workflow pod.
cluster-argo:
	kubectl create namespace argo --dry-run=client -o yaml | kubectl apply -f -
	kubectl apply --server-side -n argo \
	  -f https://github.com/argoproj/argo-workflows/releases/download/$(ARGO_VERSION)/install.yaml
	kubectl apply -n argo -f deploy/argo-executor.yaml
	kubectl -n argo rollout status deployment/workflow-controller --timeout=5m

# Fluid with its chart's defaults, webhook profile included: the workflow's pod labels ask for the
# required placement the default profile already provides (see deploy/README.md).
cluster-fluid:
	kubectl create namespace fluid-system --dry-run=client -o yaml | kubectl apply -f -
	helm repo add fluid https://fluid-cloudnative.github.io/charts && helm repo update fluid
	helm upgrade --install fluid fluid/fluid --version $(FLUID_CHART_VERSION) \
	  --namespace fluid-system --wait --timeout 10m

# Fluid runs its privileged fuse and hostPath worker pods in the Dataset's namespace, and a claim
# mounts only in its own, so the namespace's Pod Security admission cannot enforce "restricted"
# (deploy/README.md, Security): it warns and audits, and deploy/pod-security.yaml enforces it on
# every pod there but Fluid's.
cluster-namespace:
	kubectl apply -f deploy/pod-security.yaml
	kubectl create namespace $(NAMESPACE) --dry-run=client -o yaml | kubectl apply -f -
	kubectl label --overwrite namespace $(NAMESPACE) \
	  pod-security.kubernetes.io/enforce=privileged \
	  pod-security.kubernetes.io/warn=restricted \
	  pod-security.kubernetes.io/audit=restricted \
	  shmpipe.io/restricted-pods=enforce

cluster-nas:
	$(KUBECTL) apply -f deploy/nas.yaml
	$(KUBECTL) wait --for=jsonpath='{.status.phase}'=Bound pvc/benchmark-data --timeout=2m

cluster-rbac:
	$(KUBECTL) apply -f deploy/rbac.yaml

# The manifests as applied: the Job with the registry, tag and multiplier of this make invocation
# substituted in, the runtime with the quota for the multiplier. (Commands, not sub-makes: `make
# -n` runs a line that calls $(MAKE), and so would apply it.)
JOB_MANIFEST = sed -e 's\#image: test-registry/prepare-data:latest\#image: $(REGISTRY)/prepare-data:$(TAG)\#' \
	-e '/- --multiplier/{' -e 'n' -e 's/"[0-9]*"/"$(DATA_MULTIPLIER)"/' -e '}' \
	deploy/prepare-data-job.yaml
VINEYARD_MANIFEST = quota=$$(bash deploy/vineyard-quota.sh '$(DATA_MULTIPLIER)' '$(VINEYARD_QUOTA)') && \
	sed -e "s/^      quota: .*/      quota: $$quota/" deploy/vineyard.yaml

cluster-data-manifest:
	@$(JOB_MANIFEST)

cluster-data:
	# A Job's pod template cannot change; a rerun with other values replaces the Job.
	$(KUBECTL) delete job prepare-data --ignore-not-found
	$(JOB_MANIFEST) | $(KUBECTL) apply -f -
	$(KUBECTL) wait --for=condition=complete job/prepare-data --timeout=30m
	$(KUBECTL) logs job/prepare-data --tail=5

cluster-vineyard-manifest:
	@$(VINEYARD_MANIFEST)

# The vineyard images, pulled here and loaded into kind's nodes (which may not reach ghcr.io).
cluster-vineyard-images:
	for i in $(VINEYARD_IMAGES); do \
	  $(DOCKER) image inspect $$i >/dev/null 2>&1 || $(DOCKER) pull $$i || exit 1; \
	  kind load docker-image $$i --name $(KIND_CLUSTER) || exit 1; done

# The same list, one line, for loading them some other way (deploy/README.md, step 9).
cluster-vineyard-image-names:
	@echo $(VINEYARD_IMAGES)

# Fluid never resizes a running runtime (deploy/NOTES.md, "Resize"): a new quota deletes the
# runtime and its Dataset and makes them anew, which drops every object vineyard holds.
cluster-vineyard:
	@manifest=$$($(VINEYARD_MANIFEST)) || exit 1; \
	new=$$(printf '%s\n' "$$manifest" | sed -n 's/^      quota: //p'); \
	old=$$($(KUBECTL) get vineyardruntime vineyard --ignore-not-found \
	  -o jsonpath='{.spec.tieredstore.levels[0].quota}') || exit 1; \
	if [ -n "$$old" ] && [ "$$old" != "$$new" ]; then \
	  echo "vineyard quota $$old -> $$new: recreating the runtime; this drops every object in vineyard"; \
	  $(KUBECTL) delete dataset/vineyard vineyardruntime/vineyard --wait --timeout=10m || exit 1; \
	  $(KUBECTL) wait --for=delete pod -l app=vineyard,release=vineyard --timeout=5m \
	    2>/dev/null || true; \
	fi; \
	printf '%s\n' "$$manifest" | $(KUBECTL) apply -f - && \
	$(KUBECTL) wait --for=jsonpath='{.status.phase}'=Bound dataset/vineyard --timeout=10m

cluster-images:
	$(MAKE) --no-print-directory images load-images

# What only a cluster can show: the workers one per node with their memory, the pods' Pod Security
# admission, the policies rejecting deploy/policy-probes.yaml (server-side dry runs).
cluster-check:
	bash deploy/cluster-check.sh $(NAMESPACE)

# Everything up to a cluster ready for `make submit-nas` / `make submit-vineyard`.
cluster-up: cluster cluster-argo cluster-fluid cluster-namespace cluster-images cluster-nas \
	cluster-rbac cluster-data cluster-vineyard-images cluster-vineyard cluster-check

submit-nas:
	argo submit -n $(NAMESPACE) --wait workflows/pipeline.yaml \
	  -p data_multiplier=$(DATA_MULTIPLIER) -p partitions=$(PARTITIONS) -p registry=$(REGISTRY) \
	  -p tag=$(TAG)
	argo get -n $(NAMESPACE) @latest

submit-vineyard:
	argo submit -n $(NAMESPACE) --wait workflows/pipeline-with-vineyard.yaml \
	  -p data_multiplier=$(DATA_MULTIPLIER) -p partitions=$(PARTITIONS) -p registry=$(REGISTRY) \
	  -p tag=$(TAG)
	argo get -n $(NAMESPACE) @latest

cluster-delete:
	kind delete cluster --name $(KIND_CLUSTER)
