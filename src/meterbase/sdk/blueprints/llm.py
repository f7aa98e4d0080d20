"""LLM blueprint: meter AI token usage per customer (OpenAI, Anthropic, Groq, Gemini, OpenRouter…).

Event (same metadata as ``LLMTracker.track`` in ``@dodopayments/ingestion-blueprints``)::

    {"event_id": "llm_usage_1737455400000_3d9e…", "customer_id": "cus_123", "event_name": "llm_usage",
     "timestamp": "2025-01-21T10:30:00.000Z",
     "metadata": {"inputTokens": 12, "outputTokens": 30, "totalTokens": 42, "model": "gpt-4o-mini",
                  "feature": "chat"}}

Token extraction follows the npm package (``extractUsage``), duck-typed on objects or dicts:

* OpenAI-style ``usage.prompt_tokens / completion_tokens / total_tokens`` (Groq, OpenRouter…);
* Anthropic-style ``usage.input_tokens / output_tokens`` (total = input + output; also the
  OpenAI Responses API);
* AI-SDK-style ``usage.inputTokens / outputTokens (+ reasoningTokens) / totalTokens``;
* Google GenAI ``usageMetadata`` (output = candidates + thoughts; model = ``modelVersion``).

Streaming (``stream=True``) is metered when the stream ends, is closed or its ``with`` block
exits, from the usage the provider puts in the stream: OpenAI's last chunk (``chat.completions``
/ ``completions`` calls get ``stream_options={"include_usage": True}`` added unless you pass
``stream_options`` or ``inject_stream_usage=False``; that last chunk has an empty ``choices``
list), Anthropic's ``message_start`` + ``message_delta`` events, the Responses API's
``response.completed`` event, Gemini's ``usageMetadata`` chunks. Chunks pass through unchanged.

Suggested meters: **sum** of ``inputTokens``, ``outputTokens`` and ``totalTokens`` on
``llm_usage`` (split by ``model`` with ``group_by=model`` in usage queries, or filter on it).

A tracking failure (bad metadata, queue full…) is logged and never breaks the LLM call.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from ._common import Tracker, event_name_for, log
from .meters import SuggestedMeter

EVENT_NAME = "llm_usage"
_PLAIN = (str, bytes, int, float, bool, type(None), dict, list, tuple, set)


def suggested_meters(event_name: str | None = None) -> list[SuggestedMeter]:
    name = event_name or EVENT_NAME
    return [
        SuggestedMeter("llm", "LLM input tokens", name, "sum", "inputTokens", "tokens",
                       "LLM blueprint: prompt tokens (sum of inputTokens)."),
        SuggestedMeter("llm", "LLM output tokens", name, "sum", "outputTokens", "tokens",
                       "LLM blueprint: completion tokens (sum of outputTokens)."),
        SuggestedMeter("llm", "LLM total tokens", name, "sum", "totalTokens", "tokens",
                       "LLM blueprint: all tokens (sum of totalTokens)."),
    ]


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int
    total_tokens: int
    model: str

    def metadata(self) -> dict:
        return {"inputTokens": self.input_tokens, "outputTokens": self.output_tokens,
                "totalTokens": self.total_tokens, "model": self.model}


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _int(value: Any) -> int:
    return int(value) if value else 0  # like the npm package's `x || 0`


def extract_usage(response: Any) -> Usage | None:
    """Token usage of a provider response (object or dict), or ``None`` when it carries none."""
    meta = _get(response, "usageMetadata") or _get(response, "usage_metadata")
    if meta:  # Google GenAI
        inp = _int(_get(meta, "promptTokenCount") or _get(meta, "prompt_token_count"))
        out = (_int(_get(meta, "candidatesTokenCount") or _get(meta, "candidates_token_count"))
               + _int(_get(meta, "thoughtsTokenCount") or _get(meta, "thoughts_token_count")))
        total = _int(_get(meta, "totalTokenCount") or _get(meta, "total_token_count")) or inp + out
        model = _get(response, "modelVersion") or _get(response, "model_version") or "unknown"
        return Usage(inp, out, total, str(model))
    usage = _get(response, "usage")
    if not usage:
        return None
    if _get(usage, "prompt_tokens") is not None:  # OpenAI and OpenAI-compatible
        inp, out = _int(_get(usage, "prompt_tokens")), _int(_get(usage, "completion_tokens"))
        total = _int(_get(usage, "total_tokens")) or inp + out
    elif _get(usage, "input_tokens") is not None:  # Anthropic (and the OpenAI Responses API)
        inp, out = _int(_get(usage, "input_tokens")), _int(_get(usage, "output_tokens"))
        total = inp + out
    elif _get(usage, "inputTokens") is not None:  # Vercel AI SDK style
        inp = _int(_get(usage, "inputTokens"))
        out = _int(_get(usage, "outputTokens")) + _int(_get(usage, "reasoningTokens"))
        total = _int(_get(usage, "totalTokens")) or inp + out
    else:  # generic
        inp = _int(_get(usage, "inputTokens") or _get(usage, "input"))
        out = _int(_get(usage, "outputTokens") or _get(usage, "output"))
        total = _int(_get(usage, "totalTokens") or _get(usage, "total")) or inp + out
    return Usage(inp, out, total, str(_get(response, "model") or "unknown"))


class StreamUsage:
    """Accumulates usage from streamed chunks / events of any supported provider."""

    def __init__(self) -> None:
        self.model: str | None = None
        self.input: int | None = None
        self.output: int | None = None
        self.final: Usage | None = None

    def feed(self, item: Any) -> None:
        kind = _get(item, "type")
        if kind == "message_start":  # Anthropic
            message = _get(item, "message")
            self.model = _get(message, "model") or self.model
            usage = _get(message, "usage")
            self.input = _int(_get(usage, "input_tokens"))
            self.output = _int(_get(usage, "output_tokens"))
        elif kind == "message_delta":  # Anthropic: cumulative output (and sometimes input) tokens
            usage = _get(item, "usage")
            if _get(usage, "output_tokens") is not None:
                self.output = _int(_get(usage, "output_tokens"))
            if _get(usage, "input_tokens"):
                self.input = _int(_get(usage, "input_tokens"))
        elif kind in ("response.completed", "response.incomplete", "response.failed"):  # OpenAI Responses API
            self.final = extract_usage(_get(item, "response")) or self.final
        else:  # OpenAI final chunk (include_usage), Gemini chunks (cumulative usageMetadata)
            self.model = _get(item, "model") or self.model
            usage = extract_usage(item)
            if usage is not None:
                self.final = usage

    def result(self) -> Usage | None:
        if self.final is not None:
            return self.final
        if self.input is None and self.output is None:
            return None
        inp, out = self.input or 0, self.output or 0
        return Usage(inp, out, inp + out, self.model or "unknown")


class LLMTracker:
    """Records one event per LLM call. Create it once; wrap a client per customer.

    ::

        tracker = LLMTracker(ingestion)                       # event name: ingestion's or llm_usage
        client = tracker.wrap(OpenAI(), customer_id="cus_123", metadata={"feature": "chat"})
        client.chat.completions.create(model="gpt-4o-mini", messages=[...])       # recorded
        tracker.track(response, "cus_123")                   # or record a response yourself
    """

    def __init__(self, ingestion: Tracker, event_name: str | None = None):
        self.ingestion = ingestion
        self.event_name = event_name_for(ingestion, event_name, EVENT_NAME)

    def track(self, response: Any, customer_id: str, metadata: dict | None = None) -> str | None:
        """Record ``response``'s usage; returns the ``event_id``, or ``None`` when it has no usage."""
        return self.track_usage(extract_usage(response), customer_id, metadata)

    def track_usage(self, usage: Usage | None, customer_id: str, metadata: dict | None = None) -> str | None:
        if usage is None:
            return None
        return self.ingestion.track(customer_id, {**usage.metadata(), **(metadata or {})}, event_name=self.event_name)

    def _safe_track_usage(self, usage: Usage | None, customer_id: str, metadata: dict | None) -> None:
        try:
            self.track_usage(usage, customer_id, metadata)
        except Exception:  # noqa: BLE001
            log.exception("meterbase: could not record LLM usage")

    def wrap(self, client: Any, customer_id: str, metadata: dict | None = None, *,
             inject_stream_usage: bool = True) -> Any:
        """A proxy of ``client`` (sync or async) whose calls record token usage."""
        return _Proxy(client, _Context(self, customer_id, metadata, inject_stream_usage), ())


