"""Subscriber and network identifiers: MSISDN, IMSI, IMEI, ICCID and cell ids.

Everything here is vectorised over numpy arrays and takes an explicit
``numpy.random.Generator``; nothing here keeps random state of its own.

Sources for the tables are named beside each one.  Numbers are synthetic: they
follow the numbering plan of the operator's country (so ``phonenumbers``
accepts them as valid mobile numbers), but they belong to no one we know of.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import UserError


@dataclass(frozen=True)
class Operator:
    mcc: str
    mnc: str
    name: str
    country: str  # ISO 3166 alpha-2
    country_code: str  # E.164 country calling code
    share: float  # market share within the country (weight)
    prefixes: tuple[str, ...]  # national mobile prefixes; NANP numbers use the city's area codes
    nsn_length: int  # digits of the national significant number
    iccid_issuer: str  # two-digit issuer id used in ICCIDs
    smsc: str  # E.164 address of the operator's SMS centre (synthetic)

    @property
    def plmn(self) -> str:
        return self.mcc + self.mnc



# MCC/MNC: ITU-T E.212 list of mobile network codes (ITU Operational Bulletin) and the
# operators' public numbering (telco-reference.md).  Shares are rough public market shares.
# Mobile prefixes: Ofcom (UK 07), Bundesnetzagentur (DE 015x/016x/017x),
# ARCEP (FR 06), DoT (IN 6-9); checked against libphonenumber's metadata in the tests.
OPERATORS: tuple[Operator, ...] = (
    Operator("310", "260", "T-Mobile US", "US", "1", 0.34, (), 10, "26", "12063130004"),
    Operator("310", "410", "AT&T Mobility", "US", "1", 0.32, (), 10, "41", "13123149810"),
    Operator("311", "480", "Verizon Wireless", "US", "1", 0.34, (), 10, "48", "19037029920"),
    Operator("234", "15", "Vodafone UK", "GB", "44", 0.24,
             ("7385", "7387", "7500", "7501", "7768", "7769", "7909", "7917"), 10, "15", "447785016005"),
    Operator("234", "10", "O2 UK", "GB", "44", 0.34,
             ("7511", "7512", "7718", "7719", "7802", "7803", "7927", "7928"), 10, "10", "447802000332"),
    Operator("234", "30", "EE", "GB", "44", 0.42,
             ("7400", "7401", "7402", "7703", "7704", "7949", "7950", "7956"), 10, "30", "447958879879"),
    Operator("262", "01", "Telekom Deutschland", "DE", "49", 0.38,
             ("151", "160", "170", "171", "175"), 0, "01", "491710760000"),
    Operator("262", "02", "Vodafone DE", "DE", "49", 0.30,
             ("152", "162", "172", "173", "174"), 0, "02", "491722270333"),
    Operator("262", "03", "O2 Telefonica DE", "DE", "49", 0.32,
             ("159", "176", "179"), 0, "03", "491760000443"),
    Operator("208", "01", "Orange France", "FR", "33", 0.40,
             ("60", "61", "62", "64", "65", "66", "67", "68"), 9, "01", "33689004000"),
    Operator("208", "10", "SFR", "FR", "33", 0.30,
             ("60", "61", "62", "64", "65", "66"), 9, "10", "33609001390"),
    Operator("208", "20", "Bouygues Telecom", "FR", "33", 0.30,
             ("61", "62", "64", "65", "66", "67"), 9, "20", "33660003000"),
    Operator("404", "10", "Airtel Delhi", "IN", "91", 0.55,
             ("98", "99", "97", "96"), 10, "10", "919810051914"),
    Operator("404", "20", "Vodafone Idea Mumbai", "IN", "91", 0.45,
             ("98", "99", "97", "95", "93"), 10, "20", "919820005444"),
)

# German mobile numbers: prefix 15x takes 8 more digits, 16x/17x take 7 (Bundesnetzagentur plan).
_DE_NSN = {"151": 11, "152": 11, "159": 11, "160": 10, "162": 10, "170": 10, "171": 10, "172": 10,
           "173": 10, "174": 10, "175": 10, "176": 11, "179": 10}

COUNTRIES = ("US", "GB", "DE", "FR", "IN")

# Each country's main IANA time zone (the zone of a user whose city is not listed below).
# IANA tz database (tzdata); India has one zone, Asia/Kolkata.
COUNTRY_TIME_ZONE = {"US": "America/New_York", "GB": "Europe/London", "DE": "Europe/Berlin",
                     "FR": "Europe/Paris", "IN": "Asia/Kolkata"}


@dataclass(frozen=True)
class City:
    name: str
    region: str
    country: str
    weight: float  # population in millions (share of users)
    area_codes: tuple[str, ...] = ()  # NANP area codes (US only)
    time_zone: str = ""  # IANA zone; the country's (COUNTRY_TIME_ZONE) when empty

    @property
    def zone(self) -> str:
        return self.time_zone or COUNTRY_TIME_ZONE[self.country]


# Largest cities by population (national statistics offices, via Wikipedia lists of largest
# cities); US area codes from the North American Numbering Plan Administrator (NANPA); US time
# zones from the IANA tz database (Arizona keeps standard time all year: America/Phoenix).
CITIES: tuple[City, ...] = (
    City("New York", "NY", "US", 8.3, ("212", "646", "718", "917"), "America/New_York"),
    City("Los Angeles", "CA", "US", 3.8, ("213", "310", "323"), "America/Los_Angeles"),
    City("Chicago", "IL", "US", 2.7, ("312", "773"), "America/Chicago"),
    City("Houston", "TX", "US", 2.3, ("713", "832"), "America/Chicago"),
    City("Phoenix", "AZ", "US", 1.6, ("602", "480"), "America/Phoenix"),
    City("Philadelphia", "PA", "US", 1.6, ("215", "267"), "America/New_York"),
    City("San Antonio", "TX", "US", 1.5, ("210",), "America/Chicago"),
    City("San Diego", "CA", "US", 1.4, ("619", "858"), "America/Los_Angeles"),
    City("Dallas", "TX", "US", 1.3, ("214", "469", "972"), "America/Chicago"),
    City("Seattle", "WA", "US", 0.75, ("206",), "America/Los_Angeles"),
    City("Boston", "MA", "US", 0.65, ("617",), "America/New_York"),
    City("Miami", "FL", "US", 0.45, ("305", "786"), "America/New_York"),
    City("London", "England", "GB", 8.9),
    City("Birmingham", "England", "GB", 1.1),
    City("Manchester", "England", "GB", 0.55),
    City("Glasgow", "Scotland", "GB", 0.63),
    City("Leeds", "England", "GB", 0.8),
    City("Liverpool", "England", "GB", 0.5),
    City("Bristol", "England", "GB", 0.47),
    City("Edinburgh", "Scotland", "GB", 0.53),
    City("Cardiff", "Wales", "GB", 0.36),
    City("Belfast", "Northern Ireland", "GB", 0.35),
    City("Berlin", "Berlin", "DE", 3.7),
    City("Hamburg", "Hamburg", "DE", 1.9),
    City("München", "Bayern", "DE", 1.5),
    City("Köln", "Nordrhein-Westfalen", "DE", 1.1),
    City("Frankfurt am Main", "Hessen", "DE", 0.76),
    City("Stuttgart", "Baden-Württemberg", "DE", 0.63),
    City("Düsseldorf", "Nordrhein-Westfalen", "DE", 0.62),
    City("Leipzig", "Sachsen", "DE", 0.6),
    City("Paris", "Île-de-France", "FR", 2.1),
    City("Marseille", "Provence-Alpes-Côte d'Azur", "FR", 0.87),
    City("Lyon", "Auvergne-Rhône-Alpes", "FR", 0.52),
    City("Toulouse", "Occitanie", "FR", 0.5),
    City("Nice", "Provence-Alpes-Côte d'Azur", "FR", 0.34),
    City("Nantes", "Pays de la Loire", "FR", 0.32),
    City("Strasbourg", "Grand Est", "FR", 0.29),
    City("Bordeaux", "Nouvelle-Aquitaine", "FR", 0.26),
    City("Lille", "Hauts-de-France", "FR", 0.23),
    City("Mumbai", "Maharashtra", "IN", 12.4),
    City("Delhi", "Delhi", "IN", 11.0),
    City("Bengaluru", "Karnataka", "IN", 8.4),
    City("Hyderabad", "Telangana", "IN", 6.9),
    City("Ahmedabad", "Gujarat", "IN", 5.6),
    City("Chennai", "Tamil Nadu", "IN", 4.6),
    City("Kolkata", "West Bengal", "IN", 4.5),
    City("Pune", "Maharashtra", "IN", 3.1),
)


@dataclass(frozen=True)
class Device:
    tac: str
    make: str
    model: str
    weight: float
    nr: bool  # 5G capable
    lte: bool = True  # 4G capable (False: a 2G/3G-only device)
    volte: bool = True  # calls over IMS (VoLTE, VoWiFi; VoNR with nr)


# Type Allocation Codes (GSMA TS.06) with maker and model, as listed in public TAC
# databases (GSMA device database extracts, Osmocom tacdb).  Weights: rough installed base.
# Radio capability from the makers' specifications: 3G-only models (Galaxy S3 GT-I9300, Galaxy Tab
# SM-T561, Nexus 4, Desire S, the first Moto G) and LTE models without VoLTE.
DEVICES: tuple[Device, ...] = (
    Device("35443211", "Apple", "iPhone 13", 9.0, True),
    Device("35313310", "Apple", "iPhone 14", 8.0, True),
    Device("35437977", "Apple", "iPhone 15", 8.0, True),
    Device("35762631", "Apple", "iPhone 16 Pro", 5.0, True),
    Device("35384611", "Apple", "iPhone 12", 6.0, True),
    Device("35392110", "Apple", "iPhone 11", 5.0, False),
    Device("35674310", "Apple", "iPhone X", 2.0, False),
    Device("35328609", "Apple", "iPhone 15 Pro Max", 4.0, True),
    Device("35171415", "Apple", "iPhone 14 Plus", 2.0, True),
    Device("35875505", "Apple", "iPhone 5S", 0.3, False, volte=False),
    Device("35925406", "Apple", "iPhone 6", 0.5, False),
    Device("35325807", "Apple", "iPhone 6S", 0.7, False),
    Device("35226005", "Samsung", "Galaxy S3", 0.2, False, lte=False, volte=False),
    Device("35951406", "Samsung", "SM-T561", 0.3, False, lte=False, volte=False),
    Device("35438111", "Samsung", "Galaxy S21", 4.0, True),
    Device("35118311", "Samsung", "Galaxy A52", 5.0, False),
    Device("35093766", "Samsung", "Galaxy S23", 4.0, True),
    Device("35467113", "Samsung", "Galaxy A14", 6.0, False),
    Device("35824005", "Google", "Nexus 5", 0.2, False, volte=False),
    Device("35391805", "Google", "Nexus 4", 0.1, False, lte=False, volte=False),
    Device("35295611", "Google", "Pixel 7", 2.5, True),
    Device("35929005", "Motorola", "Moto G", 2.0, False, lte=False, volte=False),
    Device("35838706", "LG", "G Stylo", 0.6, False),
    Device("35896704", "HTC", "Desire S", 0.1, False, lte=False, volte=False),
    Device("35803106", "HTC", "One M8s", 0.2, False, volte=False),
    Device("35920605", "Nokia", "Lumia 625", 0.1, False, volte=False),
    Device("86242003", "Xiaomi", "Redmi Note 9", 3.0, False),
    Device("86769705", "Xiaomi", "Redmi Note 12", 3.0, True),
    Device("86297104", "OnePlus", "Nord 2", 1.5, True),
    Device("86457605", "Huawei", "P30 Lite", 1.5, False),
)


# ---------------------------------------------------------------- check digits

def luhn_digit(payload: str) -> str:
    """The Luhn check digit that completes ``payload`` (ISO/IEC 7812-1)."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:  # doubled: the digit next to the check digit, and every other one
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def is_luhn_valid(number: str) -> bool:
    return number.isdigit() and luhn_digit(number[:-1]) == number[-1]


