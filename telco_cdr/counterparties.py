"""Whom calls and texts reach outside the users file: other operators' mobile numbers (some of them
ported), fixed lines of the user's city, numbers abroad, and the operator's own service numbers.

A user's contacts outside the file are numbered 1, 2, ... (telco_cdr.circles); ``Counterparties.of``
turns (user, member) into the member's kind, number and serving network by hashing them with the
run's seed, so that a member is the same number call after call and nothing is stored per contact.
Nothing here draws from a generator or does I/O.
"""

from __future__ import annotations

import numpy as np

from .identifiers import CITIES, COUNTRIES, OPERATORS, _block_table

# counterparty_type of voice, SMS and VoIP records (telco_cdr.contract).
KINDS = ("user", "mobile", "fixed", "international", "service", "short_code")
USER, MOBILE, FIXED, INTERNATIONAL, SERVICE, SHORT_CODE = range(len(KINDS))

# A user's contacts outside the file, by kind: (mobile, fixed, international) shares of the members.
# With about a third of calls to users of the file (circles.ON_NET_SHARE), these give fixed lines 15 %
# and numbers abroad 5 % of calls, inside the reference's 10-20 % and 2-8 % (telco-reference.md "The
# network of 2026", Counterparties); the shares themselves are ours.
MEMBER_KINDS = (0.70, 0.23, 0.07)
# Calls to the operator's own service numbers (voicemail, customer care): the share of voice calls is
# ours; the reference names the numbers, not a share.
SERVICE_SHARE = 0.015
# Mobile numbers keep their number when they move to another operator: about 10-15 % of mobile
# numbers are served by another network than the one their block was given to (telco-reference.md).
PORTED_SHARE = 0.12

# Geographic (fixed-line) numbers of each city, as national significant numbers: the area code, the
# first digits a subscriber number may start with, and the NSN's length.  Ofcom's National Telephone
# Numbering Plan (020 London, 0121 Birmingham, ...), the Bundesnetzagentur's Ortsnetzkennzahlen (030
# Berlin, 0221 Köln, ...), ARCEP's plan (01 Ile-de-France, 04 91 Marseille, ...), DoT's SDCA codes
# (022 Mumbai, 011 Delhi, ...); libphonenumber (the phonenumbers package, tests) takes every one of
# them as a valid fixed-line number of its city.  US cities: their NANP area codes (identifiers.CITIES),
# which fixed and mobile lines share.
FIXED_LINES: dict[str, tuple[str, str, int]] = {
    "London": ("20", "378", 10), "Birmingham": ("121", "2-9", 10), "Manchester": ("161", "2-9", 10),
    "Glasgow": ("141", "2-9", 10), "Leeds": ("113", "2-9", 10), "Liverpool": ("151", "2-9", 10),
    "Bristol": ("117", "2-9", 10), "Edinburgh": ("131", "2-9", 10), "Cardiff": ("29", "2", 10),
    "Belfast": ("28", "9", 10),
    "Berlin": ("30", "2-9", 10), "Hamburg": ("40", "2-9", 10), "München": ("89", "2-9", 10),
    "Köln": ("221", "2-9", 10), "Frankfurt am Main": ("69", "2-9", 10), "Stuttgart": ("711", "2-9", 10),
    "Düsseldorf": ("211", "2-9", 10), "Leipzig": ("341", "2-9", 10),
    "Paris": ("1", "4-5", 9), "Marseille": ("491", "0-9", 9), "Lyon": ("472", "0-9", 9),
    "Toulouse": ("561", "0-9", 9), "Nice": ("493", "0-9", 9), "Nantes": ("240", "0-9", 9),
    "Strasbourg": ("388", "0-9", 9), "Bordeaux": ("556", "0-9", 9), "Lille": ("320", "0-9", 9),
    "Mumbai": ("22", "2-6", 10), "Delhi": ("11", "2-6", 10), "Bengaluru": ("80", "2-6", 10),
    "Hyderabad": ("40", "2-6", 10), "Ahmedabad": ("79", "2-6", 10), "Chennai": ("44", "2-6", 10),
    "Kolkata": ("33", "2-6", 10), "Pune": ("20", "2-6", 10),
}

