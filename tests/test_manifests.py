"""Deploy manifests against their schemas, offline: the Kubernetes manifests with
``kubernetes-validate`` (strict: unknown fields refused), the compose file with the
compose specification's schema vendored in ``check-jsonschema``; then what seed 002
and SPEC §2 ask of the topology."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30"  # the oldest minor we claim to run on
VERSIONS = [KUBERNETES_VERSION, kubernetes_validate.latest_version()]


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _manifests() -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in _documents(path):
            if doc["kind"] != "Kustomization":
                found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


def _container(doc: dict[str, Any]) -> dict[str, Any]:
    containers = doc["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", sorted(K8S.glob("*.yaml")), ids=lambda p: p.name)
def test_each_manifest_is_valid_for_kubernetes(path: Path, version: str) -> None:
    for doc in _documents(path):
        if doc["kind"] == "Kustomization":
            continue  # kustomize's own format: checked below
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_refuses_a_broken_manifest() -> None:
    """The schemas are really there and strict: a wrong type and an unknown field fail."""
    app = _manifests()[("Deployment", "pulse-app")]
    wrong_type = {**app, "spec": {**app["spec"], "replicas": "three"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong_type, KUBERNETES_VERSION, strict=True)
    unknown = {**app, "spec": {**app["spec"], "replica": 3}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(unknown, KUBERNETES_VERSION, strict=True)


def test_the_kustomization_lists_every_manifest_but_the_secret_example() -> None:
    (kustomization,) = _documents(K8S / "kustomization.yaml")
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk - {"secret.example.yaml"}


def test_the_topology_is_seed_002s() -> None:
    found = _manifests()
    replicas = {
        name: doc["spec"]["replicas"] for (kind, name), doc in found.items() if kind == "Deployment"
    }
    assert replicas == {"pulse-app": 3, "pulse-worker": 2, "pulse-checks": 2, "pulse-beat": 1}
    assert found[("Deployment", "pulse-beat")]["spec"]["strategy"] == {"type": "Recreate"}
    assert ("Ingress", "pulse") in found and ("Service", "pulse-app") in found
    assert ("Job", "pulse-migrate") in found
    queues = {
        name: _container(doc)["args"][_container(doc)["args"].index("-Q") + 1]
        for (kind, name), doc in found.items()
        if kind == "Deployment" and "-Q" in _container(doc)["args"]
    }
    assert queues == {"pulse-worker": "default,alerts,notifications", "pulse-checks": "checks"}


def test_probes_resources_and_secrets() -> None:
    found = _manifests()
    app = _container(found[("Deployment", "pulse-app")])
    assert app["livenessProbe"]["httpGet"]["path"] == "/api/health"
    assert app["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    for probe in ("livenessProbe", "readinessProbe"):
        # Django answers 400 to a Host it does not allow: the probe names one it does.
        assert {"name": "Host", "value": "localhost"} in app[probe]["httpGet"]["httpHeaders"]
    config = found[("ConfigMap", "pulse-config")]["data"]
    assert "localhost" in config["PULSE_ALLOWED_HOSTS"].split(",")
    secret_keys = set(found[("Secret", "pulse-secrets")]["stringData"])
    assert not secret_keys & set(config), "a secret in the ConfigMap"
    for (kind, name), doc in found.items():
        if kind not in {"Deployment", "Job"}:
            continue
        container = _container(doc)
        assert {"secretRef": {"name": "pulse-secrets"}} in container["envFrom"], name
        assert set(container["resources"]) == {"requests", "limits"}, name
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
    for key in ("PULSE_SECRET_KEY", "PULSE_DB_SYSTEM_URL", "PULSE_METRICS_TOKEN"):
        assert key in secret_keys


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(ROOT / "docker-compose.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_validator_refuses_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  app:\n    image: x\n    restrat: always\n")
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(broken),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr


def test_compose_passes_the_metrics_token_to_the_app() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert "PULSE_METRICS_TOKEN" in compose["services"]["app"]["environment"]