def luhn_digits(payload: np.ndarray, ndigits: int) -> np.ndarray:
    """Vectorised :func:`luhn_digit` over int64 payloads of ``ndigits`` digits."""
    values = payload.astype(np.int64)
    total = np.zeros(values.shape, dtype=np.int64)
    for i in range(ndigits):
        d = values % 10
        values = values // 10
        if i % 2 == 0:
            d = np.where(d > 4, d * 2 - 9, d * 2)
        total += d
    return (10 - total % 10) % 10


# ---------------------------------------------------------------- drawing unique numbers

def unique_draw(rng: np.random.Generator, draw, n: int, what: str, taken: np.ndarray | None = None) -> np.ndarray:
    """Call ``draw(rng, positions)`` until the ``n`` int64 values are unique (and not in ``taken``).

    ``draw`` returns values for the given positions; positions with a duplicate are drawn
    again, which keeps the result deterministic for a given generator.
    """
    values = draw(rng, np.arange(n))
    for _ in range(200):
        order = np.argsort(values, kind="stable")
        sorted_vals = values[order]
        dup = np.zeros(n, dtype=bool)
        dup[order[1:]] = sorted_vals[1:] == sorted_vals[:-1]
        if taken is not None and len(taken):
            dup |= np.isin(values, taken)
        bad = np.flatnonzero(dup)
        if not len(bad):
            return values
        values[bad] = draw(rng, bad)
    raise UserError(f"cannot make {n:,} unique {what}: the number space of the chosen countries and operators is too "
                    "small; make fewer users, or choose more countries or operators")


