"""Row rules for landing files (SPEC §2 and §9), evaluated in one SQL pass per batch.

Input: a table whose values are the file's raw text (None or "" for an empty
cell) plus the 1-based data row number (an Arrow table, or a pandas frame of
text). Output: the rows that pass, typed and normalised, and the rows that fail
with the first rule each broke. Nothing is dropped:
`len(valid) + len(quarantined) == len(raw)`.

**How it runs.** The rules of a kind are written once, as SQL expressions, and
evaluated by an in-memory DuckDB over the Arrow columns: text is stripped, numbers
and timestamps parsed, each row's first failing rule picked by one `CASE`, and
the valid rows come back as Arrow, ready for the warehouse. Parsing keeps the
reference semantics of the pandas parsers exactly: the common spellings (a plain
decimal of at most 15 characters; `YYYY-MM-DD[T ]HH:MM:SS[.ffffff][Z|±HH:MM]` in
1900–2099, hours below 14 for offsets) are cast by DuckDB, where both parsers were
checked to agree (`learning_loop_tests/domain/test_validation_parsing.py`); every
other distinct value (exponents, `nan`/`inf`, other ISO-8601 forms, garbage) is
parsed once in Python by `pd.to_numeric` / `pd.to_datetime(format="ISO8601")`
and joined back. Text is stripped of exactly what `str.strip()` removes;
values whose Python meaning DuckDB has no equal for (preset upper-casing, the
recipe and topic hashes, the bucket of a number) are computed once per
distinct value in Python.

Every kind also has the rule "text PostgreSQL cannot store" (a NUL byte,
`\x00`, in any text value kept): checked last, the same on every backend, so
one warehouse never loads a row the other would refuse. Reasons are made
storable too (`storable_text`); the raw row is JSON, which escapes NUL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from learning_loop.domain.recipe import (
    CAPTION_BUCKETS,
    CAPTION_MEDIUM_RANGE,
    ENDING_TYPES,
    HOOK_TYPES,
    PRESET_PATTERN,
    RECIPE_FIELDS,
    SCENE_COUNT_MAX,
    SCENE_COUNT_MIN,
    WPM_BUCKETS,
    WPM_MEDIUM_RANGE,
    recipe_hash,
    topic_hash,
)

VIDEO_REQUIRED = ("project_id", "video_id", "published_at", "topic")
METRIC_REQUIRED = ("project_id", "video_id", "observed_at", "views", "likes", "comments", "avg_view_duration_s")
METRIC_COUNTS = ("views", "likes", "comments", "followers_gained", "shares")
GENERATION_MODES = ("exploit", "explore", "manual")
SCORE_RANGES: dict[str, tuple[float, float]] = {
    "quality_score": (0.0, 1.0),
    "novelty_score": (0.0, 1.0),
    "expertise_level": (0.0, 1.0),
    "viral_score": (0.0, 100.0),
}
VIDEO_OPTIONAL = (
    "preset",
    "hook_type",
    "scene_count",
    "ending_type",
    "narration_wpm",
    "narration_wpm_bucket",
    "caption_density",
    "caption_density_bucket",
    "content_type",
    *SCORE_RANGES,
    "job_id",
    "generation_mode",
)
METRIC_OPTIONAL = ("followers_gained", "shares")

# Active-learning kinds (SPEC §9).
#: Agent names: lower-case letter, then lower-case letters, digits or underscores.
AGENT_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
#: Label sources, weakest first: gold wins over approvals, approvals over feedback.
LABEL_SOURCES = ("approvals", "feedback", "gold")
#: Every labels column named `f_<name>` is a numeric feature called `<name>`.
FEATURE_PREFIX = "f_"
LABEL_REQUIRED = ("agent", "example_id", "source", "label", "labeled_at")
LABEL_OPTIONAL = ("confidence", "labeler", "input_text", "expected_output")
CONFIDENCE_RANGE = (0.0, 100.0)
JUDGMENT_REQUIRED = ("agent", "example_id", "judge", "score", "judged_at")
JUDGMENT_OPTIONAL: tuple[str, ...] = ()
DECISION_REQUIRED = ("agent", "decision_id", "bundle_id", "decided_at", "quality", "latency_ms")
DECISION_OPTIONAL = ("route_key",)
RETRIEVAL_REQUIRED = ("query", "document", "relevant", "observed_at")
RETRIEVAL_OPTIONAL: tuple[str, ...] = ()

REQUIRED_COLUMNS = {
    "videos": VIDEO_REQUIRED,
    "metrics": METRIC_REQUIRED,
    "labels": LABEL_REQUIRED,
    "judgments": JUDGMENT_REQUIRED,
    "decisions": DECISION_REQUIRED,
    "retrieval_pairs": RETRIEVAL_REQUIRED,
}
#: Named columns of each kind; for `labels` every `f_<name>` column is known too (see `is_known_column`).
KNOWN_COLUMNS = {
    "videos": VIDEO_REQUIRED + VIDEO_OPTIONAL,
    "metrics": METRIC_REQUIRED + METRIC_OPTIONAL,
    "labels": LABEL_REQUIRED + LABEL_OPTIONAL,
    "judgments": JUDGMENT_REQUIRED + JUDGMENT_OPTIONAL,
    "decisions": DECISION_REQUIRED + DECISION_OPTIONAL,
    "retrieval_pairs": RETRIEVAL_REQUIRED + RETRIEVAL_OPTIONAL,
}
#: Supersede key of each kind: a later row for the same key replaces an earlier one.
KEY_COLUMNS = {
    "videos": ("project_id", "video_id"),
    "metrics": ("project_id", "video_id", "observed_at"),
    "labels": ("agent", "example_id", "source"),
    "judgments": ("agent", "example_id", "judge"),
    # the contract names no key for retrieval feedback: one observation of a (query, document) pair
    "retrieval_pairs": ("query", "document", "observed_at"),
    "decisions": ("agent", "decision_id"),
}
#: Characters a text value may not hold: PostgreSQL's text type cannot store NUL.
UNSTORABLE_CHARACTERS = ("\x00",)
#: Largest count stored exactly: numbers are parsed as float64, whose integers are exact up to 2**53.
MAX_COUNT = 2**53
_NON_FINITE = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


#: What `str.strip()` removes (every character for which `str.isspace()` is true).
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
#: Numbers DuckDB casts exactly as `pd.to_numeric` parses them (at most 15 characters: exact in float64).
FAST_NUMBER = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)"
FAST_NUMBER_MAX_CHARS = 15
#: Timestamps DuckDB casts exactly as `pd.to_datetime(format="ISO8601", utc=True)` parses them.
FAST_TIMESTAMP = (
    r"(19|20)[0-9][0-9]-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(\.[0-9]{1,6})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9])?"
)


@dataclass
class Validated:
    table: pa.Table  # typed valid rows with their `row_number`, in no particular order (DuckDB collects in parallel)
    quarantined: pd.DataFrame  # row_number, reason, raw (JSON text)

    @cached_property
    def valid(self) -> pd.DataFrame:
        """The valid rows as pandas, in row order (whole numbers as nullable Int64, text as object with None)."""
        order = np.argsort(self.table["row_number"].to_numpy(), kind="stable")
        return arrow_to_pandas(self.table.take(pa.array(order)))


def arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """An Arrow table as pandas the way the rest of the code reads it: text as object with None,
    whole numbers as nullable Int64, timestamps in microseconds."""
    columns = {}
    for name, column in zip(table.column_names, table.columns):
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type) or pa.types.is_null(column.type):
            columns[name] = pd.Series(column.to_numpy(zero_copy_only=False), dtype=object)
        elif pa.types.is_integer(column.type):
            columns[name] = column.to_pandas(types_mapper={column.type: pd.Int64Dtype()}.get)
        else:
            columns[name] = column.to_pandas()
    return pd.DataFrame(columns, index=pd.RangeIndex(table.num_rows))


def storable_text(text: str) -> str:
    """`text` with the characters no backend may store written as escapes (`\\x00`)."""
    for char in UNSTORABLE_CHARACTERS:
        text = text.replace(char, char.encode("unicode_escape").decode("ascii"))
    return text


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    """A SQL string literal of a constant of this module (never of file data, which is bound)."""
    return "'" + text.replace("'", "''") + "'"


def _text_or_none(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value if isinstance(value, str) else str(value)


def as_arrow(raw: pd.DataFrame | pa.Table) -> pa.Table:
    """Raw rows as an Arrow table of text columns plus an int64 `row_number`."""
    if isinstance(raw, pa.Table):
        return raw
    columns = {}
    for name in raw.columns:
        values = raw[name]
        if name == "row_number":
            columns[name] = pa.array(values.to_numpy(dtype="int64"), pa.int64())
            continue
        try:
            columns[str(name)] = pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
        except (TypeError, ValueError, pa.ArrowException):  # not all text: value by value
            columns[str(name)] = pa.array([_text_or_none(v) for v in values], type=pa.string())
    return pa.table(columns)


def _stripped_columns(raw: pa.Table, columns: dict[str, str]) -> pa.Table:
    """`row_number`, the position `__pos` and `columns` of `raw` (name -> the name to give it), stripped
    as `str.strip()` does, null when nothing is left."""
    out = {"row_number": raw["row_number"]} if "row_number" in raw.column_names else {}
    out["__pos"] = pa.array(np.arange(raw.num_rows, dtype="int64"))
    for name, alias in columns.items():
        text = pc.utf8_trim(raw[name].cast(pa.string()), characters=WHITESPACE)
        out[alias] = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    return pa.table(out)


def _connect():
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def _python_numbers(values: list[str]) -> pa.Table:
    """(text, value, status) of text DuckDB is not trusted to cast: `pd.to_numeric`'s reading, with
    status 'nonfinite' (nan/inf spellings, overflow) or 'unparsable'."""
    text = pd.Series(values, dtype=object)
    parsed = pd.to_numeric(text, errors="coerce").astype("float64")
    non_finite = np.isinf(parsed.to_numpy()) | (parsed.isna() & text.str.lower().isin(_NON_FINITE)).to_numpy()
    status = np.where(non_finite, "nonfinite", np.where(parsed.isna(), "unparsable", "ok"))
    value = parsed.where(~non_finite & parsed.notna()) + 0.0  # no negative zero (DuckDB's side adds 0.0 too)
    return pa.table({"text": pa.array(values, pa.string()), "value": pa.array(value.to_numpy(), pa.float64(), from_pandas=True),
                     "status": pa.array(status.tolist(), pa.string())})


def _python_timestamps(values: list[str]) -> pa.Table:
    """(text, value) of timestamps outside the fast form: `pd.to_datetime(format="ISO8601", utc=True)`
    as naive UTC microseconds, null when unparsable."""
    parsed = pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601", errors="coerce")
    parsed = parsed.dt.tz_localize(None).astype("datetime64[us]")
    return pa.table({"text": pa.array(values, pa.string()), "value": pa.array(parsed, pa.timestamp("us"), from_pandas=True)})


class _Rules:
    """The rules of one kind as SQL over the raw rows; `collect` evaluates them in one pass.

    Expressions refer to the cleaned text of a column by `text(column)`; numbers, timestamps and
    Python-mapped values are columns of the parse stage. `fail(condition, reason)` adds a rule:
    a row's reason is that of the first rule it breaks, in the order the rules were added."""

    def __init__(self, raw: pd.DataFrame | pa.Table, columns: Iterable[str]) -> None:
        self.raw = as_arrow(raw)
        names = set(self.raw.column_names) - {"row_number"}
        # the kind's columns the rows have, each by its position: DuckDB matches identifiers regardless
        # of case (`f_a` is `f_A`)
        present = [c for c in dict.fromkeys(columns) if c in names]
        self.alias = {c: f"c{i}" for i, c in enumerate(present)}
        self.con = _connect()
        self.params: dict[str, object] = {"nul": "\x00"}
        self.rules: list[tuple[str, str]] = []
        self.numbers: list[str] = []
        self.timestamps: list[str] = []
        self.mapped: dict[str, tuple[str, Callable[[str], str], pa.DataType]] = {}
        self.published: pa.Table | pd.DataFrame | None = None

    # ---- expressions
    def bind(self, value: object) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"${name}"

    def text(self, column: str) -> str:
        """Stripped text; NULL for a missing column, an empty cell or a null."""
        return f"t.{self.alias[column]}" if column in self.alias else "CAST(NULL AS VARCHAR)"

    def present(self, column: str) -> str:
        return f"({self.text(column)} IS NOT NULL)"

    def fail(self, condition: str, reason: str, detail: str | None = None) -> None:
        """Rows where `condition` holds fail with `reason` (+ the text `detail`), unless an earlier rule failed."""
        message = self.bind(reason)
        self.rules.append((condition, message if detail is None else f"{message} || {detail}"))

    def required(self, columns: tuple[str, ...]) -> None:
        for column in columns:
            self.fail(f"NOT {self.present(column)}", f"required value missing: {column}")

    def number(self, column: str, *, count: bool = False) -> str:
        """A numeric column; unparsable, non-finite and (counts) negative, fractional or huge values fail."""
        if column not in self.alias:
            return "CAST(NULL AS DOUBLE)"
        self.numbers.append(column)
        value, status = f"t.n_{self.alias[column]}", f"t.s_{self.alias[column]}"
        self.fail(f"{status} = 'nonfinite'", f"non-finite number in {column}")
        self.fail(f"{status} = 'unparsable'", f"unparsable number in {column}: ", self.text(column))
        if count:
            self.fail(f"{value} < 0", f"negative count in {column}")
            self.fail(f"{value} <> floor({value})", f"count is not a whole number in {column}")
            self.fail(f"{value} > {MAX_COUNT}", f"count too large in {column} (above {MAX_COUNT})")
        return value

    def timestamp(self, column: str) -> str:
        """ISO-8601; no offset means UTC. Naive UTC microseconds."""
        if column not in self.alias:
            return "CAST(NULL AS TIMESTAMP)"
        self.timestamps.append(column)
        value = f"t.ts_{self.alias[column]}"
        self.fail(f"{self.present(column)} AND {value} IS NULL", f"unparsable timestamp in {column}: ", self.text(column))
        return value

    def map_values(self, column: str, function: Callable[[str], str]) -> str:
        """`function` (text to text) of each distinct value of the (stripped) column, computed once in Python."""
        if column not in self.alias:
            return "CAST(NULL AS VARCHAR)"
        self.mapped[column] = (f"m_{self.alias[column]}", function, pa.string())
        return f"t.m_{self.alias[column]}"

    def choice(self, column: str, allowed: tuple[str, ...]) -> str:
        """Lower-cased by Python (DuckDB's `lower` turns `İ` into `i`), once per distinct value."""
        text = self.map_values(column, str.lower)
        self.fail(f"{text} IS NOT NULL AND NOT list_contains({self.bind(list(allowed))}, {text})", f"unknown {column}: ", text)
        return text

    def agent(self, column: str = "agent") -> str:
        """An agent name, kept as written; anything not `[a-z][a-z0-9_]*` fails."""
        text = self.text(column)
        pattern = _literal(AGENT_PATTERN.pattern)
        self.fail(f"{text} IS NOT NULL AND NOT regexp_full_match({text}, {pattern})",
                  f"invalid {column} name (expected [a-z][a-z0-9_]*): ", text)
        return text

    def in_range(self, column: str, value: str, low: float, high: float) -> None:
        self.fail(f"{value} < {low!r} OR {value} > {high!r}", f"{column} outside [{low:g}, {high:g}]")

    def published_at(self, published: pa.Table | pd.DataFrame) -> str | None:
        """The publish time of each row's video from `published` (project_id, video_id, published_at),
        looked up by the stripped ids; None when the rows cannot name a video."""
        if "project_id" not in self.alias or "video_id" not in self.alias:
            return None
        self.published = published
        return "t.published_at"

    # ---- evaluation
    def _stage_columns(self) -> str:
        """Register `cleaned` (stripped text, plus the looked-up columns) and return the SELECT that
        adds the parsed numbers and timestamps. Lookups are narrow joins put back in position order
        and appended as columns, so the main pass is a plain scan with no join."""
        alias = self.alias
        cleaned = _stripped_columns(self.raw, alias)
        self.con.register("cleaned", cleaned)

        def fast_number(c: str) -> str:
            return f"(length({c}) <= {FAST_NUMBER_MAX_CHARS} AND regexp_full_match({c}, {_literal(FAST_NUMBER)}))"

        def fast_ts(c: str) -> str:
            return f"(regexp_full_match({c}, {_literal(FAST_TIMESTAMP)}) AND TRY_CAST({c} AS TIMESTAMPTZ) IS NOT NULL)"

        # one scan finds the values DuckDB is not trusted with, and the distinct values to map
        probes = [f"list(DISTINCT {alias[c]}) FILTER (WHERE {alias[c]} IS NOT NULL AND NOT {fast_number(alias[c])})"
                  for c in self.numbers]
        probes += [f"list(DISTINCT {alias[c]}) FILTER (WHERE {alias[c]} IS NOT NULL AND NOT {fast_ts(alias[c])})"
                   for c in self.timestamps]
        probes += [f"list(DISTINCT {alias[c]}) FILTER (WHERE {alias[c]} IS NOT NULL)" for c in self.mapped]
        found = [v or [] for v in self.con.execute(f"SELECT {', '.join(probes)} FROM cleaned").fetchall()[0]] if probes else []
        odd_numbers = dict(zip(self.numbers, found))
        odd_timestamps = dict(zip(self.timestamps, found[len(self.numbers):]))
        to_map = dict(zip(self.mapped, found[len(self.numbers) + len(self.timestamps):]))

        looked_up: dict[str, pa.ChunkedArray] = {}

        def lookup(table: pa.Table, on: str, values: dict[str, str]) -> None:
            self.con.register("lookup", table)
            picked = ", ".join(f"m.{column} AS {name}" for name, column in values.items())
            rows = self.con.sql(f"SELECT {picked} FROM cleaned c LEFT JOIN lookup m ON {on} ORDER BY c.__pos").to_arrow_table()
            self.con.unregister("lookup")
            looked_up.update({name: rows[name] for name in values})

        for c, odd in odd_numbers.items():
            if odd:
                lookup(_python_numbers(odd), f"m.text = c.{alias[c]}", {f"o_{alias[c]}": "value", f"s_{alias[c]}": "status"})
        for c, odd in odd_timestamps.items():
            if odd:
                lookup(_python_timestamps(odd), f"m.text = c.{alias[c]}", {f"o_{alias[c]}": "value", f"h_{alias[c]}": "text"})
        for c, values in to_map.items():
            name, function, arrow_type = self.mapped[c]
            table = pa.table({"text": pa.array(values, pa.string()), "value": pa.array([function(v) for v in values], arrow_type)})
            lookup(table, f"m.text = c.{alias[c]}", {name: "value"})
        if self.published is not None:
            self.con.register("published", self.published)
            table = self.con.sql("SELECT project_id, video_id, min(CAST(published_at AS TIMESTAMP)) AS published_at "
                                 "FROM published GROUP BY ALL").to_arrow_table()
            on = f"m.project_id = c.{alias['project_id']} AND m.video_id = c.{alias['video_id']}"
            lookup(table, on, {"published_at": "published_at"})
        if looked_up:
            for name, column in looked_up.items():
                cleaned = cleaned.append_column(name, column)
            self.con.register("cleaned", cleaned)

        def parsed(column: str, odd: list[str], marker: str, cast: str, prefix: str) -> str:
            """DuckDB's cast, or the Python reading where the lookup matched (`marker` column set)."""
            if not odd:
                return f"{cast} AS {prefix}{alias[column]}"
            python = f"c.o_{alias[column]}"
            return f"CASE WHEN c.{marker}{alias[column]} IS NULL THEN {cast} ELSE {python} END AS {prefix}{alias[column]}"

        selects = ["c.*"]
        for c in self.numbers:  # + 0.0: negative zero reads as zero
            selects.append(parsed(c, odd_numbers[c], "s_", f"TRY_CAST(c.{alias[c]} AS DOUBLE) + 0.0", "n_"))
            if not odd_numbers[c]:  # no Python reading: no status either
                selects.append(f"CAST(NULL AS VARCHAR) AS s_{alias[c]}")
        for c in self.timestamps:
            cast = f"CAST(TRY_CAST(c.{alias[c]} AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS TIMESTAMP)"
            selects.append(parsed(c, odd_timestamps[c], "h_", cast, "ts_"))
        return f"SELECT {', '.join(selects)} FROM cleaned c"

    def collect(self, typed: dict[str, str], finish: Callable[[pa.Table], pa.Table] | None = None) -> Validated:
        """Evaluate every rule in one pass; `typed` maps each output column to its expression. The NUL
        rule comes last; `finish` may add columns to the valid rows (Arrow in, Arrow out)."""
        for column in typed:
            if column in self.alias:
                self.fail(f"contains({self.text(column)}, $nul)", f"text PostgreSQL cannot store in {column}: NUL byte (\\x00)")
        parsed = self._stage_columns()
        reason = "CASE " + " ".join(f"WHEN {cond} THEN {why}" for cond, why in self.rules) + " END" if self.rules else "NULL"
        outputs = ", ".join(f"{expr} AS out{i}" for i, expr in enumerate(typed.values()))
        rows = self.con.sql(
            f"SELECT t.row_number AS row_number, {outputs}, replace({reason}, $nul, '\\x00') AS __reason, t.__pos "
            f"FROM ({parsed}) t",
            params=self.params,
        ).to_arrow_table()
        rows = rows.rename_columns(["row_number", *typed, "__reason", "__pos"])
        self.con.close()
        if rows["__reason"].null_count == rows.num_rows:  # every row passed: nothing to split
            valid, bad = rows, rows.slice(0, 0)
        else:
            ok = pc.is_null(rows["__reason"])
            valid, bad = rows.filter(ok), rows.filter(pc.invert(ok))
        valid = valid.drop_columns(["__reason", "__pos"])
        bad = bad.take(pc.sort_indices(bad["__pos"]))
        quarantined = pd.DataFrame(
            {"row_number": bad["row_number"].to_numpy().astype("int64"),
             "reason": bad["__reason"].to_numpy(zero_copy_only=False).astype(object),
             "raw": self._raw_json(bad["__pos"].to_numpy())}
        )
        return Validated(table=finish(valid) if finish else valid, quarantined=quarantined)

    def _raw_json(self, positions: np.ndarray) -> list[str]:
        """The raw rows at `positions` (all their columns as read, but the row number), as JSON text."""
        rows = self.raw.take(pa.array(positions, pa.int64())).drop_columns(["row_number"]).to_pylist()
        return [json.dumps(row, ensure_ascii=False, default=str) for row in rows]


