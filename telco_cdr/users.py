"""Subscribers: generation (pure, seeded), and loading a users file with validation."""

from __future__ import annotations

import importlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from .charging import billing_day
from .constants import DEFAULT_SEED, SeedDomain
from .errors import UserError
from .identifiers import CITIES, COUNTRIES, DEVICES, OPERATORS, ecgi, luhn_digits, msisdn_drawer, unique_draw
from .parquet import MAGIC as PARQUET_MAGIC  # (that module imports pyarrow only when it reads or writes)
from .text import plural, size


@dataclass(frozen=True)
class Plan:
    plan_id: str
    plan_name: str
    plan_type: str  # prepaid | postpaid
    segment: str  # consumer | business
    weight: float  # share within its plan type
    # Allowances per billing cycle (None: unlimited).  Prepaid plans are pay-as-you-go here (the
    # number in the name is the usual monthly top-up): no bundle, every unit rated (telco_cdr.charging).
    data_gb: int | None = 0
    voice_minutes: int | None = 0
    sms: int | None = 0


# Tariff plans modelled on the public price lists of the operators in identifiers.OPERATORS
# (prepaid bundles, postpaid tiers, unlimited and business lines); names are generic, and so are the
# allowances (of the order of 2025's postpaid tiers: a capped tier, a family and a business bundle,
# unlimited plans; illustrative, not one operator's).
PLANS: tuple[Plan, ...] = (
    Plan("PRE-10", "Prepaid Smart 10", "prepaid", "consumer", 0.55),
    Plan("PRE-25", "Prepaid Plus 25", "prepaid", "consumer", 0.45),
    Plan("POST-40", "Essentials 40", "postpaid", "consumer", 0.34, 12, 600, 500),
    Plan("POST-UNL", "Unlimited Plus", "postpaid", "consumer", 0.30, None, None, None),
    Plan("POST-FAM", "Family Share", "postpaid", "consumer", 0.22, 25, None, None),
    Plan("BIZ-PRO", "Business Pro", "postpaid", "business", 0.09, 30, 1000, None),
    Plan("BIZ-UNL", "Business Unlimited", "postpaid", "business", 0.05, None, None, None),
)
PLAN_INDEX = {p.plan_id: i for i, p in enumerate(PLANS)}

# Share of prepaid lines by country (GSMA Intelligence / national regulators' market reports).
PREPAID_SHARE = {"US": 0.22, "GB": 0.30, "DE": 0.40, "FR": 0.20, "IN": 0.93}
SUSPENDED_SHARE = {"prepaid": 0.06, "postpaid": 0.02}
NAME_LOCALE = {"US": "en_US", "GB": "en_GB", "DE": "de_DE", "FR": "fr_FR", "IN": "en_IN"}
ACTIVATION_FIRST, ACTIVATION_LAST = date(2014, 1, 1), date(2025, 12, 31)
ACTIVATION_DAYS = (ACTIVATION_LAST - ACTIVATION_FIRST).days + 1


def _name_pool(locale: str, attr: str) -> tuple[list[str], np.ndarray]:
    """Names and their weights from Faker's person provider of ``locale`` (read once)."""
    provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
    names = getattr(provider, attr)
    if isinstance(names, dict):
        keys = list(names)
        weights = np.array([float(names[k]) for k in keys])
    else:
        keys = sorted(set(names))
        weights = np.ones(len(keys))
    return keys, np.cumsum(weights / weights.sum())


def _pick(rng: np.random.Generator, cum: np.ndarray, n: int) -> np.ndarray:
    return np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(cum) - 1)


# A TAC numbers at most 1,000,000 devices (6-digit serials); a base with more users of one TAC than
# this (past about 11.6 million users for the most common TAC) gives the rest of them the next TACs,
# TAC_USERS_MAX users each.
# Those next ones are not in a TAC database (README, record reference: `imei`).
TAC_USERS_MAX = 800_000

# Every TAC of DEVICES, its device, and the share of users it has: the device's weight spread over
# its TACs as 1, 1/2, 1/3, ... (the first TAC of a model, its main production, the most common).
_TAC_INT = np.array([int(t) for d in DEVICES for t in d.tacs], dtype=np.int64)
_TAC_DEVICE = np.array([i for i, d in enumerate(DEVICES) for _ in d.tacs], dtype=np.int64)
_TAC_WEIGHT = np.array([d.weight * (1 / (k + 1)) / sum(1 / (j + 1) for j in range(len(d.tacs)))
                        for d in DEVICES for k in range(len(d.tacs))])
