#!/usr/bin/env bash
# Gives CI what the container tests need: a Docker engine and the images, built from Debian
# packages only (no container registry is reachable from CI). Safe to rerun: installs, starts and
# builds only what is missing or stale (make's docker builds are cached).
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
# Go's own text/template, for the test of Fluid's chart's worker memory (tests/workflows).
command -v go >/dev/null 2>&1 || missing+=(golang-go)
if [ ${#missing[@]} -gt 0 ]; then
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

if ! docker info >/dev/null 2>&1; then
  # CI machines have no iptables or bridge support; builds and containers use the host network
  # or none at all (see DOCKER_BUILD_FLAGS in the Makefile).
  $sudo sh -c 'nohup dockerd --iptables=false --bridge=none >/tmp/dockerd.log 2>&1 &'
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { cat /tmp/dockerd.log; exit 1; }
fi

# The proxy's CA is in the host bundle; builds that reach PyPI need it.
export BASE_IMAGE=${BASE_IMAGE:-local/python:3.11-slim-bookworm}
export EXTRA_CA_CERTS=${EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}
docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || $sudo make base-image BASE_IMAGE="$BASE_IMAGE"
make images vineyardd-image
