"""An OpenID Connect provider stand-in on loopback: discovery, JWKS, an authorize endpoint that
signs in `next_user` at once and redirects back with a code, and a token endpoint that checks
the client's secret, the redirect URI and the PKCE verifier before it answers an RS256-signed
ID token. `tamper` changes what the next ID token says, to test that XPulse refuses it."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "xpulse-test-client"
CLIENT_SECRET = "test-client-secret-0123456789"


@dataclass
class Grant:
    user: dict[str, Any]
    client_id: str
    redirect_uri: str
    nonce: str | None
    challenge: str
    method: str


@dataclass
class Provider:
    host: str = "localhost"  # another site than 127.0.0.1, as a real provider is
    next_user: dict[str, Any] = field(default_factory=lambda: {"sub": "u-1"})
    tamper: dict[str, Any] = field(default_factory=dict)  # claims overridden in the ID token
    sign_with_other_key: bool = False
    grants: dict[str, Grant] = field(default_factory=dict)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    token_errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "stand-in-1", "use": "sig"})
        self.other_key = RSAKey.generate_key(2048, parameters={"kid": "stand-in-1"})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.port = self.server.server_address[1]
        self.issuer = f"http://{self.host}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Provider:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }

    def id_token(self, claims: dict[str, Any], *, key: RSAKey | None = None) -> str:
        return jwt.encode({"alg": "RS256", "kid": "stand-in-1"}, claims, key or self.key)

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str]]:
        self.authorize_requests.append(query)
        code = secrets.token_urlsafe(16)
        self.grants[code] = Grant(
            user=dict(self.next_user),
            client_id=query.get("client_id", ""),
            redirect_uri=query.get("redirect_uri", ""),
            nonce=query.get("nonce"),
            challenge=query.get("code_challenge", ""),
            method=query.get("code_challenge_method", ""),
        )
        back = {"code": code, "state": query.get("state", "")}
        return 302, {"Location": f"{query.get('redirect_uri')}?{urlencode(back)}"}

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        self.token_requests.append(form)
        grant = self.grants.pop(form.get("code", ""), None)
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        problem = (
            "unknown code"
            if grant is None
            else "bad client"
            if authorization != expected or grant.client_id != CLIENT_ID
            else "redirect_uri differs"
            if form.get("redirect_uri") != grant.redirect_uri
            else "PKCE verifier does not match"
            if grant.method != "S256" or challenge != grant.challenge
            else None
        )
        if problem is not None:
            self.token_errors.append(problem)
            return 400, {"error": "invalid_grant", "error_description": problem}
        assert grant is not None
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
            **grant.user,
            **self.tamper,
        }
        key = self.other_key if self.sign_with_other_key else self.key
        return 200, {
            "access_token": secrets.token_urlsafe(16),
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": self.id_token(claims, key=key),
        }


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/.well-known/openid-configuration":
                self._send(200, provider.discovery())
            elif url.path == "/jwks":
                self._send(200, {"keys": [provider.key.as_dict(private=False)]})
            elif url.path == "/authorize":
                status, headers = provider.authorize(query)
                self._send(status, None, headers)
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if urlsplit(self.path).path != "/token":
                self._send(404, {"error": "not found"})
                return
            status, body = provider.token(form, self.headers.get("Authorization", ""))
            self._send(status, body)

    return Handler
