"""The PubSub URL beside a JSON-RPC URL, as the Solana CLI derives it."""

from __future__ import annotations

import pytest

from marketplace.chain.client import pubsub_url


@pytest.mark.parametrize("rpc, ws", [
    ("http://127.0.0.1:8899", "ws://127.0.0.1:8900"),
    ("https://api.devnet.solana.com", "wss://api.devnet.solana.com"),
    ("http://[::1]:8899/rpc", "ws://[::1]:8900/rpc"),
    ("https://rpc.example.com:8443/key?x=1", "wss://rpc.example.com:8444/key?x=1"),
])
def test_the_pubsub_url_is_the_rpc_urls_with_ws_and_the_next_port(rpc, ws):
    assert pubsub_url(rpc) == ws


@pytest.mark.parametrize("rpc", ["127.0.0.1:8899", "ws://127.0.0.1:8900", "http://"])
def test_what_is_not_an_http_url_is_refused(rpc):
    with pytest.raises(ValueError):
        pubsub_url(rpc)
