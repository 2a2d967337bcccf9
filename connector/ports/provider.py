"""The signing-provider port: provider-neutral types, the interface, and the error taxonomy.

The engine imports this module and nothing else from `adapters/`. Each provider module
translates these types to and from its vendor's JSON; no vendor field crosses this line.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from connector.ports.blobs import Blob
from connector.ports.errors import ConnectorError, ErrorKind

__all__ = ["Blob"]  # documents cross both ports as blobs (connector.ports.blobs): in memory, or a file when large


class SigningState(StrEnum):
    """Where a signing request stands, in our words rather than a vendor's."""

    SENT = "sent"
    VIEWED = "viewed"
    PARTIALLY_SIGNED = "partially_signed"
    COMPLETED = "completed"
    DECLINED = "declined"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in _FINAL_STATES


_FINAL_STATES = {
    SigningState.COMPLETED,
    SigningState.DECLINED,
    SigningState.EXPIRED,
    SigningState.CANCELLED,
    SigningState.FAILED,
}


class SignerAuth(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class SignerDelivery(StrEnum):
    """How a signer reaches the signing page: the provider's email, or a link we hand out (embedded)."""

    EMAIL = "email"
    EMBEDDED = "embedded"


@dataclass(frozen=True)
class SignerSpec:
    email: str
    first_name: str
    last_name: str
    order: int
    mobile_phone: str | None = None
    auth: SignerAuth = SignerAuth.EMAIL
    delivery: SignerDelivery = SignerDelivery.EMAIL


def blob_field(owner: object, content: bytes | Blob | None, blob: Blob | None) -> None:
    """Set `owner.blob` in a frozen dataclass's __init__ that takes the bytes as `content` (or `blob`)."""
    if (content is None) == (blob is None):
        raise TypeError(f"{type(owner).__name__} takes its bytes as content= or blob=, once")
    chosen = blob if blob is not None else content
    assert chosen is not None
    object.__setattr__(owner, "blob", Blob.of(chosen))


@dataclass(frozen=True, init=False)
class TitledFile:
    """A titled file whose bytes are a `Blob` (a temporary file when large), given as `content=` (bytes or a
    Blob) or `blob=`. Code streams `blob` where it can; `content` reads it all into memory, `size` does not."""

    title: str
    filename: str
    blob: Blob

    def __init__(self, title: str, filename: str, content: bytes | Blob | None = None, *,
                 blob: Blob | None = None):
        object.__setattr__(self, "title", title)
        object.__setattr__(self, "filename", filename)
        blob_field(self, content, blob)

    @property
    def content(self) -> bytes:
        return self.blob.read_bytes()

    @property
    def size(self) -> int:
        return self.blob.size


@dataclass(frozen=True, init=False)
class DocumentSpec(TitledFile):
    """One PDF to sign. `title` is the Salesforce file title it came from; adapters stream `blob` where their
    API allows, and read `content` for those whose API takes nothing else."""

    @property
    def sha256(self) -> str:
        return self.blob.sha256


@dataclass(frozen=True)
class SigningRequestSpec:
    """Everything a provider needs to send one request.

    `external_id` identifies our job at the provider, so that a request created just before a
    crash can be found again instead of being sent twice.
    """

    external_id: str
    documents: tuple[DocumentSpec, ...]
    signers: tuple[SignerSpec, ...]
    subject: str
    message: str
    callback_url: str
    expires_in_days: int | None = None
    send_reminders: bool = True
    # (days until the first reminder and between reminders, how many); None: the provider's own schedule.
    # Only for providers with `reminder_schedule`; for the others the engine sends reminders itself.
    reminder_schedule: tuple[int, int] | None = None
    language: str = "en"  # ISO 639-1 code (optionally with a region, e.g. en-gb) for e-mails and signing pages


@dataclass(frozen=True)
class RequestRef:
    """How we find a request again at its provider.

    `request_id` is the provider's primary id for the request; `details` carries any other ids
    the adapter needs later (e.g. a second uuid for cancel). It is stored as JSON, so values
    are strings.
    """

    provider: str
    request_id: str
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SignerStatus:
    email: str
    signed: bool = False
    declined: bool = False
    viewed: bool = False
    decline_reason: str | None = None
    # When the provider says it happened, where its API tells (None where it does not).
    viewed_at: datetime | None = None
    signed_at: datetime | None = None
    declined_at: datetime | None = None


@dataclass(frozen=True)
class RequestStatus:
    state: SigningState
    signers: tuple[SignerStatus, ...] = ()
    decline_reason: str | None = None
    declined_by: str | None = None
    external_id: str | None = None
    provider_status: str = ""  # the vendor's own code, for logs and the status page only


@dataclass(frozen=True, init=False)
class SignedFile:
    """A downloaded file; `blob` as in `DocumentSpec`, `content` all of it in memory."""

    filename: str
    blob: Blob

    def __init__(self, filename: str, content: bytes | Blob | None = None, *, blob: Blob | None = None):
        object.__setattr__(self, "filename", filename)
        blob_field(self, content, blob)

    @property
    def content(self) -> bytes:
        return self.blob.read_bytes()


@dataclass(frozen=True)
class WebhookEvent:
    """An authenticated callback, reduced to what identifies the request it concerns.

    The engine never acts on `state_hint` alone: it confirms the state through `get_status`. A `stale` event
    is dated outside the adapter's replay window: authentic, but late (a provider's retry after an outage) or
    replayed, so it may only wake a status check, at most once per wake interval like any event.
    """

    provider: str
    event_id: str
    request_id: str
    kind: str
    external_id: str | None = None
    occurred_at: datetime | None = None
    state_hint: SigningState | None = None
    stale: bool = False


@dataclass(frozen=True)
class ProviderCapabilities:
    sms_authentication: bool = False
    multiple_documents: bool = False
    signing_order: bool = True
    # --- embedded delivery
    # The provider can leave a signer un-emailed and hand out that signer's signing URL (`signing_url`).
    embedded_signing: bool = False
    # ...for some signers of a request while it emails the others (False: all signers or none).
    mixed_delivery: bool = False
    # --- language
    # Language codes the provider can be asked for; None: any code; empty: the API has no language setting,
    # so only the default ("en") is possible.
    languages: frozenset[str] | None = frozenset()
    # The provider takes a reminder schedule (interval and count) with the request.
    reminder_schedule: bool = False


# --- errors, sorted by what the caller does next -------------------------------------------


class ProviderError(ConnectorError):
    """Base of every provider failure. `nothing_sent`: the call certainly had no effect at the provider (refused
    before it was processed, or never sent), so an operation that failed with it need not be looked for before
    it is tried again. `advice`: what an administrator can do, for the message written back."""

    nothing_sent = False
    advice = "see the logs"

    def __init__(self, provider: str, message: str, *, retry_after: float | None = None):
        super().__init__(message, retry_after=retry_after)
        self.provider = provider

    def __str__(self) -> str:
        return f"{self.provider}: {self.message}"

    def took_effect_perhaps(self) -> ProviderError:
        """This error, no longer claiming that nothing was sent: an operation of several calls raises it from a
        later call, after an earlier one had its effect."""
        self.nothing_sent = False
        return self


class ProviderAuthError(ProviderError):
    kind = ErrorKind.CONFIG
    advice = "check the provider's API credentials in the connector settings"


class ProviderQuotaError(ProviderError):
    kind = ErrorKind.CONFIG
    advice = "top up the provider account (no signing credits or quota left)"


class ProviderValidationError(ProviderError):
    advice = "correct the data named above on the opportunity or in the mapping"


class ProviderNotFound(ProviderError):
    advice = "the request no longer exists at the provider"


class ProviderRateLimited(ProviderError):
    """The provider asked us to slow down (429): the call was refused before it was processed."""

    kind = ErrorKind.BACKPRESSURE
    nothing_sent = True


class ProviderTransientError(ProviderError):
    kind = ErrorKind.TRANSIENT


class ProviderNotSent(ProviderTransientError):
    """The call never reached the provider: no connection could be made, or it would have left after its
    effect's deadline (connector.ports.send_deadline)."""

    nothing_sent = True


class ProviderSendTooLate(ProviderNotSent):
    """The call would have left after its effect's deadline (connector.ports.send_deadline), so it was not sent."""

    kind = ErrorKind.BACKPRESSURE


class WebhookRejected(Exception):
    """A callback we refuse. `status_code` is the 4xx to answer; `reason` is safe to log."""

    def __init__(self, status_code: int, reason: str):
        super().__init__(reason)
        self.status_code = status_code
        self.reason = reason


# --- the interface --------------------------------------------------------------------------


class SigningProvider(ABC):
    name: str
    display_name: str
    capabilities: ProviderCapabilities = ProviderCapabilities()

    @abstractmethod
    def create(self, spec: SigningRequestSpec) -> RequestRef:
        """Create and send the request. Not retried blindly: see `find_by_external_id`."""

    @abstractmethod
    def find_by_external_id(self, external_id: str) -> RequestRef | None:
        """Find a request we may have created before a crash or a lost response. No side effects:
        what is found may be about to be cancelled."""

    def resume(self, ref: RequestRef) -> None:
        """Finish sending a request that an interruption left half-created (a draft never sent, say).
        Called only on a request `find_by_external_id` returned; a no-op where creation is one call."""
        return None

    @abstractmethod
    def get_status(self, ref: RequestRef) -> RequestStatus: ...

    @abstractmethod
    def download_signed(self, ref: RequestRef, max_bytes: int | None = None) -> list[SignedFile]:
        """The signed document(s), in the order the documents were sent. `max_bytes` caps each download
        (the engine sets it from the size of what was sent); None: the adapter's own cap."""

    @abstractmethod
    def download_evidence(self, ref: RequestRef, max_bytes: int | None = None) -> SignedFile:
        """The evidence report / audit trail / signing log; `max_bytes` as for `download_signed`."""

    @abstractmethod
    def cancel(self, ref: RequestRef) -> None: ...

    @abstractmethod
    def send_reminder(self, ref: RequestRef) -> None: ...

    def signing_url(self, ref: RequestRef, signer_email: str) -> str:
        """The URL that opens `signer_email`'s signing page (a signer sent with delivery embedded).

        A read: asking twice never sends anything. Only called when `capabilities.embedded_signing`."""
        raise ProviderValidationError(self.name, f"{self.display_name} cannot hand out signing URLs")

    def callback_path(self) -> str:
        """Where this provider's callbacks arrive on the webhook server."""
        return f"/webhooks/{self.name}"

    def accepts_path_token(self, token: str | None) -> bool:
        """A provider whose callbacks carry no verifiable signature accepts them only on a secret
        path (`/webhooks/<name>/<token>`); the others take the plain path."""
        return token is None

    @abstractmethod
    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """Authenticate and parse one callback; raise `WebhookRejected` for anything else.

        `headers` keys are lower-case.
        """
