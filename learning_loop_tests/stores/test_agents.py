"""Agent configuration files and known agents."""

from __future__ import annotations

import pytest

from learning_loop.domain.active_learning.agents import AgentConfigError
from learning_loop.stores.agents import agent_config, configured_agents, known_agents
from learning_loop_tests.bundle_helpers import insert_labels, label_rows


def test_missing_file_means_defaults(tmp_path):
    config = agent_config(tmp_path, "inbox_triage")
    assert config.agent == "inbox_triage" and config.auto_promote is False
    assert config.bounds.for_param("risk_score_threshold") == (30.0, 90.0)


def test_yaml_bounds_and_errors(tmp_path):
    folder = tmp_path / "agents"
    folder.mkdir()
    (folder / "post_gate.yaml").write_text("bounds:\n  decision_threshold: [0.2, 0.8]\nauto_promote: true\n")
    config = agent_config(tmp_path, "post_gate")
    assert config.bounds.for_param("decision_threshold") == (0.2, 0.8) and config.auto_promote
    (folder / "bad.yaml").write_text("bounds: [1, 2\n")
    with pytest.raises(AgentConfigError, match=r"agents/bad.yaml: not valid YAML"):
        agent_config(tmp_path, "bad")
    (folder / "typo.yaml").write_text("bound: {}\n")
    with pytest.raises(AgentConfigError, match="typo.yaml"):
        agent_config(tmp_path, "typo")
    (folder / "Not-An-Agent.yaml").write_text("")
    assert configured_agents(tmp_path) == {"post_gate", "bad", "typo"}


def test_known_agents_from_labels_bundles_and_files(warehouse, tmp_path):
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "post_gate.yaml").write_text("")
    insert_labels(warehouse, label_rows("inbox_triage", n=3))
    assert known_agents(warehouse, tmp_path) == {"inbox_triage", "post_gate"}
