"""The change feed port over Salesforce's Pub/Sub API (gRPC): one Subscribe stream with flow control.

Every call carries the session as the API requires, in the `accesstoken`, `instanceurl` and `tenantid`
metadata headers. The stream asks for `batch_size` events at a time and asks again only once the consumer
has taken what was delivered, so a slow consumer holds Salesforce back instead of queueing events in memory.
Each schema is fetched once (GetSchema) and kept. A stored replay id that Salesforce no longer retains comes
back as `ReplayUnavailable`.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from adapters.salesforce.auth import SalesforceSession
from adapters.salesforce.pubsub import pubsub_api_pb2 as pb
from adapters.salesforce.pubsub.change_events import EventDecodeError, EventSchema
from connector.ports.change_feed import (
    ChangeBatch,
    ChangeFeed,
    ChangeFeedError,
    ChangeType,
    RecordChange,
    ReplayUnavailable,
)
from connector.ports.errors import ErrorKind

log = logging.getLogger(__name__)

SERVICE = "/eventbus.v1.PubSub/"
# Salesforce names the cause of a refused call in this trailing metadata key.
ERROR_CODE_KEY = "error-code"
_CONFIG_CODES = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND)
_END = object()


def overflow(entity: str) -> RecordChange:
    """What an event that cannot be decoded stands for: something changed, nobody can say what."""
    return RecordChange(entity=entity, change_type=ChangeType.GAP_OVERFLOW, record_ids=())


class PubSubChangeFeed(ChangeFeed):
    def __init__(self, *, target: str, login: Callable[[], SalesforceSession], topic: str, batch_size: int,
                 credentials: grpc.ChannelCredentials | None = None, timeout: float = 30.0):
        self.target = target
        self.topic = topic
        self.batch_size = batch_size
        self.timeout = timeout
        self._login = login
        self._credentials = credentials or grpc.ssl_channel_credentials()
        self._schemas: dict[str, EventSchema] = {}
        self._call: Any = None
        self._closed = threading.Event()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PubSubChangeFeed(target={self.target!r}, topic={self.topic!r})"

    # --- the port ------------------------------------------------------------------------------

    def read(self, after: bytes | None) -> Iterator[ChangeBatch]:
        self._closed.clear()
        metadata = self._metadata()
        channel = grpc.secure_channel(self.target, self._credentials)
        outbox: queue.Queue = queue.Queue()
        first = pb.FetchRequest(topic_name=self.topic, num_requested=self.batch_size,
                                replay_preset=pb.CUSTOM if after else pb.LATEST, replay_id=after or b"")
        outbox.put(first)
        try:
            try:
                grpc.channel_ready_future(channel).result(timeout=self.timeout)
            except grpc.FutureTimeoutError:
                raise ChangeFeedError(f"could not connect to the Pub/Sub API at {self.target} within "
                                      f"{self.timeout:.0f}s") from None
            subscribe = channel.stream_stream(SERVICE + "Subscribe",
                                              request_serializer=pb.FetchRequest.SerializeToString,
                                              response_deserializer=pb.FetchResponse.FromString)
            with self._lock:
                if self._closed.is_set():
                    return
                self._call = subscribe(_drain(outbox), metadata=metadata)
            yield ChangeBatch(changes=(), replay_id=b"")  # connected and asked: see ChangeFeed.read
            outstanding = self.batch_size
            for response in self._call:
                changes = tuple(self._decode(event, channel, metadata) for event in response.events)
                outstanding -= len(response.events)
                position = response.events[-1].replay_id if response.events else response.latest_replay_id
                if changes or position:
                    yield ChangeBatch(changes=changes, replay_id=bytes(position))
                if outstanding <= 0 or response.pending_num_requested == 0 and response.events:
                    outbox.put(pb.FetchRequest(num_requested=self.batch_size))
                    outstanding = self.batch_size
        except grpc.RpcError as exc:
            if self._closed.is_set():
                return
            raise _feed_error(exc, self.topic, after) from None
        finally:
            outbox.put(_END)
            with self._lock:
                self._call = None
            channel.close()
        if not self._closed.is_set():
            raise ChangeFeedError(f"the Pub/Sub API ended the subscription to {self.topic}")

    def close(self) -> None:
        with self._lock:
            self._closed.set()
            if self._call is not None:
                self._call.cancel()

    def check(self) -> str:
        metadata = self._metadata()
        with grpc.secure_channel(self.target, self._credentials) as channel:
            get_topic = channel.unary_unary(SERVICE + "GetTopic", request_serializer=pb.TopicRequest.SerializeToString,
                                            response_deserializer=pb.TopicInfo.FromString)
            try:
                info = get_topic(pb.TopicRequest(topic_name=self.topic), metadata=metadata, timeout=self.timeout)
            except grpc.RpcError as exc:
                raise _feed_error(exc, self.topic, None) from None
        if not info.can_subscribe:
            raise ChangeFeedError(f"the integration user may not subscribe to {self.topic}", kind=ErrorKind.CONFIG)
        return f"{self.topic} exists and the integration user may subscribe to it"

    # --- helpers -------------------------------------------------------------------------------

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        session = self._login()
        if not session.org_id:
            raise ChangeFeedError("the Salesforce login did not say which org it is, and CONNECTOR_SALESFORCE_ORG_ID "
                                  "is not set: the Pub/Sub API needs the org Id (tenantid)", kind=ErrorKind.CONFIG)
        return (("accesstoken", session.access_token), ("instanceurl", session.instance_url),
                ("tenantid", session.org_id))

    def _decode(self, event: Any, channel: grpc.Channel, metadata: tuple) -> RecordChange:
        entity = self.topic.rsplit("/", 1)[-1].removesuffix("ChangeEvent").removesuffix("__")
        try:
            return self._schema(event.event.schema_id, channel, metadata).decode(event.event.payload)
        except EventDecodeError as exc:
            log.error("a change event on %s could not be read (%s); reading every record it may concern again",
                      self.topic, exc)
            return overflow(entity)

    def _schema(self, schema_id: str, channel: grpc.Channel, metadata: tuple) -> EventSchema:
        if schema_id not in self._schemas:
            get_schema = channel.unary_unary(SERVICE + "GetSchema",
                                             request_serializer=pb.SchemaRequest.SerializeToString,
                                             response_deserializer=pb.SchemaInfo.FromString)
            info = get_schema(pb.SchemaRequest(schema_id=schema_id), metadata=metadata, timeout=self.timeout)
            self._schemas[schema_id] = EventSchema.from_json(info.schema_json)
        return self._schemas[schema_id]


def _drain(outbox: queue.Queue) -> Iterator[Any]:
    while (request := outbox.get()) is not _END:
        yield request


def _feed_error(exc: grpc.RpcError, topic: str, after: bytes | None) -> ChangeFeedError:
    code = exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN
    trailers = dict(exc.trailing_metadata() or ()) if isinstance(exc, grpc.Call) else {}
    error_code = str(trailers.get(ERROR_CODE_KEY) or "")
    details = (exc.details() if isinstance(exc, grpc.Call) else None) or "no details"
    if after is not None and "replayid" in error_code.lower():
        return ReplayUnavailable(f"the Pub/Sub API no longer has the stored position on {topic} ({error_code})")
    kind = ErrorKind.CONFIG if code in _CONFIG_CODES else ErrorKind.TRANSIENT
    return ChangeFeedError(f"the subscription to {topic} failed: {code.name}: {details}"
                           + (f" ({error_code})" if error_code else ""), kind=kind)
