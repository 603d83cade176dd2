"""`adapt serve`: OpenAI client round trip, 4xx for malformed and oversized requests, 8 concurrent requests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
openai = pytest.importorskip("openai")
httpx = pytest.importorskip("httpx")

from adaptfile.runtime import Runtime  # noqa: E402
from adaptfile.runtime.server import create_app  # noqa: E402

MODEL = "mini/icl+rag+lora"
MAX_BODY = 4096


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(mini_build: Path) -> Iterator[str]:
    """The mini build's best variant served on 127.0.0.1 in a thread; yields the base URL."""
    runtime = Runtime.from_build(mini_build, "icl+rag+lora", max_new_tokens=8)
    port = _free_port()
    config = uvicorn.Config(
        create_app(runtime, MODEL, MAX_BODY), host="127.0.0.1", port=port, log_level="error"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def _client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="unused", timeout=60, max_retries=0)


def test_openai_client_gets_a_completion(server: str) -> None:
    reply = _client(server).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "How long is the warranty?"}], max_tokens=4
    )
    assert reply.model == MODEL
    assert isinstance(reply.choices[0].message.content, str)
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens <= 4


def test_models_and_health(server: str) -> None:
    assert [m.id for m in _client(server).models.list()] == [MODEL]
    health = httpx.get(f"{server}/health", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "ok"


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"messages": []}',
        b'{"messages": [{"role": "system", "content": "x"}]}',
        b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}',
        b'{"messages": [{"role": "user", "content": "hi"}], "stream": true}',
    ],
)
def test_malformed_requests_get_400_and_the_server_keeps_serving(server: str, body: bytes) -> None:
    response = httpx.post(f"{server}/v1/chat/completions", content=body, timeout=10,
                          headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 400
    assert response.json()["error"]["message"]
    assert httpx.get(f"{server}/health", timeout=10).status_code == 200


def test_oversized_requests_get_413(server: str) -> None:
    big = b'{"messages": [{"role": "user", "content": "' + b"a" * (MAX_BODY * 2) + b'"}]}'
    response = httpx.post(f"{server}/v1/chat/completions", content=big, timeout=10)
    assert response.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield big

    response = httpx.post(f"{server}/v1/chat/completions", content=chunks(), timeout=10)
    assert response.status_code == 413
    assert httpx.get(f"{server}/health", timeout=10).status_code == 200


def test_eight_concurrent_requests_all_succeed(server: str) -> None:
    client = _client(server)
    questions = [f"How do I clean the lamp? ({i})" for i in range(8)]

    def ask(question: str) -> str:
        reply = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": question}], max_tokens=4
        )
        return reply.choices[0].message.content or ""

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, questions))
    assert len(answers) == 8


def test_only_loopback_addresses_count_as_local() -> None:
    from adaptfile.cli.serve_cmd import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1") and not is_loopback("example.org")
