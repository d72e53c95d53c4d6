"""Secrets at rest (connector credentials, the chat webhook URLs of alert rules): Fernet
(AES-128-CBC + HMAC-SHA256, authenticated) under the keys of XPULSE_ENCRYPTION_KEYS. The first
key encrypts, every key decrypts, so a key can be rotated: put the new key first, run
`xpulse secrets rotate`, then drop the old one.

Stored values look like `fernet:<token>`. Without configured keys (development only; production
refuses to start) one key is derived from XPULSE_SECRET_KEY and logged as such, so `make run`
works with nothing to set.

The box is process-wide because the columns that use it (EncryptedText, EncryptedAuth,
EncryptedActions) are bound and read by SQLAlchemy, which has no request or settings at hand:
`configure()` is called by create_app, the CLI and migrations; until then it is built from
get_settings().
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Callable
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import JSON, String, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapper
from sqlalchemy.types import TypeDecorator, TypeEngine

from app.config import Settings, get_settings
from app.errors import AppError

log = logging.getLogger("xpulse.secrets")
PREFIX = "fernet:"
# The fields of a connector's `auth` that are secret; the rest (type, username, client_id,
# token_url, scope) stay readable so the API can show how a connector signs in.
SECRET_AUTH_FIELDS = ("password", "token", "client_secret")


class SecretDecryptError(AppError):
    """A stored secret that none of the configured keys opens (a key was dropped too early).
    Raised while a row is loaded, it names the row (a connector) and answers 503 problem+json:
    an operator can fix it by putting the key back, and a webhook sender retries meanwhile."""

    status, type, title = 503, "secret-unreadable", "A stored secret cannot be decrypted"


class _Unreadable:
    """What a column holds, for a moment, when its value does not decrypt: loading the row then
    raises SecretDecryptError naming the row (a column on its own cannot know the row)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<unreadable secret>"


UNREADABLE = _Unreadable()


def _fernet_key(material: str, *, purpose: bytes) -> bytes:
    # Operators give any long random string (openssl rand -hex 32); HKDF turns it into the
    # 32 bytes Fernet needs, and `purpose` keeps a key derived from the secret key distinct.
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        material.encode()
    )
    return base64.urlsafe_b64encode(raw)


