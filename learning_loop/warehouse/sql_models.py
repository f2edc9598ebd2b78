"""A small loader for the one-model-per-file SQL in `dbt_like_sql/`.

A model is `dbt_like_sql/<group>/<name>.sql`: a single SELECT that may start
with `{{ config(key='value', …) }}` and names its inputs as `{{ ref('model') }}`.
The loader renders refs to table names, cross-checks them with sqlglot (every
table the SQL reads must be a ref, and every ref must be read), reads the
output columns, and hashes the file for Dagster's `code_version`. Parameters
(the partition's window, weights) stay `:name` placeholders and are bound by
the warehouse at run time.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import sqlglot
from sqlglot import exp

_REF = re.compile(r"\{\{\s*ref\(\s*['\"](\w+)['\"]\s*\)\s*\}\}")
_CONFIG = re.compile(r"\{\{\s*config\((.*?)\)\s*\}\}", re.DOTALL)
_CONFIG_ITEM = re.compile(r"(\w+)\s*=\s*'([^']*)'")
_PLACEHOLDER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class SqlModelError(ValueError):
    """A model file that cannot be used as written."""


def default_sql_dir() -> Path:
    """`dbt_like_sql/` beside the package (`LEARNING_LOOP_SQL_DIR` overrides it, through the settings)."""
    return Path(__file__).resolve().parents[2] / "dbt_like_sql"


@dataclass(frozen=True)
class SqlModel:
    name: str
    group: str
    path: Path
    source: str
    config: dict[str, str] = field(default_factory=dict)

    @property
    def refs(self) -> tuple[str, ...]:
        return tuple(sorted(set(_REF.findall(self.source))))

    @property
    def partitioned(self) -> bool:
        return self.config.get("partitioned", "daily") == "daily"

    @property
    def description(self) -> str:
        return self.config.get("description", "")

    @property
    def code_version(self) -> str:
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()[:16]

    @cached_property
    def sql(self) -> str:
        """The SELECT with refs rendered to table names; config block and comment lines removed."""
        body = _REF.sub(lambda m: m.group(1), _CONFIG.sub("", self.source))
        return "\n".join(line for line in body.splitlines() if not line.strip().startswith("--")).strip()

    @cached_property
    def parameters(self) -> tuple[str, ...]:
        return tuple(sorted(set(_PLACEHOLDER.findall(self.sql))))

    @cached_property
    def _tree(self) -> exp.Expression:
        try:
            return sqlglot.parse_one(self.sql, read="postgres")
        except sqlglot.errors.ParseError as exc:
            raise SqlModelError(f"{self.path}: cannot parse SQL: {exc}".splitlines()[0]) from exc

    @cached_property
    def columns(self) -> list[str]:
        names = [select.alias_or_name for select in self._tree.selects]
        if any(not n or n == "*" for n in names):
            raise SqlModelError(f"{self.path}: every output column needs a name (no bare *)")
        return names

    def tables_read(self) -> set[str]:
        ctes = {cte.alias_or_name for cte in self._tree.find_all(exp.CTE)}
        return {t.name for t in self._tree.find_all(exp.Table)} - ctes

    def check(self) -> None:
        """Refs and the tables the SQL really reads must agree."""
        read, refs = self.tables_read(), set(self.refs)
        if read != refs:
            extra, unused = sorted(read - refs), sorted(refs - read)
            raise SqlModelError(
                f"{self.path}: refs and tables read disagree"
                + (f"; reads without ref(): {extra}" if extra else "")
                + (f"; ref() never read: {unused}" if unused else "")
            )
        self.columns  # noqa: B018 - parse and validate output names


def _parse_config(source: str) -> dict[str, str]:
    match = _CONFIG.search(source)
    return dict(_CONFIG_ITEM.findall(match.group(1))) if match else {}


def load_models(root: Path | None = None) -> dict[str, SqlModel]:
    """Every model under `root`, checked, keyed by name."""
    root = root or default_sql_dir()
    if not root.is_dir():
        raise SqlModelError(f"SQL model folder not found: {root} (set LEARNING_LOOP_SQL_DIR)")
    models: dict[str, SqlModel] = {}
    for path in sorted(root.rglob("*.sql")):
        source = path.read_text(encoding="utf-8")
        model = SqlModel(
            name=path.stem,
            group=path.parent.name if path.parent != root else "default",
            path=path,
            source=source,
            config=_parse_config(source),
        )
        if model.name in models:
            raise SqlModelError(f"two models named {model.name!r}: {models[model.name].path} and {path}")
        model.check()
        models[model.name] = model
    return models
