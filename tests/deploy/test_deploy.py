"""deploy/: every environment variable the compose file and the manifests set is a setting."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from app.config import Settings
from tests.support.settings import env_var_names

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


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
            for line in (DEPLOY / env_file).read_text().splitlines():
                if line.strip() and not line.startswith("#"):
                    key, value = line.split("=", 1)
                    found[key] = value
    return found


def k8s_env() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
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
    monkeypatch.setenv("XPULSE_SECRET_KEY", "x" * 32)  # examples carry a placeholder
    settings = Settings(_env_file=None)
    assert settings.env == "production"
    assert settings.database_url.startswith("postgresql+asyncpg://")


def test_the_checker_catches_a_misspelt_variable() -> None:
    assert "XPULSE_SMTP__HOST" in env_var_names()
    assert "XPULSE_SMTP_HOST" not in env_var_names()
    assert "XPULSE_DATABASE_URL" in env_var_names()


def test_kubernetes_runs_two_replicas_with_probes_and_a_migration_job() -> None:
    docs = {
        d["kind"]: d
        for p in (DEPLOY / "k8s").glob("*.yaml")
        for d in yaml.safe_load_all(p.read_text())
    }
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
