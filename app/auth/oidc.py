"""OpenID Connect sign-in (authorization code with PKCE) with Authlib: discovery, the
authorization URL, the token request, and the ID token checks (signature against the JWKS,
iss, aud, exp, iat, nonce, azp, at_hash). Roles come from one claim (docs/sign-in.md)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from app.auth.models import Role
from app.config import OidcSettings

METADATA_TTL_SECONDS = 3600.0  # discovery and keys are fetched again after an hour
LEEWAY_SECONDS = 60  # clock skew allowed between the provider and XPulse
# Asymmetric algorithms only: never `none`, and no HS256 (the client secret is no signing key).
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


class OidcError(Exception):
    """A sign-in that cannot complete. `reason` goes to the security log, never to the page."""

    def __init__(self, reason: str, *, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class Flow:
    """What the browser's flow cookie remembers between the redirect and the callback."""

    state: str
    nonce: str
    verifier: str

    @classmethod
    def new(cls) -> Flow:
        return cls(
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            verifier=secrets.token_urlsafe(48),  # 64 characters: RFC 7636 wants 43 to 128
        )


@dataclass
class _Cached:
    metadata: dict[str, Any]
    keys: KeySet
    fetched_at: float


@dataclass
class OidcClient:
    """One per process (app.state): caches the provider's metadata and keys."""

    settings: OidcSettings
    _cache: _Cached | None = field(default=None, repr=False)

    async def _load(self, http: httpx.AsyncClient, *, force: bool = False) -> _Cached:
        fresh = self._cache and time.monotonic() - self._cache.fetched_at < METADATA_TTL_SECONDS
        if self._cache is not None and fresh and not force:
            return self._cache
        issuer = self.settings.issuer.rstrip("/")
        metadata = await _get_json(http, f"{issuer}/.well-known/openid-configuration")
        # OpenID Connect Discovery §4.3: the document's issuer is exactly the configured one.
        if metadata.get("issuer", "").rstrip("/") != issuer:
            raise OidcError("discovery document names another issuer", status=502)
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(metadata.get(name), str):
                raise OidcError(f"discovery document has no {name}", status=502)
        try:
            keys = KeySet.import_key_set(await _get_json(http, metadata["jwks_uri"]))
        except (JoseError, ValueError, TypeError) as exc:
            raise OidcError(f"unusable JWKS: {exc}", status=502) from None
        self._cache = _Cached(metadata=metadata, keys=keys, fetched_at=time.monotonic())
        return self._cache

    async def authorization_url(
        self, http: httpx.AsyncClient, flow: Flow, *, redirect_uri: str
    ) -> str:
        cached = await self._load(http)
        return prepare_grant_uri(
            cached.metadata["authorization_endpoint"],
            client_id=self.settings.client_id,
            response_type="code",
            redirect_uri=redirect_uri,
            scope=self.settings.scopes,
            state=flow.state,
            nonce=flow.nonce,
            code_challenge=create_s256_code_challenge(flow.verifier),
            code_challenge_method="S256",
        )

    async def exchange(
        self, http: httpx.AsyncClient, flow: Flow, *, code: str, redirect_uri: str
    ) -> dict[str, Any]:
        """The ID token's checked claims for this authorization code."""
        cached = await self._load(http)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.settings.client_id,
            "code_verifier": flow.verifier,
        }
        auth = None
        secret = self.settings.client_secret.get_secret_value()
        if secret:
            methods = cached.metadata.get("token_endpoint_auth_methods_supported")
            # client_secret_basic is the default when a provider lists none (OIDC Discovery).
            if methods and "client_secret_basic" not in methods:
                form["client_secret"] = secret
            else:
                auth = httpx.BasicAuth(self.settings.client_id, secret)
        try:
            response = await http.post(
                cached.metadata["token_endpoint"],
                data=form,
                auth=auth,
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            reason = f"token endpoint unreachable: {type(exc).__name__}"
            raise OidcError(reason, status=502) from None
        if response.status_code != 200:
            reason = f"token endpoint answered {response.status_code}: {response.text[:200]}"
            raise OidcError(reason)
        try:
            token = response.json()
        except ValueError:
            raise OidcError("token endpoint answered no JSON", status=502) from None
        if not isinstance(token, dict) or not isinstance(token.get("id_token"), str):
            raise OidcError("token answer has no id_token")
        return await self.claims(http, token["id_token"], flow, token.get("access_token"))

    async def claims(
        self,
        http: httpx.AsyncClient,
        id_token: str,
        flow: Flow,
        access_token: str | None = None,
        *,
        now: int | None = None,
    ) -> dict[str, Any]:
        cached = await self._load(http)
        offered = cached.metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        registry = JWSRegistry(algorithms=[a for a in offered if a in ALGORITHMS])
        try:
            try:
                token = jwt.decode(id_token, cached.keys, registry=registry)
            except InvalidKeyIdError:
                # The provider rotated its keys since they were fetched: fetch them once more.
                cached = await self._load(http, force=True)
                token = jwt.decode(id_token, cached.keys, registry=registry)
            claims = CodeIDToken(
                token.claims,
                token.header,
                options={
                    "iss": {"essential": True, "value": cached.metadata["issuer"]},
                    "aud": {"essential": True, "value": self.settings.client_id},
                },
                params={
                    "nonce": flow.nonce,
                    "client_id": self.settings.client_id,
                    "access_token": access_token,
                },
            )
            claims.validate(now=now, leeway=LEEWAY_SECONDS)
        except (JoseError, ValueError) as exc:
            raise OidcError(f"ID token refused: {type(exc).__name__}: {exc}") from None
        return dict(claims)


async def _get_json(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    try:
        response = await http.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OidcError(f"cannot read {url}: {type(exc).__name__}", status=502) from None
    if not isinstance(body, dict):
        raise OidcError(f"{url} is not a JSON object", status=502)
    return body


def role_for(claims: dict[str, Any], settings: OidcSettings) -> Role | None:
    """The role the configured claim grants: admin first, then viewer; None refuses."""
    value = claims.get(settings.role_claim)
    if isinstance(value, str):
        held = {value}
    elif isinstance(value, list):
        held = {str(v) for v in value}
    else:
        held = set()
    if held & set(settings.admin_list):
        return Role.admin
    viewers = settings.viewer_list
    if "*" in viewers or held & set(viewers):
        return Role.viewer
    return None


def display_name(claims: dict[str, Any]) -> str:
    for name in ("name", "preferred_username", "email", "sub"):
        if isinstance(claims.get(name), str) and claims[name].strip():
            return claims[name].strip()
    return "unknown"


def actor(claims: dict[str, Any]) -> str:
    """The audit log's name: the e-mail when the provider gives one, else the subject."""
    email = claims.get("email")
    return f"user:{email if isinstance(email, str) and email else claims['sub']}"
