"""Derive identifiers.MOBILE_BLOCKS from libphonenumber's carrier data (a development tool).

    python scripts/number_blocks.py        # prints the table to paste into telco_cdr/identifiers.py

For each operator of GB, DE, FR and IN it takes the number blocks (E.164 prefixes) that the
``phonenumbers`` package's carrier data names with one of the operator's carrier names, removes the
longer blocks inside them that the data gives to another carrier (a lookup takes the longest
prefix), and keeps a block only when its numbers are valid mobile numbers of the country
(``phonenumbers.is_valid_number``, ``number_type``); a block that is only partly valid is split
into its ten sub-blocks.  The generator itself never imports phonenumbers: the result is a
constant in the code.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import phonenumbers
from phonenumbers import PhoneNumberType
from phonenumbers.carrierdata import CARRIER_DATA

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from telco_cdr.identifiers import OPERATORS, nsn_length  # noqa: E402

# The names libphonenumber's carrier data gives each operator's blocks: E-Plus has been part of
# Telefónica Germany (O2) since 2014, Idea and Vodafone India merged as Vodafone Idea in 2018.
CARRIER_NAMES = {
    "Vodafone UK": ("Vodafone",), "O2 UK": ("O2",), "EE": ("EE",),
    "Telekom Deutschland": ("T-Mobile",), "Vodafone DE": ("Vodafone",), "O2 Telefonica DE": ("O2", "Eplus"),
    "Orange France": ("Orange France",), "SFR": ("SFR",), "Bouygues Telecom": ("Bouygues",),
    "Airtel Delhi": ("Airtel",), "Vodafone Idea Mumbai": ("Vodafone", "Idea"),
}

MOBILE = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


def _carrier_keys(cc: str) -> dict[str, str]:
    return {k: v["en"] for k, v in CARRIER_DATA.items() if k.startswith(cc) and "en" in v}


def _exclusive(prefix: str, ours: set[str], keys: dict[str, str]) -> list[str]:
    """``prefix`` (ours), or its sub-blocks that a longest-prefix lookup still gives to ``ours``."""
    inner = [k for k in keys if k.startswith(prefix) and len(k) > len(prefix) and keys[k] not in ours]
    if not inner:
        return [prefix]
    out = []
    for d in "0123456789":
        child = prefix + d
        if child in keys and keys[child] not in ours:
            continue
        out += _exclusive(child, ours, keys)
    return out


def _valid(country: str, cc: str, national_prefix: str, rng: np.random.Generator) -> bool | None:
    """True: every number of the block is a valid mobile number of ``country`` (as far as a sample
    and the block's ends show); False: none is; None: some are."""
    nsn = nsn_length(country, national_prefix)
    rest = nsn - len(national_prefix)
    if rest < 0:
        return False
    tails = {"0" * rest, "9" * rest} | {str(v).zfill(rest) for v in rng.integers(0, 10 ** rest, 30)} if rest else {""}
    ok = []
    for t in tails:
        num = phonenumbers.parse(f"+{cc}{national_prefix}{t}")
        ok.append(phonenumbers.is_valid_number(num) and phonenumbers.region_code_for_number(num) == country
                  and phonenumbers.number_type(num) in MOBILE)
    return all(ok) if all(ok) or not any(ok) else None


def _blocks(country: str, cc: str, prefix: str, rng: np.random.Generator, depth: int = 0) -> list[str]:
    national = prefix[len(cc):]
    v = _valid(country, cc, national, rng)
    if v:
        return [national]
    if v is None and depth < 3:
        return [b for d in "0123456789" for b in _blocks(country, cc, prefix + d, rng, depth + 1)]
    return []


def blocks_of(op) -> list[str]:
    """The national prefixes of ``op``'s number blocks (an Operator of GB, DE, FR or IN)."""
    rng = np.random.default_rng(0)
    cc, ours = op.country_code, set(CARRIER_NAMES[op.name])
    keys = _carrier_keys(cc)
    mine = sorted(k for k, name in keys.items() if name in ours)
    blocks = sorted({b for k in mine for p in _exclusive(k, ours, keys) for b in _blocks(op.country, cc, p, rng)})
    # a block inside another of ours adds nothing
    return [b for b in blocks if not any(b != o and b.startswith(o) for o in blocks)]


def main() -> None:
    print(f"# phonenumbers {phonenumbers.__version__} (libphonenumber's carrier data)")
    for op in OPERATORS:
        if op.name not in CARRIER_NAMES:
            continue
        blocks = blocks_of(op)
        lines = textwrap.wrap(" ".join(blocks), 100)
        print(f'    "{op.plmn}": (  # {op.name}: {len(blocks)} blocks')
        for i, line in enumerate(lines):
            print(f'        "{line}{" " if i < len(lines) - 1 else ""}"')
        print("    ),")


if __name__ == "__main__":
    main()
