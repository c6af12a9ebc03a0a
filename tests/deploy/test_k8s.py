"""deploy/k8s: every manifest valid offline (kubernetes-validate, strict, for Kubernetes 1.37;
KEDA's ScaledObject against KEDA's own CRD schema, vendored in tests/deploy/schemas), the
kustomization complete, and the objects in agreement with the app (settings, CLI, health
paths, ports), the runner's sandbox needs and the job queue's stream names."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from fastapi import FastAPI

import app.cli
from app.core.config import Settings
from app.runner.queue import GROUP, QueueKeys
from app.runner.settings import ENV_PREFIX as RUNNER_PREFIX
from app.runner.settings import RunnerSettings
from tests.deploy.conftest import DEPLOY, dockerfile_instructions, serves, settings_fields

K8S = DEPLOY / "k8s"
KUBERNETES = "1.37.0"
SCHEMAS = Path(__file__).resolve().parent / "schemas"
RUNNER_PORT = RunnerSettings.model_fields["port"].default


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def manifests() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def kustomization() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return spec


def objects() -> Iterator[dict[str, Any]]:
    for path in manifests():
        yield from documents(path)


def find(kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name)
    return found[0]


def pod(kind: str, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = find(kind, name)["spec"]["template"]["spec"]
    return spec


def container(kind: str, name: str) -> dict[str, Any]:
    (only,) = pod(kind, name)["containers"]
    return only  # type: ignore[no-any-return]


def strict(schema: Any) -> Any:
    """A CRD's schema as the API server applies it to known fields, refusing unknown ones
    (the server would drop them silently: a typo would go unnoticed)."""
    if isinstance(schema, dict):
        schema = {key: strict(value) for key, value in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


def crd_schema(path: Path, version: str) -> dict[str, Any]:
    (crd,) = documents(path)
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    return strict(served["schema"]["openAPIV3Schema"])  # type: ignore[no-any-return]


KEDA = {("keda.sh/v1alpha1", "ScaledObject"): SCHEMAS / "keda.sh_scaledobjects.yaml"}


def test_every_built_in_object_is_valid_for_kubernetes_strictly() -> None:
    checked = 0
    for path in manifests():
        for doc in documents(path):
            if (doc["apiVersion"], doc["kind"]) in KEDA:
                continue  # not a built-in kind: the next test
            kubernetes_validate.validate(doc, KUBERNETES, strict=True)
            checked += 1
    assert checked >= 12


def test_the_keda_scaled_object_is_valid_against_kedas_own_schema() -> None:
    scaled = find("ScaledObject", "torchquiz-runner")
    schema = crd_schema(KEDA[(scaled["apiVersion"], scaled["kind"])], "v1alpha1")
    jsonschema.validate(scaled, schema)
    typo = {**scaled, "spec": {**scaled["spec"], "maxReplicas": 8}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(typo, schema)
    assert (SCHEMAS / "LICENSE-keda").read_text().lstrip().startswith("Apache License")


def test_every_object_of_a_kind_unknown_to_kubernetes_has_a_vendored_schema() -> None:
    for doc in objects():
        try:
            kubernetes_validate.validate(doc, KUBERNETES, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            assert (doc["apiVersion"], doc["kind"]) in KEDA, doc["kind"]


def test_the_kustomization_lists_every_manifest_and_nothing_else() -> None:
    listed = kustomization()["resources"]
    assert len(listed) == len(set(listed))
    assert set(listed) == {path.name for path in manifests()}


def test_the_kustomized_objects_have_unique_names_in_the_namespace_it_makes() -> None:
    keys = [(o["kind"], o["metadata"]["name"]) for o in objects()]
    assert len(keys) == len(set(keys))
    namespace = kustomization()["namespace"]
    assert ("Namespace", namespace) in keys
    # The namespace comes from the kustomization alone.
    assert all("namespace" not in o["metadata"] for o in objects())


def test_every_container_runs_the_one_image_with_a_command_of_the_cli() -> None:
    image = {entry["name"] for entry in kustomization()["images"]}
    assert image == {"torchquiz"}
    runs = {
        (kind, name): container(kind, name)
        for kind, name in [
            ("Deployment", "torchquiz-app"),
            ("Deployment", "torchquiz-runner"),
            ("Job", "torchquiz-migrate"),
        ]
    }
    for spec in runs.values():
        assert spec["image"] == "torchquiz"
        assert spec["args"][0] == "torchquiz" and spec["args"][1] in app.cli.main.commands
    assert [spec["args"][1] for spec in runs.values()] == ["serve", "runner", "migrate"]


def test_the_app_runs_two_unprivileged_replicas_with_a_read_only_root(built_app: FastAPI) -> None:
    deployment = find("Deployment", "torchquiz-app")
    assert deployment["spec"]["replicas"] == 2
    spec, app_container = (
        pod("Deployment", "torchquiz-app"),
        container("Deployment", "torchquiz-app"),
    )
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 10001
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    context = app_container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    mounted = {mount["mountPath"] for mount in app_container["volumeMounts"]}
    assert mounted == {"/tmp", "/data"}
    # Probes on paths the app serves, on the port it listens on.
    assert app_container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert app_container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert serves(built_app, app_container[probe]["httpGet"]["path"])
    (port,) = app_container["ports"]
    assert port["containerPort"] == Settings.model_fields["port"].default
    assert app_container["resources"]["requests"]["cpu"]  # what the HPA's utilisation is of


def test_the_runner_gets_what_the_sandbox_needs_and_nothing_more() -> None:
    spec, runner = (
        pod("Deployment", "torchquiz-runner"),
        container("Deployment", "torchquiz-runner"),
    )
    assert spec["hostUsers"] is False  # a user namespace of its own: needed for procMount
    assert spec["securityContext"]["runAsNonRoot"] is True
    context = runner["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert not context.get("privileged")
    assert context["readOnlyRootFilesystem"] is True
    assert context["procMount"] == "Unmasked"
    assert context["appArmorProfile"] == {"type": "Unconfined"}
    profile = context["seccompProfile"]
    assert profile["type"] == "Localhost"
    assert Path(profile["localhostProfile"]).name == "seccomp-sandbox.json"
    assert (DEPLOY / "seccomp-sandbox.json").is_file()
    assert "Unconfined" not in str(spec.get("securityContext", {}).get("seccompProfile"))
    assert {mount["mountPath"] for mount in runner["volumeMounts"]} == {"/tmp"}


def test_the_runners_probes_ask_its_own_health_with_the_images_script() -> None:
    runner = container("Deployment", "torchquiz-runner")
    copied = " ".join(rest for word, rest in dockerfile_instructions() if word == "COPY")
    assert "deploy/healthcheck.py ./deploy/healthcheck.py" in copied
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        command = runner[probe]["exec"]["command"]
        assert command[:4] == ["python", "/srv/torchquiz/deploy/healthcheck.py", "/healthz", "8100"]
        assert int(command[3]) == RUNNER_PORT
    assert runner["readinessProbe"]["exec"]["command"][4:] == ["--ready"]


def test_the_settings_are_variables_the_processes_read() -> None:
    runner_fields = {f"{RUNNER_PREFIX}{name}".upper() for name in RunnerSettings.model_fields}
    config = find("ConfigMap", "torchquiz-settings")["data"]
    assert set(config) <= settings_fields() | runner_fields, set(config) - settings_fields()
    runner_env = {e["name"] for e in container("Deployment", "torchquiz-runner")["env"]}
    assert runner_env <= runner_fields
    # The Secret, made by hand, holds what its comment lists: settings too.
    text = (K8S / "settings.yaml").read_text()
    secret = {line.split()[1] for line in text.splitlines() if line.startswith("#   TORCHQUIZ_")}
    assert {"TORCHQUIZ_DATABASE_URL", "TORCHQUIZ_SECRET_KEY", "TORCHQUIZ_REDIS_URL"} <= secret
    assert "TORCHQUIZ_RUNNER_QUEUE" in secret
    assert secret <= settings_fields() | runner_fields
    for kind, name in [("Deployment", "torchquiz-app"), ("Job", "torchquiz-migrate")]:
        sources = container(kind, name)["envFrom"]
        assert {"configMapRef": {"name": "torchquiz-settings"}} in sources
        assert {"secretRef": {"name": "torchquiz-secrets"}} in sources
    # The settings that make replicas safe.
    assert config["TORCHQUIZ_ENVIRONMENT"] == "production"
    assert config["TORCHQUIZ_TRUSTED_PROXIES"]
    assert config["TORCHQUIZ_RUNNER_SANDBOX"] == "rootless"
    assert config["TORCHQUIZ_REDIS_PREFIX"] == config["TORCHQUIZ_RUNNER_REDIS_PREFIX"]


def test_keda_scales_the_runners_on_the_queues_own_streams_and_group() -> None:
    scaled = find("ScaledObject", "torchquiz-runner")["spec"]
    assert scaled["scaleTargetRef"]["name"] == "torchquiz-runner"
    find("Deployment", scaled["scaleTargetRef"]["name"])
    prefix = find("ConfigMap", "torchquiz-settings")["data"]["TORCHQUIZ_RUNNER_REDIS_PREFIX"]
    keys = QueueKeys(prefix)
    triggers = scaled["triggers"]
    assert {t["type"] for t in triggers} == {"redis-streams"}
    assert {t["metadata"]["stream"] for t in triggers} == {
        keys.stream("short"),
        keys.stream("long"),
    }
    assert {t["metadata"]["consumerGroup"] for t in triggers} == {GROUP}
    assert scaled["minReplicaCount"] >= 1  # a job never waits for a runner to be made


def test_the_autoscaler_and_the_disruption_budgets_select_the_deployments() -> None:
    hpa = find("HorizontalPodAutoscaler", "torchquiz-app")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == "torchquiz-app"
    assert hpa["spec"]["minReplicas"] == find("Deployment", "torchquiz-app")["spec"]["replicas"]
    for name in ("torchquiz-app", "torchquiz-runner"):
        labels = find("Deployment", name)["spec"]["template"]["metadata"]["labels"]
        selector = find("PodDisruptionBudget", name)["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items()
    service = find("Service", "torchquiz-app")["spec"]
    labels = find("Deployment", "torchquiz-app")["spec"]["template"]["metadata"]["labels"]
    assert service["selector"].items() <= labels.items()
    (port,) = service["ports"]
    assert port["targetPort"] in {
        p["name"] for p in container("Deployment", "torchquiz-app")["ports"]
    }


def test_the_ingress_streams_the_apps_events_unbuffered(built_app: FastAPI) -> None:
    events = find("Ingress", "torchquiz-events")
    annotations = events["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert annotations["nginx.ingress.kubernetes.io/use-regex"] == "true"
    (rule,) = events["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    pattern = re.compile(path["path"])
    for url in ("/lab/runs/r1/live", "/api/v1/lab/runs/r1/events"):
        assert pattern.fullmatch(url) and serves(built_app, url), url
    assert not pattern.fullmatch("/lab/runs/r1")
    for ingress in (events, find("Ingress", "torchquiz")):
        for each in ingress["spec"]["rules"][0]["http"]["paths"]:
            assert each["backend"]["service"]["name"] == "torchquiz-app"


def test_the_runner_may_reach_redis_and_dns_only() -> None:
    policy = find("NetworkPolicy", "torchquiz-runner")["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in policy
    ports = {(p["protocol"], p["port"]) for rule in policy["egress"] for p in rule["ports"]}
    assert ports == {("TCP", 6379), ("UDP", 53), ("TCP", 53)}


def test_the_settings_with_a_filled_in_secret_pass_the_production_checks() -> None:
    config = find("ConfigMap", "torchquiz-settings")["data"]
    secret = {
        "TORCHQUIZ_DATABASE_URL": "postgresql://torchquiz:pw@postgres:5432/torchquiz",
        "TORCHQUIZ_SECRET_KEY": secrets.token_urlsafe(48),
        "TORCHQUIZ_REDIS_URL": "redis://redis:6379/0",
        "TORCHQUIZ_RUNNER_URL": "redis://redis:6379/0",
        "TORCHQUIZ_RUNNER_QUEUE": "redis://redis:6379/0",
    }
    env = {**config, **secret}
    app_env = {k.removeprefix("TORCHQUIZ_").lower(): v for k, v in env.items()}
    settings = Settings.model_validate(app_env)  # given values win over the environment
    assert settings.production_problems() == []
    runner_env = {
        k.removeprefix(RUNNER_PREFIX).lower(): v
        for k, v in env.items()
        if k.startswith(RUNNER_PREFIX)
    }
    runner = RunnerSettings(**runner_env)
    assert runner.sandbox == "rootless" and runner.queue == secret["TORCHQUIZ_RUNNER_QUEUE"]
    assert runner.redis_prefix == settings.redis_prefix
