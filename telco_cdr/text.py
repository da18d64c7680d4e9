"""Words for numbers, as the scripts print them: counts that agree in number, sizes, durations."""

from __future__ import annotations

# Nouns whose plural is not the noun and an "s".
_PLURALS: dict[str, str] = {}


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """``1 CDR``, ``2 CDRs``, ``1,000 messages``: the count with the noun in agreement."""
    return f"{n:,} {noun if n == 1 else (nouns or _PLURALS.get(noun) or noun + 's')}"


def size(nbytes: float) -> str:
    """Bytes in decimal units, one decimal: ``612.3 MB``, ``3.0 GB``, ``1 byte``, ``950 bytes``."""
    if nbytes < 1000:
        return plural(int(nbytes), "byte")
    for unit in ("kB", "MB", "GB", "TB"):
        nbytes /= 1000
        if nbytes < 999.95 or unit == "TB":
            return f"{nbytes:.1f} {unit}"
    raise AssertionError("unreachable")


def duration(seconds: float) -> str:
    """``7 s``, ``2 min 05 s``, ``1 h 02 min``: a time left, to the second below an hour."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"