# Where calls abroad go from each country: (ISO country, calling code, mobile prefixes, NSN length,
# weight).  Mobile ranges from each country's numbering plan as libphonenumber's metadata has them (the
# tests check every number is a valid mobile number of its country); the weights follow the largest
# diasporas and neighbours (UN DESA International Migrant Stock 2020), rounded: ours.
ABROAD: dict[str, tuple[tuple[str, str, tuple[str, ...], int, float], ...]] = {
    "US": (("MX", "52", ("55", "33", "81"), 10, 0.35), ("IN", "91", ("98", "99", "70"), 10, 0.2),
           ("PH", "63", ("917", "918", "927"), 10, 0.15), ("CN", "86", ("138", "139", "186"), 11, 0.15),
           ("GB", "44", ("77", "78", "79"), 10, 0.15)),
    "GB": (("IN", "91", ("98", "99", "70"), 10, 0.25), ("PL", "48", ("50", "51", "60", "69"), 9, 0.2),
           ("PK", "92", ("300", "301", "333"), 10, 0.15), ("IE", "353", ("83", "85", "86", "87"), 9, 0.15),
           ("US", "1", ("212", "646", "310"), 10, 0.1), ("FR", "33", ("6", "7"), 9, 0.15)),
    "DE": (("TR", "90", ("532", "533", "542", "555"), 10, 0.35), ("PL", "48", ("50", "51", "60", "69"), 9, 0.25),
           ("IT", "39", ("31", "32", "33", "34"), 10, 0.15), ("AT", "43", ("664", "676", "699"), 11, 0.15),
           ("FR", "33", ("6", "7"), 9, 0.1)),
    "FR": (("DZ", "213", ("55", "66", "77"), 9, 0.3), ("MA", "212", ("6",), 9, 0.3),
           ("PT", "351", ("91", "93", "96"), 9, 0.15), ("ES", "34", ("6",), 9, 0.15),
           ("GB", "44", ("77", "78", "79"), 10, 0.1)),
    "IN": (("AE", "971", ("50", "52", "55", "56"), 9, 0.35), ("US", "1", ("212", "646", "310", "408"), 10, 0.2),
           ("SA", "966", ("50", "53", "55"), 9, 0.2), ("GB", "44", ("77", "78", "79"), 10, 0.1),
           ("BD", "880", ("17", "18", "19"), 10, 0.15)),
}

# The operators' own service numbers as their subscribers dial them: (voicemail, customer care), ""
# where the operator has no short code for it.  From the operators' help pages: T-Mobile US 123 and
# 611, AT&T 611 (its voicemail is the subscriber's own number), Verizon *86 and 611; Vodafone UK 121
# and 191, O2 UK 901 and 202, EE 123 and 150; Telekom 3311 and 2202, Vodafone DE 5500 and 1212, O2 DE
# 333 and 55222; Orange 888 and 3900, SFR 123 and 1023, Bouygues 660 and 614; Airtel 121 (care),
# Vodafone Idea 199 (care).
SERVICE_NUMBERS: dict[str, tuple[str, str]] = {
    "310260": ("123", "611"), "310410": ("", "611"), "311480": ("*86", "611"),
    "23415": ("121", "191"), "23410": ("901", "202"), "23430": ("123", "150"),
    "26201": ("3311", "2202"), "26202": ("5500", "1212"), "26203": ("333", "55222"),
    "20801": ("888", "3900"), "20810": ("123", "1023"), "20820": ("660", "614"),
    "40410": ("", "121"), "40420": ("", "199"),
}
SERVICE_TEXT = tuple(sorted({c for pair in SERVICE_NUMBERS.values() for c in pair if c}))
NO_NETWORK = -1


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a well-mixed uint64 of each uint64."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _digits(spec: str) -> np.ndarray:
    """``"2-9"`` or ``"378"``: the digits a subscriber number may start with."""
    if "-" in spec:
        lo, hi = spec.split("-")
        return np.arange(int(lo), int(hi) + 1)
    return np.array([int(c) for c in spec])


