"""Fluid's VineyardRuntime as the vineyard workflow's pods meet it, modelled on Fluid's source
(fluid-cloudnative/fluid at HEAD, paths relative to it) and v6d's fuse image (v6d-io/v6d):

- which nodes run a vineyard worker, and the label Fluid puts on them;
- what Fluid's webhook adds to a pod (its MutatingWebhookConfiguration's objectSelector, then the
  chart's default plugin profile);
- where the scheduler may put the pod, with the pod's own affinity, and where it does;
- what the pod sees at the claim's mount: vineyard-config.yaml on every node, the socket only on
  nodes with a worker.
"""

from __future__ import annotations

from dataclasses import dataclass

from argo_model import DEPLOY, ModelError, load, load_all

# kind names its three workers so (deploy/kind-config.yaml has one control plane and three
# workers; the control plane is tainted against ordinary pods).
NODES = ("kind-worker", "kind-worker2", "kind-worker3")

# The chart's default webhook profile (charts/fluid/fluid/values.yaml, webhook.pluginsProfile),
# which `helm upgrade --install` writes to the webhook-plugins ConfigMap unless one exists
# (charts/fluid/fluid/templates/webhook/plugins-profile.yaml). Only what placement depends on.
CHART_PROFILE = {
    "serverful_with_dataset": [
        "FilePrefetcher", "RequireNodeWithFuse", "NodeAffinityWithCache",
        "MountPropagationInjector", "DatasetUsageInjector",
    ],
    "node_affinity_with_cache": {
        "preferred": {"fluid.io/node": 100, "topology.kubernetes.io/zone": 50,
                      "topology.kubernetes.io/region": 20},
        "required": ["fluid.io/node"],
    },
}  # fmt: skip
# The label that sends a pod to the webhook at all (charts/fluid/fluid/templates/webhook/
# webhookconfiguration.yaml, webhook fuse.serverful.fluid.io, objectSelector).
WEBHOOK_LABEL = ("fuse.serverful.fluid.io/inject", "true")

# What v6d's fuse writes into the mount on every node it runs on (docker/vineyard-fluid-fuse/
# entrypoint.sh, write_yaml_config; the fuse runs no vineyardd of its own at Fluid's default fuse
# size "0": pkg/ddc/vineyard/const.go, DefaultSize). The socket name is relative to the file.
SOCKET_NAME = "vineyard-worker.sock"
CONFIG_NAME = "vineyard-config.yaml"


def config_text(rpc_endpoint: str = "") -> str:
    return f"Vineyard:\n  IPCSocket: {SOCKET_NAME}\n  RPCEndpoint: {rpc_endpoint}\n"


def sched_label(dataset: str) -> str:
    """A pod label asking for a required affinity to the dataset's workers (pkg/common/label.go,
    LabelAnnotationPodSchedRegex `fluid.io/dataset.{name}.sched`, value `required`:
    pkg/webhook/plugins/nodeaffinitywithcache, getRequiredAndPreferredSchedulingRuntimes)."""
    return f"fluid.io/dataset.{dataset}.sched"


def node_label(namespace: str, dataset: str) -> str:
    """The label Fluid puts on each node that runs one of the runtime's workers
    (pkg/utils/dataset/lifecycle/node.go, labelCacheNode; pkg/utils/label.go, GetCommonLabelName:
    `fluid.io/s-{namespace}-{name}`); NodeAffinityWithCache's `fluid.io/node` locality is it."""
    return f"fluid.io/s-{namespace}-{dataset}"


@dataclass(frozen=True)
class Runtime:
    namespace: str
    dataset: str
    worker_nodes: tuple[str, ...]

    def node_labels(self, node: str) -> dict:
        """The labels placement reads: the kubelet's hostname label, Fluid's on a worker's node."""
        labels = {HOSTNAME: node}
        if node in self.worker_nodes:
            labels[node_label(self.namespace, self.dataset)] = "true"
        return labels

    def has_socket(self, node: str) -> bool:
        """The fuse links the worker's socket into the mount only where the worker runs
        (entrypoint.sh: `ln $MOUNT_DIR/vineyard-worker.sock $SOCKET_FILE` when that exists)."""
        return node in self.worker_nodes


def deployed_runtime(namespace: str = "shmpipe") -> Runtime:
    """deploy/vineyard.yaml's runtime on kind's nodes. Its workers are a StatefulSet with a required
    pod anti-affinity, one per node (charts/vineyard/templates/worker/statefulset.yaml); which nodes
    they get is the scheduler's choice. The model gives them the last ones, so that the first node,
    where this model's scheduler puts a pod free to go anywhere, has none."""
    (runtime,) = [d for d in load_all(DEPLOY / "vineyard.yaml") if d["kind"] == "VineyardRuntime"]
    replicas = runtime["spec"]["replicas"]
    kind = load(DEPLOY / "kind-config.yaml")
    workers = [n for n in kind["nodes"] if n["role"] == "worker"]
    assert len(workers) == len(NODES), "deploy/kind-config.yaml's workers are not NODES"
    if not 0 < replicas <= len(NODES):
        raise ValueError(f"{replicas} vineyard workers cannot run one per node on {len(NODES)}")
    return Runtime(namespace, runtime["metadata"]["name"], NODES[len(NODES) - replicas :])


