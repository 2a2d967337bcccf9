"""Replicas advertise one public URL (the load balancer's) in every request they send: nothing of the replica
that sent it (its port, its host) may reach a callback URL, or callbacks would be lost while it is down."""

from __future__ import annotations

from config.settings import Settings
from connector.runtime.daemon import bootstrap
from mappings.loader import parse_mapping
from tests.unit.conftest import RULES


def test_every_replica_sends_the_same_callback_url(world):
    urls = []
    for n, port in enumerate((8081, 8082)):
        settings = Settings(_env_file=None, database_url=world.db_url, webhook_host=f"10.0.0.{n + 1}",
                            webhook_port=port, public_base_url="https://connector.example/")
        daemon = bootstrap(settings, crm=world.crm, providers={"signrequest": world.provider},
                           mapping=parse_mapping(RULES), clock=world.clock)
        world.add_opportunity(f"00600000000000{n}AAA")
        daemon.run_once()
        urls += [request.spec.callback_url for request in world.provider.requests.values()]
    assert set(urls) == {"https://connector.example/webhooks/signrequest"}
