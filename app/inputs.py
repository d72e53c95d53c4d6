"""Text no database can store: finding it in requests (a 422 naming the field) and cleaning it
out of data XPulse must keep anyway (webhook ticket data). Pure functions.

PostgreSQL text and JSONB refuse the NUL character, and UTF-8 cannot encode a lone surrogate
(JSON's "\\ud800" escape decodes to one in Python). Either reached the database as a 500."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

# Deeper JSON is refused before anything parses it recursively (json, pydantic, the database).
MAX_JSON_DEPTH = 64
REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class BadInput:
    field: str  # "query.service", "comment", "options.tables.0", "path"
    message: str
    type: str  # "nul_character", "lone_surrogate", "json_too_deep", "unicode_decode"


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None when it can."""
    if "\x00" in value:
        return "nul_character"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "lone_surrogate"
    return None


MESSAGES = {
    "nul_character": "Text must not contain the NUL character (U+0000)",
    "lone_surrogate": "Text must not contain a lone UTF-16 surrogate",
}


def _bad(field: str, kind: str) -> BadInput:
    return BadInput(field, MESSAGES[kind], kind)


def check_pairs(pairs: Iterable[tuple[str, str]], prefix: str) -> BadInput | None:
    """The first bad name or value among decoded (name, value) pairs."""
    for name, value in pairs:
        if kind := text_problem(name) or text_problem(value):
            return _bad(f"{prefix}{name if not text_problem(name) else '?'}", kind)
    return None


def check_urlencoded(raw: bytes, prefix: str) -> BadInput | None:
    """A query string or an application/x-www-form-urlencoded body."""
    if b"%00" not in raw and b"\x00" not in raw:  # percent-decoding makes no surrogates
        return None
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, errors="replace")
    return check_pairs(pairs, prefix)


def check_json(raw: bytes) -> BadInput | None:
    """Too deep, not UTF-8, or holding unstorable text; invalid JSON is left to the route."""
    if raw.isascii() and b"\\u" not in raw and raw.count(b"{") + raw.count(b"[") <= MAX_JSON_DEPTH:
        # The common body (a click's answer) cannot hold any of them: no second parse on the
        # hot path. A raw NUL is invalid JSON, which the route refuses.
        return None
    try:
        data = json.loads(raw)
    except RecursionError:
        return BadInput("body", f"JSON nested deeper than {MAX_JSON_DEPTH} levels", "json_too_deep")
    except UnicodeDecodeError:
        return BadInput("body", "The body is not UTF-8", "unicode_decode")
    except ValueError:
        return None
    return check_value(data)


def check_value(data: Any, max_depth: int | None = MAX_JSON_DEPTH) -> BadInput | None:
    """Walk a parsed JSON document without recursion: depth and every key and string."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if max_depth is not None and len(path) > max_depth:
            return BadInput(
                _dotted(path[:MAX_JSON_DEPTH]) or "body",
                f"JSON nested deeper than {MAX_JSON_DEPTH} levels",
                "json_too_deep",
            )
        if isinstance(value, str):
            if kind := text_problem(value):
                return _bad(_dotted(path) or "body", kind)
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and (kind := text_problem(key)):
                    return _bad(_dotted(path) or "body", kind)
                stack.append((item, (*path, key)))
        elif isinstance(value, list):
            stack.extend((item, (*path, str(i))) for i, item in enumerate(value))
    return None


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(path)


def clean_text(value: str) -> str:
    """Drop NUL characters and replace lone surrogates with U+FFFD, so the text can be stored."""
    if not text_problem(value):
        return value
    return _SURROGATE.sub(REPLACEMENT, value.replace("\x00", ""))


def clean_value(data: Any) -> Any:
    """A copy of a JSON-like value with every string, keys included, cleaned."""
    if isinstance(data, str):
        return clean_text(data)
    if isinstance(data, dict):
        return {clean_text(k): clean_value(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [clean_value(v) for v in data]
    return data


# A JSON escape of NUL or of a surrogate (a lone one, or half of a pair).
_UNSAFE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def clean_json_bytes(body: bytes) -> bytes:
    """The same JSON document with unstorable text cleaned, or `body` unchanged when it holds
    none or is not JSON. Lets a parser that refuses lone surrogates (pydantic's) read it."""
    if not _UNSAFE_ESCAPE.search(body):
        return body
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return body
    return json.dumps(clean_value(data), ensure_ascii=False).encode()