def _as_int(value: str) -> str:
    """Whole numbers as BIGINT; values too large to cast (rows that fail a rule) become NULL."""
    return f"CASE WHEN abs({value}) <= {MAX_COUNT} THEN CAST(round({value}) AS BIGINT) END"


def _zero_or_one(rules: _Rules, column: str) -> str:
    """A 0/1 column (`label`, `relevant`): anything else fails with the value as written."""
    value = rules.number(column)
    rules.fail(f"{value} IS NOT NULL AND {value} NOT IN (0, 1)", f"{column} is not 0 or 1: ", rules.text(column))
    return f"CASE WHEN {value} IN (0, 1) THEN CAST({value} AS BIGINT) END"


#: Joins the six recipe fields of a valid row into one key (no field value can hold it).
_RECIPE_KEY_SEPARATOR = "\x1f"


def _recipe_key(typed: dict[str, str]) -> str:
    """SQL: the recipe's fields as one text key, NULL unless all six are present."""
    fields = [f"CAST({typed[f]} AS VARCHAR)" for f in RECIPE_FIELDS]
    return f"CASE WHEN {' AND '.join(f'{v} IS NOT NULL' for v in fields)} THEN concat_ws(chr(31), {', '.join(fields)}) END"


def _with_hashes(valid: pa.Table) -> pa.Table:
    """`topic_hash` and `recipe_hash` of the valid rows, each computed once per distinct value."""

    def per_value(column: pa.ChunkedArray, function: Callable[[str], str]) -> pa.ChunkedArray:
        distinct = pc.drop_null(pc.unique(column))
        hashes = pa.array([function(v) for v in distinct.to_pylist()], pa.string())
        # dictionary-encoded: each hash is stored once, the rows hold its index
        chunks = [pa.DictionaryArray.from_arrays(pc.index_in(chunk, value_set=distinct), hashes) for chunk in column.chunks]
        return pa.chunked_array(chunks, pa.dictionary(pa.int32(), pa.string()))

    def recipe(key: str) -> str:
        fields = dict(zip(RECIPE_FIELDS, key.split(_RECIPE_KEY_SEPARATOR)))
        return recipe_hash({**fields, "scene_count": int(fields["scene_count"])})

    recipes = per_value(valid["__recipe"], recipe)
    valid = valid.drop_columns(["__recipe"]).append_column("topic_hash", per_value(valid["topic"], topic_hash))
    return valid.append_column("recipe_hash", recipes)


