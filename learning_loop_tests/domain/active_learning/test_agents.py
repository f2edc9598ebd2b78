"""Agent configuration: defaults, bounds, bad files."""

from __future__ import annotations

import pytest

from learning_loop.domain.active_learning.agents import (
    AgentBounds,
    AgentConfigError,
    default_agent_config,
    parse_agent_config,
)


def test_defaults():
    config = default_agent_config("inbox_triage")
    assert config.agent == "inbox_triage" and config.system_prompt is None
    assert config.auto_promote is False and config.critical_judges == ()
    bounds = config.bounds
    assert bounds.for_param("decision_threshold") == (0.05, 0.95)
    assert bounds.for_param("risk_score_threshold") == (30.0, 90.0)
    assert bounds.for_param("spf_dkim_weight") == (-10.0, 10.0)
    assert bounds.for_param("spf_dkim_importance") == (0.0, 1.0)
    assert bounds.for_param("tone") is None
    assert parse_agent_config("inbox_triage", {}) == config


def test_violations():
    bounds = AgentBounds()
    assert bounds.all_within({"decision_threshold": 0.05, "risk_score_threshold": 90, "x_weight": -10, "free": 1e9})
    assert bounds.violations({"risk_score_threshold": 29.9, "x_importance": 1.5, "decision_threshold": float("inf")}) == [
        "decision_threshold=inf is not a finite number",
        "risk_score_threshold=29.9 outside [30, 90]",
        "x_importance=1.5 outside [0, 1]",
    ]


def test_configured_file():
    config = parse_agent_config(
        "inbox_triage",
        {
            "agent": "inbox_triage",
            "system_prompt": "Triage the inbox.",
            "auto_promote": True,
            "critical_judges": ["gpt-4", "claude-3-opus"],
            "bounds": {"decision_threshold": [0.2, 0.8], "risk_score_threshold": {"min": 40, "max": 80}, "*_weight": [-3, 3]},
            "guard": {"max_quality_drop": 0.03, "alpha": 0.05},
        },
    )
    assert config.system_prompt == "Triage the inbox." and config.auto_promote
    assert config.critical_judges == ("gpt-4", "claude-3-opus")
    assert config.bounds.for_param("decision_threshold") == (0.2, 0.8)
    assert config.bounds.for_param("risk_score_threshold") == (40.0, 80.0)
    assert config.bounds.for_param("spf_dkim_weight") == (-3.0, 3.0)  # configured pattern beats the default
    assert config.bounds.for_param("spf_dkim_importance") == (0.0, 1.0)
    assert config.guard.max_quality_drop == 0.03 and config.guard.alpha == 0.05 and config.guard.max_latency_rise is None


@pytest.mark.parametrize(
    "doc, message",
    [
        ("just text", "expected a mapping"),
        ({"bound": {}}, "bound: Extra inputs are not permitted"),
        ({"auto_promote": "yes"}, "auto_promote: Input should be a valid boolean"),
        ({"critical_judges": "gpt-4"}, "critical_judges: Input should be a valid list"),
        ({"critical_judges": [" "]}, "critical_judges: a judge name is empty"),
        ({"bounds": {"decision_threshold": [0.9, 0.1]}}, "bounds.decision_threshold: low 0.9 is above high 0.1"),
        ({"bounds": {"decision_threshold": [0.1]}}, "bounds.decision_threshold: expected [low, high]"),
        ({"bounds": {"x_weight": [1, "a"]}}, "bounds.x_weight: low and high must be finite numbers"),
        ({"bounds": {"x_weight": {"min": 1}}}, "bounds.x_weight: expected [low, high]"),
        ({"bounds": [0, 1]}, "bounds: Input should be a valid dictionary"),
        ({"guard": {"alpha": 2}}, "guard.alpha: Input should be less than 1"),
        ({"agent": "post_gate"}, "agent: file says 'post_gate', expected 'inbox_triage'"),
    ],
)
def test_bad_config_names_file_and_key(doc, message):
    with pytest.raises(AgentConfigError) as info:
        parse_agent_config("inbox_triage", doc)
    assert str(info.value).startswith("agents/inbox_triage.yaml: ")
    assert message in str(info.value)


def test_bad_agent_name():
    with pytest.raises(AgentConfigError, match="invalid agent name"):
        parse_agent_config("Inbox", {})