_TAC_CUM = np.cumsum(_TAC_WEIGHT / _TAC_WEIGHT.sum())


def _tacs(tac_index: np.ndarray) -> np.ndarray:
    """Each user's TAC (int): its TAC of DEVICES (an index into _TAC_INT), or for the users of a
    TAC past TAC_USERS_MAX the next TACs."""
    tac = _TAC_INT[tac_index]
    counts = np.bincount(tac_index, minlength=len(_TAC_INT))
    for t in np.flatnonzero(counts > TAC_USERS_MAX).tolist():
        users = np.flatnonzero(tac_index == t)
        tac[users] += np.arange(len(users)) // TAC_USERS_MAX
    return tac


def select_operators(countries: Sequence[str] | None = None, operators: Sequence[str] | None = None) -> list[int]:
    """Indexes into OPERATORS for the chosen countries and operators (names or MCC-MNC)."""
    if operators:
        chosen = []
        for name in operators:
            key = name.lower().replace("-", "").strip()
            hits = [i for i, op in enumerate(OPERATORS) if key in (op.plmn, op.name.lower().replace("-", ""))]
            if not hits:
                names = ", ".join(f"{op.mcc}-{op.mnc} ({op.name})" for op in OPERATORS)
                raise UserError(f"--operator: unknown operator {name!r}; choose from {names}")
            chosen += [i for i in hits if i not in chosen]
        if countries:
            chosen = [i for i in chosen if OPERATORS[i].country in {c.upper() for c in countries}]
            if not chosen:
                raise UserError("--operator: none of the operators is in the chosen --country")
        return sorted(chosen)
    countries = [c.upper() for c in (countries or ["US"])]
    for c in countries:
        if c not in COUNTRIES:
            raise UserError(f"--country: unknown country {c!r}; choose from {', '.join(COUNTRIES)}")
    chosen = [i for i, op in enumerate(OPERATORS) if op.country in countries]
    return chosen


def generate_users(num_users: int, seed: int = DEFAULT_SEED, countries: Sequence[str] | None = None,
                   operators: Sequence[str] | None = None) -> Iterator[dict]:
    """``num_users`` user records, lazily; the same arguments always give the same users.

    The arguments are checked here, at once, not when the first record is asked for."""
    if num_users < 0:
        raise UserError("--num-users must be 0 or more")
    op_ids = np.array(select_operators(countries, operators), dtype=np.int64)
    return _generate(num_users, seed, op_ids)