def validate_videos(raw: pd.DataFrame | pa.Table) -> Validated:
    """Apply the video rules; valid rows get the recipe, its hash and the topic hash."""
    rules = _Rules(raw, KNOWN_COLUMNS["videos"])
    rules.required(VIDEO_REQUIRED)
    published_at = rules.timestamp("published_at")
    preset = rules.map_values("preset", str.upper)  # Python's upper-casing (ß -> SS), once per value
    rules.fail(f"{preset} IS NOT NULL AND NOT regexp_full_match({preset}, {_literal(PRESET_PATTERN.pattern.strip('^$'))})",
               "invalid preset")
    hook_type = rules.choice("hook_type", HOOK_TYPES)
    ending_type = rules.choice("ending_type", ENDING_TYPES)
    scene_count = rules.number("scene_count")
    rules.fail(f"{scene_count} <> floor({scene_count})", "scene_count is not a whole number")
    rules.fail(f"{scene_count} < {SCENE_COUNT_MIN} OR {scene_count} > {SCENE_COUNT_MAX}",
               f"scene_count outside {SCENE_COUNT_MIN}-{SCENE_COUNT_MAX}")
    wpm, wpm_bucket = _bucket(rules, "narration_wpm", "narration_wpm_bucket", WPM_BUCKETS, WPM_MEDIUM_RANGE)
    captions, caption_bucket = _bucket(rules, "caption_density", "caption_density_bucket", CAPTION_BUCKETS, CAPTION_MEDIUM_RANGE)
    scores = {}
    for column, (low, high) in SCORE_RANGES.items():
        scores[column] = rules.number(column)
        rules.in_range(column, scores[column], low, high)
    mode = rules.choice("generation_mode", GENERATION_MODES)
    typed = {
        "project_id": rules.text("project_id"),
        "video_id": rules.text("video_id"),
        "published_at": published_at,
        "topic": rules.text("topic"),
        "preset": preset,
        "hook_type": hook_type,
        "scene_count": _as_int(scene_count),
        "narration_wpm_bucket": wpm_bucket,
        "caption_density_bucket": caption_bucket,
        "ending_type": ending_type,
        "narration_wpm": wpm,
        "caption_density": captions,
        "content_type": rules.text("content_type"),
        **scores,
        "job_id": rules.text("job_id"),
        "generation_mode": mode,
    }
    return rules.collect({**typed, "__recipe": _recipe_key(typed)}, _with_hashes)


