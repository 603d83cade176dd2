"""`adapt serve` driven by the OpenAI client: conversations, sampling, stop strings, streaming, bad input, load."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
openai = pytest.importorskip("openai")
httpx = pytest.importorskip("httpx")

from mini_project import run_adapt, write_mini_project  # noqa: E402

from adaptfile.runtime import Runtime  # noqa: E402
from adaptfile.runtime.generation import Sampling  # noqa: E402
from adaptfile.runtime.server import create_app  # noqa: E402

VARIANT = "icl+rag+lora"
MODEL = f"mini/{VARIANT}"
MAX_BODY = 4096
WINDOW = 384  # the mini model's context, wide enough for its prompts and a short conversation
QUESTION = "How do I clean the lamp?"
ERROR_KEYS = {"message", "type", "param", "code"}


@dataclass(frozen=True)
class Served:
    url: str
    runtime: Runtime  # the served runtime, for the answers the endpoint must match
    root: Path  # the built project

    def client(self) -> Any:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key="unused", timeout=60, max_retries=0)

    def post(self, body: Any) -> Any:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.post(f"{self.url}/v1/chat/completions", content=content, timeout=30,
                          headers={"content-type": "application/json"})  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The mini project, with a window its prompts fit, built as far as its `icl+rag+lora` variant
    needs (no evaluation), and that variant served by uvicorn on 127.0.0.1 in a thread."""
    root = write_mini_project(tmp_path_factory.mktemp("serve"), target=0.01, context=WINDOW,
                              max_prompt_tokens=192)  # fmt: skip
    code, out, err = run_adapt(root, "build", "prompt.render", "rag.index", "lora.train")
    assert code == 0, out + err
    runtime = Runtime.from_build(root, VARIANT, max_new_tokens=8)
    runtime.load()
    port = _free_port()
    config = uvicorn.Config(
        create_app(runtime, MODEL, MAX_BODY), host="127.0.0.1", port=port, log_level="error"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield Served(f"http://127.0.0.1:{port}", runtime, root)
    server.should_exit = True
    thread.join(timeout=10)


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def _streamed(served: Served, **request: Any) -> tuple[str, str | None, Any]:
    """(joined content, finish_reason, usage) of a streamed request."""
    pieces, finish, usage = [], None, None
    for chunk in served.client().chat.completions.create(model=MODEL, stream=True, **request):
        assert chunk.object == "chat.completion.chunk" and chunk.model == MODEL
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
        usage = chunk.usage or usage
    return "".join(pieces), finish, usage


def test_a_completion_is_the_runtime_answer_with_real_token_counts(served: Served) -> None:
    reply = served.client().chat.completions.create(model=MODEL, messages=_user(QUESTION), max_tokens=6)
    prepared = served.runtime.prepare(QUESTION)
    expected = served.runtime.generate(prepared, 6)
    assert reply.model == MODEL and reply.object == "chat.completion"
    assert reply.choices[0].message.content == expected.text
    assert reply.choices[0].finish_reason == expected.finish_reason
    assert reply.usage.prompt_tokens == len(prepared.ids)
    assert reply.usage.completion_tokens == expected.tokens <= 6
    assert reply.usage.total_tokens == len(prepared.ids) + expected.tokens
    assert reply.model_dump()["citations"] == [c.to_json() for c in prepared.citations]


def test_system_message_and_earlier_turns_reach_the_prompt(served: Served) -> None:
    history = [
        {"role": "user", "content": "What adapter does the Zed lamp use?"},
        {"role": "assistant", "content": "A 5 V USB-C adapter."},
    ]
    messages = [
        {"role": "system", "content": "Keep it short."},
        *history,
        *_user("How long is the warranty?"),
    ]
    reply = served.client().chat.completions.create(model=MODEL, messages=messages)
    prepared = served.runtime.prepare("How long is the warranty?", history=history, system="Keep it short.")
    assert "Keep it short." in prepared.prompt
    turns = "### User:\nWhat adapter does the Zed lamp use?\n\n### Assistant:\nA 5 V USB-C adapter.\n\n"
    assert turns in prepared.prompt  # the plain format: earlier turns are blocks of their own
    assert reply.usage.prompt_tokens == len(prepared.ids)
    assert reply.usage.prompt_tokens > len(served.runtime.prepare("How long is the warranty?").ids)
    assert reply.choices[0].message.content == served.runtime.generate(prepared).text
    # retrieval ran on the last user message only: the same passages as the question alone
    alone = served.runtime.prepare("How long is the warranty?")
    assert [c["path"] for c in reply.model_dump()["citations"]] == [c.path for c in alone.citations]


def test_streaming_gives_the_same_answer_in_chunks(served: Served) -> None:
    request = {"messages": _user(QUESTION), "max_tokens": 16}
    whole = served.client().chat.completions.create(model=MODEL, **request)
    text, finish, usage = _streamed(served, **request, stream_options={"include_usage": True})
    assert text == whole.choices[0].message.content
    assert finish == whole.choices[0].finish_reason
    assert usage.prompt_tokens == whole.usage.prompt_tokens
    assert usage.completion_tokens == whole.usage.completion_tokens


def test_streaming_is_server_sent_events_ending_in_done(served: Served) -> None:
    body = {"messages": _user(QUESTION), "max_tokens": 16, "stream": True}
    with httpx.stream("POST", f"{served.url}/v1/chat/completions", json=body, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in events)
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    assert len({c["id"] for c in chunks}) == 1


def test_stop_sequences_end_the_answer_before_them(served: Served) -> None:
    client = served.client()
    # seeded sampling: the mini model's greedy answers can be a single token, too short to cut
    sampling = {"temperature": 1.5, "seed": 7, "max_tokens": 16}
    free = client.chat.completions.create(model=MODEL, messages=_user(QUESTION), **sampling)
    words = (free.choices[0].message.content or "").split()
    assert len(words) >= 3, f"the mini model answered {words}: too short to cut"
    stop = f" {words[1]}"
    expected = free.choices[0].message.content[: free.choices[0].message.content.find(stop)].strip()
    request = {"messages": _user(QUESTION), **sampling, "stop": [stop, "never in it"]}
    cut = client.chat.completions.create(model=MODEL, **request)
    assert cut.choices[0].message.content == expected
    assert cut.choices[0].finish_reason == "stop"
    assert cut.usage.completion_tokens < free.usage.completion_tokens
    assert _streamed(served, **request)[:2] == (expected, "stop")


def test_sampling_is_seeded_reproducible_and_greedy_at_temperature_zero(served: Served) -> None:
    client = served.client()

    def ask(**sampling: Any) -> str:
        reply = client.chat.completions.create(
            model=MODEL, messages=_user(QUESTION), max_tokens=8, **sampling
        )
        return reply.choices[0].message.content or ""

    greedy = ask()
    assert ask(temperature=1.5, seed=7) == ask(temperature=1.5, seed=7)
    assert len({ask(temperature=1.5, seed=s) for s in range(5)} - {greedy}) >= 2
    assert ask(temperature=0, seed=3) == greedy == ask(temperature=1e-9, seed=3)
    assert ask(temperature=1.5, top_p=1e-6, seed=3) == greedy  # the nucleus holds the top token only
    prepared = served.runtime.prepare(QUESTION)
    assert ask(temperature=1.5, seed=7) == served.runtime.generate(prepared, 8, Sampling(1.5, 1.0, 7)).text


def test_max_tokens_is_honoured_and_capped_by_the_context(served: Served) -> None:
    client = served.client()
    short = client.chat.completions.create(model=MODEL, messages=_user(QUESTION), max_tokens=2)
    assert short.usage.completion_tokens <= 2
    assert short.choices[0].finish_reason == ("length" if short.usage.completion_tokens == 2 else "stop")
    room = WINDOW - short.usage.prompt_tokens
    huge = client.chat.completions.create(model=MODEL, messages=_user(QUESTION), max_tokens=10**6)
    capped = client.chat.completions.create(model=MODEL, messages=_user(QUESTION), max_tokens=room)
    assert huge.choices[0].message.content == capped.choices[0].message.content
    assert huge.usage.prompt_tokens + huge.usage.completion_tokens <= WINDOW


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"n": 2}, "n"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools"),
        ({"logprobs": True}, "logprobs"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"logit_bias": {"1": 5}}, "logit_bias"),
    ],
)
def test_parameters_it_cannot_honour_are_refused_by_name(served: Served, extra: dict, param: str) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        served.client().chat.completions.create(model=MODEL, messages=_user(QUESTION), **extra)
    assert refused.value.param == param
    assert refused.value.code == "unsupported_parameter" and refused.value.type == "invalid_request_error"


