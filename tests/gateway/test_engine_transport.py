"""The gateway's connection to the engine under transient failures (issue 10, finding 5): a connection dropped
before any answer is retried once, a lasting failure is 503 with the exception type in the log, and the engine's
API key travels on every call. A real TCP proxy in front of the fake engine drops the connections."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator

import pytest

from service.api.request_logging import JsonFormatter
from tests.gateway.servers import ThreadedServer, bind_free_port


class DroppingProxy:
    """Forwards TCP connections to `target`, except the first `drop`: those are read and closed unanswered, as
    an engine does with a keep-alive connection it has just timed out, or a host too busy to serve."""

    def __init__(self, target: ThreadedServer, drop: int) -> None:
        self.target_port = target.port
        self.remaining_drops = drop
        self.dropped = 0
        self._listener = bind_free_port()
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.remaining_drops:
                self.remaining_drops -= 1
                self.dropped += 1
                client.recv(1 << 20)
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(1 << 16):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass


@pytest.fixture
def proxy(engine: ThreadedServer) -> Iterator[DroppingProxy]:
    proxy = DroppingProxy(engine, drop=0)
    yield proxy
    proxy.close()


CHAT = {"model": "facellava", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


@pytest.mark.parametrize("stream", [False, True])
def test_a_connection_dropped_before_any_answer_is_retried_once(start_gateway, proxy, engine_state, stream):
    client = start_gateway(engine_url=proxy.url, engine_model="facellava")
    proxy.remaining_drops = 1
    response = client.post("/v1/chat/completions", json={**CHAT, "stream": stream})
    assert response.status_code == 200, response.text
    assert proxy.dropped == 1 and len(engine_state.received) == 1


def test_a_lasting_failure_is_503_and_logged_with_its_type(start_gateway, proxy, caplog):
    client = start_gateway(engine_url=proxy.url, engine_model="facellava")
    proxy.remaining_drops = 2
    with caplog.at_level(logging.WARNING, logger="facellava.engine"):
        response = client.get("/v1/models")
    assert response.status_code == 503 and response.json()["error"]["code"] == "engine_unavailable"
    assert proxy.dropped == 2  # one retry, no more
    lines = [json.loads(JsonFormatter().format(record)) for record in caplog.records]
    failure = next(line for line in lines if line["message"] == "engine call failed")
    assert failure["error"] == "RemoteProtocolError"


def test_the_engine_key_is_sent_on_every_call(start_gateway, engine_state):
    client = start_gateway(engine_api_key="engine-secret")
    assert client.post("/v1/chat/completions", json=CHAT).status_code == 200
    assert engine_state.headers and all(
        headers.get("authorization") == "Bearer engine-secret" for headers in engine_state.headers
    )
