"""LLM blueprint: wrapped OpenAI-/Anthropic-style clients (fakes returning the real response shapes)."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest

from meterbase.sdk.blueprints import LLMTracker, extract_usage, wrap_llm_client

from .conftest import arun, bag


def obj(value):
    """JSON -> attribute objects, like the SDKs' pydantic models (``resp.usage.prompt_tokens``)."""
    return json.loads(json.dumps(value), object_hook=lambda d: SimpleNamespace(**d))


def openai_completion(model, prompt, completion):
    return obj({
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": "chat.completion", "created": 1741570283,
        "model": model, "system_fingerprint": "fp_fc9f1d7035", "service_tier": "default",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!", "refusal": None,
                                             "annotations": []}, "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                  "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
    })


def openai_chunks(model, prompt, completion, include_usage):
    base = {"id": "chatcmpl-123", "object": "chat.completion.chunk", "created": 1694268190, "model": model,
            "system_fingerprint": "fp_44709d6fcb"}
    chunks = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                              "finish_reason": None}], "usage": None},
        {**base, "choices": [{"index": 0, "delta": {"content": "Hel"}, "logprobs": None, "finish_reason": None}],
         "usage": None},
        {**base, "choices": [{"index": 0, "delta": {"content": "lo"}, "logprobs": None, "finish_reason": None}],
         "usage": None},
        {**base, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}], "usage": None},
    ]
    if include_usage:
        chunks.append({**base, "choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                                        "total_tokens": prompt + completion}})
    return [obj(c) for c in chunks]


def anthropic_message(model, inp, out):
    return obj({"id": "msg_013Zva2CMHLNnXjNJJKqJ2EF", "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": "Hi!"}], "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": inp, "output_tokens": out, "cache_creation_input_tokens": 0,
                          "cache_read_input_tokens": 0, "service_tier": "standard"}})


def anthropic_events(model, inp, out):
    return [obj(e) for e in [
        {"type": "message_start", "message": {"id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "type": "message",
                                              "role": "assistant", "content": [], "model": model,
                                              "stop_reason": None, "stop_sequence": None,
                                              "usage": {"input_tokens": inp, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"output_tokens": out}},
        {"type": "message_stop"},
    ]]


class FakeStream:
    """Like ``openai.Stream`` / ``anthropic.Stream``: an iterator, closable, a context manager."""

    def __init__(self, items):
        self._items, self.closed = iter(items), False

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._items)

    def close(self):
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class FakeAsyncStream:
    def __init__(self, items):
        self._items = iter(items)

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            return next(self._items)
        except StopIteration:
            raise StopAsyncIteration from None


class FakeOpenAI:
    """``client.chat.completions.create(...)`` with the real response and chunk shapes."""

    def __init__(self, prompt=11, completion=7):
        self.api_key = "sk-test"
        self.calls = []
        completions = SimpleNamespace(create=self._create)
        self.chat = SimpleNamespace(completions=completions)
        self.models = SimpleNamespace(list=lambda: obj({"object": "list", "data": []}))
        self.tokens = (prompt, completion)

    def _create(self, *, model, messages, stream=False, stream_options=None, **kw):
        self.calls.append({"model": model, "stream": stream, "stream_options": stream_options})
        if stream:
            include = bool(stream_options and stream_options.get("include_usage"))
            return FakeStream(openai_chunks(model, *self.tokens, include))
        return openai_completion(model, *self.tokens)


class FakeAsyncOpenAI(FakeOpenAI):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        sync_create = self._create

        async def create(**kwargs):
            result = sync_create(**kwargs)
            return FakeAsyncStream(list(result)) if kwargs.get("stream") else result
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=create))


class FakeAnthropic:
    def __init__(self, inp=25, out=15):
        self.messages = SimpleNamespace(create=self._create)
        self.tokens = (inp, out)

    def _create(self, *, model, max_tokens, messages, stream=False, **kw):
        assert "stream_options" not in kw  # only OpenAI completions get it injected
        if stream:
            return FakeStream(anthropic_events(model, *self.tokens))
        return anthropic_message(model, *self.tokens)


def test_extract_usage_matches_the_npm_package_rules():
    assert extract_usage(openai_completion("gpt-4o", 10, 5)).metadata() == {
        "inputTokens": 10, "outputTokens": 5, "totalTokens": 15, "model": "gpt-4o"}
    assert extract_usage(anthropic_message("claude-3-5-haiku-latest", 7, 3)).metadata() == {
        "inputTokens": 7, "outputTokens": 3, "totalTokens": 10, "model": "claude-3-5-haiku-latest"}
    google = {"modelVersion": "gemini-2.0-flash", "usageMetadata": {
        "promptTokenCount": 8, "candidatesTokenCount": 20, "thoughtsTokenCount": 4, "totalTokenCount": 32}}
    assert extract_usage(google).metadata() == {"inputTokens": 8, "outputTokens": 24, "totalTokens": 32,
                                                "model": "gemini-2.0-flash"}
    ai_sdk = {"usage": {"inputTokens": 3, "outputTokens": 4, "reasoningTokens": 2}}
    assert extract_usage(ai_sdk).metadata() == {"inputTokens": 3, "outputTokens": 6, "totalTokens": 9,
                                                "model": "unknown"}
    assert extract_usage({"usage": None}) is None and extract_usage("text") is None


