"""Shared helpers for the test suite: making users and CDR files, reading them, statistics, cached
data sets.  Running the scripts as a test looks at them is running.py's."""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

# A week of local US Eastern (standard, UTC-5) time, Monday 00:00 to Monday 00:00.
WEEK_START = "2026-11-02T05:00:00Z"
WEEK_END = "2026-11-09T05:00:00Z"


# ---------------------------------------------------------------- the scripts in-process

def users_main(*args) -> int:
    import user_generator
    return user_generator.main([str(a) for a in args])


def cdr_main(*args) -> int:
    import cdr_generator
    return cdr_generator.main([str(a) for a in args])


def write_users(path, n: int, seed: int = 1, countries=None, fmt: str | None = None) -> Path:
    args = ["--num-users", n, "--seed", seed, "--output", path]
    for c in countries or ():
        args += ["--country", c]
    if fmt:
        args += ["--format", fmt]
    rc = users_main(*args)
    assert rc == 0, f"user_generator.main{args} returned {rc}"
    return Path(path)


def write_cdrs(users_path, out, count: int, seed: int = 5, start: str = WEEK_START, end: str = WEEK_END,
               *extra) -> Path:
    args = ["--users-file", users_path, "--count", count, "--seed", seed, "--start", start, "--end", end,
            "--output", out, *extra]
    rc = cdr_main(*args)
    assert rc == 0, f"cdr_generator.main{args} returned {rc}"
    return Path(out)


# ---------------------------------------------------------------- reading output

def load_records(path, fmt: str | None = None) -> list[dict]:
    """Records of a JSON array, JSON Lines or CSV file (format from the extension unless given)."""
    path = Path(path)
    fmt = fmt or {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}.get(path.suffix, "json")
    text = path.read_text(encoding="utf-8")
    return parse_records(text, fmt)


def parse_records(text: str, fmt: str) -> list[dict]:
    if fmt == "json":
        data = json.loads(text)
        assert isinstance(data, list), "a JSON output must be one array"
        return data
    if fmt == "jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(text, newline="")))
    raise ValueError(fmt)


def local_times(ds, cdrs=None) -> list:
    """The local start time of each CDR (of ``ds``, or ``cdrs`` of ds's users), in its user's
    time zone, by the standard library's tz database: independent of the generator's clock."""
    from zoneinfo import ZoneInfo

    zones = {}
    out = []
    for c in ds.cdrs if cdrs is None else cdrs:
        name = ds.by_id[c["user_id"]]["time_zone"]
        zone = zones.get(name) or zones.setdefault(name, ZoneInfo(name))
        out.append(datetime.fromisoformat(c["start_time"].replace("Z", "+00:00")).astimezone(zone))
    return out


def iso_ms(text: str) -> int:
    """Epoch milliseconds of an ISO 8601 time ending in Z."""
    assert text.endswith("Z"), text
    return int(datetime.fromisoformat(text[:-1] + "+00:00").timestamp() * 1000)


# ---------------------------------------------------------------- JSON Schema
#
# jsonschema validates a generated record in about a third of a millisecond, most of it spent on
# values it has seen before: the same codes and enums in record after record, and the same few values
# deciding each ``if`` of a schema's ``allOf``.  schema_validator() remembers, per subschema, the
# scalar values (string, number, boolean, null) that a property's subschema accepted, and what an
# ``if`` of ``properties`` and ``required`` alone said of the values of the properties it names:
# neither depends on anything else.  Anything else, and every error, is jsonschema's own work.

_SCALARS = (str, int, float, bool, type(None))
_MEMO: dict[int, tuple[object, dict]] = {}  # id(subschema): (the subschema, kept alive so the id stays its own; memo)
_MEMO_MAX = 4096  # values remembered per subschema: unique ones (ids, times) stop there, repeated ones come first


def _memo(subschema) -> dict:
    return _MEMO.setdefault(id(subschema), (subschema, {}))[1]


def _remember(memo: dict, key, value) -> None:
    if len(memo) < _MEMO_MAX:
        memo[key] = value


def _properties(validator, properties, instance, schema):
    """jsonschema's ``properties``, skipping a scalar value that the property's subschema accepted before."""
    if not validator.is_type(instance, "object"):
        return
    for prop, subschema in properties.items():
        if prop in instance:
            value = instance[prop]
            accepted = _memo(subschema) if type(value) in _SCALARS else None
            if accepted is not None and (type(value), value) in accepted:
                continue
            errors = list(validator.descend(value, subschema, path=prop, schema_path=prop))
            if errors:
                yield from errors
            elif accepted is not None:
                _remember(accepted, (type(value), value), True)


def _condition(if_schema, instance):
    """What an ``if`` of ``properties`` and ``required`` alone can see of ``instance`` (the type and
    value of each property it names, or that it is missing), or None if it may see more."""
    if not (isinstance(if_schema, dict) and isinstance(instance, dict) and set(if_schema) <= {"properties", "required"}):
        return None
    seen = []
    for name in sorted({*if_schema.get("properties", {}), *if_schema.get("required", ())}):
        if name not in instance:
            seen.append((name,))
        elif type(instance[name]) in _SCALARS:
            seen.append((name, type(instance[name]), instance[name]))
        else:
            return None
    return tuple(seen)


