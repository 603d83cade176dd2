"""An OpenAI-compatible HTTP API over one Runtime: /v1/chat/completions, /v1/models, /health (FastAPI)."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime.

import json
import time
import uuid
from typing import Any

from adaptfile.runtime.runtime import Runtime

MAX_BODY_BYTES = 64 * 1024  # a chat request is small; refuse anything larger with 413
MAX_NEW_TOKENS = 1024  # upper bound on max_tokens a client may ask for


def create_app(runtime: Runtime, model_id: str, max_body: int = MAX_BODY_BYTES) -> Any:
    """The FastAPI application; requests share one Runtime, whose lock serialises the model."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, ConfigDict, Field, ValidationError

    class Message(BaseModel):
        model_config = ConfigDict(extra="allow")
        role: str
        content: str | list[dict[str, Any]] | None = None

    class ChatRequest(BaseModel):
        model_config = ConfigDict(extra="allow")
        model: str | None = None
        messages: list[Message] = Field(min_length=1)
        max_tokens: int | None = Field(None, ge=1, le=MAX_NEW_TOKENS)
        max_completion_tokens: int | None = Field(None, ge=1, le=MAX_NEW_TOKENS)
        stream: bool = False

    app = FastAPI(title="adapt serve", docs_url=None, redoc_url=None, openapi_url=None)

    def error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
        return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status_code=status)

    @app.middleware("http")
    async def limit_size(request: Request, call_next: Any) -> Any:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_body):
            return error(413, f"request body over {max_body} bytes")
        return await call_next(request)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "model": model_id, "variant": runtime.name}

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        card = {"id": model_id, "object": "model", "created": 0, "owned_by": "adaptfile"}
        return {"object": "list", "data": [card]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await request.body()
        if len(body) > max_body:
            return error(413, f"request body over {max_body} bytes")
        try:
            payload = json.loads(body)
            parsed = ChatRequest.model_validate(payload)
        except ValueError as err:  # JSONDecodeError and pydantic's ValidationError are ValueErrors
            detail = (
                "; ".join(_problems(err)) if isinstance(err, ValidationError) else f"malformed JSON: {err}"
            )
            return error(400, detail)
        if parsed.stream:
            return error(400, "stream=true is not supported; send stream=false")
        question = _question(parsed.messages)
        if not question:
            return error(400, "messages hold no user message with text content")
        limit = parsed.max_completion_tokens or parsed.max_tokens
        from starlette.concurrency import run_in_threadpool

        answer = await run_in_threadpool(runtime.answer, question, limit)
        return _completion(model_id, answer, limit or runtime.max_new_tokens)

    return app


def _problems(err: Any) -> list[str]:
    return [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in err.errors()]


def _question(messages: list[Any]) -> str:
    """The last user message's text (string content or text parts)."""
    for message in reversed(messages):
        if message.role != "user":
            continue
        content = message.content
        if isinstance(content, list):
            content = " ".join(str(p.get("text", "")) for p in content if p.get("type") == "text")
        return (content or "").strip()
    return ""


def _completion(model_id: str, answer: Any, limit: int) -> dict[str, Any]:
    finish = "length" if answer.completion_tokens >= limit else "stop"
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model_id,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": answer.text}, "finish_reason": finish}
        ],
        "usage": {
            "prompt_tokens": answer.prompt_tokens,
            "completion_tokens": answer.completion_tokens,
            "total_tokens": answer.prompt_tokens + answer.completion_tokens,
        },
        "citations": [c.to_json() for c in answer.citations],
    }


def serve(runtime: Runtime, model_id: str, host: str, port: int, max_body: int = MAX_BODY_BYTES) -> None:
    """Load the model and index now, then serve until interrupted."""
    import uvicorn

    runtime.load()  # before the first request, not during it
    uvicorn.run(create_app(runtime, model_id, max_body), host=host, port=port, log_level="info")
