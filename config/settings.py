"""Daemon settings: environment variables prefixed CONNECTOR_, or a .env file.

Every setting is documented in config/example.env. Secrets are SecretStr, so their repr and
str are masked; call .get_secret_value() only at the point of use.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class WritebackFields(BaseSettings):
    """Opportunity field API names the connector writes. Create them in the org (see README)."""

    model_config = SettingsConfigDict(env_prefix="CONNECTOR_FIELD_", env_file=".env", extra="ignore")

    status: str = "Signing_Status__c"
    request_id: str = "Signing_Request_Id__c"
    sent_at: str = "Signing_Sent_At__c"
    completed_at: str = "Signing_Completed_At__c"
    last_error: str = "Signing_Last_Error__c"
    last_error_max_length: int = 4000
    # Not written unless named (an org upgraded from an earlier version has no such fields).
    decline_reason: str | None = None
    signing_url: str | None = None

    @field_validator("decline_reason", "signing_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value


class Settings(BaseSettings):
    # hide_input_in_errors: a refused value (and, for a model check, every value given) may be a secret.
    model_config = SettingsConfigDict(env_prefix="CONNECTOR_", env_file=".env", extra="ignore",
                                      hide_input_in_errors=True)

    # --- state and rules
    database_url: str = "sqlite:///connector.db"
    # PostgreSQL connections each replica keeps, may open beyond that under a burst, and how long a thread
    # waits for a free one. A replica opens at most pool_size + max_overflow + 2 (README "Running several replicas").
    database_pool_size: int = Field(default=8, ge=1, le=200)
    database_max_overflow: int = Field(default=4, ge=0, le=200)
    database_pool_timeout_seconds: float = Field(default=30.0, gt=0)
    mappings_path: Path = REPO_ROOT / "mappings" / "rules.yaml"
    mappings_reload_seconds: float = 5.0
    # The Ed25519 key that seals signing receipts (PKCS#8 PEM); created, readable by its owner only, if absent.
    # Unset: receipt-signing-key.pem next to a SQLite database, else in the working directory. Replicas share
    # one chain of receipts: give them all the same key file.
    receipt_key_file: Path | None = None
    # The chain's receipts name the key that sealed them. A process whose key differs refuses to start (a replica
    # given another file would seal receipts others cannot verify with the published key); true: this key seals
    # the chain from now on (a deliberate rotation). Set it for one start, then remove it.
    receipt_key_rotate: bool = False

    # --- Salesforce
    salesforce_login_url: str = "https://login.salesforce.com"
    salesforce_auth_flow: Literal["client_credentials", "jwt", "password", "soap"] = "client_credentials"
    salesforce_client_id: str | None = None
    salesforce_client_secret: SecretStr | None = None
    salesforce_username: str | None = None
    salesforce_password: SecretStr | None = None
    salesforce_security_token: SecretStr | None = None
    salesforce_private_key_file: Path | None = None
    salesforce_api_version: str = "59.0"
    salesforce_ca_bundle: Path | None = None
    salesforce_timeout_seconds: float = 30.0
    salesforce_api_budget_share: float = Field(default=0.8, gt=0, le=1)
    salesforce_api_budget_slowdown: float = Field(default=4.0, ge=1)
    salesforce_api_usage_refresh_seconds: float = Field(default=300.0, gt=0)
    # Push triggers: Change Data Capture events over the Pub/Sub API (README "How it works"). Off, stage
    # changes are found by polling alone.
    salesforce_cdc_enabled: bool = False
    salesforce_pubsub_endpoint: str = "api.pubsub.salesforce.com:7443"
    salesforce_cdc_topic: str = "/data/OpportunityChangeEvent"
    salesforce_cdc_batch_size: int = Field(default=100, ge=1, le=100)  # events asked for at a time (API max 100)

    # --- Salesforce Outbound Messages (README "Push triggers: Outbound Messages"): the endpoint is served only
    # when a token is set. The org's Id (Setup > Company Information, 15 or 18 characters) is checked on every
    # message; action ids, when given (comma-separated), restrict it to those outbound message actions.
    salesforce_org_id: str | None = None
    salesforce_outbound_message_token: SecretStr | None = None
    salesforce_outbound_message_action_ids: str = ""
    # Notification Ids taken are remembered this long (Salesforce stops retrying a message after 24 hours).
    outbound_message_ids_retention_hours: float = Field(default=48.0, gt=0)

    # --- signing providers: each reads its own CONNECTOR_<NAME>_* settings (adapters/<name>/__init__.py).
    # Values given in code, as Settings(signrequest_api_token=...), are kept here by provider and override those.
    providers: dict[str, dict[str, Any]] = Field(default_factory=dict, repr=False, exclude=True)
    _env_file: Any = PrivateAttr(default=None)

    # --- webhook server
    webhook_host: str = "127.0.0.1"
    webhook_port: int = 8080
    public_base_url: str = "http://127.0.0.1:8080"
    webhook_max_body_bytes: int = 1_000_000
    webhook_replay_window_seconds: int = 900
    webhook_orphan_grace_seconds: int = 600
    # Slow and idle connections (connector/inbound/server_guard.py)
    webhook_max_connections: int = Field(default=256, ge=1)
    webhook_header_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_body_timeout_seconds: float = Field(default=30.0, gt=0)
    webhook_keep_alive_seconds: float = Field(default=5.0, gt=0)
    # Events wake a job at most once this often; one that comes sooner wakes it when the interval ends.
    webhook_wake_interval_seconds: float = Field(default=60.0, ge=0)
    # Events kept per job (or per request no job has), and in all about requests no job has; further ones
    # are acknowledged and not kept.
    webhook_max_events_per_request: int = Field(default=500, ge=1)
    webhook_max_unmatched_events: int = Field(default=10_000, ge=1)
    # Handled events are deleted after this many days (0: kept forever).
    events_retention_days: float = Field(default=30, ge=0)

    # --- scheduling
    poll_interval_seconds: float = 30.0
    # While change events flow, the poll is only a reconciliation sweep, this often; when they stop, the poll
    # takes over again every poll_interval_seconds.
    poll_sweep_interval_seconds: float = Field(default=600.0, gt=0)
    poll_overlap_seconds: int = 300
    poll_initial_lookback_minutes: int = 60
    work_interval_seconds: float = 1.0
    status_check_minutes: float = 30.0
    # A claim on a job. Renewed every third of it by a heartbeat thread while the process lives (a slow call
    # never loses it); a replica that dies or freezes has its jobs taken over once it runs out.
    job_lease_seconds: float = Field(default=6.0, gt=0)
    # On SIGTERM: how long steps under way may take to finish before the daemon exits anyway.
    shutdown_grace_seconds: float = Field(default=30.0, ge=0)
    max_attempts: int = 8
    retry_base_seconds: float = 5.0

    # --- provider API calls: seconds to wait for a reply before the call counts as failed
    provider_timeout_seconds: float = 30.0

    # --- provider downloads (signed PDFs, evidence): HTTPS only, except against local simulators
    provider_downloads_https_only: bool = True

    # --- documents
    max_document_bytes: int = 50 * 1024 * 1024
    max_document_pages: int = 2000
    max_document_parse_seconds: float = Field(default=20.0, gt=0)
    max_document_parse_memory_mb: int = Field(default=512, ge=64)

    log_level: str = "INFO"
    # text: one line per record for a terminal; json: one JSON object per line with the job's context
    log_format: Literal["text", "json"] = "text"
    # At INFO, polls and webhooks are summed up in one line this often instead of a line each (0: never).
    log_summary_seconds: float = Field(default=300.0, ge=0)

    # --- operating it: /metrics (Prometheus) and /readyz
    metrics_token: SecretStr | None = None  # when set, /metrics asks for "Authorization: Bearer <token>"
    readiness_cache_seconds: float = Field(default=15.0, ge=0)  # /readyz runs its checks at most this often

    # --- admin page (/admin/ on the webhook server): off (404) unless a token or a username and password are set
    admin_token: SecretStr | None = None
    admin_username: str | None = None
    admin_password: SecretStr | None = None

    writeback: WritebackFields = Field(default_factory=WritebackFields)

    # --- concurrency and provider rate limits (worker pool)
    # Jobs advanced at once; each busy worker holds one database connection and one HTTP connection.
    # A completion holds a worker for ~4 calls in a row (status, two downloads, writeback): at 150 ms a call,
    # 100 completions/s keep ~100 busy, so 64 made them queue for a worker (benchmarks: completion).
    workers: int = Field(default=128, ge=1, le=512)
    # Each provider's own rate limit is its CONNECTOR_<NAME>_MAX_REQUESTS_PER_SECOND (the account's limit).
    # At most this share of a provider's limit goes to safety-net status checks, so they never starve creates.
    status_check_share: float = Field(default=0.2, gt=0, le=1)
    # --- Salesforce writeback batching (connector/writeback/batcher.py): writebacks of jobs advancing at once
    # share Composite calls. A lone writeback goes at once; under load one waits at most the linger to be joined.
    salesforce_writeback_linger_ms: float = Field(default=400.0, ge=0)
    salesforce_writeback_batch_size: int = Field(default=12, ge=1, le=25)
    # A completion downloads the signed documents and the evidence side by side (one round trip saved). The
    # deterministic simulation turns it off: its scheduler runs one call at a time, in an order it chooses.
    downloads_side_by_side: bool = True
    # --- memory per document size: large documents pass through temporary files, not memory
    document_spool_bytes: int = Field(default=1024 * 1024, ge=0)  # larger downloads go to a temporary file
    salesforce_inline_file_bytes: int = Field(default=1024 * 1024, ge=0)  # inline in the Composite writeback
    signed_download_factor: float = Field(default=2.0, ge=1)  # a signed file or evidence may be this many times
    signed_download_extra_bytes: int = Field(default=20 * 1024 * 1024, ge=0)  # what was sent, plus this

    def __init__(self, **values: Any):
        super().__init__(**values)
        # Where this instance read its values from, so that each provider's settings read the same place.
        self._env_file = values.get("_env_file", self.model_config.get("env_file"))
        # A provider's variables in the env file reach the validator too, as raw text (a JSON list unparsed);
        # the provider's own settings read that file themselves, so only the values given in code override it.
        self.providers = _by_provider(type(self).model_fields, values)["providers"]

    @property
    def receipt_key_path(self) -> Path:
        if self.receipt_key_file is not None:
            return self.receipt_key_file
        if self.database_url.startswith("sqlite:///") and ":memory:" not in self.database_url:
            return Path(self.database_url.removeprefix("sqlite:///")).parent / "receipt-signing-key.pem"
        return Path("receipt-signing-key.pem")

    @property
    def env_file(self) -> Any:
        return self._env_file

    @field_validator("admin_token", "admin_username", "admin_password", mode="before")
    @classmethod
    def _empty_admin_value_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _admin_login_complete(self) -> Settings:
        if (self.admin_username is None) != (self.admin_password is None):
            raise ValueError("set both CONNECTOR_ADMIN_USERNAME and CONNECTOR_ADMIN_PASSWORD, or neither")
        for name in ("admin_token", "admin_password"):
            secret = getattr(self, name)
            if secret is not None and len(secret.get_secret_value()) < 12:
                raise ValueError(f"CONNECTOR_{name.upper()} must be at least 12 characters long")
        return self

    @model_validator(mode="before")
    @classmethod
    def _provider_values_by_provider(cls, data: Any) -> Any:
        """`signrequest_api_token=...` given in code goes to `providers["signrequest"]["api_token"]`: each
        provider's settings are its own model (a provider name has no underscore)."""
        return _by_provider(cls.model_fields, data) if isinstance(data, dict) else data

    @field_validator("metrics_token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("salesforce_org_id")
    @classmethod
    def _org_id_shape(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"00D[a-zA-Z0-9]{12}(?:[a-zA-Z0-9]{3})?", value):
            raise ValueError("an org Id is 15 or 18 letters and digits starting with 00D (Setup > Company "
                             "Information)")
        return value

    @field_validator("salesforce_outbound_message_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{24,200}", value.get_secret_value()):
            raise ValueError("the token must be 24 to 200 letters, digits, '-' or '_' (it is a URL path segment); "
                             "make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'")
        return value

    @model_validator(mode="after")
    def _outbound_messages_need_the_org(self) -> Settings:
        if self.salesforce_outbound_message_token is not None and not self.salesforce_org_id:
            raise ValueError("CONNECTOR_SALESFORCE_OUTBOUND_MESSAGE_TOKEN needs CONNECTOR_SALESFORCE_ORG_ID: every "
                             "Outbound Message's OrganizationId is checked against it")
        return self

    @property
    def outbound_message_action_ids(self) -> frozenset[str]:
        return frozenset(part.strip() for part in self.salesforce_outbound_message_action_ids.split(",")
                         if part.strip())

    @field_validator("receipt_key_file", mode="before")
    @classmethod
    def _empty_path_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("salesforce_login_url", "public_base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


def _by_provider(fields: Any, data: dict[str, Any]) -> dict[str, Any]:
    providers = {name: dict(values) for name, values in (data.get("providers") or {}).items()}
    kept = {}
    for key, value in data.items():
        name, _, field = key.partition("_")
        if key in fields or key.startswith("_") or not field or not name.isalnum():
            kept[key] = value
        else:
            providers.setdefault(name, {})[field] = value
    return {**kept, "providers": providers}