class Counterparties:
    """Numbers of users' contacts outside the file, by (user, member), for one run.

    ``plmns``: the users' (mcc, mnc); ``plmn_code``, ``city_names``/``city_code`` and ``msisdn`` per
    user; ``networks``: the PLMN texts (mccmnc) counterparty_network takes, by index.
    """

    def __init__(self, seed: int, plmns: list, plmn_code: np.ndarray, city_names: list, city_code: np.ndarray,
                 msisdn: np.ndarray):
        self.seed = np.uint64((seed * 0x9E3779B97F4A7C15 + 0x5851F42D4C957F2D) % 2**64)
        self.plmn_code, self.city_code, self.msisdn = plmn_code, city_code, msisdn
        self.users_sorted = np.sort(msisdn)
        op_of = {op.plmn: i for i, op in enumerate(OPERATORS)}
        self.networks = sorted({op.plmn for op in OPERATORS} | {m + c for m, c in plmns})
        net_of = {p: i for i, p in enumerate(self.networks)}
        self.plmn_net = np.array([net_of[m + c] for m, c in plmns], dtype=np.int64)
        self.plmn_op = np.array([op_of.get(m + c, -1) for m, c in plmns], dtype=np.int64)
        country_of = {op.plmn: op.country for op in OPERATORS}
        self.plmn_country = np.array([COUNTRIES.index(country_of[m + c]) if m + c in country_of else -1
                                      for m, c in plmns], dtype=np.int64)
        # Each country's operators (OPERATORS indexes) and their cumulative shares.
        self.country_ops = [np.array([i for i, op in enumerate(OPERATORS) if op.country == c]) for c in COUNTRIES]
        self.country_cum = [np.cumsum([OPERATORS[i].share for i in ops]) / sum(OPERATORS[i].share for i in ops)
                            for ops in self.country_ops]
        self.op_net = np.array([net_of[op.plmn] for op in OPERATORS], dtype=np.int64)
        # Fixed lines by city (index into city_names): calling code, area code's place value, first digits.
        fixed = []
        for name in city_names:
            city = next((c for c in CITIES if c.name == name), None)
            spec = FIXED_LINES.get(name)
            if city is None or (spec is None and city.country != "US"):
                fixed.append(None)
            elif city.country == "US":
                fixed.append(("1", tuple(city.area_codes)))
            else:
                code = next(op.country_code for op in OPERATORS if op.country == city.country)
                fixed.append((code, spec))
        self.fixed = fixed
        self.has_fixed = np.array([f is not None for f in fixed] + [False], dtype=bool)
        self.abroad = [ABROAD.get(c, ()) for c in COUNTRIES]
        # Service numbers: per users' PLMN, its (voicemail, care) as SERVICE_TEXT indexes (-1: none).
        self.service = np.array([[SERVICE_TEXT.index(s) if s else -1 for s in SERVICE_NUMBERS.get(m + c, ("", ""))]
                                 for m, c in plmns], dtype=np.int64).reshape(len(plmns), 2)

    def hashes(self, u: np.ndarray, member: np.ndarray) -> np.ndarray:
        x = u.astype(np.uint64) * np.uint64(0xD1B54A32D192ED03) + member.astype(np.uint64)
        with np.errstate(over="ignore"):
            return _mix(_mix(x + self.seed) ^ self.seed)

    def of(self, u: np.ndarray, member: np.ndarray, texts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Members ``member`` (>= 1) outside the file of users ``u``: their kind (KINDS), E.164 number
        (int64) and serving network (index into ``networks``, NO_NETWORK where not a mobile of the
        user's country).  ``texts`` (rows of SMS): a fixed-line member is texted on a mobile number."""
        n = len(u)
        h = self.hashes(u, member)
        unit = (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
        h2 = _mix(h)  # the number's own bits
        country = self.plmn_country[self.plmn_code[u]]
        kind = np.where(unit < MEMBER_KINDS[0], MOBILE,
                        np.where(unit < MEMBER_KINDS[0] + MEMBER_KINDS[1], FIXED, INTERNATIONAL))
        kind[(kind == FIXED) & (texts | ~self.has_fixed[self.city_code[u]])] = MOBILE
        kind[(kind == INTERNATIONAL) & (country < 0)] = MOBILE
        num = np.zeros(n, dtype=np.int64)
        net = np.full(n, NO_NETWORK, dtype=np.int64)
        r = (h2 >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))  # a second uniform
        low = (h2 & np.uint64(0xFFFFFFFF)).astype(np.int64)  # digits
        self._mobile(np.flatnonzero(kind == MOBILE), u, country, r, low, h, num, net)
        self._fixed(np.flatnonzero(kind == FIXED), u, r, low, num)
        self._abroad(np.flatnonzero(kind == INTERNATIONAL), country, r, low, num)
        self._not_users(kind, num, h2)
        return kind, num, net

    def _mobile(self, rows, u, country, r, low, h, num, net):
        own = self.msisdn[u[rows]]
        c = country[rows]
        for ci in np.unique(c).tolist():
            sel = rows[c == ci]
            if ci < 0:  # an operator not known here: a number of the user's own range, on its network
                base = self.msisdn[u[sel]]
                num[sel] = base // 1_000_000 * 1_000_000 + low[sel] % 1_000_000
                net[sel] = self.plmn_net[self.plmn_code[u[sel]]]
                continue
            ops, cum = self.country_ops[ci], self.country_cum[ci]
            o = np.minimum(np.searchsorted(cum, r[sel], side="right"), len(ops) - 1)
            if COUNTRIES[ci] == "US":  # NANP: the user's area code, an exchange (not N11) and a line
                npa = own[c == ci] // 10_000_000
                exch = 200 + low[sel] % 800
                exch = np.where(exch % 100 == 11, exch + 1, exch)
                num[sel] = npa * 10_000_000 + exch * 10_000 + (low[sel] >> 12) % 10_000
            else:
                for k in np.unique(o).tolist():
                    s2 = sel[o == k]
                    first, size, bcum = _block_table(int(ops[k]))
                    rb = ((h[s2] >> np.uint64(20)) & np.uint64(0xFFFFF)).astype(np.float64) / (1 << 20)
                    block = np.minimum(np.searchsorted(bcum, rb, side="right"), len(bcum) - 1)
                    num[s2] = first[block] + (low[s2] * 7919 + (low[s2] >> 7)) % size[block]
            # ported: served by another of the country's operators than the block's
            ported = ((h[sel] >> np.uint64(4)) & np.uint64(0xFFFF)).astype(np.float64) / 65536 < PORTED_SHARE
            shift = 1 + ((h[sel] >> np.uint64(40)) & np.uint64(0xFF)).astype(np.int64) % max(len(ops) - 1, 1)
            serving = np.where(ported & (len(ops) > 1), (o + shift) % len(ops), o)
            net[sel] = self.op_net[ops[serving]]

    def _fixed(self, rows, u, r, low, num):
        city = self.city_code[u[rows]]
        for ci in np.unique(city).tolist():
            sel = rows[city == ci]
            code, spec = self.fixed[ci]
            if code == "1":
                npa = np.array([int(a) for a in spec], dtype=np.int64)[low[sel] % len(spec)]
                exch = 200 + (low[sel] >> 3) % 800
                exch = np.where(exch % 100 == 11, exch + 1, exch)
                num[sel] = (10_000_000_000 + npa * 10_000_000 + exch * 10_000 + (low[sel] >> 13) % 10_000)
                continue
            area, first, nsn = spec
            starts = _digits(first)
            rest = nsn - len(area) - 1  # digits after the first one of the subscriber number
            lead = starts[(r[sel] * len(starts)).astype(np.int64)]
            sub = lead * 10**rest + low[sel] % 10**rest
            num[sel] = int(code) * 10**nsn + int(area) * 10 ** (nsn - len(area)) + sub

    def _abroad(self, rows, country, r, low, num):
        c = country[rows]
        for ci in np.unique(c).tolist():
            sel = rows[c == ci]
            table = self.abroad[ci]
            w = np.cumsum([d[4] for d in table])
            d = np.minimum(np.searchsorted(w / w[-1], r[sel], side="right"), len(table) - 1)
            for k in np.unique(d).tolist():
                s2 = sel[d == k]
                _, code, prefixes, nsn, _ = table[k]
                p = np.array([int(x) for x in prefixes], dtype=np.int64)[low[s2] % len(prefixes)]
                width = np.array([nsn - len(x) for x in prefixes], dtype=np.int64)[low[s2] % len(prefixes)]
                line = (low[s2] >> 4) % 10**width
                num[s2] = int(code) * 10**nsn + p * 10**width + line

    def _not_users(self, kind, num, h2):
        """A number outside the file is no user's: one that is moves to the next free number (a few
        rounds; the users are a sliver of any range)."""
        out = np.flatnonzero(kind != USER)
        for _ in range(20):
            at = np.minimum(np.searchsorted(self.users_sorted, num[out]), len(self.users_sorted) - 1)
            out = out[self.users_sorted[at] == num[out]]
            if not len(out):
                return
            num[out] += 1

    def services(self, u: np.ndarray, r: np.ndarray) -> np.ndarray:
        """The service number (-1 - its index in SERVICE_TEXT) users ``u`` call: voicemail or customer
        care (``r`` < 0.5: voicemail where the operator has a code for it), or 0 where there is none."""
        pair = self.service[self.plmn_code[u]]
        vm, care = pair[:, 0], pair[:, 1]
        code = np.where((r < 0.5) & (vm >= 0), vm, care)
        return np.where(code >= 0, -1 - code, 0)
