"""Jinja2 templates of the feedback domain (autoescaped HTML, plain-text mails)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
# Changes with the script and stylesheet, so a cached old copy is never used with a new page.
ASSET_VERSION = hashlib.sha256(
    b"".join((STATIC / name).read_bytes() for name in ("page.js", "page.css"))
).hexdigest()[:10]

env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)
env.globals["asset_version"] = ASSET_VERSION


def render(name: str, **context: object) -> str:
    return env.get_template(name).render(**context)
