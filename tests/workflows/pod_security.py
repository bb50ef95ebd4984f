"""The Pod Security "restricted" profile, as the checks that apply to the pods here.

https://kubernetes.io/docs/concepts/security/pod-security-standards/ (restricted, which includes
baseline), less SELinux, /proc mount type and sysctls, which no pod here sets.
"""

RESTRICTED_VOLUME_TYPES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
}  # fmt: skip
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def restricted_violations(
    pod_sc: dict, containers: list[dict], volumes: list[dict], pod: dict, annotations=None
):
    """Why the Pod Security "restricted" profile would reject this pod; empty if it admits it.
    `containers` are all of them: init, regular and ephemeral."""
    problems = []
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            problems.append(f"{key} is set")
    for volume in volumes:
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            problems.append(f"volume {volume['name']} is {sorted(kinds)}")
    if (pod_sc.get("seccompProfile") or {}).get("type") == "Unconfined":
        problems.append("the pod's seccomp profile is Unconfined")
    if (pod_sc.get("appArmorProfile") or {}).get("type") == "Unconfined":
        problems.append("the pod's AppArmor profile is Unconfined")
    for key, value in (annotations or {}).items():
        if key.startswith(APPARMOR_ANNOTATION) and value == "unconfined":
            problems.append(f"annotation {key} is unconfined")
    for c in containers:
        sc = c.get("securityContext", {})
        name = c.get("name", c["image"])

        def effective(key, sc=sc):
            return sc.get(key, pod_sc.get(key))

        if sc.get("privileged"):
            problems.append(f"{name}: privileged")
        if any(p.get("hostPort") for p in c.get("ports", [])):
            problems.append(f"{name}: uses a hostPort")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        caps = sc.get("capabilities", {})
        if "ALL" not in caps.get("drop", []):
            problems.append(f"{name}: capabilities do not drop ALL")
        if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: adds capabilities {caps['add']}")
        if effective("runAsNonRoot") is not True:
            problems.append(f"{name}: runAsNonRoot is not true")
        if effective("runAsUser") == 0:
            problems.append(f"{name}: runAsUser is 0")
        if (effective("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccomp profile is not RuntimeDefault or Localhost")
        if (sc.get("appArmorProfile") or {}).get("type") == "Unconfined":
            problems.append(f"{name}: AppArmor profile is Unconfined")
    return problems
