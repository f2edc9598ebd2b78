"""Cleaning the operator's topic lines: strip, drop blanks, collapse repeats by topic_hash."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from learning_loop.domain.planning.errors import InvalidTopicsError
from learning_loop.domain.planning.request import MAX_TOPIC_CHARS
from learning_loop.domain.recipe import topic_hash


@dataclass(frozen=True, slots=True)
class CleanTopic:
    topic: str
    topic_hash: str


@dataclass(frozen=True)
class CleanedTopics:
    topics: tuple[CleanTopic, ...]
    collapsed: tuple[str, ...]  # lines dropped as repeats of an earlier topic


def clean_topics(lines: Sequence[str], max_chars: int = MAX_TOPIC_CHARS) -> CleanedTopics:
    """Strip, drop blank lines, collapse repeats by topic_hash (first wins).

    Raises :class:`InvalidTopicsError` for a line longer than ``max_chars``
    characters (after stripping) or when no topic remains.
    """
    seen: set[str] = set()
    kept: list[CleanTopic] = []
    collapsed: list[str] = []
    line_no = 0
    for raw in lines:
        for line in str(raw).splitlines() or [""]:
            line_no += 1
            text = line.strip()
            if not text:
                continue
            if len(text) > max_chars:
                raise InvalidTopicsError(f"topic on line {line_no} has {len(text)} characters (maximum {max_chars})")
            th = topic_hash(text)
            if th in seen:
                collapsed.append(text)
                continue
            seen.add(th)
            kept.append(CleanTopic(text, th))
    if not kept:
        raise InvalidTopicsError("no topics left after removing blank lines")
    return CleanedTopics(tuple(kept), tuple(collapsed))


__all__ = ["CleanTopic", "CleanedTopics", "clean_topics"]