def _if(validator, if_schema, instance, schema):
    """jsonschema's ``if``, remembering whether the condition held for the values it looks at."""
    seen = _condition(if_schema, instance)
    holds = None if seen is None else _memo(if_schema).get(seen)
    if holds is None:
        holds = validator.evolve(schema=if_schema).is_valid(instance)
        if seen is not None:
            _remember(_memo(if_schema), seen, holds)
    if holds:
        if "then" in schema:
            yield from validator.descend(instance, schema["then"], schema_path="then")
    elif "else" in schema:
        yield from validator.descend(instance, schema["else"], schema_path="else")


def schema_validator(schema: dict):
    """A jsonschema Draft 2020-12 validator of ``schema`` for many generated records: the errors of
    ``Draft202012Validator(schema)``, found in less time (see above; test_schemas.py holds them equal)."""
    from jsonschema import Draft202012Validator, validators

    return validators.extend(Draft202012Validator, {"properties": _properties, "if": _if})(schema)


# ---------------------------------------------------------------- statistics

def ranks(x) -> np.ndarray:
    """Average ranks (ties share their mean rank), as scipy.stats.rankdata does."""
    x = np.asarray(x, dtype=float)
    order = np.argsort(x, kind="stable")
    r = np.empty(len(x))
    r[order] = np.arange(1, len(x) + 1)
    _, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=r)
    return (sums / counts)[inv]


def spearman(x, y) -> float:
    return float(np.corrcoef(ranks(x), ranks(y))[0, 1])


# ---------------------------------------------------------------- cached data sets

@dataclass
class DataSet:
    users_path: Path
    cdr_path: Path
    users: list
    cdrs: list
    by_id: dict = field(init=False)
    by_msisdn: dict = field(init=False)

    def __post_init__(self):
        self.by_id = {u["user_id"]: u for u in self.users}
        self.by_msisdn = {u["msisdn"]: u for u in self.users}

    def of_type(self, t: str) -> list:
        return [c for c in self.cdrs if c["cdr_type"] == t]


def local_spark(master: str, app: str, partitions: int):
    """A SparkSession for a test: a short-lived JVM (the quick compiler alone and the serial
    collector start it in about half the time on two busy cores), no UI, UTC."""
    from pyspark.sql import SparkSession

    return (SparkSession.builder.master(master).appName(app)
            .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
            .config("spark.sql.shuffle.partitions", str(partitions)).getOrCreate())


def one_process(param: tuple, group: str):
    """A parameter (named by its first item) of a module-scoped data-set fixture, whose tests
    pytest-xdist runs in one process (``--dist loadgroup``), so that the data set is made once."""
    return pytest.param(param, id=param[0], marks=pytest.mark.xdist_group(group))


def write_run(tmp_path_factory, tag: str, param: tuple, n_users: int, count: int, *extra) -> tuple[Path, Path]:
    """The users and CDRs files of a realism run ``param`` = (name, countries, users' seed, CDRs' seed,
    start, end), in a folder of its own (``tag-name``); ``extra``: more cdr_generator.py flags."""
    name, countries, useed, cseed, start, end = param
    d = tmp_path_factory.mktemp(f"{tag}-{name}")
    users = write_users(d / "users.json", n_users, seed=useed, countries=countries)
    return users, write_cdrs(users, d / "cdrs.jsonl", count, cseed, start, end, *extra)


def run_data_set(tmp_path_factory, tag: str, param: tuple, n_users: int, count: int, *extra) -> DataSet:
    """:func:`write_run`'s files, loaded."""
    users, cdrs = write_run(tmp_path_factory, tag, param, n_users, count, *extra)
    return DataSet(users, cdrs, load_records(users), load_records(cdrs))


_CACHE: dict = {}


def _dataset(tmp_path_factory, name: str, n_users: int, countries, count: int) -> DataSet:
    if name not in _CACHE:
        d = tmp_path_factory.mktemp(name)
        users = write_users(d / "users.json", n_users, seed=11, countries=countries)
        cdrs = write_cdrs(users, d / "cdrs.jsonl", count, seed=5)
        _CACHE[name] = DataSet(users, cdrs, load_records(users), load_records(cdrs))
    return _CACHE[name]


def us_week(tmp_path_factory) -> DataSet:
    """3,000 US users and 100,000 CDRs over one local week (Monday to Monday, UTC-5)."""
    return _dataset(tmp_path_factory, "us_week", 3000, ["US"], 100_000)


def world(tmp_path_factory) -> DataSet:
    """2,500 users of all five countries and 30,000 CDRs."""
    return _dataset(tmp_path_factory, "world", 2500, ["US", "GB", "DE", "FR", "IN"], 30_000)


def sha256(path) -> str:
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def listing(folder) -> list[str]:
    return sorted(os.listdir(folder))