def _generate(num_users: int, seed: int, op_ids: np.ndarray) -> Iterator[dict]:
    if num_users == 0:
        return
    rng = np.random.default_rng(np.random.SeedSequence([SeedDomain.USERS, seed]))
    n = num_users

    # Country: evenly over the chosen countries; operator by market share within it.
    op_countries = sorted({OPERATORS[i].country for i in op_ids}, key=COUNTRIES.index)
    country_of = rng.integers(0, len(op_countries), n)
    op = np.empty(n, dtype=np.int64)
    city = np.empty(n, dtype=np.int64)
    circle_rng = np.random.default_rng(np.random.SeedSequence([SeedDomain.USERS, seed, 1]))  # the others' draws stay
    for ci, country in enumerate(op_countries):
        sel = np.flatnonzero(country_of == ci)
        ops_here = np.array([i for i in op_ids if OPERATORS[i].country == country])
        shares = np.array([OPERATORS[i].share for i in ops_here])
        op[sel] = ops_here[_pick(rng, np.cumsum(shares / shares.sum()), len(sel))]
        cities_here = np.array([i for i, c in enumerate(CITIES) if c.country == country])
        w = np.array([CITIES[i].weight for i in cities_here])
        city[sel] = cities_here[_pick(rng, np.cumsum(w / w.sum()), len(sel))]
        for o in ops_here.tolist():  # an operator licensed for a circle: its users live there
            if OPERATORS[o].circle:
                mine = sel[op[sel] == o]
                inside = np.array([i for i in cities_here if CITIES[i].name in OPERATORS[o].circle])
                wc = np.array([CITIES[i].weight for i in inside])
                city[mine] = inside[_pick(circle_rng, np.cumsum(wc / wc.sum()), len(mine))]

    # Plan: prepaid share by country, then a plan of that type by weight.
    prepaid_share = np.array([PREPAID_SHARE[OPERATORS[i].country] for i in op])
    is_prepaid = rng.random(n) < prepaid_share
    plan = np.empty(n, dtype=np.int64)
    for kind, mask in (("prepaid", is_prepaid), ("postpaid", ~is_prepaid)):
        idx = np.array([i for i, p in enumerate(PLANS) if p.plan_type == kind])
        w = np.array([PLANS[i].weight for i in idx])
        sel = np.flatnonzero(mask)
        plan[sel] = idx[_pick(rng, np.cumsum(w / w.sum()), len(sel))]
    suspended = rng.random(n) < np.where(is_prepaid, SUSPENDED_SHARE["prepaid"], SUSPENDED_SHARE["postpaid"])

    tac_index = _pick(rng, _TAC_CUM, n)  # the device with its TAC
    device = _TAC_DEVICE[tac_index]
    activation = rng.integers(0, ACTIVATION_DAYS, n)

    first = np.empty(n, dtype=object)
    last = np.empty(n, dtype=object)
    for country in op_countries:
        sel = np.flatnonzero(np.array([OPERATORS[i].country == country for i in op]))
        for attr, out in (("first_names", first), ("last_names", last)):
            names, cum = _name_pool(NAME_LOCALE[country], attr)
            out[sel] = np.array(names, dtype=object)[_pick(rng, cum, len(sel))]

    msisdn = unique_draw(rng, msisdn_drawer(op, city), n, "MSISDNs")

    plmn_int = np.array([int(OPERATORS[i].plmn) for i in op], dtype=np.int64)
    msin_scale = np.array([10 ** (15 - len(OPERATORS[i].plmn)) for i in op], dtype=np.int64)
    imsi = unique_draw(rng, lambda r, pos: plmn_int[pos] * msin_scale[pos] + r.integers(0, msin_scale[pos]),
                       n, "IMSIs")

    tac_int = _tacs(tac_index)
    imei_payload = unique_draw(rng, lambda r, pos: tac_int[pos] * 1_000_000 + r.integers(0, 1_000_000, len(pos)),
                               n, "IMEIs")
    imei = imei_payload * 10 + luhn_digits(imei_payload, 14)

    # ICCID (ITU-T E.118): the issuer's IIN (89 + country code + issuer id) + account, then a Luhn
    # digit; 19 or 20 digits by issuer.  A 20-digit ICCID exceeds int64: the digit is appended as text.
    iin = np.array([int(o.iccid_prefix) for o in OPERATORS], dtype=np.int64)  # per operator
    acc_scale = np.array([10 ** (o.iccid_digits - 1 - len(o.iccid_prefix)) for o in OPERATORS], dtype=np.int64)

    def iccid_draw(r: np.random.Generator, pos: np.ndarray) -> np.ndarray:
        o = op[pos]
        return iin[o] * acc_scale[o] + r.integers(0, acc_scale[o])

    iccid_payload = unique_draw(rng, iccid_draw, n, "ICCIDs")
    iccid_check = np.empty(n, dtype=np.int64)
    for digits in sorted({o.iccid_digits for o in OPERATORS}):
        sel = np.isin(op, [i for i, o in enumerate(OPERATORS) if o.iccid_digits == digits])
        if sel.any():
            iccid_check[sel] = luhn_digits(iccid_payload[sel], digits - 1)

    # Home cell: each city has its own eNodeB id range per operator, sized by population;
    # a tracking area groups 32 neighbouring eNodeBs.
    city_w = np.array([c.weight for c in CITIES])
    sites = (60 + 120 * np.sqrt(city_w)).astype(np.int64)
    enb_base = 1024 + np.arange(len(CITIES), dtype=np.int64) * 2048
    enb = enb_base[city] + rng.integers(0, sites[city])
    sector = rng.integers(1, 4, n)
    eci = enb * 256 + sector
    tac = 1000 + city * 100 + (enb - enb_base[city]) // 32
    cycle_day = billing_day(msisdn)  # no draw: the fields above are as they were

    width = max(7, len(str(n)))
    for start in range(0, n, _TEXT_BLOCK):
        # the numbers as text a block at a time (Python's ints format faster than numpy's scalars)
        stop = min(n, start + _TEXT_BLOCK)
        msisdn_text = list(map(str, msisdn[start:stop].tolist()))
        imsi_text = list(map(str, imsi[start:stop].tolist()))
        imei_text = [f"{v:015d}" for v in imei[start:stop].tolist()]  # TACs of reporting body 01 begin with 0
        iccid_text = [f"{p}{c}" for p, c in zip(iccid_payload[start:stop].tolist(), iccid_check[start:stop].tolist())]
        for j, i in enumerate(range(start, stop)):
            o = OPERATORS[op[i]]
            d = DEVICES[device[i]]
            p = PLANS[plan[i]]
            c = CITIES[city[i]]
            yield {  # the fields of telco_cdr.contract.USER, in its order (tested)
                "user_id": f"U{i + 1:0{width}d}",
                "first_name": first[i],
                "last_name": last[i],
                "msisdn": msisdn_text[j],
                "imsi": imsi_text[j],
                "imei": imei_text[j],
                "iccid": iccid_text[j],
                "mcc": o.mcc,
                "mnc": o.mnc,
                "operator": o.name,
                "country": o.country,
                "device_make": d.make,
                "device_model": d.model,
                "device_5g": d.nr,
                "device_4g": d.lte,
                "device_volte": d.volte,
                "plan_id": p.plan_id,
                "plan_name": p.plan_name,
                "plan_type": p.plan_type,
                "segment": p.segment,
                "status": "suspended" if suspended[i] else "active",
                "activation_date": (ACTIVATION_FIRST + timedelta(days=int(activation[i]))).isoformat(),
                "home_city": c.name,
                "home_region": c.region,
                "time_zone": c.zone,
                "home_cell_id": ecgi(o.plmn, int(eci[i])),
                "home_tac": int(tac[i]),
                "data_allowance_gb": p.data_gb,
                "voice_allowance_minutes": p.voice_minutes,
                "sms_allowance": p.sms,
                "billing_day": int(cycle_day[i]),
            }


