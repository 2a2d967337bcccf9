"""The committed Pub/Sub API stubs are what the committed proto generates (`make proto`)."""

from __future__ import annotations

import shutil

import pytest

from config.settings import REPO_ROOT

PROTO = "adapters/salesforce/pubsub/pubsub_api.proto"


def test_the_committed_stubs_match_the_proto(tmp_path):
    protoc = pytest.importorskip("grpc_tools.protoc")
    (tmp_path / PROTO).parent.mkdir(parents=True)
    shutil.copy(REPO_ROOT / PROTO, tmp_path / PROTO)
    assert protoc.main(["protoc", f"-I{tmp_path}", f"--python_out={tmp_path}", f"--pyi_out={tmp_path}",
                        str(tmp_path / PROTO)]) == 0
    for generated in ("pubsub_api_pb2.py", "pubsub_api_pb2.pyi"):
        fresh = (tmp_path / PROTO).with_name(generated).read_text(encoding="utf-8")
        committed = (REPO_ROOT / PROTO).with_name(generated).read_text(encoding="utf-8")
        assert fresh == committed, f"{generated} is stale: run `make proto`"


def test_the_stubs_speak_the_public_wire_numbers():
    from adapters.salesforce.pubsub import pubsub_api_pb2 as pb

    fields = {f.name: f.number for f in pb.FetchRequest.DESCRIPTOR.fields}
    assert fields == {"topic_name": 1, "replay_preset": 2, "replay_id": 3, "num_requested": 4, "auth_refresh": 5}
    assert {f.name: f.number for f in pb.FetchResponse.DESCRIPTOR.fields} == {
        "events": 1, "latest_replay_id": 2, "rpc_id": 3, "pending_num_requested": 4}
    assert (pb.LATEST, pb.EARLIEST, pb.CUSTOM) == (0, 1, 2)
    assert pb.DESCRIPTOR.services_by_name["PubSub"].full_name == "eventbus.v1.PubSub"
