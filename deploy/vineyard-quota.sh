#!/usr/bin/env bash
# The vineyard worker's quota for a run of DATA_MULTIPLIER 10,000-row blocks: 4Mi per multiplier
# plus 256Mi (one run's split is 3.4 MiB per multiplier), written as 500Mi-999Mi or whole Gi up
# to 20Gi, the only quantities for which Fluid's chart gives the worker its memory request and
# limit (it compares them as strings: deploy/NOTES.md, "Worker memory").
#
#   bash deploy/vineyard-quota.sh MULTIPLIER [QUOTA]
#
# With QUOTA (the Makefile's VINEYARD_QUOTA), prints it if it is one of those quantities.
set -euo pipefail

vineyard_quota() {
  local multiplier=$1 quota=${2:-} mi gi
  if [ -n "$quota" ]; then
    if [[ $quota =~ ^[5-9][0-9][0-9]Mi$ || $quota =~ ^([1-9]|1[0-9]|20)Gi$ ]]; then
      echo "$quota"
      return 0
    fi
    echo "vineyard-quota.sh: VINEYARD_QUOTA=$quota: give 500Mi to 999Mi or 1Gi to 20Gi" >&2
    return 1
  fi
  if ! [[ $multiplier =~ ^[1-9][0-9]{0,6}$ ]]; then
    echo "vineyard-quota.sh: DATA_MULTIPLIER=$multiplier is not a positive whole number" >&2
    return 1
  fi
  mi=$((multiplier * 4 + 256))
  if [ "$mi" -lt 500 ]; then
    echo 500Mi
  elif [ "$mi" -le 999 ]; then
    echo "${mi}Mi"
  else
    gi=$(((mi + 1023) / 1024))
    if [ "$gi" -gt 20 ]; then
      echo "vineyard-quota.sh: DATA_MULTIPLIER=$multiplier needs ${gi}Gi of vineyard quota; Fluid's chart sizes the worker right only up to 20Gi" >&2
      return 1
    fi
    echo "${gi}Gi"
  fi
}

# Sourced by the tests, which call the function for every multiplier in one shell.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  [ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: vineyard-quota.sh MULTIPLIER [QUOTA]" >&2; exit 2; }
  vineyard_quota "$@" || exit 1
fi
