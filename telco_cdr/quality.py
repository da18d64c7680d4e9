"""Data-quality rules of the downstream pipeline (pipelines/telco/), derived from the record contract.

Open-source Spark Declarative Pipelines have no expectations, so a rule is a Spark column expression:
``record_checks(kind)`` gives the parse schema and a ``rule`` column that is null for a record that
meets its contract and otherwise names the first rule it breaks:

- ``unparsable``: the value is not a JSON object, or a field has a JSON type its schema cannot take;
- ``schema:<field>``: a required field is missing or null, or its value is not one the contract
  allows (a listed value, the range, the pattern, the length);
- ``rule:<field>``: a rule between fields (the JSON Schema's ``if``/``then``) is broken at that field.

The pipeline adds ``unknown_user`` (no such ``user_id`` in silver_users) and ``duplicate`` (a
``cdr_id`` seen before).  Nothing here lists a field: the names, types, allowed values and rules
are the contract's (telco_cdr.contract).  pyspark is imported only inside the functions.
"""

from __future__ import annotations

from .contract import RECORDS, Field, Rule

UNPARSABLE = "unparsable"
UNKNOWN_USER = "unknown_user"
DUPLICATE = "duplicate"
CORRUPT = "_corrupt_record"
# The parse options of every record: times are ISO 8601 UTC with milliseconds and a Z.
JSON_OPTIONS = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT,
                "timestampFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "dateFormat": "yyyy-MM-dd"}


def parse_schema(kind: str):
    """The contract's Spark schema of ``kind`` plus the corrupt-record column ``from_json`` fills."""
    from pyspark.sql import types as T

    from .contract import spark_schema

    return T.StructType(spark_schema(kind).fields + [T.StructField(CORRUPT, T.StringType(), True)])


def _value_checks(c, f: Field):
    """Column conditions that are true when the value of field ``f`` (column ``c``) is not allowed."""
    from pyspark.sql import functions as F

    bad = []
    if len(f.values) == 1:
        bad.append(c != F.lit(f.values[0]))
    elif f.values:
        bad.append(~c.isin(list(f.values)))
    if f.pattern:
        bad.append(~c.rlike(f"^(?:{f.pattern})$"))
    if f.text:
        bad.append(F.length(c) < 1)
    if f.max_length is not None:
        bad.append(F.length(c) > f.max_length)
    if f.minimum is not None:
        bad.append(c < F.lit(f.minimum))
    if f.maximum is not None:
        bad.append(c > F.lit(f.maximum))
    return bad


def _fragment_broken(c, fragment: dict):
    """True where column ``c`` breaks a JSON Schema fragment of a contract rule (const, enum,
    pattern, minimum, maximum, type null/integer: what the contract's rules use)."""
    from pyspark.sql import functions as F

    conds = []
    for key, v in fragment.items():
        if key == "const":
            conds.append(c.isNull() | (c != F.lit(v)))
        elif key == "enum":
            conds.append(c.isNull() | ~c.isin(list(v)))
        elif key == "pattern":
            conds.append(c.isNotNull() & ~c.rlike(v))
        elif key == "minimum":
            conds.append(c.isNotNull() & (c < F.lit(v)))
        elif key == "maximum":
            conds.append(c.isNotNull() & (c > F.lit(v)))
        elif key == "type":
            conds.append(c.isNotNull() if v == "null" else c.isNull())
        else:
            raise ValueError(f"a contract rule uses {key!r}, which quality.py cannot check yet")
    out = conds[0]
    for cond in conds[1:]:
        out = out | cond
    return out


def _rule_checks(rec, rule: Rule):
    """(field, condition) pairs: the condition is true where ``rule`` is broken at that field."""
    from pyspark.sql import functions as F

    applies = None
    for name, value in rule.when.items():
        cond = rec[name] == F.lit(value)
        applies = cond if applies is None else applies & cond
    out = [(name, applies & _fragment_broken(rec[name], frag)) for name, frag in rule.then.items()]
    if rule.otherwise is not None:
        out += [(name, ~applies & _fragment_broken(rec[name], frag)) for name, frag in rule.otherwise.items()]
    return out


def rule_column(rec, kind: str):
    """The ``rule`` column of a parsed record (struct column ``rec``, parsed with parse_schema):
    null when it meets the contract of ``kind``, else the first rule broken."""
    from pyspark.sql import functions as F

    record = RECORDS[kind]
    checks = [(rec[CORRUPT].isNotNull() | rec.isNull(), UNPARSABLE)]
    for f in record.fields:
        c = rec[f.name]
        if not f.nullable:
            checks.append((c.isNull(), f"schema:{f.name}"))
        for bad in _value_checks(c, f):
            checks.append((c.isNotNull() & bad, f"schema:{f.name}"))
    for rule in record.rules:
        for name, broken in _rule_checks(rec, rule):
            checks.append((F.coalesce(broken, F.lit(False)), f"rule:{name}"))
    expr = F
    out = None
    for cond, name in checks:
        out = expr.when(cond, F.lit(name)) if out is None else out.when(cond, F.lit(name))
    return out


def fields(kind: str) -> tuple[str, ...]:
    """The contract's field names of ``kind``, in order."""
    return RECORDS[kind].names