def _bucket(
    rules: _Rules, number_col: str, bucket_col: str, buckets: tuple[str, ...], medium: tuple[float, float]
) -> tuple[str, str]:
    """(number, bucket): the bucket given directly or derived from the number; the two must agree."""
    value = rules.number(number_col)
    rules.fail(f"{value} < 0", f"negative {number_col}")
    given = rules.choice(bucket_col, buckets)
    low, high = medium
    derived = (f"CASE WHEN {value} IS NULL OR {value} < 0 THEN NULL WHEN {value} < {low!r} THEN {_literal(buckets[0])} "
               f"WHEN {value} <= {high!r} THEN {_literal(buckets[1])} ELSE {_literal(buckets[2])} END")
    rules.fail(f"{given} <> {derived}", f"{bucket_col} disagrees with {number_col}")
    return value, f"COALESCE({given}, {derived})"


def validate_metrics(raw: pd.DataFrame | pa.Table, published: pd.DataFrame | pa.Table | None = None) -> Validated:
    """Apply the metric rules. `published` (project_id, video_id, published_at) enables
    the observed-before-publish rule for videos already known."""
    rules = _Rules(raw, KNOWN_COLUMNS["metrics"])
    rules.required(METRIC_REQUIRED)
    observed_at = rules.timestamp("observed_at")
    counts = {c: rules.number(c, count=True) for c in METRIC_COUNTS}
    avd = rules.number("avg_view_duration_s")
    rules.fail(f"{avd} < 0", "negative avg_view_duration_s")
    if published is not None and len(published):
        if isinstance(published, pd.DataFrame):
            published = published[["project_id", "video_id", "published_at"]].assign(
                published_at=pd.to_datetime(published["published_at"]).astype("datetime64[us]")
            )
        published_at = rules.published_at(published)
        if published_at is not None:
            rules.fail(f"{observed_at} < {published_at}", "observed_at before the video's published_at")
    typed = {
        "project_id": rules.text("project_id"),
        "video_id": rules.text("video_id"),
        "observed_at": observed_at,
        **{c: _as_int(counts[c]) for c in METRIC_COUNTS},
        "avg_view_duration_s": avd,
    }
    return rules.collect(typed)