class SecretBox:
    def __init__(self, keys: list[str], *, derived_from_secret_key: bool = False) -> None:
        if not keys:
            raise ValueError("a SecretBox needs at least one key")
        purpose = b"xpulse secret-key derived" if derived_from_secret_key else b"xpulse at rest"
        self.derived_from_secret_key = derived_from_secret_key
        self._fernets = [Fernet(_fernet_key(k, purpose=purpose)) for k in keys]
        self._multi = MultiFernet(self._fernets)

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        keys = settings.encryption_key_list
        if keys:
            return cls(keys)
        return cls([settings.secret_key.get_secret_value()], derived_from_secret_key=True)

    def encrypt(self, plain: str) -> str:
        return PREFIX + self._multi.encrypt(plain.encode()).decode()

    def decrypt(self, stored: str) -> str:
        if not is_sealed(stored):
            raise SecretDecryptError("the stored value is not an encrypted secret")
        try:
            return self._multi.decrypt(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise SecretDecryptError(
                "no key in XPULSE_ENCRYPTION_KEYS opens a stored connector secret "
                "(was the key it was encrypted with removed before `xpulse secrets rotate`?)"
            ) from None

    def is_current(self, stored: str) -> bool:
        """Encrypted under the first key (nothing for `rotate` to do)."""
        try:
            self._fernets[0].decrypt(stored[len(PREFIX) :].encode())
        except InvalidToken:
            return False
        return True

    def rotate(self, stored: str) -> str:
        return PREFIX + self._multi.rotate(stored[len(PREFIX) :].encode()).decode()


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


_box: SecretBox | None = None


def configure(settings: Settings, *, announce: bool = False) -> SecretBox:
    """Use the keys of `settings`; `announce` (the server) logs when the key is derived."""
    global _box
    _box = SecretBox.from_settings(settings)
    if announce and _box.derived_from_secret_key:
        log.warning(
            "XPULSE_ENCRYPTION_KEYS is not set: connector secrets are encrypted with a key "
            "derived from XPULSE_SECRET_KEY (development only; production refuses this)"
        )
    return _box


def current() -> SecretBox:
    return _box if _box is not None else configure(get_settings())


def open_auth(auth: dict[str, Any], box: SecretBox) -> dict[str, Any]:
    return {
        k: box.decrypt(v) if k in SECRET_AUTH_FIELDS and is_sealed(v) else v
        for k, v in auth.items()
    }


def _open_or_mark(box: SecretBox, stored: str) -> Any:
    try:
        return box.decrypt(stored)
    except SecretDecryptError:
        return UNREADABLE


def _holds_unreadable(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_holds_unreadable(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_unreadable(v) for v in value)
    return value is UNREADABLE


def _refuse_unreadable(target: Any, *_: Any) -> None:
    """On load or refresh of a row with encrypted columns: none may be left unreadable."""
    columns = sorted(k for k, v in vars(target).items() if _holds_unreadable(v))
    if not columns:
        return
    kind = re.sub(r"(?<!^)(?=[A-Z])", "_", type(target).__name__).lower()  # alert_rule
    name = getattr(target, "name", None) or str(getattr(target, "id", "?"))
    log.error(
        "stored %s secrets cannot be decrypted with XPULSE_ENCRYPTION_KEYS",
        kind,
        extra={"event": "secret_unreadable", kind: name, "columns": columns},
    )
    raise SecretDecryptError(
        f"The stored secrets of {kind} {name!r} ({', '.join(columns)}) cannot be decrypted with "
        "any key in XPULSE_ENCRYPTION_KEYS: the key they were encrypted with was removed before "
        "`xpulse secrets rotate` re-encrypted them. Add that key back to XPULSE_ENCRYPTION_KEYS "
        "(after the current first key), restart, and run `xpulse secrets rotate`.",
        **{kind: name},
    )


@event.listens_for(Mapper, "mapper_configured")
def _watch_encrypted(mapper: Mapper[Any], cls: type) -> None:
    if any(
        isinstance(c.type, EncryptedText | EncryptedAuth | EncryptedActions) for c in mapper.columns
    ):
        event.listen(cls, "load", _refuse_unreadable)
        event.listen(cls, "refresh", _refuse_unreadable)


class EncryptedText(TypeDecorator[str]):
    """A VARCHAR(500) column holding `fernet:<token>`; Python sees the plain value."""

    impl = String(500)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else current().encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else _open_or_mark(current(), value)


class _EncryptedJSON(TypeDecorator[dict[str, Any]]):
    """A JSON document (JSONB on PostgreSQL) some of whose strings are secrets: `_secrets`
    returns the document with each of them passed through `fn` (encrypt on the way into the
    database, decrypt on the way out)."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(JSONB() if dialect.name == "postgresql" else JSON())

    def _secrets(self, doc: dict[str, Any], fn: Callable[[Any], Any]) -> dict[str, Any]:
        raise NotImplementedError

    def process_bind_param(self, value: dict[str, Any] | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        box = current()
        return self._secrets(value, lambda v: box.encrypt(v) if isinstance(v, str) else v)

    def process_result_value(self, value: Any, dialect: Dialect) -> dict[str, Any] | None:
        if value is None:
            return None
        box = current()
        return self._secrets(value, lambda v: _open_or_mark(box, v) if is_sealed(v) else v)


class EncryptedAuth(_EncryptedJSON):
    """A connector's sign-in whose secret fields (SECRET_AUTH_FIELDS) are stored encrypted."""

    def _secrets(self, doc: dict[str, Any], fn: Callable[[Any], Any]) -> dict[str, Any]:
        return {k: fn(v) if k in SECRET_AUTH_FIELDS else v for k, v in doc.items()}


class EncryptedActions(_EncryptedJSON):
    """An alert rule's actions whose chat webhook URLs are stored encrypted: whoever has one can
    post to the channel."""

    def _secrets(self, doc: dict[str, Any], fn: Callable[[Any], Any]) -> dict[str, Any]:
        if not doc.get("chat"):
            return doc
        return {**doc, "chat": [{**t, "url": fn(t.get("url"))} for t in doc["chat"]]}
