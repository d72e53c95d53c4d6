"""Settings: one class, env prefix XPULSE_, nested groups with `__` (XPULSE_SMTP__HOST)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-insecure-change-me"  # noqa: S105 - the placeholder the validator refuses in production
MIN_SECRET_KEY_LENGTH = 32
# The placeholders deploy/ examples ship ("change-me", "replace-with-…"): production refuses them.
PLACEHOLDER = re.compile(r"change-me|replace-with", re.IGNORECASE)


def is_placeholder(value: str) -> bool:
    return value == DEV_SECRET or bool(PLACEHOLDER.search(value))


class SmtpSettings(BaseModel):
    host: str = ""  # empty: none configured (development then writes mails to the outbox)
    port: int = 25
    username: str = ""
    password: SecretStr = SecretStr("")
    starttls: bool = False  # upgrade a plain connection with STARTTLS
    use_tls: bool = False  # implicit TLS (port 465)
    sender: str = "XPulse <xpulse@localhost>"
    timeout_seconds: float = 20.0
    validate_certs: bool = True  # verify the server's certificate for STARTTLS / TLS
    reply_to: str = ""  # optional Reply-To on feedback mails
    outbox_dir: str = "./var/outbox"  # development without a host: mails land here (/dev/outbox)


class JobSettings(BaseModel):
    enabled: bool = True  # run the ticker (workers and periodic tasks) in this process
    tick_seconds: float = 2.0
    periodic_seconds: float = 60.0
    batch_size: int = 10
    lease_seconds: int = 120  # longer than the slowest outbound call's timeout
    backoff_base_seconds: float = 5.0
    backoff_max_seconds: float = 3600.0
    # Jobs that call an ITSM are retried until this much time has passed since their first
    # failure (other jobs stop after their attempt count).
    retry_budget_hours: float = Field(72.0, gt=0)
    probe_max_seconds: float = Field(300.0, gt=0)  # longest wait between probes of a down ITSM


class FeedbackSettings(BaseModel):
    scale: Literal["happiness-0-10", "faces-5"] = "happiness-0-10"
    expiry_days: int = 7
    reminder_delay_hours: float = 24.0
    fatigue_days: int = 0  # at most one request per requester per N days; 0 = off
    default_locale: str = "en"
    rate_limit_per_minute: int = 30  # per token (and the default per client address)
    rate_limit_per_address_per_minute: int = 0  # 0 = same as rate_limit_per_minute
    # Mail-scanner judgement (docs/mail-scanners.md). One-click answers (no press on the page)
    # do not count when several options of the mail were opened within sweep_seconds of them.
    scanner_sweep_seconds: float = 600.0
    scanner_burst_seconds: float = 3.0  # one client fetching 4+ links this fast is crawling
    scanner_trap_seconds: float = 10.0  # a trap-link hit by anyone this close taints a click
    scanner_client_seconds: float = 600.0  # a client that swept the mail cannot opt out meanwhile
    scanner_min_seconds_after_send: float = 5.0  # one-click answers sooner: automated; 0 = off
    scanner_min_action_ms: int = 800  # a press sooner after the page or button showed: no person
    scanner_sweep_controls: int = 4  # one page pressing this many options of a question: a sweep
    scanner_opt_out_after_score_seconds: float = 20.0  # an opt-out this soon after a score link
    click_dwell_ms: int = 1500  # the page's script records the one-click after this pause
    writeback_delay_seconds: float = 30.0  # let evidence settle and answers finish first
    reminders_per_tick: int = 500
    opens_retention_days: int = 30  # link fetches (scanner evidence) are deleted after this


class AuthSettings(BaseModel):
    # Failed API keys and dashboard logins per client address per minute before that address
    # is answered 429 until the minute has passed, even with a right key; 0 = off.
    max_failures_per_minute: int = Field(5, ge=0)
    # A dashboard session ends after this long without a request, and this long after sign-in.
    session_idle_minutes: int = Field(60, ge=1)
    session_max_hours: float = Field(12.0, gt=0)


class OidcSettings(BaseModel):
    """OpenID Connect sign-in to the dashboard (docs/sign-in.md); an empty issuer: off."""

    issuer: str = ""  # discovery at <issuer>/.well-known/openid-configuration
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")  # empty: a public client (PKCE alone)
    scopes: str = "openid profile email"
    provider_name: str = "single sign-on"  # the login button: "Sign in with <provider_name>"
    role_claim: str = "roles"  # the ID token claim holding roles or groups
    # Comma-separated claim values that make a person an admin or a viewer; `*` in
    # viewer_values: anyone the provider signs in. No match: refused, no session.
    admin_values: str = ""
    viewer_values: str = ""
    key_login: bool = True  # the dashboard still takes an API key

    @property
    def enabled(self) -> bool:
        return bool(self.issuer and self.client_id)

    @property
    def admin_list(self) -> list[str]:
        return [v.strip() for v in self.admin_values.split(",") if v.strip()]

    @property
    def viewer_list(self) -> list[str]:
        return [v.strip() for v in self.viewer_values.split(",") if v.strip()]


class PrivacySettings(BaseModel):
    # A group (agent, assignment group, service) with fewer counted responses than this is
    # shown as hidden, never with its figures.
    min_group_responses: int = Field(5, ge=0)  # 0 = show every group
    agent_figures: bool = True  # false: no per-agent figure anywhere (works councils)


class ScoringSettings(BaseModel):
    # How often each process drains the queue of tickets whose score rows need recomputing
    # (docs/scoring.md); a read always catches up first, so this bounds the stored table only.
    drain_seconds: float = Field(1.0, gt=0)


class ActionsSettings(BaseModel):
    # Alert rules (docs/actions.md): how often answers are evaluated, and how old a change
    # must be before it is read, so a transaction still open cannot commit behind the
    # watermark. An alert follows an answer within evaluate + settle seconds plus a job tick.
    evaluate_seconds: float = Field(10.0, gt=0)
    settle_seconds: float = Field(5.0, ge=0)
    max_age_hours: float = Field(24.0, gt=0)  # answers older than this never alert (first start)
    batch_size: int = Field(500, ge=1)  # answers read per evaluation pass


class RetentionSettings(BaseModel):
    """How long personal data is kept (docs/privacy.md); 0 or empty keeps it forever. Scores,
    factors and lost time are never cleared: figures do not change."""

    comment_days: int = Field(365, ge=0)  # free-text comments, from when they were given
    identity_days: int = Field(730, ge=0)  # requester e-mail, name and id, from resolution
    webhook_body_days: int = Field(30, ge=0)  # raw webhook bodies and headers: replay window

    @field_validator("comment_days", "identity_days", "webhook_body_days", mode="before")
    @classmethod
    def _empty_is_forever(cls, value: object) -> object:
        return 0 if value is None or (isinstance(value, str) and not value.strip()) else value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="XPULSE_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    env: Literal["development", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./var/xpulse.db"
    database_pool_size: int = 10
    public_url: str = "http://127.0.0.1:8000"  # the base of links sent to requesters
    secret_key: SecretStr = SecretStr(DEV_SECRET)  # derives feedback tokens and signs forms
    log_level: str = "INFO"
    log_json: bool = True
    max_body_bytes: int = 1_048_576
    http_timeout_seconds: float = 15.0
    hourly_cost: float = 0.0  # cost of one lost work hour, in the organisation's currency
    # Proxies whose X-Forwarded-For / -Proto are believed (comma-separated addresses or CIDR
    # ranges, `*` for any): the client address every rate limit counts comes from them only.
    forwarded_allow_ips: str = "127.0.0.1"
    # How long `xpulse serve` keeps an idle client connection open. Longer than the idle timeout
    # of the load balancer or proxy in front (60 s for nginx and AWS ALB by default): a server
    # that closes first races the proxy's next request on that connection, which the proxy
    # answers 502. uvicorn's own default is 5 s.
    keep_alive_seconds: int = Field(default=75, ge=1)
    # Keys that encrypt connector secrets at rest (comma-separated, each a random string of at
    # least 32 characters): the first encrypts, all decrypt. Empty: development derives one
    # from secret_key; production refuses to start.
    encryption_keys: SecretStr = SecretStr("")
    metrics_public: bool = False  # /metrics without a read key (only behind a private network)
    api_docs: bool = True  # serve /docs, /redoc and /openapi.json
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    feedback: FeedbackSettings = Field(default_factory=FeedbackSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    oidc: OidcSettings = Field(default_factory=OidcSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    scoring: ScoringSettings = Field(default_factory=ScoringSettings)
    actions: ActionsSettings = Field(default_factory=ActionsSettings)

    @model_validator(mode="after")
    def _someone_can_sign_in(self) -> Settings:
        if not self.oidc.key_login and not self.oidc.enabled:
            raise ValueError(
                "XPULSE_OIDC__KEY_LOGIN=false needs XPULSE_OIDC__ISSUER and "
                "XPULSE_OIDC__CLIENT_ID: otherwise nobody can sign in to the dashboard"
            )
        if self.env == "production" and self.oidc.enabled:
            # Keys and tokens fetched over plain http could be swapped on the way.
            if not self.oidc.issuer.lower().startswith("https://"):
                raise ValueError("XPULSE_OIDC__ISSUER must be an https:// URL in production")
            if is_placeholder(self.oidc.client_secret.get_secret_value()):
                raise ValueError("XPULSE_OIDC__CLIENT_SECRET is the example placeholder")
        return self

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> Settings:
        if self.env != "production":
            return self
        key = self.secret_key.get_secret_value()
        if is_placeholder(key) or len(key) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(
                f"XPULSE_SECRET_KEY must be a random value of at least {MIN_SECRET_KEY_LENGTH} "
                "characters in production (openssl rand -hex 32)"
            )
        keys = self.encryption_key_list
        if not keys:
            raise ValueError(
                "XPULSE_ENCRYPTION_KEYS must be set in production: it encrypts connector secrets "
                "at rest (openssl rand -hex 32)"
            )
        if any(is_placeholder(k) or len(k) < MIN_SECRET_KEY_LENGTH for k in keys):
            raise ValueError(
                "every key in XPULSE_ENCRYPTION_KEYS must be a random value of at least "
                f"{MIN_SECRET_KEY_LENGTH} characters in production (openssl rand -hex 32)"
            )
        if self.smtp.password.get_secret_value() and is_placeholder(
            self.smtp.password.get_secret_value()
        ):
            raise ValueError("XPULSE_SMTP__PASSWORD is the example placeholder: set the real one")
        if is_placeholder(urlsplit(self.database_url).password or ""):
            raise ValueError(
                "XPULSE_DATABASE_URL has the example placeholder password: set the real one"
            )
        return self

    @property
    def encryption_key_list(self) -> list[str]:
        raw = self.encryption_keys.get_secret_value()
        return [k.strip() for k in raw.split(",") if k.strip()]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
