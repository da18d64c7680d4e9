"""Parquet: the package's one module that imports pyarrow (inside its functions: pyarrow is the
[parquet] extra, so everything else works without it, and asking for Parquet without it is one
line).

A Parquet file is written from the text the other formats write: each unit of records (a chunk
of a CDR file, a batch of users) is parsed by Arrow against the record's Arrow schema (derived from
the contract: ``contract.arrow_fields``) and written as one row group, so the file is never held
whole.  CDRs come as the rows of the CSV format (the all-types CSV's columns for one file, a type's
own for --output-dir): Arrow reads CSV about three times as fast as JSON, and a CDR's cells are the
text of its JSON values (an empty cell is a null, as no CDR string is empty; the one free text,
``user_id``, is quoted as CSV quotes, which Arrow reads back).  Users come as JSON Lines.  Either
way the schema is checked on every record: a missing or extra field or cell, a value of another
type, a null where the contract allows none, is an error, never a silent null.  Times are ``timestamp[ms, tz=UTC]``,
dates ``date32``.
"""

from __future__ import annotations

import io

from .errors import RunError, UserError
from .output import AtomicFile

MAGIC = b"PAR1"  # a Parquet file's first (and last) four bytes
# --compression gives the codec of the columns; Parquet's usual snappy without it.
DEFAULT_CODEC = "snappy"
LEVELS = {"gzip": 1, "zstd": 1}  # the fastest levels, as gzip and zstd files are written (telco_cdr.output)
USER_BATCH = 50_000  # users a row group


def require(what: str) -> None:
    """Refuse ``what`` (a flag, a file) in one line when pyarrow is not installed."""
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise UserError(f"{what} needs the pyarrow package: pip install pyarrow==26.0.1 (the [parquet] extra: "
                        "pip install '.[parquet]')") from None


def arrow_schema(name: str | None = None, labelled: bool = False):
    """The pyarrow schema of record ``name`` (``user`` or a CDR type; None: one file of all CDR
    types) as ``contract.arrow_fields`` describes it."""
    import pyarrow as pa

    types = {"string": pa.string(), "int64": pa.int64(), "double": pa.float64(), "bool": pa.bool_(),
             "timestamp[ms, tz=UTC]": pa.timestamp("ms", tz="UTC"), "date32": pa.date32()}
    from .contract import arrow_fields

    return pa.schema([pa.field(n, types[t], nullable) for n, t, nullable in arrow_fields(name, labelled)])


def table(text: bytes, schema, kind: str = "csv"):
    """The records of ``text`` as a pyarrow Table of ``schema``: ``kind`` csv, rows of the CSV
    format without the header (the schema's columns in its order); jsonl, JSON Lines.  Every field
    must be there with a value of its type (null only where nullable), and no other; dates are
    read as their text and cast (Arrow's JSON reader reads times, not dates)."""
    import pyarrow as pa

    try:
        if kind == "csv":
            import pyarrow.csv as pc

            # one thread: Arrow's thread pool, once started, at times aborted the process at its exit
            # ("terminate called without an active exception", apache/arrow#34314; 4 runs in 40 under load)
            options = pc.ReadOptions(column_names=schema.names, use_threads=False)
            got = pc.read_csv(io.BytesIO(text), read_options=options,
                              convert_options=pc.ConvertOptions(column_types=schema, strings_can_be_null=True,
                                                                null_values=[""], true_values=["true"],
                                                                false_values=["false"]))
            columns = got.columns
        else:
            import pyarrow.json as pj

            dates = [i for i, f in enumerate(schema) if pa.types.is_date(f.type)]
            read = schema
            for i in dates:
                read = read.set(i, schema.field(i).with_type(pa.string()))
            options = pj.ParseOptions(explicit_schema=read, unexpected_field_behavior="error")
            columns = pj.read_json(io.BytesIO(text), parse_options=options).columns
            for i in dates:
                columns[i] = columns[i].cast(pa.date32())
    except pa.ArrowInvalid as e:  # records not of their schema: the generator's bug, not the user's
        raise RuntimeError(f"records do not match their Arrow schema: {e}") from None
    nulls = [f.name for f, c in zip(schema, columns) if not f.nullable and c.null_count]
    if nulls:
        raise RuntimeError(f"records do not match their Arrow schema: null in {', '.join(nulls)}")
    return pa.Table.from_arrays(columns, schema=schema)  # the readers' tables say every column is nullable