_TEXT_BLOCK = 1 << 14  # users whose numbers are turned into text at once


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "))


def user_json(record: dict) -> str:
    """A user record as the JSON text that files and the telco-users topic carry."""
    return _ENCODER.encode(record)


# ---------------------------------------------------------------- loading a users file

# What a CDR needs of a user, and how each field must look.
_DIGITS = re.compile(r"[0-9]+")
REQUIRED = {
    "user_id": lambda v: isinstance(v, str) and 0 < len(v) <= 64 and v.isprintable(),
    "msisdn": lambda v: isinstance(v, str) and _DIGITS.fullmatch(v) is not None and 8 <= len(v) <= 15 and v[0] != "0",
    "imsi": lambda v: isinstance(v, str) and _DIGITS.fullmatch(v) is not None and len(v) == 15,
    "imei": lambda v: isinstance(v, str) and _DIGITS.fullmatch(v) is not None and len(v) == 15,
    "mcc": lambda v: isinstance(v, str) and _DIGITS.fullmatch(v) is not None and len(v) == 3,
    "mnc": lambda v: isinstance(v, str) and _DIGITS.fullmatch(v) is not None and len(v) in (2, 3),
    "status": lambda v: v in ("active", "suspended"),
    "plan_type": lambda v: v in ("prepaid", "postpaid"),
    "home_cell_id": lambda v: isinstance(v, str) and re.fullmatch(r"[0-9]{5,6}[0-9A-F]{7}", v) is not None,
    "home_tac": lambda v: type(v) is int and 0 <= v <= 0xFFFF,
}
_EXPECT = {
    "user_id": "a non-empty string", "msisdn": "an E.164 number of 8-15 digits as a string",
    "imsi": "15 digits as a string", "imei": "15 digits as a string", "mcc": "3 digits as a string",
    "mnc": "2 or 3 digits as a string", "status": "'active' or 'suspended'",
    "plan_type": "'prepaid' or 'postpaid'", "home_cell_id": "an ECGI (MCC+MNC digits and 7 hex digits)",
    "home_tac": "an integer 0-65535",
}