def test_neutral_values_of_unsupported_parameters_are_accepted(served: Served) -> None:
    reply = served.client().chat.completions.create(
        model=MODEL, messages=_user(QUESTION), n=1, logprobs=False, presence_penalty=0, max_tokens=2
    )
    assert len(reply.choices) == 1


LONG = "Tell me everything about the lamp. " * 60  # ≈ 2000 characters: far over the 384-token window


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (b"\xff\xfe", None),
        (b"[]", None),
        ({}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
        ({"messages": [{"role": "tool", "content": "hi", "tool_call_id": "1"}]}, "messages[0].role"),
        ({"messages": [{"role": "system", "content": "x"}]}, "messages[0]"),
        ({"messages": [{"role": "user", "content": "  "}]}, "messages[0]"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, "messages[0].content"),
        ({"messages": _user("hi"), "max_tokens": 0}, "max_tokens"),
        ({"messages": _user("hi"), "max_completion_tokens": -3}, "max_completion_tokens"),
        ({"messages": _user("hi"), "temperature": 3}, "temperature"),
        ({"messages": _user("hi"), "top_p": 1.5}, "top_p"),
        ({"messages": _user("hi"), "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"messages": _user("hi"), "stream": "yes"}, "stream"),
        ({"messages": _user("hi"), "frobnicate": 1}, "frobnicate"),
        ({"messages": _user(LONG)}, "messages"),
    ],
)
def test_bad_input_gets_a_4xx_in_openai_format_and_the_server_keeps_serving(
    served: Served, body: Any, param: str | None
) -> None:
    response = served.post(body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(error) == ERROR_KEYS
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]
    reply = served.client().chat.completions.create(model=MODEL, messages=_user(QUESTION), max_tokens=2)
    assert reply.choices[0].finish_reason in ("stop", "length")


def test_a_prompt_over_the_context_names_the_limit(served: Served) -> None:
    error = served.post({"messages": _user(LONG)}).json()["error"]
    assert error["code"] == "context_length_exceeded" and f"{WINDOW} tokens" in error["message"]


def test_oversized_requests_get_413_declared_or_chunked(served: Served) -> None:
    big = b'{"messages": [{"role": "user", "content": "' + b"a" * (MAX_BODY * 2) + b'"}]}'
    response = httpx.post(f"{served.url}/v1/chat/completions", content=big, timeout=10)
    assert response.status_code == 413 and set(response.json()["error"]) == ERROR_KEYS

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for start in range(0, len(big), 1024):
            yield big[start : start + 1024]

    response = httpx.post(f"{served.url}/v1/chat/completions", content=chunks(), timeout=10)
    assert "content-length" not in response.request.headers
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"
    assert httpx.get(f"{served.url}/health", timeout=10).status_code == 200


def test_eight_concurrent_requests_equal_the_same_requests_one_by_one(served: Served) -> None:
    questions = ["How do I clean the lamp?", "How long is the warranty?", "How do I dim the lamp?",
                 "Which colour modes are there?"]  # fmt: skip
    requests = [{"messages": _user(q), "max_tokens": 8} for q in questions]
    requests += [{"messages": _user(q), "max_tokens": 8, "temperature": 1.2, "seed": i} for i, q in
                 enumerate(questions)]  # fmt: skip
    streamed = {1, 6}

    def ask(i: int) -> tuple[str, int]:
        if i in streamed:
            text, _, usage = _streamed(served, **requests[i], stream_options={"include_usage": True})
            return text, usage.completion_tokens
        reply = served.client().chat.completions.create(model=MODEL, **requests[i])
        return reply.choices[0].message.content or "", reply.usage.completion_tokens

    one_by_one = [ask(i) for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(ask, range(8)))
    assert together == one_by_one


def test_models_health_and_unknown_routes(served: Served) -> None:
    assert [m.id for m in served.client().models.list()] == [MODEL]
    health = httpx.get(f"{served.url}/health", timeout=10)
    assert health.status_code == 200 and health.json() == {"status": "ok", "model": MODEL, "variant": VARIANT}
    missing = httpx.get(f"{served.url}/v1/nothing", timeout=10)
    assert missing.status_code == 404 and set(missing.json()["error"]) == ERROR_KEYS


@pytest.mark.slow
def test_the_adapt_serve_command_serves_until_interrupted(served: Served) -> None:
    """`adapt serve` in its own process: answers the OpenAI client, streaming too, and stops on Ctrl-C."""
    port = _free_port()
    command = [sys.executable, "-m", "adaptfile", "-C", str(served.root), "serve", "--variant", VARIANT,
               "--port", str(port)]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}  # this process only: nothing may be downloaded
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "adapt serve did not start"
            try:
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        command_served = Served(url, served.runtime, served.root)
        request = {"messages": _user(QUESTION), "max_tokens": 8}
        whole = command_served.client().chat.completions.create(model="mini", **request)
        assert whole.model == MODEL
        expected = served.runtime.generate(served.runtime.prepare(QUESTION), 8)
        assert whole.choices[0].message.content == expected.text
        assert _streamed(command_served, **request)[0] == expected.text
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert f"serving {MODEL} on http://127.0.0.1:{port}/v1" in err


def test_only_loopback_addresses_count_as_local() -> None:
    from adaptfile.cli.serve_cmd import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1") and not is_loopback("example.org")
