"""What can go wrong, and where: the fault kinds, the injection points they apply to, and the crash itself.

Invariant: a fault is only ever injected at a point whose category lists its kind (a slow reply has no meaning
for a store commit, a duplicated delivery none for a port call), so every (point, kind) pair the exhaustive mode
enumerates is a distinct, meaningful failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SimCrash(BaseException):  # noqa: N818 - it is not an error of the code under test: the process dies
    """The daemon process dies here. A BaseException, so that the engine's `except Exception` cannot swallow it:
    it unwinds every frame of the daemon up to the harness, which then starts a new daemon on the same database."""


class FaultKind(StrEnum):
    CRASH_BEFORE = "crash_before"            # the process dies before the call / commit
    CRASH_AFTER = "crash_after"              # the effect happens, the process dies before hearing of it
    TIMEOUT_DONE = "timeout_done"            # the effect happens, the caller times out (reply lost)
    TIMEOUT_NOT_DONE = "timeout_not_done"    # nothing happens, the caller times out
    SLOW_REPLY = "slow_reply"                # the caller times out; the effect lands later (see harness.py)
    SERVER_ERROR = "server_error"            # 5xx, nothing done
    RATE_LIMITED = "rate_limited"            # 429 with Retry-After (Salesforce: REQUEST_LIMIT_EXCEEDED), nothing done
    SESSION_EXPIRED = "session_expired"      # Salesforce 401: the client logs in again and repeats the call once
    SESSION_REFUSED = "session_refused"      # ... and the fresh session is refused too: INVALID_SESSION_ID raised
    LEASE_EXPIRY_MID_CALL = "lease_expiry_mid_call"  # the process stalls mid-call past the lease; another takes over
    LEASE_EXPIRY_BEFORE_SEND = "lease_expiry_before_send"  # ... stalls just before the request leaves
    QUEUED_PAST_LEASE = "queued_past_lease"  # the request waits longer than the lease to leave, the process alive
    DB_ERROR = "db_error"                    # the commit fails (OperationalError), nothing written
    CALLBACK_DUPLICATED = "callback_duplicated"
    CALLBACK_DROPPED = "callback_dropped"
    CALLBACK_DELAYED = "callback_delayed"
    CALLBACK_REORDERED = "callback_reordered"


K = FaultKind
# Faults that take simulated time inside the call (the world goes on meanwhile): only at the top level, not inside
# the activity that runs while another call is in flight.
TIMED = frozenset({K.TIMEOUT_DONE, K.TIMEOUT_NOT_DONE, K.SLOW_REPLY, K.LEASE_EXPIRY_MID_CALL,
                   K.LEASE_EXPIRY_BEFORE_SEND, K.QUEUED_PAST_LEASE})
LEASE_EXPIRIES = frozenset({K.LEASE_EXPIRY_MID_CALL, K.LEASE_EXPIRY_BEFORE_SEND})
CRASHES = frozenset({K.CRASH_BEFORE, K.CRASH_AFTER})

_PROVIDER_WRITE = (K.CRASH_BEFORE, K.CRASH_AFTER, K.TIMEOUT_DONE, K.TIMEOUT_NOT_DONE, K.SLOW_REPLY, K.SERVER_ERROR,
                   K.RATE_LIMITED, K.LEASE_EXPIRY_MID_CALL, K.LEASE_EXPIRY_BEFORE_SEND, K.QUEUED_PAST_LEASE)
_PROVIDER_READ = (K.CRASH_BEFORE, K.CRASH_AFTER, K.TIMEOUT_NOT_DONE, K.SERVER_ERROR, K.RATE_LIMITED,
                  K.LEASE_EXPIRY_MID_CALL)
_CRM_WRITE = (*_PROVIDER_WRITE, K.SESSION_EXPIRED, K.SESSION_REFUSED)
_CRM_READ = (*_PROVIDER_READ, K.SESSION_EXPIRED, K.SESSION_REFUSED)
_STORE = (K.CRASH_BEFORE, K.CRASH_AFTER, K.DB_ERROR)
_CALLBACK = (K.CALLBACK_DUPLICATED, K.CALLBACK_DROPPED, K.CALLBACK_DELAYED, K.CALLBACK_REORDERED)

PROVIDER_WRITES = ("create", "resume", "cancel", "send_reminder")
PROVIDER_READS = ("find_by_external_id", "get_status", "download_signed", "download_evidence", "signing_url")
CRM_WRITES = ("apply", "apply_many")
CRM_READS = ("poll_opportunities", "get_opportunity", "download_file", "missing_parts", "file_versions")
STORE_COMMITS = ("claim_due_jobs", "save_job", "renew_lease", "renew_leases", "create_job", "create_jobs",
                 "set_value", "record_events", "settle_events", "wake_job", "request_cancel",
                 "receipts.issue", "receipts.keep_pdf", "receipts.attached")
_NO_LEASE_HELD = ("crm.poll_opportunities", "crm.get_opportunity")  # called by the poller / CLI, not by a job step

KINDS_AT: dict[str, tuple[FaultKind, ...]] = {
    **{f"provider.{name}": _PROVIDER_WRITE for name in PROVIDER_WRITES},
    **{f"provider.{name}": _PROVIDER_READ for name in PROVIDER_READS},
    **{f"crm.{name}": _CRM_WRITE for name in CRM_WRITES},
    **{f"crm.{name}": _CRM_READ for name in CRM_READS},
    **{f"store.{name}": _STORE for name in STORE_COMMITS},
    "callback": _CALLBACK,
}
for _point in _NO_LEASE_HELD:
    KINDS_AT[_point] = tuple(k for k in KINDS_AT[_point] if k not in LEASE_EXPIRIES | {K.QUEUED_PAST_LEASE})

ALL_KINDS = frozenset(FaultKind)


def is_mutating(point: str) -> bool:
    """Whether the call changes something at the far end (so that 'done or not done' matters)."""
    return point.removeprefix("provider.") in PROVIDER_WRITES or point.removeprefix("crm.") in CRM_WRITES


@dataclass(frozen=True)
class KnownBug:
    """A window where the engine as it stands breaks an invariant.

    `shown_by`: in the named `scenario`, the first (kind, point) injected at each point of that name in turn, and
    each further one at the next point of its name after that: some run breaks an invariant (that is what
    tests/simulation/test_known_engine_bugs.py checks). While the entry is listed, the CI exploration leaves out
    the `leave_out` pairs, and the scenario feature `avoid` (see scenario.py) when the scenario is the cause."""

    diagnosis: str
    scenario: str
    shown_by: tuple[tuple[FaultKind, str], ...]
    leave_out: frozenset[tuple[FaultKind, str]] = frozenset()
    avoid: str | None = None


def _pair(kind: FaultKind, point: str) -> tuple[tuple[FaultKind, str], ...]:
    return ((kind, point),)


# THE LIST TO EMPTY: delete an entry once the engine is fixed; its faults (or scenario feature) then join the CI
# exploration. While an entry is here, test_known_engine_bugs.py expects its window to stay open (strict xfail):
# its test starts failing as soon as the window is closed, as the reminder to delete the entry.
KNOWN_ENGINE_BUGS: dict[str, KnownBug] = {}  # both windows it listed are closed (engine.py, issue 11)


def known_fault_pairs() -> frozenset[tuple[FaultKind, str]]:
    return frozenset(pair for bug in KNOWN_ENGINE_BUGS.values() for pair in bug.leave_out)


def known_scenario_features() -> frozenset[str]:
    return frozenset(bug.avoid for bug in KNOWN_ENGINE_BUGS.values() if bug.avoid)
