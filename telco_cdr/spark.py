"""The Spark side of the record contract: the package's one module that imports pyspark (inside its
functions: pyspark is the [spark] extra).  ``spark_schema(name)`` is a record's ``StructType``; the
rest are the data-quality rules of the downstream pipeline (pipelines/telco/), derived from the
record contract.

Open-source Spark Declarative Pipelines have no expectations, so a rule is a Spark column expression:
``record_checks(kind)`` gives the parse schema and a ``rule`` column that is null for a record that
meets its contract and otherwise names the first rule it breaks:

- ``unparsable``: the value is not a JSON object, or a field has a JSON type its schema cannot take;
- ``schema:<field>``: a required field is missing or null, or its value is not one the contract
  allows (a listed value, the range, the pattern, the length);
- ``rule:<field>``: a rule between fields (the JSON Schema's ``if``/``then``) is broken at that field.

The pipeline adds ``unknown_user`` (no such ``user_id`` in silver_users) and ``duplicate`` (a
``cdr_id`` seen before).  Nothing here lists a field: the names, types, allowed values and rules
are the contract's (telco_cdr.contract).
"""

from __future__ import annotations

from .contract import RECORDS, Field, Rule, plain_text

UNPARSABLE = "unparsable"
UNKNOWN_USER = "unknown_user"
DUPLICATE = "duplicate"
CORRUPT = "_corrupt_record"
# The parse options of every record: times are ISO 8601 UTC with milliseconds and a Z.
JSON_OPTIONS = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT,
                "timestampFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "dateFormat": "yyyy-MM-dd"}


def spark_schema(name: str):
    """The ``pyspark.sql.types.StructType`` of record ``name`` (the same fields, types and nullability
    as ``contract.spark_ddl``); each field's meaning is its comment."""
    from pyspark.sql import types as T

    kinds = {"string": T.StringType, "integer": T.LongType, "number": T.DoubleType, "boolean": T.BooleanType,
             "timestamp": T.TimestampType, "date": T.DateType}
    return T.StructType([T.StructField(f.name, kinds[f.type](), f.nullable, {"comment": plain_text(f.meaning)})
                         for f in RECORDS[name].all_fields])


def parse_schema(kind: str):
    """The contract's Spark schema of ``kind`` plus the corrupt-record column ``from_json`` fills."""
    from pyspark.sql import types as T

    return T.StructType(spark_schema(kind).fields + [T.StructField(CORRUPT, T.StringType(), True)])


def _value_checks(c, f: Field, with_pattern: bool = True):
    """Column conditions that are true when the value of field ``f`` (column ``c``) is not allowed."""
    from pyspark.sql import functions as F

    bad = []
    if len(f.values) == 1:
        bad.append(c != F.lit(f.values[0]))
    elif f.values:
        bad.append(~c.isin(list(f.values)))
    if f.pattern and with_pattern:
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
        if key == "const":  # (a null const: the value must be null)
            conds.append(c.isNotNull() if v is None else c.isNull() | (c != F.lit(v)))
        elif key == "enum":  # (null allowed only where the enum lists it)
            values = [x for x in v if x is not None]
            conds.append(F.when(c.isNull(), F.lit(None not in v)).otherwise(~c.isin(values) if values else F.lit(True)))
        elif key == "pattern":
            conds.append(c.isNotNull() & ~c.rlike(v))
        elif key == "minimum":
            conds.append(c.isNotNull() & (c < F.lit(v)))
        elif key == "maximum":
            conds.append(c.isNotNull() & (c > F.lit(v)))
        elif key == "type":
            conds.append(c.isNotNull() if v == "null" else c.isNull())
        else:
            raise ValueError(f"a contract rule uses {key!r}, which spark.py cannot check yet")
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


# The separator of the one regular expression that checks every patterned field of a record at once (see
# _patterns_broken): no pattern of the contract can match it, so a match cannot straddle two fields.
_SEP = "\x01"


def _sep_safe(pattern: str) -> bool:
    """True when ``pattern`` cannot match _SEP: no ``.``, negated class or shorthand class (escaped
    characters aside).  A pattern that could is checked on its own instead."""
    import re

    plain = re.sub(r"\\[.\\+*?()\[\]{}|^$/-]", "", pattern)
    return not re.search(r"\.|\[\^|\\[DWSsdwpPXRhHvV]|\\[0-9xuc]", plain) and _SEP not in pattern


def _patterns_broken(rec, patterned):
    """One condition, true when a non-null field of ``patterned`` does not match its pattern: the fields
    are joined (a null as ``n``, a value as ``v`` and the value) with _SEP and matched once against the
    patterns joined the same way.  It may be true where no per-field check is (a value that ends in a
    line break): it only decides whether the per-field checks run, they decide the rule."""
    from pyspark.sql import functions as F

    joined = F.concat_ws(_SEP, *[F.coalesce(F.concat(F.lit("v"), rec[f.name]), F.lit("n")) for f in patterned])
    regex = "^" + _SEP.join(f"(?:v(?:{f.pattern})|n)" for f in patterned) + "$"
    return ~joined.rlike(regex)


def _checks(rec, kind: str):
    """(condition, rule name, is a pattern check) in the order of the rules: the first true one is the rule."""
    from pyspark.sql import functions as F

    record = RECORDS[kind]
    checks = [(rec[CORRUPT].isNotNull() | rec.isNull(), UNPARSABLE, False)]
    for f in record.all_fields:
        c = rec[f.name]
        if not f.nullable:
            checks.append((c.isNull(), f"schema:{f.name}", False))
        if f.pattern:
            checks.append((c.isNotNull() & ~c.rlike(f"^(?:{f.pattern})$"), f"schema:{f.name}", _sep_safe(f.pattern)))
        for bad in _value_checks(c, f, with_pattern=False):
            checks.append((c.isNotNull() & bad, f"schema:{f.name}", False))
    for rule in record.rules:
        for name, broken in _rule_checks(rec, rule):
            checks.append((F.coalesce(broken, F.lit(False)), f"rule:{name}", False))
    return checks


def rule_column(rec, kind: str):
    """The ``rule`` column of a parsed record (struct column ``rec``, parsed with parse_schema):
    null when it meets the contract of ``kind``, else the first rule broken.

    A record that meets its contract (nearly all) is decided by one boolean expression, with a single
    regular expression for all the patterned fields; the chain of per-field checks that names the
    first rule broken runs only for the records that expression flags."""
    from pyspark.sql import functions as F

    checks = _checks(rec, kind)
    named = None
    for cond, name, _ in checks:
        named = F.when(cond, F.lit(name)) if named is None else named.when(cond, F.lit(name))
    patterned = [f for f in RECORDS[kind].fields if f.pattern and _sep_safe(f.pattern)]
    conds = [cond for cond, _, joined in checks if not joined]
    if patterned:
        conds.append(_patterns_broken(rec, patterned))
    return F.when(_any(conds), named)


def _any(conds):
    """The OR of ``conds`` as a balanced tree: a chain of a hundred ORs is deeper than Spark Connect's
    protobuf decoder accepts."""
    if len(conds) == 1:
        return conds[0]
    half = len(conds) // 2
    return _any(conds[:half]) | _any(conds[half:])


def fields(kind: str) -> tuple[str, ...]:
    """The contract's field names of ``kind``, in order."""
    return RECORDS[kind].names