class _Sink:
    """The file object pyarrow's ParquetWriter writes to: the bytes go through an AtomicFile (its
    error messages, its byte count), or nowhere once the file is given up."""

    def __init__(self, out: ParquetFile):
        self.out = out
        self.closed = False
        self.position = 0

    def write(self, data) -> int:
        if self.out is not None:
            self.out.write(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class ParquetFile(AtomicFile):
    """An output of Parquet: ``write_unit`` takes text of ``kind`` (:func:`table`: csv rows, or
    jsonl) and writes it as one row group; ``commit`` writes the footer and renames the file into
    place (``-``: stdout)."""

    def __init__(self, path: str, schema, compression: str | None = None, what: str = "output",
                 kind: str = "csv"):
        import pyarrow.parquet as pq

        super().__init__(path, what)
        self.schema, self.kind = schema, kind
        self.compression = compression or DEFAULT_CODEC
        self._sink = _Sink(self)
        try:
            self._writer = pq.ParquetWriter(self._sink, schema, compression=self.compression,
                                            compression_level=LEVELS.get(self.compression))
        except BaseException:
            self.abort()
            raise

    def write_unit(self, pieces: list, always: bool = False) -> None:
        text = b"".join(pieces)
        if text.strip():
            self._write(table(text, self.schema, self.kind))

    def _write(self, t) -> None:
        try:
            self._writer.write_table(t, row_group_size=t.num_rows)
        except OSError as e:  # pyarrow's own I/O error around ours
            raise RunError(f"cannot write {self.what} {self.path!r}: {e}") from None

    def commit(self) -> None:
        if self._writer is not None:
            self._writer.close()  # the footer
            self._writer = None
        super().commit()

    def abort(self) -> None:
        writer, self._writer = getattr(self, "_writer", None), None
        if writer is not None:
            self._sink.out = None  # what the writer still has goes nowhere
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - the file is being removed anyway
                pass
        super().abort()


def cdr_opener(split: bool, labelled: bool, compression: str | None):
    """``opener(k, path)`` for output.atomic_outputs: the k-th output of a CDR file as a ParquetFile
    (one per CDR type with ``split``, else one of all types)."""
    from .constants import CDR_TYPES

    schemas = [arrow_schema(t, labelled) for t in CDR_TYPES] if split else [arrow_schema(None, labelled)]
    return lambda k, path: ParquetFile(path, schemas[k], compression)


def user_output(path: str) -> ParquetFile:
    """A users file of Parquet: JSON Lines of users in (output.write_users), row groups out."""
    return ParquetFile(path, arrow_schema("user"), kind="jsonl")


# ---------------------------------------------------------------- reading users

def read_records(raw: bytes, label: str) -> list[dict]:
    """The users of a Parquet file's bytes as JSON would give them (dates as their ISO text); one
    line for a file that cannot be read."""
    require(f"{label} is Parquet; reading it")
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        got = pq.read_table(pa.BufferReader(raw))
    except (pa.ArrowException, OSError) as e:
        raise UserError(f"{label} is not a valid Parquet file (truncated or corrupt: {str(e).splitlines()[0][:120]})"
                        ) from None
    except MemoryError:
        raise UserError(f"{label} is too large to read in memory") from None
    for i, f in enumerate(got.schema):  # activation_date as a users file of JSON has it
        if pa.types.is_date(f.type):
            got = got.set_column(i, f.name, got.column(i).cast(pa.string()))
    try:
        return got.to_pylist()
    except (pa.ArrowException, UnicodeDecodeError, ValueError) as e:
        raise UserError(f"{label} holds a value that cannot be read: {str(e).splitlines()[0][:80]}") from None