def feature_columns(columns) -> list[str]:
    """The `f_<name>` feature columns among `columns` (name non-empty), in the given order."""
    return [c for c in columns if isinstance(c, str) and c.startswith(FEATURE_PREFIX) and len(c) > len(FEATURE_PREFIX)]


def feature_name(column: str) -> str:
    """`f_risk_score` -> `risk_score`."""
    return column[len(FEATURE_PREFIX) :]


def features_json(frame: pd.DataFrame) -> pd.Series:
    """Per row, the features as JSON text (`{"risk_score": 70.0}`), keys sorted, missing features omitted.

    This is the `features` column of the warehouse's labels table, whose schema is fixed."""
    columns = sorted(feature_columns(frame.columns))

    def encode(row) -> str:
        values = {feature_name(c): float(v) for c, v in zip(columns, row) if v is not None and pd.notna(v)}
        return json.dumps(values, sort_keys=True)

    if not columns:
        return pd.Series(["{}"] * len(frame), index=frame.index, dtype=object)
    return pd.Series([encode(row) for row in frame[columns].itertuples(index=False, name=None)], index=frame.index, dtype=object)


def expand_features(frame: pd.DataFrame, column: str = "features") -> pd.DataFrame:
    """Inverse of `features_json`: a copy with one float `f_<name>` column per feature found in the
    JSON text `column` (missing -> NaN). Existing `f_` columns are kept; JSON values fill their gaps."""
    result = frame.copy()
    if column not in result.columns:
        return result
    decoded = [json.loads(v) if isinstance(v, str) and v else {} for v in result[column]]
    names = sorted({name for values in decoded for name in values})
    for name in names:
        values = pd.Series([values.get(name) for values in decoded], index=result.index, dtype="float64")
        target = FEATURE_PREFIX + name
        result[target] = values if target not in result.columns else result[target].astype("float64").fillna(values)
    return result