def test_wrapped_clients_record_calls_and_streams(recorder):
    tracker = LLMTracker(recorder)
    openai = FakeOpenAI(prompt=11, completion=7)
    client = tracker.wrap(openai, customer_id="cus_llm", metadata={"feature": "chat"})
    assert client.api_key == "sk-test"  # plain attributes pass through

    resp = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content == "Hello!"

    stream = client.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True)
    text = "".join(getattr(c.choices[0].delta, "content", "") for c in stream if c.choices)
    assert text == "Hello"
    assert openai.calls[-1]["stream_options"] == {"include_usage": True}  # injected so the stream carries usage

    client.models.list()  # no usage in the answer: nothing recorded

    anthropic = tracker.wrap(FakeAnthropic(inp=25, out=15), customer_id="cus_llm")
    anthropic.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=[])
    with anthropic.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=[], stream=True) as events:
        kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"

    assert [(c["event_name"], c["customer_id"], c["metadata"]) for c in recorder.calls] == [
        ("llm_usage", "cus_llm", {"inputTokens": 11, "outputTokens": 7, "totalTokens": 18, "model": "gpt-4o-mini",
                                  "feature": "chat"}),
        ("llm_usage", "cus_llm", {"inputTokens": 11, "outputTokens": 7, "totalTokens": 18, "model": "gpt-4o-mini",
                                  "feature": "chat"}),
        ("llm_usage", "cus_llm", {"inputTokens": 25, "outputTokens": 15, "totalTokens": 40,
                                  "model": "claude-sonnet-4-5"}),
        ("llm_usage", "cus_llm", {"inputTokens": 25, "outputTokens": 15, "totalTokens": 40,
                                  "model": "claude-sonnet-4-5"}),
    ]


def test_stream_closed_early_records_once_and_without_usage_records_nothing(recorder):
    client = wrap_llm_client(FakeAnthropic(inp=9, out=4), recorder, "cus_1")
    stream = client.messages.create(model="claude", max_tokens=5, messages=[], stream=True)
    next(stream)  # message_start only: 9 input tokens, 1 output token so far
    stream.close()
    stream.close()
    assert [c["metadata"]["totalTokens"] for c in recorder.calls] == [10]

    recorder.calls.clear()
    plain = wrap_llm_client(FakeOpenAI(), recorder, "cus_1", inject_stream_usage=False)
    list(plain.chat.completions.create(model="m", messages=[], stream=True))
    assert recorder.calls == []  # the provider sent no usage, so there is nothing to bill


def test_async_client_and_streams(recorder):
    client = LLMTracker(recorder, event_name="chat_tokens").wrap(FakeAsyncOpenAI(prompt=3, completion=2), "cus_a")

    async def main():
        await client.chat.completions.create(model="gpt-4.1", messages=[])
        stream = await client.chat.completions.create(model="gpt-4.1", messages=[], stream=True)
        return [c async for c in stream]

    chunks = arun(main())
    assert chunks[-1].usage.total_tokens == 5
    assert [(c["event_name"], c["metadata"]["totalTokens"]) for c in recorder.calls] == [("chat_tokens", 5)] * 2


def test_tracking_failures_never_break_the_call(recorder):
    client = wrap_llm_client(FakeOpenAI(), recorder, "cus_1", metadata={"bad": ["not", "scalar"]})

    def explode(*a, **kw):
        raise RuntimeError("queue full")
    recorder.track = explode
    assert client.chat.completions.create(model="m", messages=[]).usage.total_tokens == 18


def test_llm_events_and_meters_end_to_end(server, meters):
    with server.ingestion("llm_usage") as ing:
        tracker = LLMTracker(ing)
        openai = tracker.wrap(FakeOpenAI(prompt=120, completion=30), "cus_llm_e2e", {"feature": "chat"})
        anthropic = tracker.wrap(FakeAnthropic(inp=1000, out=250), "cus_llm_e2e")
        openai.chat.completions.create(model="gpt-4o-mini", messages=[])
        for _ in openai.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True):
            pass
        anthropic.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=[])
        list(anthropic.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=[], stream=True))
    events = server.events("cus_llm_e2e")
    assert all(re.match(r"^llm_usage_\d{13}_[0-9a-f]{12}$", e["event_id"]) for e in events)
    assert bag(e["metadata"] for e in events) == bag(
        [{"inputTokens": 120, "outputTokens": 30, "totalTokens": 150, "model": "gpt-4o-mini", "feature": "chat"}] * 2
        + [{"inputTokens": 1000, "outputTokens": 250, "totalTokens": 1250, "model": "claude-sonnet-4-5"}] * 2)
    assert server.usage(meters["LLM input tokens"], "cus_llm_e2e") == 2240
    assert server.usage(meters["LLM output tokens"], "cus_llm_e2e") == 560
    assert server.usage(meters["LLM total tokens"], "cus_llm_e2e") == 2800


@pytest.mark.parametrize("bad", [123, None])
def test_wrap_ignores_non_responses(recorder, bad):
    client = wrap_llm_client(SimpleNamespace(f=lambda: bad), recorder, "cus_1")
    assert client.f() == bad and recorder.calls == []
