#!/usr/bin/env bash
# What only a running cluster can show about deploy/ (make cluster-check): the vineyard workers,
# one per node, each with the memory Fluid means to give it; the namespace's Pod Security
# admission and which pods break "restricted"; deploy/pod-security.yaml loaded by the API server
# and rejecting the probes of deploy/policy-probes.yaml. Prints one line per check and exits
# non-zero if any fails.
#
#   bash deploy/cluster-check.sh NAMESPACE
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: cluster-check.sh NAMESPACE" >&2; exit 2; }
ns=$1
here=$(dirname "$0")
failed=0
ok() { echo "ok:   $*"; }
bad() { echo "FAIL: $*"; failed=1; }
k() { kubectl -n "$ns" "$@"; }

# --- vineyard workers: as many as the runtime asks for, on as many nodes, each sized ----------
replicas=$(k get vineyardruntime vineyard -o jsonpath='{.spec.replicas}') ||
  { echo "cluster-check: no VineyardRuntime vineyard in $ns (make cluster-vineyard)" >&2; exit 1; }
quota=$(k get vineyardruntime vineyard -o jsonpath='{.spec.tieredstore.levels[0].quota}')
case $quota in
  *Mi) mi=${quota%Mi} ;;
  *Gi) mi=$((${quota%Gi} * 1024)) ;;
  *) echo "cluster-check: quota $quota is not in Mi or Gi (make cluster-vineyard)" >&2; exit 1 ;;
esac
# Fluid's request and limit: quota + 500Mi, as a Kubernetes quantity prints it.
want=$((mi + 500))Mi
[ $(((mi + 500) % 1024)) -eq 0 ] && want=$(((mi + 500) / 1024))Gi

workers=$(k get pods -l app=vineyard,role=vineyard-worker,release=vineyard -o \
  jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName} {.status.phase} {.spec.containers[0].resources.requests.memory} {.spec.containers[0].resources.limits.memory}{"\n"}{end}')
running=$(awk '$3 == "Running"' <<<"$workers" | grep -c . || true)
nodes=$(awk '$3 == "Running" {print $2}' <<<"$workers" | sort -u | grep -c . || true)
if [ "$running" -eq "$replicas" ]; then ok "$running vineyard workers running"
else bad "$running of $replicas vineyard workers running"; fi
if [ "$nodes" -eq "$running" ]; then ok "the workers run on $nodes different nodes"
else
  bad "two vineyard workers share a node ($(awk '{print $2}' <<<"$workers" | sort | uniq -d | xargs)): see deploy/README.md, Limits"
fi
while read -r name _ _ request limit; do
  [ -n "$name" ] || continue
  if [ "$request" = "$want" ] && [ "$limit" = "$want" ]; then ok "$name: memory request and limit $want"
  else bad "$name: memory request '${request:-none}', limit '${limit:-none}', not $want (quota $quota)"; fi
done <<<"$workers"

# --- Pod Security admission of the namespace and its pods -------------------------------------
labels=$(kubectl get namespace "$ns" -o jsonpath='{.metadata.labels}')
for want_label in '"pod-security.kubernetes.io/warn":"restricted"' \
  '"pod-security.kubernetes.io/audit":"restricted"' '"shmpipe.io/restricted-pods":"enforce"'; do
  if grep -qF "$want_label" <<<"$labels"; then ok "namespace $ns has $want_label"
  else bad "namespace $ns lacks $want_label (make cluster-namespace)"; fi
done
# The API server lists, as warnings, the existing pods that "restricted" would reject: only
# Fluid's vineyard runtime pods may be among them.
warnings=$(kubectl label --dry-run=server --overwrite namespace "$ns" \
  pod-security.kubernetes.io/enforce=restricted 2>&1 >/dev/null)
violators=$(sed -n 's/^Warning: \([a-z0-9.-]*\)[ :].*/\1/p' <<<"$warnings" |
  grep -v '^existing$' | grep -Ev '^vineyard-(master|worker)-[0-9]+$|^vineyard-fuse-[a-z0-9]+$' || true)
if [ -z "$violators" ]; then ok "no pod but Fluid's vineyard runtime pods breaks Pod Security restricted"
else bad "pods breaking Pod Security restricted: $(xargs <<<"$violators")"; fi

# --- the policies, as the API server runs them ---------------------------------------------
for policy in shmpipe-restricted-pods shmpipe-fluid-only-controllers; do
  status=$(kubectl get validatingadmissionpolicy "$policy" -o jsonpath='{.status.typeChecking}' 2>&1)
  if [ $? -eq 0 ] && ! grep -q warning <<<"$status"; then ok "policy $policy loaded, type-checked"
  else bad "policy $policy: ${status:-missing}"; fi
done
# One document at a time: split on the separator lines.
probes=$(mktemp -d)
trap 'rm -rf "$probes"; k delete pod probe-restricted --ignore-not-found --wait=false >/dev/null 2>&1' EXIT
awk -v dir="$probes" '/^---$/ {n++; next} {print > (dir "/" n+0 ".yaml")}' "$here/policy-probes.yaml"
for file in "$probes"/*.yaml; do
  name=$(sed -n 's/^  name: //p' "$file" | head -1)
  expect=$(sed -n 's/^    shmpipe.io\/probe: //p' "$file")
  out=$(k create --dry-run=server -f "$file" 2>&1)
  if [ $? -eq 0 ]; then got=admitted
  elif grep -q ValidatingAdmissionPolicy <<<"$out"; then got=rejected
  else bad "probe $name: $out"; continue; fi
  if [ "$got" = "$expect" ]; then ok "probe $name $got"
  else bad "probe $name $got, expected $expect: $out"; fi
done
# A debug container can be added only to a pod that exists: the admitted probe, for a moment.
if k create -f "$probes/0.yaml" >/dev/null 2>&1; then
  out=$(k patch pod probe-restricted --subresource=ephemeralcontainers --dry-run=server \
    --type=strategic -p '{"spec":{"ephemeralContainers":[{"name":"debugger","image":"probe.invalid/none:0","securityContext":{"privileged":true}}]}}' 2>&1)
  if grep -q ValidatingAdmissionPolicy <<<"$out"; then ok "probe privileged debug container rejected"
  else bad "probe privileged debug container: ${out:-admitted}"; fi
else
  bad "could not create probe-restricted to add a debug container to"
fi

exit $failed