def validate_labels(raw: pd.DataFrame | pa.Table) -> Validated:
    """Apply the labels rules (SPEC §9). Valid rows carry every `f_` column as float (NaN = missing)
    and `features`, the same values as JSON text (see `features_json`)."""
    raw = as_arrow(raw)
    features = sorted(feature_columns(raw.column_names))
    rules = _Rules(raw, [*KNOWN_COLUMNS["labels"], *features])
    rules.required(LABEL_REQUIRED)
    agent = rules.agent()
    source = rules.choice("source", LABEL_SOURCES)
    label = _zero_or_one(rules, "label")
    labeled_at = rules.timestamp("labeled_at")
    confidence = rules.number("confidence")
    rules.in_range("confidence", confidence, *CONFIDENCE_RANGE)
    values = {c: rules.number(c) for c in features}
    typed = {
        "agent": agent,
        "example_id": rules.text("example_id"),
        "source": source,
        "label": label,
        "labeled_at": labeled_at,
        "confidence": confidence,
        "labeler": rules.text("labeler"),
        "input_text": rules.text("input_text"),
        "expected_output": rules.text("expected_output"),
        **values,
    }

    def with_features(valid: pa.Table) -> pa.Table:
        encoded = features_json(valid.select(features).to_pandas()) if features else pd.Series(["{}"] * valid.num_rows)
        return valid.append_column("features", pa.array(encoded.to_numpy(dtype=object), pa.string()))

    return rules.collect(typed, with_features)