def webhook_affinity(labels: dict, datasets: list[str], runtime: Runtime) -> dict:
    """The node affinity Fluid's webhook adds to a pod that mounts `datasets` (claims named after
    Fluid Datasets): {"required": [node-label key, ...], "preferred": {key: weight}}."""
    affinity = {"required": [], "preferred": {}}
    if labels.get(WEBHOOK_LABEL[0]) != WEBHOOK_LABEL[1] or runtime.dataset not in datasets:
        return affinity
    plugins = CHART_PROFILE["serverful_with_dataset"]
    # RequireNodeWithFuse adds nothing for vineyard: its fuse node selector is empty
    # (pkg/common/vineyard.go, VineyardFuseNodeSelector; require_node_with_fuse.go).
    if "NodeAffinityWithCache" in plugins:
        args = CHART_PROFILE["node_affinity_with_cache"]
        key = node_label(runtime.namespace, runtime.dataset)
        if labels.get(sched_label(runtime.dataset)) == "required":
            if "fluid.io/node" in args["required"]:
                affinity["required"].append(key)
        elif "fluid.io/node" in args["preferred"]:
            affinity["preferred"][key] = args["preferred"]["fluid.io/node"]
    return affinity


# The kubelet's label naming its node (a scheduling topology key too).
HOSTNAME = "kubernetes.io/hostname"


def _requirement_holds(requirement: dict, fields: dict, where: str) -> bool:
    if requirement.get("operator") != "In" or set(requirement) != {"key", "operator", "values"}:
        raise ModelError(f"{where}: node requirement {requirement}: only `In` is modelled")
    return fields.get(requirement["key"]) in requirement["values"]


def term_holds(term: dict, node: str, runtime: Runtime) -> bool:
    """One node selector term: every requirement holds, on the node's labels (matchExpressions)
    or its name (matchFields: metadata.name is the one field Kubernetes allows)."""
    if set(term) - {"matchExpressions", "matchFields"}:
        raise ModelError(f"node selector term {term}: not in this model")
    labels, fields = runtime.node_labels(node), {"metadata.name": node}
    on_labels = [_requirement_holds(r, labels, "label") for r in term.get("matchExpressions", [])]
    on_fields = [_requirement_holds(r, fields, "field") for r in term.get("matchFields", [])]
    return all(on_labels) and all(on_fields)


def required_terms(pod_affinity: dict, webhook: dict) -> list[dict]:
    """The pod's required node selector terms once the webhook is done (Kubernetes ORs them). Each
    required locality is one term of a single `In [true]` requirement (nodeaffinitywithcache,
    getRequiredSchedulingTerms). A pod without terms of its own gets them as they are; a pod with
    terms gets every pairing of one of its own and one of the webhook's, so both hold
    (pkg/utils/webhook.go, InjectNodeSelectorTerms)."""
    if set(pod_affinity) - {"nodeAffinity", "podAntiAffinity"}:
        raise ModelError(f"affinity {sorted(pod_affinity)}: not in this model")
    node_affinity = pod_affinity.get("nodeAffinity", {})
    if set(node_affinity) - {"requiredDuringSchedulingIgnoredDuringExecution"}:
        raise ModelError(f"nodeAffinity {sorted(node_affinity)}: only required terms are modelled")
    own = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution", {}).get(
        "nodeSelectorTerms", []
    )
    fluid = [
        {"matchExpressions": [{"key": k, "operator": "In", "values": ["true"]}]}
        for k in webhook["required"]
    ]
    if not own or not fluid:
        return own or fluid
    return [
        {key: [*a.get(key, []), *b.get(key, [])] for key in ("matchExpressions", "matchFields")
         if a.get(key) or b.get(key)}
        for a in own for b in fluid
    ]  # fmt: skip


def feasible_nodes(terms: list[dict], runtime: Runtime) -> list[str]:
    """The nodes a pod with these required terms may run on (no terms: any)."""
    return [n for n in NODES if not terms or any(term_holds(t, n, runtime) for t in terms)]


def spread_terms(pod_affinity: dict) -> list[tuple[int, dict]]:
    """(weight, matchLabels) of the pod's preferred anti-affinity per node."""
    anti = pod_affinity.get("podAntiAffinity", {})
    if set(anti) - {"preferredDuringSchedulingIgnoredDuringExecution"}:
        raise ModelError(f"podAntiAffinity {sorted(anti)}: only preferred terms are modelled")
    result = []
    for term in anti.get("preferredDuringSchedulingIgnoredDuringExecution", []):
        pod_term = term["podAffinityTerm"]
        if pod_term.get("topologyKey") != HOSTNAME or set(pod_term["labelSelector"]) != {
            "matchLabels"
        }:
            raise ModelError(f"pod anti-affinity {pod_term}: only matchLabels per node is modelled")
        result.append((term["weight"], pod_term["labelSelector"]["matchLabels"]))
    return result


def schedule(pod_affinity: dict, webhook: dict, runtime: Runtime, placed: list) -> str:
    """A node the scheduler could choose: a feasible one, the pod's anti-affinity weighed against
    the pods `placed` before it ((node, labels) pairs; Argo creates a loop's pods at once, so all
    of them count, finished or not), ties to the first node. The webhook's preferred node term is
    ignored: a preference is no guarantee (free capacity and other scores can outweigh it), so a
    pod that is not *required* to run by a worker can land where there is none. The workflows'
    own spreading is kept, as on an idle cluster, where nothing outweighs it."""
    nodes = feasible_nodes(required_terms(pod_affinity, webhook), runtime)
    if not nodes:
        raise ModelError("no node satisfies the pod's required affinity: it would stay Pending")
    spread = spread_terms(pod_affinity)

    def penalty(node: str) -> int:
        return sum(weight for weight, selector in spread for on, labels in placed
                   if on == node and selector.items() <= labels.items())  # fmt: skip

    return min(nodes, key=lambda n: (penalty(n), NODES.index(n)))
