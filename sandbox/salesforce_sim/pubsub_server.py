"""The simulated org's Pub/Sub API: a gRPC server (TLS, as the real one) with GetTopic, GetSchema and Subscribe.

Each call must carry a valid session in the `accesstoken` metadata header, the org's id in `tenantid` and
an `instanceurl`, as the real API requires. Subscribe honours the replay presets (LATEST, EARLIEST, CUSTOM
after a stored replay id) and flow control: it delivers only as many events as the client has asked for.
When it has nothing to deliver it sends an empty response with the latest replay id (a keepalive).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc

from adapters.salesforce.pubsub import pubsub_api_pb2 as pb
from sandbox.salesforce_sim.auth import Sessions
from sandbox.salesforce_sim.event_bus import EventBus, replay_bytes
from sandbox.salesforce_sim.ids import ORG_ID

SERVICE = "eventbus.v1.PubSub"
REPLAY_REFUSED = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
TOPIC_NOT_FOUND = "sfdc.platform.eventbus.grpc.service.topic.not.found"
MAX_PER_RESPONSE = 100


class PubSubService:
    def __init__(self, bus: EventBus, sessions: Sessions, *, keepalive_seconds: float = 30.0):
        self.bus = bus
        self.sessions = sessions
        self.keepalive_seconds = keepalive_seconds
        self.latency_seconds = 0.0  # network conditions (benchmarks): added before each batch of events leaves
        self.subscribes = 0  # Subscribe calls accepted, for tests
        self.fetch_requests: list[int] = []  # num_requested of each FetchRequest received

    # --- auth ----------------------------------------------------------------------------------

    def _authenticate(self, context: grpc.ServicerContext) -> None:
        headers = {key: value for key, value in context.invocation_metadata()}
        token, tenant, instance = headers.get("accesstoken"), headers.get("tenantid"), headers.get("instanceurl")
        if not token or not instance or not tenant:
            context.abort(grpc.StatusCode.UNAUTHENTICATED,
                          "missing accesstoken, instanceurl or tenantid metadata header")
        if tenant != ORG_ID and tenant != ORG_ID[:15]:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, f"tenantid {tenant!r} is not this org")
        if not self.sessions.valid(str(token)):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "the session is invalid or has expired")

    def _entity(self, topic: str, context: grpc.ServicerContext) -> str:
        entity = self.bus.entity_of(topic)
        if entity is None:
            context.set_trailing_metadata((("error-code", TOPIC_NOT_FOUND),))
            context.abort(grpc.StatusCode.NOT_FOUND, f"topic {topic!r} does not exist (is Change Data Capture "
                                                     "enabled for the object?)")
        return entity

    # --- unary calls ---------------------------------------------------------------------------

    def get_topic(self, request: pb.TopicRequest, context: grpc.ServicerContext) -> pb.TopicInfo:
        self._authenticate(context)
        entity = self._entity(request.topic_name, context)
        return pb.TopicInfo(topic_name=request.topic_name, tenant_guid=ORG_ID, can_publish=False, can_subscribe=True,
                            schema_id=self.bus.types[entity].schema_id, rpc_id="sim")

    def get_schema(self, request: pb.SchemaRequest, context: grpc.ServicerContext) -> pb.SchemaInfo:
        self._authenticate(context)
        found = self.bus.schema(request.schema_id)
        if found is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no schema {request.schema_id!r}")
        return pb.SchemaInfo(schema_json=found.schema_json, schema_id=found.schema_id, rpc_id="sim")

    # --- Subscribe -----------------------------------------------------------------------------

    def subscribe(self, requests: Iterator[pb.FetchRequest],
                  context: grpc.ServicerContext) -> Iterator[pb.FetchResponse]:
        self._authenticate(context)
        first = next(requests, None)
        if first is None:
            return
        self._entity(first.topic_name, context)
        bus = self.bus
        with bus.changed:
            generation = bus.generation
            if first.replay_preset == pb.CUSTOM:
                replay = int.from_bytes(first.replay_id, "big") if len(first.replay_id) == 8 else -1
                if not bus.resumable(replay):
                    context.set_trailing_metadata((("error-code", REPLAY_REFUSED),))
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, "The Replay ID validation failed. Ensure that "
                                  "the replay_id refers to an event within the retention window.")
                position = replay
            elif first.replay_preset == pb.EARLIEST:
                position = bus.dropped_upto
            else:
                position = bus.tip
        self.subscribes += 1
        credit = [max(first.num_requested, 0)]
        self.fetch_requests.append(first.num_requested)
        ended = threading.Event()

        def read_requests() -> None:
            try:
                for request in requests:
                    self.fetch_requests.append(request.num_requested)
                    with bus.changed:
                        credit[0] += max(request.num_requested, 0)
                        bus.changed.notify_all()
            except grpc.RpcError:
                pass
            finally:
                ended.set()
                with bus.changed:
                    bus.changed.notify_all()

        threading.Thread(target=read_requests, name="pubsub-sim-requests", daemon=True).start()
        yield pb.FetchResponse(latest_replay_id=replay_bytes(position), rpc_id="sim",
                               pending_num_requested=credit[0]) if position == bus.tip else pb.FetchResponse(
            rpc_id="sim", pending_num_requested=credit[0])
        while context.is_active() and not ended.is_set():
            with bus.changed:
                ready = bus.after(position, min(credit[0], MAX_PER_RESPONSE)) if credit[0] else []
                if not ready and bus.generation == generation:
                    bus.changed.wait(self.keepalive_seconds)
                    ready = bus.after(position, min(credit[0], MAX_PER_RESPONSE)) if credit[0] else []
                if bus.generation != generation:
                    context.abort(grpc.StatusCode.UNAVAILABLE, "the stream was dropped (injected)")
                credit[0] -= len(ready)
                pending = credit[0]
                caught_up = not bus.after(position if not ready else ready[-1].replay, 1)
            if ready:
                position = ready[-1].replay
                if self.latency_seconds:
                    time.sleep(self.latency_seconds)
                yield pb.FetchResponse(events=[pb.ConsumerEvent(
                    event=pb.ProducerEvent(id=f"sim-{e.replay}", schema_id=e.schema_id, payload=e.payload),
                    replay_id=replay_bytes(e.replay)) for e in ready], rpc_id="sim", pending_num_requested=pending)
            elif caught_up:
                yield pb.FetchResponse(latest_replay_id=replay_bytes(position), rpc_id="sim",
                                       pending_num_requested=pending)


def serve_pubsub(service: PubSubService, *, cert_file: Path, key_file: Path, host: str = "127.0.0.1",
                 port: int = 0) -> tuple[grpc.Server, int]:
    """Start the gRPC server on TLS with the sandbox's certificate; returns it and its port."""
    handlers = {
        "GetTopic": grpc.unary_unary_rpc_method_handler(
            service.get_topic, request_deserializer=pb.TopicRequest.FromString,
            response_serializer=pb.TopicInfo.SerializeToString),
        "GetSchema": grpc.unary_unary_rpc_method_handler(
            service.get_schema, request_deserializer=pb.SchemaRequest.FromString,
            response_serializer=pb.SchemaInfo.SerializeToString),
        "Subscribe": grpc.stream_stream_rpc_method_handler(
            service.subscribe, request_deserializer=pb.FetchRequest.FromString,
            response_serializer=pb.FetchResponse.SerializeToString),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="pubsub-sim"))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    credentials = grpc.ssl_server_credentials([(key_file.read_bytes(), cert_file.read_bytes())])
    bound = server.add_secure_port(f"{host}:{port}", credentials)
    server.start()
    return server, bound
