"""The HTTP endpoint for Salesforce Outbound Messages: POST /salesforce/outbound-messages/<token>.

In order: the secret path token (404 otherwise, as for an unknown path), the body size limit (413), the
envelope (400 with a SOAP Client fault), the OrganizationId and, when configured, the ActionId (403 with a
fault), then the trigger source takes the notifications in a worker thread and the answer is the Ack, sent
only once the jobs and the notification Ids are committed. When Salesforce or the database fails meanwhile,
the answer is a 503 with a Server fault and Salesforce delivers the message again later.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from connector.inbound import outbound_envelope as envelope
from connector.inbound.webhooks import BodyTooLarge, read_capped
from connector.ports.crm import CRMError
from connector.ports.observer import NO_OBSERVER, Observer
from connector.triggers.outbound_messages import IntakeReport, Notified, OutboundMessageSource

log = logging.getLogger(__name__)
PATH = "/salesforce/outbound-messages"
SENDER = "salesforce"  # the provider label of its answers in the webhook metrics


@dataclass(frozen=True)
class OutboundMessageConfig:
    token: str  # the secret last segment of the endpoint URL
    organization_id: str
    action_ids: frozenset[str] = frozenset()  # when not empty, only these outbound message actions
    max_body_bytes: int = 1_000_000


def _soap(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type=envelope.CONTENT_TYPE)


def _refused(status: int, reason: str) -> Response:
    log.warning("outbound message refused (%d): %s", status, reason)
    return _soap(envelope.fault(reason), status)


def outbound_message_route(config: OutboundMessageConfig, source: OutboundMessageSource,
                           on_created: Callable[[], None] = lambda: None, observer: Observer = NO_OBSERVER) -> Route:
    """`observer` hears each answer as a webhook from "salesforce": accepted, or refused with its reason."""
    action_ids = frozenset(action_id[:15] for action_id in config.action_ids)

    def refused(reason: str, answer: Response) -> Response:
        observer.webhook_refused(SENDER, reason)
        return answer

    async def receive(request: Request) -> Response:
        if not hmac.compare_digest(request.path_params["token"].encode(), config.token.encode()):
            return refused("unknown_path", PlainTextResponse("not found", status_code=404))
        try:
            body = await read_capped(request, config.max_body_bytes)
        except BodyTooLarge:
            return refused("too_large", _refused(413, f"the message is larger than {config.max_body_bytes} bytes"))
        except ClientDisconnect:
            log.debug("outbound message: the connection closed before the body was read")
            return refused("incomplete", PlainTextResponse("incomplete body", status_code=400))
        try:
            message = envelope.parse(body)
        except envelope.EnvelopeRejected as exc:
            return refused("invalid", _refused(400, exc.reason))
        except Exception as exc:  # noqa: BLE001 - a last resort: whatever the body, the sender caused it
            return refused("malformed", _refused(400, f"the message could not be read ({type(exc).__name__})"))
        if not envelope.same_org(message.organization_id, config.organization_id):
            return refused("unauthenticated", _refused(403, "OrganizationId is not the org this connector is "
                                                       "configured for (CONNECTOR_SALESFORCE_ORG_ID)"))
        if action_ids and message.action_id[:15] not in action_ids:
            return refused("unauthenticated",
                           _refused(403, "ActionId is not one of CONNECTOR_SALESFORCE_OUTBOUND_MESSAGE_ACTION_IDS"))
        notified = [Notified(n.id, n.opportunity_id) for n in message.notifications]
        for notification in message.notifications:
            log.debug("outbound message: notification %s, opportunity %s, stage %r", notification.id,
                      notification.opportunity_id, notification.stage)
        try:
            report: IntakeReport = await run_in_threadpool(source.take, notified)
        except CRMError as exc:
            log.error("outbound message not taken: reading the opportunities failed: %s; Salesforce will deliver "
                      "it again", exc.message)
            return refused("not_recorded", _soap(envelope.fault(
                "the connector could not read the opportunities now; retry later", client=False), 503))
        except Exception:  # noqa: BLE001 - the store or the rules failed: not the sender's fault, and it retries
            log.exception("outbound message not taken; Salesforce will deliver it again")
            return refused("not_recorded", _soap(envelope.fault(
                "the connector could not take the message now; retry later", client=False), 503))
        if report.created:
            on_created()
        observer.webhook_accepted(SENDER)
        return _soap(envelope.ack())

    return Route(f"{PATH}/{{token}}", receive, methods=["POST"])
