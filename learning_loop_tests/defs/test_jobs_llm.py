import time

import pytest

from learning_loop.orchestration.llm import LLMResource, LLMUnavailable
from learning_loop.settings import Settings
from learning_loop_tests.defs.chat_server import ChatServer

MSG = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}]


def test_real_client_against_local_server_records_usage():
    with ChatServer(lambda m: m[-1]["content"].upper()) as server:
        client = LLMResource(base_url=server.base_url, model="local-model", timeout_s=5, max_retries=0).client()
        assert client.complete(MSG) == "HELLO"
        assert client.complete(MSG) == "HELLO"
    assert client.usage.to_dict() == {"calls": 2, "prompt_tokens": 14, "completion_tokens": 6, "total_tokens": 20}
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["body"]["model"] == "local-model" and request["body"]["messages"] == MSG


def test_500_then_success_is_retried():
    with ChatServer(lambda m: "fine") as server:
        server.script = [("status", 500)]
        client = LLMResource(base_url=server.base_url, model="m", timeout_s=5, max_retries=2).client()
        assert client.complete(MSG) == "fine"
    assert len(server.requests) == 2 and client.usage.calls == 1


def test_500_without_retries_left_is_unavailable():
    with ChatServer() as server:
        server.script = [("status", 500), ("status", 503)]
        client = LLMResource(base_url=server.base_url, model="m", timeout_s=5, max_retries=1).client()
        with pytest.raises(LLMUnavailable, match="InternalServerError"):
            client.complete(MSG)
    assert len(server.requests) == 2


def test_timeout():
    with ChatServer() as server:
        server.script = [("sleep", 2.0)]
        client = LLMResource(base_url=server.base_url, model="m", timeout_s=0.3, max_retries=0).client()
        started = time.monotonic()
        with pytest.raises(LLMUnavailable, match="Timeout"):
            client.complete(MSG)
        assert time.monotonic() - started < 1.5


def test_missing_configuration_reason():
    assert "LEARNING_LOOP_LLM_MODEL" in LLMResource().missing_reason()
    assert "OPENAI_API_KEY" in LLMResource(model="gpt-x").missing_reason()
    assert LLMResource(model="gpt-x", api_key="sk-1").missing_reason() is None
    assert LLMResource(model="m", base_url="http://127.0.0.1:1/v1").missing_reason() is None
    with pytest.raises(LLMUnavailable):
        LLMResource().client()


def test_from_settings():
    s = Settings(OPENAI_API_KEY="sk-x", LEARNING_LOOP_LLM_BASE_URL="http://h/v1", LEARNING_LOOP_LLM_MODEL="m",
                 LEARNING_LOOP_LLM_TIMEOUT="5", LEARNING_LOOP_LLM_MAX_RETRIES="1")
    r = LLMResource.from_settings(s)
    assert (r.api_key, r.base_url, r.model, r.timeout_s, r.max_retries) == ("sk-x", "http://h/v1", "m", 5.0, 1)


def test_job_settings_defaults_and_validation():
    from learning_loop.settings import SettingsError

    s = Settings()
    assert (s.rag_training_min_samples, s.feedback_retention_days, s.smtp_host, s.smtp_to) == (1000, 180, None, [])
    s = Settings(RAG_TRAINING_MIN_SAMPLES="20", FEEDBACK_RETENTION_DAYS="30", LEARNING_LOOP_SMTP_HOST="mx",
                 LEARNING_LOOP_SMTP_TO="a@x, b@y")
    assert (s.rag_training_min_samples, s.feedback_retention_days, s.smtp_to) == (20, 30, ["a@x", "b@y"])
    with pytest.raises(SettingsError, match="FEEDBACK_RETENTION_DAYS"):
        Settings(FEEDBACK_RETENTION_DAYS="0").feedback_retention_days