def msisdn_drawer(ops: np.ndarray, cities: np.ndarray):
    """A ``draw`` function for :func:`unique_draw` giving E.164 MSISDNs as int64.

    ``ops`` and ``cities`` hold, per position, indexes into OPERATORS and CITIES.
    """
    def draw(rng: np.random.Generator, pos: np.ndarray) -> np.ndarray:
        out = np.empty(len(pos), dtype=np.int64)
        op_of = ops[pos]
        for oi in np.unique(op_of):
            op = OPERATORS[oi]
            sel = np.flatnonzero(op_of == oi)
            if op.country_code == "1":
                # NANP: NPA (area code of the home city) + NXX (2-9, not N11) + 4 digits.
                city_of = cities[pos[sel]]
                for ci in np.unique(city_of):
                    s2 = sel[city_of == ci]
                    codes = np.array([int(c) for c in CITIES[ci].area_codes], dtype=np.int64)
                    npa = codes[rng.integers(0, len(codes), len(s2))]
                    nxx = rng.integers(200, 1000, len(s2))
                    nxx = np.where(nxx % 100 == 11, nxx + 1, nxx)  # no N11 service codes
                    line = rng.integers(0, 10000, len(s2))
                    out[s2] = 10_000_000_000 + npa * 10_000_000 + nxx * 10_000 + line
                continue
            prefixes = op.prefixes
            pidx = rng.integers(0, len(prefixes), len(sel))
            cc = int(op.country_code)
            for k, p in enumerate(prefixes):
                s2 = sel[pidx == k]
                nsn = _DE_NSN[p] if op.country == "DE" else op.nsn_length
                rest = nsn - len(p)
                sub = rng.integers(0, 10 ** rest, len(s2))
                national = int(p) * 10 ** rest + sub
                out[s2] = cc * 10 ** nsn + national
        return out
    return draw


def msisdn_pattern(op: Operator) -> str:
    """A regular expression (without anchors) of the MSISDNs ``msisdn_drawer`` gives ``op``'s users."""
    if op.country_code == "1":
        codes = sorted({c for city in CITIES if city.country == op.country for c in city.area_codes})
        return f"1({'|'.join(codes)})[2-9]([02-9][0-9]|1[02-9])[0-9]{{4}}"
    parts = []
    for p in op.prefixes:
        nsn = _DE_NSN[p] if op.country == "DE" else op.nsn_length
        parts.append(f"{p}[0-9]{{{nsn - len(p)}}}")
    return f"{op.country_code}({'|'.join(parts)})"


def ims_domain(mcc: str, mnc: str) -> str:
    """The home network domain name of an operator's IMS (3GPP TS 23.003 §13.2)."""
    return f"ims.mnc{mnc.zfill(3)}.mcc{mcc}.3gppnetwork.org"


def ecgi(plmn: str, eci: int) -> str:
    """E-UTRAN Cell Global Identity as PLMN digits + 28-bit ECI in 7 hex digits (TS 23.003 §19.6)."""
    return f"{plmn}{eci:07X}"
