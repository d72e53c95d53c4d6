"""deploy/: every environment variable the compose file and the manifests set is a setting, and
the Dockerfile, the compose file and the manifests agree (user, port, probes, image)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from app.config import Settings, is_placeholder
from tests.support.settings import env_var_names

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def manifests() -> list[dict]:
    """Every Kubernetes document under deploy/k8s, the migrate Job's folder included."""
    return [
        doc
        for path in sorted((DEPLOY / "k8s").rglob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
    ]


def by_kind() -> dict[str, dict]:
    return {doc["kind"]: doc for doc in manifests()}


def dockerfile() -> dict[str, str]:
    """The runtime stage's instructions (the last of each name), continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    stages = re.split(r"^FROM ", text, flags=re.M)
    found: dict[str, str] = {}
    for line in stages[-1].splitlines():
        if line and not line.startswith("#") and line.split()[0].isupper():
            name, _, rest = line.partition(" ")
            found[name] = rest.strip()
    return found


def compose_env() -> dict[str, str]:
    doc = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    found: dict[str, str] = {}
    for service in doc["services"].values():
        if "build" not in service:  # PostgreSQL's own variables are not ours
            continue
        env = service.get("environment", {})
        pairs = env.items() if isinstance(env, dict) else (e.split("=", 1) for e in env)
        found.update({k: str(v) for k, v in pairs})
        if env_file := service.get("env_file"):
            # The operator's copy of the example (it is not in the repository).
            for line in (DEPLOY / f"{env_file}.example").read_text().splitlines():
                if line.strip() and not line.startswith("#"):
                    key, value = line.split("=", 1)
                    found[key] = value
    return found


def real(value: str) -> str:
    """What an operator puts in place of an example's placeholder."""
    if "://" in value:  # a URL with a placeholder password
        return value.replace("change-me", "real-password")
    return "r" * 40 if is_placeholder(value) else value


def k8s_env() -> dict[str, str]:
    found: dict[str, str] = {}
    for doc in manifests():
        kind = doc["kind"]
        if kind == "ConfigMap":
            found.update(doc["data"])
        elif kind == "Secret":
            found.update(doc.get("stringData", {}))
        elif kind in ("Deployment", "Job"):
            for container in doc["spec"]["template"]["spec"]["containers"]:
                found.update({e["name"]: e.get("value", "") for e in container.get("env", [])})
    return found


@pytest.mark.parametrize("source", [compose_env, k8s_env], ids=["compose", "kubernetes"])
def test_every_variable_is_a_setting_with_a_valid_value(source, monkeypatch) -> None:
    env = source()
    assert env, "no environment variables found"
    unknown = set(env) - env_var_names()
    assert not unknown, f"not settings: {sorted(unknown)}"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # As shipped, the examples carry placeholders that production refuses to start with …
    with pytest.raises(ValueError, match=r"placeholder|XPULSE_SECRET_KEY"):
        Settings(_env_file=None)
    # … and once each is replaced, they load.
    for key, value in env.items():
        monkeypatch.setenv(key, real(value))
    settings = Settings(_env_file=None)
    assert settings.env == "production"
    assert settings.database_url.startswith("postgresql+asyncpg://")


def test_the_checker_catches_a_misspelt_variable() -> None:
    assert "XPULSE_SMTP__HOST" in env_var_names()
    assert "XPULSE_SMTP_HOST" not in env_var_names()
    assert "XPULSE_DATABASE_URL" in env_var_names()


def test_kubernetes_runs_two_replicas_with_probes_and_a_migration_job() -> None:
    docs = by_kind()
    assert {"Deployment", "Service", "Job", "ConfigMap", "Secret"} <= set(docs)
    deployment = docs["Deployment"]
    assert deployment["spec"]["replicas"] == 2
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert docs["Job"]["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "xpulse",
        "migrate",
    ]


def test_the_image_user_is_numeric_and_the_manifests_run_as_it() -> None:
    """The kubelet refuses runAsNonRoot with a named USER ("image has non-numeric user")."""
    user = dockerfile()["USER"]
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user), user
    uid, gid = (int(part) for part in user.split(":"))
    for kind in ("Deployment", "Job"):
        pod = by_kind()[kind]["spec"]["template"]["spec"]
        context = pod["securityContext"]
        assert context["runAsNonRoot"] is True, kind
        assert (context["runAsUser"], context["runAsGroup"]) == (uid, gid), kind
        for container in pod["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_ports_and_probes_agree_with_the_image_and_the_app() -> None:
    from app.main import create_app

    paths = set(create_app().openapi()["paths"])
    exposed = int(dockerfile()["EXPOSE"])
    assert f"--port {exposed}" in dockerfile()["CMD"].replace('", "', " ")
    probe = re.search(rf"http://127\.0\.0\.1:{exposed}(/\w+)", dockerfile()["HEALTHCHECK"])
    assert probe and probe.group(1) in paths
    docs = by_kind()
    container = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": exposed}
    command = container["command"]
    assert command[command.index("--port") + 1] == str(exposed)
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] == "http"
        assert container[probe]["httpGet"]["path"] in paths
    assert docs["Service"]["spec"]["ports"][0]["targetPort"] == "http"
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        if service.get("image") == "xpulse:local":
            for mapping in service.get("ports", []):
                assert mapping.endswith(f":{exposed}"), name


def test_one_image_is_built_once_and_used_everywhere() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]
    ours = {name: s for name, s in compose.items() if name != "postgres"}
    builders = [name for name, s in ours.items() if "build" in s]
    assert builders == ["migrate"], builders
    assert {s["image"] for s in ours.values()} == {"xpulse:local"}
    for name, service in ours.items():
        if "build" not in service:
            assert service["pull_policy"] == "never", name
    images = {
        c["image"]
        for kind in ("Deployment", "Job")
        for c in by_kind()[kind]["spec"]["template"]["spec"]["containers"]
    }
    assert len(images) == 1, images


def test_the_migrate_job_can_run_once_per_release() -> None:
    """A fixed Job name makes the next release's `create` fail until the old Job is deleted."""
    job = by_kind()["Job"]
    assert "name" not in job["metadata"]
    assert job["metadata"]["generateName"].endswith("-")
    # kept out of the folder that `kubectl apply -f deploy/k8s/` applies
    assert not any("Job" in p.read_text() for p in (DEPLOY / "k8s").glob("*.yaml"))


def test_production_refuses_every_placeholder_the_examples_ship(monkeypatch) -> None:
    """Each placeholder alone is enough to stop a production start."""
    for source in (compose_env, k8s_env):
        env = source()
        placeholders = [k for k, v in env.items() if is_placeholder(v)]
        assert placeholders, source.__name__
        for key in placeholders:
            for name, value in env.items():
                monkeypatch.setenv(name, value)
            for other in placeholders:
                if other != key:
                    monkeypatch.setenv(other, real(env[other]))
            with pytest.raises(ValueError, match=key):
                Settings(_env_file=None)
