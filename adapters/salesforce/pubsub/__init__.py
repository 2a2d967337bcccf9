"""Change Data Capture over Salesforce's Pub/Sub API: the gRPC subscriber and the change event decoding.

`pubsub_api_pb2` is generated from `pubsub_api.proto` (`make proto`) and committed, so that running the
connector needs only the protobuf runtime, not the compiler; the generated code is checked against the proto
by tests/unit/test_pubsub_stubs.py.
"""
