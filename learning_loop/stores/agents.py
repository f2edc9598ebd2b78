"""Per-agent configuration files and which agents exist.

`$LEARNING_LOOP_HOME/agents/<agent>.yaml` is parsed with PyYAML and checked by
`domain.active_learning.agents.parse_agent_config`; a missing file means the
defaults. An agent is *known* when it has labels, a bundle, or a
configuration file.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from learning_loop.domain.active_learning.agents import AgentConfig, AgentConfigError, parse_agent_config
from learning_loop.domain.validation import AGENT_PATTERN
from learning_loop.warehouse.backend import Transaction, Warehouse

AGENTS_DIR = "agents"


def agents_dir(home: str | Path) -> Path:
    return Path(home) / AGENTS_DIR


def config_path(home: str | Path, agent: str) -> Path:
    return agents_dir(home) / f"{agent}.yaml"


def agent_config(home: str | Path, agent: str) -> AgentConfig:
    """The agent's configuration (defaults without a file); a bad file raises `AgentConfigError`."""
    path = config_path(home, agent)
    source = f"{AGENTS_DIR}/{agent}.yaml"
    if not path.is_file():
        return parse_agent_config(agent, None, source=source)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AgentConfigError(f"{source}: not valid YAML: {first}") from None
    return parse_agent_config(agent, doc, source=source)


def configured_agents(home: str | Path) -> set[str]:
    """Agents with a configuration file."""
    folder = agents_dir(home)
    if not folder.is_dir():
        return set()
    return {p.stem for p in folder.glob("*.yaml") if AGENT_PATTERN.fullmatch(p.stem)}


def known_agents(source: Transaction | Warehouse, home: str | Path) -> set[str]:
    """Agents with labels, a bundle or a configuration file."""
    frame = source.query_df("SELECT DISTINCT agent FROM labels UNION SELECT DISTINCT agent FROM bundles")
    return {str(a) for a in frame["agent"].dropna()} | configured_agents(home)
