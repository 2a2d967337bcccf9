"""The text form of a fault plan, for `run_connector.py sandbox --faults SPEC` and the chaos test.

    SPEC     clauses separated by ";"
    seed=S   seeds every rule (default 0): the same SPEC and seed inject the same faults
    SIM [METHOD] [PATH]: KEY=VALUE ...     faults on the simulator's HTTP calls
        PATH is a glob on the request path (default "*"), METHOD one verb (default any)
        5xx=RATE 429=RATE timeout=RATE reset=RATE   shares of matching calls (0..1, at most 1 in all)
        status=503 retry_after=1 hold=35 times=N    5xx code, Retry-After seconds, how long a timeout holds
                                                    the reply, most faults the rule injects
        salesforce only: session_expiry_every=N (every N-th API call: 401 INVALID_SESSION_ID, sessions
        expired) and limit_exceeded=RATE (403 REQUEST_LIMIT_EXCEEDED)
    SIM webhooks [EVENT]: KEY=VALUE ...    faults on the simulator's callbacks; EVENT is a glob on the
        event type (default "*")
        drop=RATE duplicate=RATE delay=RATE reorder=RATE   shares of callbacks (0..1, at most 1 in all)
        delay_seconds=10 times=N
    salesforce pubsub: KEY=VALUE ...       faults on the change events (Change Data Capture, Pub/Sub API)
        drop=RATE (after an event, every open stream is dropped) gap=RATE overflow=RATE duplicate=RATE
        (shares of events sent as a gap event, an overflow event, twice) retention_seconds=N (events kept
        this long; a stored replay id older than that is refused)

    SIM is salesforce, signrequest, onespan or legalsign. Example:
    seed=7; signrequest POST /api/v1/signrequest-quick-create/: 5xx=0.05 429=0.05 timeout=0.02 reset=0.02;
    salesforce: session_expiry_every=100 limit_exceeded=0.01; signrequest webhooks: drop=0.1 duplicate=0.1
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

SIMULATORS = ("salesforce", "signrequest", "onespan", "legalsign")
_HTTP_RATES = {"5xx": "server_error", "429": "throttle", "timeout": "timeout", "reset": "reset"}
_HTTP_OPTIONS = {"status": int, "retry_after": float, "hold": float, "times": int}
_SALESFORCE = {"session_expiry_every": int, "limit_exceeded": float}
_WEBHOOK_RATES = ("drop", "duplicate", "delay", "reorder")
_WEBHOOK_OPTIONS = {"delay_seconds": float, "times": int}
_PUBSUB = {"drop": float, "gap": float, "overflow": float, "duplicate": float, "retention_seconds": float}
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


class FaultSpecError(ValueError):
    pass


@dataclass
class Clause:
    simulator: str
    webhooks: bool
    target: str  # "METHOD PATH" for HTTP faults, an event glob for callbacks
    settings: dict[str, float | int] = field(default_factory=dict)


@dataclass
class FaultPlan:
    seed: str = "0"
    clauses: list[Clause] = field(default_factory=list)


def parse(spec: str) -> FaultPlan:
    plan = FaultPlan()
    for number, raw in enumerate(spec.split(";"), start=1):
        text = raw.strip()
        if not text:
            continue
        if text.startswith("seed="):
            plan.seed = text.removeprefix("seed=").strip()
            continue
        head, colon, body = text.partition(":")
        if not colon:
            raise FaultSpecError(f"fault clause {number} ({text!r}): expected 'SIMULATOR [METHOD] [PATH]: "
                                 "KEY=VALUE ...' or 'seed=N'")
        plan.clauses.append(_clause(number, text, head.split(), body.split()))
    return plan


def _clause(number: int, text: str, head: list[str], pairs: list[str]) -> Clause:
    where = f"fault clause {number} ({text!r})"
    if not head or head[0] not in SIMULATORS:
        raise FaultSpecError(f"{where}: the simulator must be one of {', '.join(SIMULATORS)}")
    simulator, rest = head[0], head[1:]
    webhooks = rest[:1] == ["webhooks"]
    if rest[:1] == ["pubsub"]:
        if simulator != "salesforce" or len(rest) > 1:
            raise FaultSpecError(f"{where}: 'pubsub' faults are 'salesforce pubsub: KEY=VALUE ...'")
        target, allowed = "pubsub", dict(_PUBSUB)
    elif webhooks:
        if len(rest) > 2:
            raise FaultSpecError(f"{where}: 'webhooks' takes at most one event pattern")
        target = rest[1] if len(rest) == 2 else "*"
        allowed = {**dict.fromkeys(_WEBHOOK_RATES, float), **_WEBHOOK_OPTIONS}
    else:
        method = rest.pop(0).upper() if rest and rest[0].upper() in _METHODS else "*"
        if len(rest) > 1:
            raise FaultSpecError(f"{where}: expected one path pattern after the method, got {' '.join(rest)!r}")
        target = f"{method} {rest[0] if rest else '*'}"
        allowed = {**dict.fromkeys(_HTTP_RATES, float), **_HTTP_OPTIONS,
                   **(_SALESFORCE if simulator == "salesforce" else {})}
    settings: dict[str, float | int] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or key not in allowed:
            raise FaultSpecError(f"{where}: unknown setting {pair!r}; allowed: {', '.join(allowed)}")
        try:
            settings[key] = allowed[key](value)
        except ValueError:
            raise FaultSpecError(f"{where}: {key} needs a number, got {value!r}") from None
        if key in (*_HTTP_RATES, *_WEBHOOK_RATES, "limit_exceeded", "gap", "overflow") and not 0 <= settings[key] <= 1:
            raise FaultSpecError(f"{where}: {key} is a share of calls between 0 and 1, got {value}")
    if not settings:
        raise FaultSpecError(f"{where}: no settings given")
    return Clause(simulator, webhooks, target, settings)


def apply(spec: str | FaultPlan, simulators: Mapping[str, object]) -> FaultPlan:
    """Install the plan on the simulators (objects with a `faults` attribute), keyed by name."""
    plan = parse(spec) if isinstance(spec, str) else spec
    for simulator in simulators.values():
        simulator.faults.reseed(plan.seed)
    for clause in plan.clauses:
        if clause.simulator not in simulators:
            raise FaultSpecError(f"faults for {clause.simulator}, which is not running")
        faults = simulators[clause.simulator].faults
        settings = dict(clause.settings)
        try:
            if clause.target == "pubsub":
                simulators[clause.simulator].bus.set_faults(seed=plan.seed, **settings)
                continue
            if clause.webhooks:
                faults.add_webhooks(clause.target, **settings)
                continue
            if "session_expiry_every" in settings:
                faults.expire_sessions_every(int(settings.pop("session_expiry_every")))
            if "limit_exceeded" in settings:
                faults.exceed_limit(float(settings.pop("limit_exceeded")))
            rates = {_HTTP_RATES[k]: v for k, v in settings.items() if k in _HTTP_RATES}
            if rates:
                options = {("hold_seconds" if k == "hold" else k): v for k, v in settings.items()
                           if k in _HTTP_OPTIONS}
                faults.add_http(clause.target, **rates, **options)
        except ValueError as problem:
            raise FaultSpecError(f"faults for {clause.simulator} {clause.target}: {problem}") from None
    return plan
