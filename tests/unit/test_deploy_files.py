"""The example deployment files in deploy/ parse, and agree with each other and with the daemon's settings."""

from __future__ import annotations

import configparser

import yaml

from config.settings import REPO_ROOT, Settings
from connector.runtime.provider_registry import variable_names
from mappings.loader import parse_mapping

DEPLOY = REPO_ROOT / "deploy"
SETTINGS = {f"CONNECTOR_{name.upper()}" for name in Settings.model_fields} | {
    variable for names in variable_names().values() for variable in names}


def _manifests() -> dict[str, dict]:
    found = {}
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            assert {"apiVersion", "kind", "metadata"} <= document.keys(), path
            kind, name = document["kind"], document["metadata"]["name"]
            found[kind if kind != "Secret" or name == "esign-connector" else f"Secret {name}"] = document
    return found


def test_kubernetes_manifests_have_what_replicas_need():
    manifests = _manifests()
    assert {"Deployment", "Service", "Ingress", "PodDisruptionBudget", "Secret", "ConfigMap"} <= manifests.keys()
    deployment, service, pdb, secret = (manifests[k] for k in ("Deployment", "Service", "PodDisruptionBudget",
                                                               "Secret"))
    spec = deployment["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert spec["replicas"] >= 2 and spec["selector"]["matchLabels"].items() <= labels.items()
    pod = spec["template"]["spec"]
    [container] = pod["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}
    port = int(env["CONNECTOR_WEBHOOK_PORT"])
    assert env["CONNECTOR_WEBHOOK_HOST"] == "0.0.0.0"
    assert [p["containerPort"] for p in container["ports"] if p["name"] == "http"] == [port]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["command"] == ["esign-connector", "run"]
    # Kubernetes waits the preStop pause and the daemon's grace before it sends SIGKILL.
    pause = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pod["terminationGracePeriodSeconds"] > float(env["CONNECTOR_SHUTDOWN_GRACE_SECONDS"]) + pause
    assert [source["secretRef"]["name"] for source in container["envFrom"]] == [secret["metadata"]["name"]]
    assert {name for name in (*env, *secret["stringData"]) if name.startswith("CONNECTOR_")} <= SETTINGS
    assert secret["stringData"]["CONNECTOR_PUBLIC_BASE_URL"].startswith("https://")
    assert service["spec"]["selector"].items() <= labels.items()
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items() and pdb["spec"]["maxUnavailable"] == 1
    [backend] = [path["backend"]["service"]["name"] for rule in manifests["Ingress"]["spec"]["rules"]
                 for path in rule["http"]["paths"]]
    assert backend == service["metadata"]["name"]
    mounted = {v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v}
    assert manifests["ConfigMap"]["metadata"]["name"] in mounted
    assert parse_mapping(manifests["ConfigMap"]["data"]["rules.yaml"]).rules  # a valid mapping file
    # One receipt key for every replica, mounted from its own Secret where the setting points.
    key_secret = manifests["Secret esign-connector-receipt-key"]
    [key_volume] = [v for v in pod["volumes"] if v.get("secret", {}).get("secretName") == key_secret["metadata"]["name"]]
    [mount] = [m for m in container["volumeMounts"] if m["name"] == key_volume["name"]]
    [key_name] = key_secret["stringData"]
    assert env["CONNECTOR_RECEIPT_KEY_FILE"] == f"{mount['mountPath']}/{key_name}"


def test_systemd_unit_parses_and_stops_within_its_timeout():
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((DEPLOY / "systemd" / "esign-connector@.service").read_text())
    assert {"Unit", "Service", "Install"} <= set(parser.sections())
    service = parser["Service"]
    assert service["ExecStart"].split()[-1] == "run" and service["KillSignal"] == "SIGTERM"
    assert service["EnvironmentFile"].startswith("/etc/")
    text = (DEPLOY / "systemd" / "esign-connector@.service").read_text()
    environment = dict(line.removeprefix("Environment=").split("=", 1) for line in text.splitlines()
                       if line.startswith("Environment="))
    assert {name for name in environment if name.startswith("CONNECTOR_")} <= SETTINGS
    assert int(service["TimeoutStopSec"]) > float(environment["CONNECTOR_SHUTDOWN_GRACE_SECONDS"])
    assert "%i" in environment["CONNECTOR_WEBHOOK_PORT"]  # each instance on its own port
    assert parser["Install"]["WantedBy"] == "multi-user.target"