def _read_bytes(path: str, progress=None) -> bytearray:
    """The file's bytes, read in blocks so that ``progress`` (output.Progress) can show how far."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        buf = bytearray(size)
        view, done = memoryview(buf), 0
        while done < size:
            n = fh.readinto(view[done:done + (32 << 20)])
            if not n:  # the file shrank while it was read
                break
            done += n
            if progress:
                progress.reading(done, size)
        view.release()
        del buf[done:]
        buf += fh.read()  # and what was added while it was read
    return buf


GZIP_MAGIC, ZSTD_MAGIC = b"\x1f\x8b", b"\x28\xb5\x2f\xfd"


def _decompressed(raw: bytearray, label: str):
    """A gzip- or zstd-compressed users file's bytes decompressed (known by their first bytes,
    whatever the name); any other file's as they are.  A corrupt file is one line."""
    if raw[:2] == GZIP_MAGIC:
        import gzip
        import zlib

        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise UserError(f"{label} is not a valid gzip file (truncated or corrupt: {e})") from None
        except MemoryError:
            raise UserError(f"{label} is too large to decompress in memory") from None
    if raw[:4] == ZSTD_MAGIC:
        try:
            import zstandard
        except ImportError:
            raise UserError(f"{label} is zstd-compressed; reading it needs the zstandard package "
                            "(pip install zstandard, see requirements.txt)") from None
        dctx, parts, data = zstandard.ZstdDecompressor(), [], bytes(raw)
        del raw
        try:
            while data:  # one frame after another, each to its end
                d = dctx.decompressobj()
                parts.append(d.decompress(data))
                if not d.eof:
                    raise UserError(f"{label} is not a valid zstd file (truncated)")
                data = d.unused_data
            return b"".join(parts)
        except zstandard.ZstdError as e:
            raise UserError(f"{label} is not a valid zstd file (corrupt: {e})") from None
        except MemoryError:
            raise UserError(f"{label} is too large to decompress in memory") from None
    return raw


def read_users(path: str, progress=None) -> list[dict]:
    """Read and validate a users file (a JSON array or JSON Lines, or either compressed with gzip
    or zstd, or Parquet); raise UserError on any fault.  ``progress`` (output.Progress) is told how far."""
    label = f"users file {path!r}"
    if not os.path.exists(path):
        raise UserError(f"{label} not found (make one with: python user_generator.py --output {path!r})")
    if os.path.isdir(path):
        raise UserError(f"{label} is a directory, not a file")
    try:
        raw = _read_bytes(path, progress)
    except OSError as e:
        raise UserError(f"{label} cannot be read: {e.strerror}") from None
    if raw[:4] == PARQUET_MAGIC:  # a Parquet file: its first bytes tell, whatever its name
        from .parquet import read_records

        if progress:
            progress.phase(f"reading {size(len(raw))} of Parquet users")
        records, escapes = read_records(bytes(raw), label), False
    else:
        records, escapes = _json_records(raw, label, progress)
    if not isinstance(records, list):
        raise UserError(f"{label} must hold a JSON array of user objects")
    if not records:
        raise UserError(f"{label} holds no users")
    if progress:
        progress.phase(f"checking {plural(len(records), 'user')}")
    if not _all_valid(records):
        _first_fault(records, label)  # raises, naming the user and the field
    if escapes and any(_has_surrogate(r) for r in records):
        raise UserError(f"{label} holds a \\u escape that is not valid Unicode (a lone surrogate)")
    _check_time_zones(records, label)
    if not any(r["status"] == "active" for r in records):
        raise UserError(f"{label} has no active users, so there is no one to make CDRs for")
    return records


def _json_records(raw: bytearray, label: str, progress=None) -> tuple[list, bool]:
    """The records of a users file of JSON (an array or JSON Lines, either maybe compressed), and
    whether its text holds a \\u escape."""
    raw = _decompressed(raw, label)
    if progress:
        progress.phase(f"parsing {size(len(raw))} of users")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UserError(f"{label} is not UTF-8 text (bad byte at offset {e.start})") from None
    del raw  # a big file is held once at a time, not as bytes, text and lines together
    stripped = text.lstrip("\ufeff \t\r\n")
    escapes = "\\u" in text
    del text
    if not stripped:
        raise UserError(f"{label} is empty")
    records: list
    try:
        if stripped[0] == "[":
            records, stripped = json.loads(stripped), None
        else:
            whole = None
            if stripped[0] == "{":
                try:
                    whole = json.loads(stripped)
                except json.JSONDecodeError:
                    pass  # several objects: JSON Lines
            if isinstance(whole, dict) and "user_id" not in whole:
                raise UserError(f"{label} holds a JSON object; it must hold a JSON array of users or one user a line")
            records = []
            lines, stripped = stripped.splitlines(), None
            for lineno, line in enumerate(lines, 1):
                if line.strip():
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError as e:
                        raise UserError(f"{label} line {lineno} is not valid JSON: {e.msg}") from None
            del lines
    except json.JSONDecodeError as e:
        raise UserError(f"{label} is not valid JSON (truncated or malformed) "
                        f"at line {e.lineno} column {e.colno}: {e.msg}") from None
    except RecursionError:
        raise UserError(f"{label} is nested too deeply to be a users file") from None
    except ValueError as e:  # e.g. an integer of more digits than Python converts
        raise UserError(f"{label} holds a value that cannot be read: {str(e).splitlines()[0][:80]}") from None
    return records, escapes


