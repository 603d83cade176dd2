"""A /v1/chat/completions body → what the runtime needs, or an OpenAI-style error naming the parameter."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from adaptfile.runtime.generation import Sampling

MAX_STOPS = 4  # as OpenAI: up to four stop sequences

# Parameters that would change the answer and that adapt serve cannot honour, with the value that
# asks for nothing (a client may send that one).
UNSUPPORTED: dict[str, tuple[Any, str]] = {
    "n": (1, "one choice per request (repeat the request, with a temperature, for more)"),
    "tools": ([], "tool calling is not supported"),
    "tool_choice": ("none", "tool calling is not supported"),
    "functions": ([], "function calling is not supported"),
    "function_call": ("none", "function calling is not supported"),
    "logprobs": (False, "log probabilities are not returned"),
    "top_logprobs": (0, "log probabilities are not returned"),
    "response_format": ({"type": "text"}, "only text responses: no JSON mode or schema"),
    "presence_penalty": (0, "penalties are not supported"),
    "frequency_penalty": (0, "penalties are not supported"),
    "logit_bias": ({}, "logit_bias is not supported"),
    "modalities": (["text"], "only text output"),
    "audio": (None, "audio output is not supported"),
    "prediction": (None, "predicted outputs are not supported"),
    "reasoning_effort": (None, "the model has no reasoning effort setting"),
    "web_search_options": (None, "web search is not supported"),
}


class ApiError(Exception):
    """A request the endpoint refuses: HTTP status and OpenAI's error object."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code

    def to_json(self) -> dict[str, Any]:
        kind = "invalid_request_error" if self.status < 500 else "server_error"
        return {"error": {"message": self.message, "type": kind, "param": self.param, "code": self.code}}


class Message(BaseModel):
    """One chat message; fields a message may carry but that change nothing here are ignored."""

    model_config = ConfigDict(extra="ignore", strict=True)
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: Any = None
    function_call: Any = None

    @field_validator("content")
    @classmethod
    def _text_only(cls, content: Any) -> Any:
        for part in content if isinstance(content, list) else []:
            if part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise ValueError(
                    f'only text parts {{"type": "text", "text": "..."}} are supported, got {part}'
                )
        return content

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(part["text"] for part in self.content)
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    include_usage: bool = False


class ChatRequest(BaseModel):
    """The body, strictly: an unknown parameter is an error, as OpenAI's API answers it."""

    model_config = ConfigDict(extra="forbid", strict=True)
    messages: list[Message] = Field(min_length=1)
    model: str | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    # accepted and ignored: they do not change the answer
    user: str | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    service_tier: str | None = None
    parallel_tool_calls: bool | None = None
    # refused unless they ask for nothing (see UNSUPPORTED)
    n: int | None = Field(None, ge=1)
    tools: Any = None
    tool_choice: Any = None
    functions: Any = None
    function_call: Any = None
    logprobs: Any = None
    top_logprobs: Any = None
    response_format: Any = None
    presence_penalty: Any = None
    frequency_penalty: Any = None
    logit_bias: Any = None
    modalities: Any = None
    audio: Any = None
    prediction: Any = None
    reasoning_effort: Any = None
    web_search_options: Any = None

    @field_validator("stop")
    @classmethod
    def _stops(cls, stop: Any) -> Any:
        stops = [stop] if isinstance(stop, str) else stop or []
        if len(stops) > MAX_STOPS or any(not s for s in stops):
            raise ValueError(f"up to {MAX_STOPS} non-empty stop sequences")
        return stop


@dataclass(frozen=True)
class ChatCall:
    """A valid request, as the runtime takes it: retrieval runs on `question`, the last user message."""

    question: str
    history: list[dict[str, str]]  # earlier user and assistant turns, in order
    system: str  # the client's system (and developer) messages
    max_tokens: int | None
    sampling: Sampling = field(default_factory=Sampling)
    stream: bool = False
    include_usage: bool = False


def parse_chat_request(body: bytes) -> ChatCall:
    """The call a body asks for; ApiError (400) names the parameter at fault."""
    try:
        payload = json.loads(body)
    except ValueError as err:  # JSONDecodeError, or bytes that are not UTF-8
        raise ApiError(400, f"the request body is not JSON ({err}): send a JSON object with 'messages'",
                       code="invalid_json") from None  # fmt: skip
    if not isinstance(payload, dict):
        raise ApiError(400, "the request body must be a JSON object with 'messages'", code="invalid_json")
    try:
        request = ChatRequest.model_validate(payload)
    except ValidationError as err:
        raise _validation_error(err) from None
    for name, (neutral, why) in UNSUPPORTED.items():
        value = getattr(request, name)
        if value is not None and value != neutral and value not in (False, 0, [], {}):
            message = f"{name}: adapt serve cannot honour it: {why}; leave {name} out of the request"
            raise ApiError(400, message, param=name, code="unsupported_parameter")
    return _call(request)


def _call(request: ChatRequest) -> ChatCall:
    *earlier, last = request.messages
    if last.role != "user" or not last.text.strip():
        where = f"messages[{len(request.messages) - 1}]"
        raise ApiError(400, f"{where}: the last message must be the user's question, with text",
                       param=where, code="invalid_value")  # fmt: skip
    for i, message in enumerate(request.messages):
        if message.tool_calls or message.function_call:
            raise ApiError(400, f"messages[{i}]: tool calling is not supported",
                           param=f"messages[{i}].tool_calls", code="unsupported_parameter")  # fmt: skip
    system = "\n\n".join(
        m.text.strip() for m in earlier if m.role in ("system", "developer") and m.text.strip()
    )
    history = [{"role": m.role, "content": m.text} for m in earlier if m.role in ("user", "assistant")]
    stop = request.stop
    sampling = Sampling(
        temperature=request.temperature or 0.0,
        top_p=1.0 if request.top_p is None else request.top_p,
        seed=request.seed,
        stop=(stop,) if isinstance(stop, str) else tuple(stop or ()),
    )
    return ChatCall(
        question=last.text.strip(),
        history=history,
        system=system,
        max_tokens=request.max_completion_tokens or request.max_tokens,
        sampling=sampling,
        stream=bool(request.stream),
        include_usage=bool(request.stream_options and request.stream_options.include_usage),
    )


def _validation_error(err: ValidationError) -> ApiError:
    """The first problem's parameter in OpenAI's spelling (`messages[1].role`), every problem in the message."""
    problems = err.errors()

    def param(loc: tuple[Any, ...]) -> str:
        return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "body"

    first = problems[0]
    code = {"missing": "missing_required_parameter", "extra_forbidden": "unknown_parameter"}
    message = "; ".join(f"{param(p['loc'])}: {p['msg']}" for p in problems)
    return ApiError(400, message, param=param(first["loc"]), code=code.get(first["type"], "invalid_value"))