def validate_judgments(raw: pd.DataFrame | pa.Table) -> Validated:
    """Apply the judgments rules (SPEC §9)."""
    rules = _Rules(raw, KNOWN_COLUMNS["judgments"])
    rules.required(JUDGMENT_REQUIRED)
    agent = rules.agent()
    score = rules.number("score")
    rules.in_range("score", score, 0.0, 1.0)
    typed = {
        "agent": agent,
        "example_id": rules.text("example_id"),
        "judge": rules.text("judge"),
        "score": score,
        "judged_at": rules.timestamp("judged_at"),
    }
    return rules.collect(typed)


def validate_decisions(raw: pd.DataFrame | pa.Table) -> Validated:
    """Apply the decisions rules (SPEC §9)."""
    rules = _Rules(raw, KNOWN_COLUMNS["decisions"])
    rules.required(DECISION_REQUIRED)
    agent = rules.agent()
    decided_at = rules.timestamp("decided_at")
    quality = rules.number("quality")
    rules.in_range("quality", quality, 0.0, 1.0)
    latency = rules.number("latency_ms")
    rules.fail(f"{latency} < 0", "negative latency_ms")
    typed = {
        "agent": agent,
        "decision_id": rules.text("decision_id"),
        "bundle_id": rules.text("bundle_id"),
        "decided_at": decided_at,
        "quality": quality,
        "latency_ms": latency,
        "route_key": rules.text("route_key"),
    }
    return rules.collect(typed)


