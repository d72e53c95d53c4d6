"""Project-wide promises: the docs document every setting and every factor, every document the
code or the README names is in the repository, and imports go one way."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.support.settings import env_var_names

REPO = Path(__file__).resolve().parent.parent
# Import direction: core <- tickets <- feedback <- connectors; scoring reads tickets and feedback.
CORE = {
    "config",
    "db",
    "errors",
    "http",
    "jobs",
    "auth",
    "audit",  # the audit log: needs only db; every domain records into it
    "clock",
    "logs",
    "middleware",
    "pagination",
    "migrate",
    "models",
    "health",
    "api",
    "main",
    "cli",
    "inputs",
    "db_errors",
    "openapi",
    "secrets_box",  # connector secrets at rest: needs only config
}
MAY_IMPORT = {
    "tickets": {"tickets"},
    "feedback": {"tickets", "feedback"},
    "connectors": {"tickets", "feedback", "connectors"},
    "scoring": {"tickets", "feedback", "scoring"},
    # Acting on scores: reads scoring; asks connectors for ticket notes through a job.
    "actions": {"tickets", "feedback", "scoring", "actions"},
}


def test_the_docs_document_every_setting() -> None:
    readme = (REPO / "docs" / "configuration.md").read_text()
    documented = set(re.findall(r"`(XPULSE_[A-Z0-9_]+)`", readme))
    missing = env_var_names() - documented
    assert not missing, f"settings missing from docs/configuration.md: {sorted(missing)}"
    tooling = ("XPULSE_BENCH_", "XPULSE_TEST_")  # benchmark and test knobs, not settings
    stale = {n for n in documented if n not in env_var_names() and not n.startswith(tooling)}
    assert not stale, f"docs/configuration.md names settings that do not exist: {sorted(stale)}"


def test_every_factor_key_is_defined_in_the_docs() -> None:
    from app.feedback.scales import NEGATIVE_FACTORS, POSITIVE_FACTORS

    scoring = (REPO / "docs" / "scoring.md").read_text()
    for key in POSITIVE_FACTORS:
        assert f"| `{key}` | positive |" in scoring, key
    for key in NEGATIVE_FACTORS:
        assert f"| `{key}` | negative |" in scoring, key


# A document named in a comment, a docstring or the README: `docs/scoring.md`, `scoring.md`.
DOCUMENT = re.compile(r"(?<![\w./-])((?:[\w-]+/)*[\w-]+\.md)\b")


def test_every_document_named_in_the_code_or_the_readme_is_in_the_repository() -> None:
    """The repository stands on its own: what it refers to is in it."""
    names = {p.relative_to(REPO).as_posix() for p in REPO.rglob("*.md") if ".venv" not in p.parts}
    basenames = {n.rsplit("/", 1)[-1] for n in names}
    sources = [REPO / "README.md", *(REPO / "app").rglob("*")]
    missing = []
    for path in sources:
        if path.is_dir() or path.suffix not in (".py", ".md", ".js", ".html", ".txt", ".po"):
            continue
        for name in DOCUMENT.findall(path.read_text()):
            known = name in names if "/" in name else name in basenames
            if not known:
                missing.append(f"{path.relative_to(REPO)} names {name}")
    assert not missing, missing


def test_readme_links_lead_to_documents_in_the_repository() -> None:
    readme = (REPO / "README.md").read_text()
    targets = re.findall(r"\]\(([^)#]+\.md)(?:#[^)]*)?\)", readme)
    assert len(targets) >= 10
    assert [t for t in targets if not (REPO / t).is_file()] == []


def _app_imports(path: Path) -> set[str]:
    """The second component of every `app.<x>` module a file imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] == "app" and len(parts) > 1:
                found.add(parts[1])
            elif parts == ["app"]:
                found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "app" and len(parts) > 1:
                    found.add(parts[1])
    return found


def test_domains_import_only_to_their_left() -> None:
    violations = []
    for domain, allowed in MAY_IMPORT.items():
        for path in (REPO / "app" / domain).rglob("*.py"):
            for target in _app_imports(path) - CORE - allowed:
                violations.append(f"{path.relative_to(REPO)} imports app.{target}")
    assert not violations, violations


def test_core_imports_no_domain_except_the_wiring_modules() -> None:
    # They assemble the domains (demo.py loads demo rows into every domain's tables).
    wiring = {"models.py", "api.py", "main.py", "cli.py", "demo.py"}
    violations = []
    for path in (REPO / "app").glob("*.py"):
        if path.name in wiring:
            continue
        for target in _app_imports(path) & set(MAY_IMPORT):
            violations.append(f"{path.relative_to(REPO)} imports app.{target}")
    for path in (REPO / "app" / "jobs").rglob("*.py"):
        for target in _app_imports(path) & set(MAY_IMPORT):
            violations.append(f"{path.relative_to(REPO)} imports app.{target}")
    assert not violations, violations