# The string fields a CDR needs, as patterns one column at a time is matched against.
_COLUMN_PATTERNS = {
    "msisdn": "[1-9][0-9]{7,14}", "imsi": "[0-9]{15}", "imei": "[0-9]{15}", "mcc": "[0-9]{3}",
    "mnc": "[0-9]{2,3}", "home_cell_id": "[0-9]{5,6}[0-9A-F]{7}",
}
_COLUMN_RES = {f: re.compile(f"(?:{p}\n)*{p}") for f, p in _COLUMN_PATTERNS.items()}


def _all_valid(records: list) -> bool:
    """The common case in bulk: every record right, checked a column at a time (one regex over a
    whole column).  False means: look record by record for the first fault."""
    try:
        return _columns_valid(records)
    except TypeError:  # an unhashable or unorderable value somewhere
        return False


def _columns_valid(records: list) -> bool:
    if not all(type(r) is dict for r in records):
        return False
    try:
        cols = {f: [r[f] for r in records] for f in REQUIRED}
    except KeyError:
        return False
    for f, pattern in _COLUMN_RES.items():
        col = cols[f]
        if set(map(type, col)) != {str} or not pattern.fullmatch("\n".join(col)):
            return False
    ids = cols["user_id"]
    if set(map(type, ids)) != {str} or not all(map(str.isprintable, ids)) or not 0 < min(map(len, ids)) \
            or max(map(len, ids)) > 64:
        return False
    if not set(cols["status"]) <= {"active", "suspended"} or not set(cols["plan_type"]) <= {"prepaid", "postpaid"}:
        return False
    tacs = cols["home_tac"]
    if set(map(type, tacs)) != {int} or min(tacs) < 0 or max(tacs) > 0xFFFF:
        return False
    if not all(i.startswith(c + n) for i, c, n in zip(cols["imsi"], cols["mcc"], cols["mnc"])):
        return False
    return all(len(set(cols[f])) == len(records) for f in ("user_id", "msisdn", "imsi"))


def _first_fault(records: list, label: str) -> None:
    seen: dict[str, set] = {"user_id": set(), "msisdn": set(), "imsi": set()}
    for i, rec in enumerate(records):
        where = f"{label}, user #{i + 1}"
        if not isinstance(rec, dict):
            raise UserError(f"{where} is not a JSON object")
        for field, ok in REQUIRED.items():
            if field not in rec:
                raise UserError(f"{where} lacks the field {field!r} that CDRs need")
            if not ok(rec[field]):
                raise UserError(f"{where}: {field!r} must be {_EXPECT[field]}, got {_short(rec[field])}")
        if not rec["imsi"].startswith(rec["mcc"] + rec["mnc"]):
            raise UserError(f"{where}: 'imsi' does not start with its MCC+MNC {rec['mcc']}{rec['mnc']}")
        for key, values in seen.items():
            if rec[key] in values:
                raise UserError(f"{label}: {key} {_short(rec[key])} appears more than once (user #{i + 1})")
            values.add(rec[key])


def _check_time_zones(records: list, label: str) -> None:
    """An optional ``time_zone`` must name an IANA zone (the daily curves run in it)."""
    from .timezones import zone_exists

    known: dict[str, bool] = {}
    for i, rec in enumerate(records):
        zone = rec.get("time_zone")
        if zone is None:
            continue
        if isinstance(zone, str) and zone not in known:
            known[zone] = zone_exists(zone)  # each distinct zone is loaded once
        ok = isinstance(zone, str) and known[zone]
        if not ok:
            raise UserError(f"{label}, user #{i + 1}: 'time_zone' must be an IANA time zone such as "
                            f"Europe/Berlin, got {_short(zone)}")


def _has_surrogate(value) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_surrogate(v) for v in value)
    return False


def _short(value) -> str:
    text = json.dumps(value, ensure_ascii=True, default=str)
    return text if len(text) <= 40 else text[:37] + "..."