def validate_retrieval_pairs(raw: pd.DataFrame | pa.Table) -> Validated:
    """Apply the retrieval-feedback rules (background jobs: `query`, `document`, `relevant` 0/1, `observed_at`)."""
    rules = _Rules(raw, KNOWN_COLUMNS["retrieval_pairs"])
    rules.required(RETRIEVAL_REQUIRED)
    relevant = _zero_or_one(rules, "relevant")
    typed = {
        "query": rules.text("query"),
        "document": rules.text("document"),
        "relevant": relevant,
        "observed_at": rules.timestamp("observed_at"),
    }
    return rules.collect(typed)


#: Validators of the kinds that need nothing but the raw rows (metrics also takes the published videos).
ROW_VALIDATORS: dict[str, Callable[[pd.DataFrame | pa.Table], Validated]] = {
    "videos": validate_videos,
    "labels": validate_labels,
    "judgments": validate_judgments,
    "decisions": validate_decisions,
    "retrieval_pairs": validate_retrieval_pairs,
}


def is_known_column(kind: str, column: str) -> bool:
    """Whether `column` means something for `kind` (labels: the named columns and any `f_<name>`)."""
    if column in KNOWN_COLUMNS[kind]:
        return True
    return kind == "labels" and bool(feature_columns([column]))


def missing_columns(kind: str, columns: list[str]) -> list[str]:
    """Required columns absent from a file's header."""
    present = {c.strip() for c in columns}
    return [c for c in REQUIRED_COLUMNS[kind] if c not in present]


def distinct_keys(raw: pd.DataFrame | pa.Table, columns: list[str]) -> pa.Table:
    """The distinct stripped values of `columns` over the rows where all are present and storable
    (a key with a NUL byte is quarantined by the rules; it cannot be looked up either)."""
    raw = as_arrow(raw)
    missing = [c for c in columns if c not in raw.column_names]
    if missing or raw.num_rows == 0:
        return pa.table({c: pa.array([], pa.string()) for c in columns})
    con = _connect()
    try:
        keys = {c: f"k{i}" for i, c in enumerate(columns)}  # by position: DuckDB ignores case in names
        con.register("cleaned", _stripped_columns(raw, keys))
        usable = " AND ".join(f"{k} IS NOT NULL AND NOT contains({k}, $nul)" for k in keys.values())
        rows = con.sql(f"SELECT DISTINCT {', '.join(keys.values())} FROM cleaned WHERE {usable}", params={"nul": "\x00"})
        return rows.to_arrow_table().rename_columns(columns)
    finally:
        con.close()


def latest_per_key(rows: pa.Table | pd.DataFrame, keys: list[str], order: str | None = None) -> pa.Table | pd.DataFrame:
    """A later row for the same key supersedes an earlier one: the row with the highest `order`
    value (default: the position) per key. A frame keeps its row order; Arrow rows keep theirs."""
    if isinstance(rows, pd.DataFrame):
        ordered = rows if order is None else rows.sort_values(order, kind="stable")
        return ordered.drop_duplicates(subset=keys, keep="last").reset_index(drop=True)
    if rows.num_rows == 0:
        return rows
    names = ", ".join(_ident(k) for k in keys)
    position = pa.array(np.arange(rows.num_rows, dtype="int64"))
    keyed = rows.select(keys).append_column("__i", position).append_column("__o", rows[order] if order else position)
    con = _connect()
    try:
        con.register("keyed", keyed)
        # one cheap pass first: a batch usually holds each key once
        repeated = con.execute(f"SELECT count(*) FROM (SELECT 1 FROM keyed GROUP BY {names} HAVING count(*) > 1)").fetchall()[0][0]
        if not repeated:
            return rows
        last = con.execute(f"SELECT arg_max(__i, __o) AS i FROM keyed GROUP BY {names} ORDER BY i").fetchnumpy()["i"]
    finally:
        con.close()
    return rows.take(pa.array(np.asarray(last, dtype="int64")))
