"""The language model used by prompt optimization (SPEC §13): any OpenAI-compatible
chat-completions endpoint through the official `openai` client.

Configured by `OPENAI_API_KEY`, `LEARNING_LOOP_LLM_BASE_URL` (e.g.
`http://127.0.0.1:8000/v1` for a local vLLM/llama.cpp/Ollama server) and
`LEARNING_LOOP_LLM_MODEL`. Without a model, or without both a key and a base
URL, `missing_reason()` says why and the job records a `skipped` run.

Timeouts and retries are the client's own: `timeout_s` per request and
`max_retries` with exponential backoff on connection errors, timeouts, 408, 409,
429 and 5xx. Token usage of every call is added to `usage`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg
from pydantic import PrivateAttr

from learning_loop.settings import Settings


class LLMUnavailable(RuntimeError):
    """The model could not be reached or answered with an error after the retries."""


@dataclass
class Usage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, int]:
        return {"calls": self.calls, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "total_tokens": self.total_tokens}


@dataclass
class ChatClient:
    """A configured client; `complete` returns the answer text and counts tokens."""

    model: str
    client: object
    temperature: float = 0.0
    usage: Usage = field(default_factory=Usage)

    def complete(self, messages: list[dict[str, str]], max_tokens: int | None = None) -> str:
        import openai

        try:
            response = self.client.chat.completions.create(  # type: ignore[attr-defined]
                model=self.model, messages=messages, temperature=self.temperature,
                **({"max_tokens": max_tokens} if max_tokens else {}),
            )
        except openai.APIError as exc:
            raise LLMUnavailable(f"language model {self.model}: {type(exc).__name__}: {exc}".splitlines()[0]) from exc
        self.usage.calls += 1
        if response.usage is not None:
            self.usage.prompt_tokens += int(response.usage.prompt_tokens or 0)
            self.usage.completion_tokens += int(response.usage.completion_tokens or 0)
        return (response.choices[0].message.content or "") if response.choices else ""


class LLMResource(dg.ConfigurableResource):
    """An OpenAI-compatible chat-completions endpoint (base URL, key, model)."""

    base_url: str | None = None
    api_key: str | None = None
    model: str | None = None
    timeout_s: float = 60.0
    max_retries: int = 3
    _client: ChatClient | None = PrivateAttr(default=None)

    @classmethod
    def from_settings(cls, settings: Settings) -> LLMResource:
        return cls(base_url=settings.llm_base_url, api_key=settings.openai_api_key, model=settings.llm_model,
                   timeout_s=settings.llm_timeout_s, max_retries=settings.llm_max_retries)

    def missing_reason(self) -> str | None:
        """Why no model can be used (None when one is configured)."""
        if not self.model:
            return "no language model configured: set LEARNING_LOOP_LLM_MODEL (and OPENAI_API_KEY and/or LEARNING_LOOP_LLM_BASE_URL)"
        if not self.api_key and not self.base_url:
            return "no language model endpoint configured: set OPENAI_API_KEY or LEARNING_LOOP_LLM_BASE_URL"
        return None

    def client(self) -> ChatClient:
        reason = self.missing_reason()
        if reason:
            raise LLMUnavailable(reason)
        if self._client is None:
            import openai

            raw = openai.OpenAI(
                api_key=self.api_key or "not-needed",  # local servers accept any key
                base_url=self.base_url or None,
                timeout=self.timeout_s,
                max_retries=self.max_retries,
            )
            self._client = ChatClient(model=str(self.model), client=raw)
        return self._client
