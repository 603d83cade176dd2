"""An OpenAI-compatible HTTP API over one Runtime: /v1/chat/completions (whole or streamed), /v1/models, /health."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime.

import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from adaptfile.prompt.template import TemplateError
from adaptfile.runtime.chat_request import ApiError, ChatCall, parse_chat_request
from adaptfile.runtime.generation import Generation
from adaptfile.runtime.runtime import Prepared, Runtime

MAX_BODY_BYTES = 64 * 1024  # a chat request is small; refuse anything larger with 413


def create_app(runtime: Runtime, model_id: str, max_body: int = MAX_BODY_BYTES) -> Any:
    """The FastAPI application; requests share one Runtime, whose lock serialises the model."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, StreamingResponse
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException

    app = FastAPI(title="adapt serve", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(ApiError)
    async def refuse(request: Request, err: ApiError) -> JSONResponse:
        return JSONResponse(err.to_json(), status_code=err.status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException) -> JSONResponse:
        refused = ApiError(err.status_code, f"{request.method} {request.url.path}: {err.detail}")
        return JSONResponse(refused.to_json(), status_code=err.status_code, headers=err.headers)

    @app.exception_handler(Exception)
    async def failed(request: Request, err: Exception) -> JSONResponse:  # logged by the server as well
        refused = ApiError(
            500, f"the server failed on this request: {type(err).__name__}: {err}", code="server_error"
        )
        return JSONResponse(refused.to_json(), status_code=500)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "model": model_id, "variant": runtime.name}

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        card = {"id": model_id, "object": "model", "created": 0, "owned_by": "adaptfile"}
        return {"object": "list", "data": [card]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        # The body is read and validated here rather than as a FastAPI body parameter: that would
        # read a chunked body whole before any size check, and answer 422 in FastAPI's own format.
        call = parse_chat_request(await _read_body(request, max_body))
        prepared, limit = await run_in_threadpool(_prepare, runtime, call)  # off the event loop: it waits
        reply = _Reply(model_id, prepared)
        if call.stream:
            headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
            events = _stream(runtime, call, prepared, limit, reply)
            return StreamingResponse(events, media_type="text/event-stream", headers=headers)
        generation = await run_in_threadpool(runtime.generate, prepared, limit, call.sampling)
        return reply.completion(generation)

    return app


async def _read_body(request: Any, limit: int) -> bytes:
    """The body, refused with 413 once it passes `limit` bytes, whether its length was declared or not
    (a chunked body is counted as it arrives, never read whole first)."""
    too_large = ApiError(413, f"request body over {limit} bytes: send a shorter conversation "
                         "(`adapt serve --max-body` sets the limit)", code="request_too_large")  # fmt: skip
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise too_large
    return bytes(body)


def _prepare(runtime: Runtime, call: ChatCall) -> tuple[Prepared, int]:
    """The prompt for the conversation and the answer's token limit (both wait for the runtime's lock
    while another request generates); a chat template that refuses the messages is the client's 400."""
    try:
        prepared = runtime.prepare(call.question, history=call.history, system=call.system)
    except TemplateError as err:
        raise ApiError(400, f"the model's prompt format cannot render these messages: {err}",
                       param="messages", code="invalid_value") from None  # fmt: skip
    return prepared, _answer_limit(runtime, call, prepared)


def _answer_limit(runtime: Runtime, call: ChatCall, prepared: Prepared) -> int:
    """max_tokens (default: the variant's answer length), capped by what the context window leaves."""
    window = runtime.model.window
    room = window - len(prepared.ids)
    if room < 1:
        raise ApiError(
            400,
            f"this model's context window is {window} tokens, and the prompt (instruction, conversation, "
            f"retrieved passages and question) is {len(prepared.ids)}: no room for an answer; "
            "send fewer or shorter messages",
            param="messages",
            code="context_length_exceeded",
        )
    return min(call.max_tokens or runtime.max_new_tokens, room)


class _Reply:
    """The response objects of one request: a chat.completion, or chat.completion.chunk events."""

    def __init__(self, model_id: str, prepared: Prepared) -> None:
        self.model_id = model_id
        self.prepared = prepared
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())

    def _head(self, kind: str) -> dict[str, Any]:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model_id}

    def usage(self, generation: Generation) -> dict[str, int]:
        prompt = len(self.prepared.ids)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": generation.tokens,
            "total_tokens": prompt + generation.tokens,
        }

    def citations(self) -> list[dict[str, Any]]:
        return [c.to_json() for c in self.prepared.citations]

    def completion(self, generation: Generation) -> dict[str, Any]:
        message = {"role": "assistant", "content": generation.text}
        choice = {"index": 0, "message": message, "finish_reason": generation.finish_reason}
        return {
            **self._head("chat.completion"),
            "choices": [choice],
            "usage": self.usage(generation),
            "citations": self.citations(),
        }

    def chunk(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return _event({**self._head("chat.completion.chunk"), "choices": [choice], **extra})

    def usage_chunk(self, generation: Generation) -> str:
        return _event({**self._head("chat.completion.chunk"), "choices": [], "usage": self.usage(generation)})


def _event(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def _stream(runtime: Runtime, call: ChatCall, prepared: Prepared, limit: int, reply: _Reply) -> Iterator[str]:
    """Server-sent events: a role chunk (with the citations), text chunks as the answer settles, a
    finish chunk, the usage chunk when stream_options.include_usage, then `data: [DONE]`.

    The model generates in its own thread and hands text over a queue; when the client goes away,
    this generator is closed and the next piece of text tells the model to stop.
    """
    pieces: queue.Queue[Any] = queue.Queue()
    listening = threading.Event()
    listening.set()

    def on_text(text: str) -> bool:
        pieces.put(text)
        return listening.is_set()

    def generate() -> None:
        try:
            pieces.put(runtime.generate(prepared, limit, call.sampling, on_text))
        except Exception as err:  # the client gets an error event; the server keeps serving
            pieces.put(err)

    threading.Thread(target=generate, name="adapt-serve-stream", daemon=True).start()
    usage = {"usage": None} if call.include_usage else {}
    try:
        yield reply.chunk({"role": "assistant", "content": ""}, citations=reply.citations(), **usage)
        while isinstance(piece := pieces.get(), str):
            yield reply.chunk({"content": piece}, **usage)
        if isinstance(piece, Exception):
            failed = ApiError(500, f"generation failed: {type(piece).__name__}: {piece}", code="server_error")
            yield _event(failed.to_json())
        else:
            yield reply.chunk({}, piece.finish_reason, **usage)
            if call.include_usage:
                yield reply.usage_chunk(piece)
        yield "data: [DONE]\n\n"
    finally:
        listening.clear()


def serve(runtime: Runtime, model_id: str, host: str, port: int, max_body: int = MAX_BODY_BYTES) -> None:
    """Load the model and index now, then serve until interrupted."""
    import uvicorn

    runtime.load()  # before the first request, not during it
    uvicorn.run(create_app(runtime, model_id, max_body), host=host, port=port, log_level="info")
