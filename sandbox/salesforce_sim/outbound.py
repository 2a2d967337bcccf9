"""Outbound Messages from a record-triggered Flow, sent the way Salesforce sends them.

Setup, as an admin does it: `configure(endpoint_url, fields)` stands for a Flow on Opportunity that runs
when "A record is updated", with the condition StageName Is Changed, whose action is an Outbound Message
sending `fields` to `endpoint_url`. Every such save queues one notification, with an Id of its own that
stays the same on every retry. A sender thread posts the due notifications, up to 100 in a message (the
WSDL's `notifications` envelope), and drops a message from the queue only when the answer is a
`notificationsResponse` whose Ack is true; any other answer, or none, is retried later, each wait twice
the last (Salesforce: up to two hours apart), until the message is `max_age_seconds` old (Salesforce: 24
hours). The sObject's field values are read when the message is sent, as Salesforce does: a record changed
after the notification was queued goes out with its latest data.

Faults come from the simulator's webhook rules (`faults.add_webhooks("OutboundMessage", ...)`, or
`salesforce webhooks OutboundMessage: ...` in a fault plan), drawn once per attempt: `duplicate` sends the
message twice, `reorder` holds it back until the next message has gone (or `reorder_wait` has passed),
`delay` sends it `delay_seconds` late, `drop` loses the attempt (it is retried, as one that got no answer).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
import requests

from sandbox.faults import Faults
from sandbox.salesforce_sim.ids import ORG_ID, IdFactory
from sandbox.salesforce_sim.values import format_datetime

OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
EVENT_TYPE = "OutboundMessage"
MAX_PER_MESSAGE = 100


@dataclass(frozen=True)
class OutboundAction:
    action_id: str
    endpoint_url: str
    fields: tuple[str, ...]
    instance_url: str
    name: str = "Signing stage change"


@dataclass
class _Pending:
    notification_id: str
    record_id: str
    queued_at: float
    attempts: int = 0
    due_at: float = 0.0
    held_until: float | None = None  # reorder: waits for another message, at most until then


@dataclass
class OutboundMessenger:
    read_record: Callable[[str], dict | None]  # the Opportunity as stored now (None if gone)
    faults: Faults
    ids: IdFactory
    organization_id: str = ORG_ID
    api_version: str = "59.0"
    retry_base_seconds: float = 1.0
    retry_cap_seconds: float = 7200.0
    max_age_seconds: float = 86400.0
    reorder_wait: float = 5.0
    timeout: float = 10.0
    action: OutboundAction | None = None
    active: bool = False
    deliveries: list[dict] = field(default_factory=list)  # one per POST: notification ids, status, acked, body
    expired: list[str] = field(default_factory=list)  # notification ids given up on
    _pending: list[_Pending] = field(default_factory=list)
    _in_flight: int = 0
    _wake: threading.Condition = field(default_factory=threading.Condition)
    _thread: threading.Thread | None = None
    _stop: bool = False

    # --- setup, as an admin does it ------------------------------------------------------------

    def configure(self, endpoint_url: str, fields: tuple[str, ...] = ("Id", "StageName"), *,
                  instance_url: str = "https://sandbox.my.salesforce.com", retry_base_seconds: float | None = None,
                  max_age_seconds: float | None = None, name: str = "Signing stage change") -> str:
        """Activate the Flow and its outbound message action; returns the action's Id (the ActionId sent)."""
        with self._wake:
            if retry_base_seconds is not None:
                self.retry_base_seconds = retry_base_seconds
            if max_age_seconds is not None:
                self.max_age_seconds = max_age_seconds
            action_id = self.action.action_id if self.action else self.ids.new("04k")
            chosen = ("Id", *(name for name in fields if name != "Id"))
            self.action = OutboundAction(action_id, endpoint_url, chosen, instance_url.rstrip("/"), name)
            self.active = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="salesforce-outbound-messages", daemon=True)
                self._thread.start()
            return action_id

    def deactivate(self) -> None:
        """Turn the Flow off: no new notifications (those queued are still sent)."""
        with self._wake:
            self.active = False

    # --- the platform's side ---------------------------------------------------------------------

    def record_saved(self, name: str, before: dict | None, record: dict) -> None:
        """Called by the org after every save: the Flow's entry condition."""
        if name != "Opportunity" or before is None or before.get("StageName") == record.get("StageName"):
            return
        with self._wake:
            if not self.active:
                return
            now = time.monotonic()
            self._pending.append(_Pending(self.ids.new("04l"), record["Id"], queued_at=now, due_at=now))
            self._wake.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Until every queued notification is acknowledged or given up on."""
        deadline = time.monotonic() + timeout
        with self._wake:
            while self._pending or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._wake.wait(min(left, 0.05))
            return True

    @property
    def queued(self) -> int:
        with self._wake:
            return len(self._pending)

    def close(self) -> None:
        with self._wake:
            self._stop = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=2)

    # --- sending -----------------------------------------------------------------------------------

    def _run(self) -> None:
        with requests.Session() as session:
            while True:
                with self._wake:
                    batch, action = self._next_batch()
                    while not batch and not self._stop:
                        self._wake.wait(self._sleep_for())
                        batch, action = self._next_batch()
                    if self._stop or action is None:
                        return
                    self._in_flight += 1
                try:
                    self._attempt(session, batch, action)
                finally:
                    with self._wake:
                        self._in_flight -= 1
                        self._wake.notify_all()

    def _next_batch(self) -> tuple[list[_Pending], OutboundAction | None]:
        now = time.monotonic()
        for pending in [p for p in self._pending if now - p.queued_at > self.max_age_seconds]:
            self._pending.remove(pending)
            self.expired.append(pending.notification_id)
        due = [p for p in self._pending if p.due_at <= now and (p.held_until is None or p.held_until <= now)]
        return (due[:MAX_PER_MESSAGE], self.action) if due and self.action else ([], None)

    def _sleep_for(self) -> float:
        if not self._pending:
            return 1.0
        now = time.monotonic()
        soonest = min(max(p.due_at, p.held_until or 0.0) for p in self._pending)
        return min(max(soonest - now, 0.005), 1.0)

    def _attempt(self, session: requests.Session, batch: list[_Pending], action: OutboundAction) -> None:
        hit = self.faults.webhook_fault(EVENT_TYPE)
        kind = hit[1] if hit else None
        if kind == "reorder" and all(p.held_until is None for p in batch):
            with self._wake:
                for pending in batch:
                    pending.held_until = time.monotonic() + self.reorder_wait
            return
        if kind == "delay" and hit:
            with self._wake:
                for pending in batch:
                    pending.due_at = time.monotonic() + hit[0].delay_seconds
            return
        body = self._envelope(batch, action)
        acked = False if kind == "drop" else self._post(session, action.endpoint_url, body, batch)
        if kind == "duplicate":
            acked = self._post(session, action.endpoint_url, body, batch) or acked
        with self._wake:
            for pending in batch:
                pending.attempts += 1
                if acked:
                    self._pending.remove(pending)
                else:
                    wait = min(self.retry_base_seconds * 2 ** (pending.attempts - 1), self.retry_cap_seconds)
                    pending.due_at = time.monotonic() + wait
            for other in self._pending:  # a message held back goes once another one has gone
                if other.held_until is not None and other not in batch:
                    other.held_until = time.monotonic()

    def _post(self, session: requests.Session, url: str, body: bytes, batch: list[_Pending]) -> bool:
        status, acked = None, False
        try:
            reply = session.post(url, data=body, timeout=self.timeout,
                                 headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})
            status, acked = reply.status_code, reply.status_code == 200 and _is_ack(reply.content)
        except requests.RequestException:
            pass
        self.deliveries.append({"notification_ids": [p.notification_id for p in batch],
                                "record_ids": [p.record_id for p in batch], "status_code": status, "acked": acked,
                                "attempts": [p.attempts + 1 for p in batch], "body": body})
        return acked

    def _envelope(self, batch: list[_Pending], action: OutboundAction) -> bytes:
        org15 = self.organization_id[:15]
        notifications = "".join(
            f"<Notification><Id>{p.notification_id}</Id>"
            f'<sObject xsi:type="sf:Opportunity" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
            f"{self._fields(p.record_id, action.fields)}</sObject></Notification>" for p in batch)
        return ('<?xml version="1.0" encoding="UTF-8"?>'
                f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
                'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
                f'<notifications xmlns="{OUTBOUND_NS}">'
                f"<OrganizationId>{self.organization_id}</OrganizationId><ActionId>{action.action_id}</ActionId>"
                '<SessionId xsi:nil="true"/>'
                f"<EnterpriseUrl>{action.instance_url}/services/Soap/c/{self.api_version}/{org15}</EnterpriseUrl>"
                f"<PartnerUrl>{action.instance_url}/services/Soap/u/{self.api_version}/{org15}</PartnerUrl>"
                f"{notifications}</notifications></soapenv:Body></soapenv:Envelope>").encode()

    def _fields(self, record_id: str, names: tuple[str, ...]) -> str:
        record = self.read_record(record_id) or {"Id": record_id}
        return "".join(_element(name, record.get(name)) for name in names)


def _element(name: str, value: object) -> str:
    if value is None:
        return f'<sf:{name} xsi:nil="true"/>'
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, datetime):
        text = format_datetime(value).replace("+0000", "Z")
    else:
        text = str(value)
    return f"<sf:{name}>{escape(text)}</sf:{name}>"


def _is_ack(content: bytes) -> bool:
    try:
        root = SafeET.fromstring(content, forbid_dtd=True)
    except Exception:  # noqa: BLE001 - any unreadable answer is simply not an Ack
        return False
    ack = root.find(f"{{{SOAP_NS}}}Body/{{{OUTBOUND_NS}}}notificationsResponse/{{{OUTBOUND_NS}}}Ack")
    return ack is not None and (ack.text or "").strip() == "true"