def wrap_llm_client(client: Any, ingestion: Tracker, customer_id: str, metadata: dict | None = None, *,
                    event_name: str | None = None, inject_stream_usage: bool = True) -> Any:
    """Shortcut for ``LLMTracker(ingestion, event_name).wrap(client, customer_id, metadata)``."""
    return LLMTracker(ingestion, event_name).wrap(client, customer_id, metadata, inject_stream_usage=inject_stream_usage)


@dataclass(frozen=True)
class _Context:
    tracker: LLMTracker
    customer_id: str
    metadata: dict | None
    inject_stream_usage: bool

    def record(self, usage: Usage | None) -> None:
        self.tracker._safe_track_usage(usage, self.customer_id, self.metadata)


class _Proxy:
    __slots__ = ("_target", "_ctx", "_path")

    def __init__(self, target: Any, ctx: _Context, path: tuple[str, ...]):
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_ctx", ctx)
        object.__setattr__(self, "_path", path)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if name.startswith("_") or isinstance(value, _PLAIN):
            return value
        if callable(value) and not inspect.isclass(value):
            return _call_wrapper(value, self._ctx, self._path + (name,))
        return _Proxy(value, self._ctx, self._path + (name,))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _call_wrapper(self._target, self._ctx, self._path)(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<metered {self._target!r}>"


def _call_wrapper(func: Any, ctx: _Context, path: tuple[str, ...]):
    def call(*args: Any, **kwargs: Any) -> Any:
        streaming = kwargs.get("stream") is True
        if (streaming and ctx.inject_stream_usage and path[-2:] == ("completions", "create")
                and "stream_options" not in kwargs):
            kwargs["stream_options"] = {"include_usage": True}
        result = func(*args, **kwargs)
        if inspect.isawaitable(result):
            async def finish():
                return _after(await result, ctx, streaming)
            return finish()
        return _after(result, ctx, streaming)

    call.__name__ = getattr(func, "__name__", "call")
    call.__doc__ = getattr(func, "__doc__", None)
    return call


def _after(result: Any, ctx: _Context, streaming: bool) -> Any:
    if streaming or _looks_like_stream(result):
        if hasattr(result, "__aiter__"):
            return MeteredAsyncStream(result, ctx.record)
        if hasattr(result, "__iter__") or hasattr(result, "__next__"):
            return MeteredStream(result, ctx.record)
    try:
        usage = extract_usage(result)
    except Exception:  # noqa: BLE001
        log.exception("meterbase: could not read LLM usage")
        return result
    if usage is not None:
        ctx.record(usage)
    return result


def _looks_like_stream(result: Any) -> bool:
    # SDK stream objects (openai.Stream, anthropic.Stream…) are iterators without usage of their own.
    if isinstance(result, _PLAIN) or extract_usage(result) is not None:
        return False
    return hasattr(result, "__next__") or hasattr(result, "__anext__")


class _MeteredBase:
    def __init__(self, inner: Any, record):
        self._inner, self._record, self._usage, self._done = inner, record, StreamUsage(), False
        self._it = None

    def _finish(self) -> None:
        if not self._done:
            self._done = True
            self._record(self._usage.result())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class MeteredStream(_MeteredBase):
    """A sync stream that records usage once, when exhausted, failed, closed or exited."""

    def __iter__(self):
        return self

    def __next__(self):
        if self._it is None:
            self._it = iter(self._inner)
        try:
            item = next(self._it)
        except BaseException:  # StopIteration included
            self._finish()
            raise
        self._usage.feed(item)
        return item

    def close(self) -> None:
        try:
            close = getattr(self._inner, "close", None)
            if close is not None:
                close()
        finally:
            self._finish()

    def __enter__(self):
        if hasattr(self._inner, "__enter__"):
            self._inner.__enter__()
        return self

    def __exit__(self, *exc):
        try:
            if hasattr(self._inner, "__exit__"):
                return self._inner.__exit__(*exc)
        finally:
            self._finish()


class MeteredAsyncStream(_MeteredBase):
    """The async twin of :class:`MeteredStream`."""

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self._it is None:
            self._it = self._inner.__aiter__()
        try:
            item = await self._it.__anext__()
        except BaseException:  # StopAsyncIteration included
            self._finish()
            raise
        self._usage.feed(item)
        return item

    async def close(self) -> None:
        try:
            close = getattr(self._inner, "close", None) or getattr(self._inner, "aclose", None)
            if close is not None:
                out = close()
                if inspect.isawaitable(out):
                    await out
        finally:
            self._finish()

    async def __aenter__(self):
        if hasattr(self._inner, "__aenter__"):
            await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc):
        try:
            if hasattr(self._inner, "__aexit__"):
                return await self._inner.__aexit__(*exc)
        finally:
            self._finish()
