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
from .roaming import mix64 as _mix  # SplitMix64's finaliser

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
# first digits a subscriber number may start with (the ranges in use: a GB number after its area code
# starts 2-9, where libphonenumber has it valid), and the NSN's length.  Ofcom's National Telephone
# Numbering Plan (020 London, 0121 Birmingham, ...), the Bundesnetzagentur's Ortsnetzkennzahlen (030
# Berlin, 0221 Köln, ...), ARCEP's plan (01 Ile-de-France, 04 91 Marseille, ...), DoT's SDCA codes
# (022 Mumbai, 011 Delhi, ...); libphonenumber (the phonenumbers package, tests) takes every one of
# them as a valid fixed-line number of its city.  US cities: their NANP area codes (identifiers.CITIES),
# which fixed and mobile lines share.
FIXED_LINES: dict[str, tuple[str, str, int]] = {
    "London": ("20", "378", 10), "Birmingham": ("121", "2-7", 10), "Manchester": ("161", "2-9", 10),
    "Glasgow": ("141", "2-9", 10), "Leeds": ("113", "23458", 10), "Liverpool": ("151", "2-9", 10),
    "Bristol": ("117", "2349", 10), "Edinburgh": ("131", "2-8", 10), "Cardiff": ("29", "2", 10),
    "Belfast": ("2890", "2-9", 10),
    "Berlin": ("30", "2-9", 10), "Hamburg": ("40", "2-9", 10), "München": ("89", "2-9", 10),
    "Köln": ("221", "2-9", 10), "Frankfurt am Main": ("69", "2-9", 10), "Stuttgart": ("711", "2-9", 10),
    "Düsseldorf": ("211", "2-9", 10), "Leipzig": ("341", "2-9", 10),
    "Paris": ("1", "4-5", 9), "Marseille": ("491", "0-9", 9), "Lyon": ("472", "0-9", 9),
    "Toulouse": ("561", "0-9", 9), "Nice": ("493", "0-9", 9), "Nantes": ("240", "0-9", 9),
    "Strasbourg": ("388", "0-9", 9), "Bordeaux": ("556", "0-9", 9), "Lille": ("320", "0-9", 9),
    "Mumbai": ("22", "2-6", 10), "Delhi": ("11", "2-6", 10), "Bengaluru": ("80", "234", 10),
    "Hyderabad": ("40", "2-6", 10), "Ahmedabad": ("79", "245", 10), "Chennai": ("44", "2-6", 10),
    "Kolkata": ("33", "2-6", 10), "Pune": ("20", "2-6", 10),
}

# Where calls abroad go from each country: (ISO country, calling code, mobile prefixes, NSN length,
# weight).  Mobile ranges from each country's numbering plan as libphonenumber's metadata has them (the
# tests check every number is a valid mobile number of its country); the weights follow the largest
# diasporas and neighbours (UN DESA International Migrant Stock 2020), rounded: ours.
ABROAD: dict[str, tuple[tuple[str, str, tuple[str, ...], int, float], ...]] = {
    "US": (("MX", "52", ("55", "33", "81"), 10, 0.35), ("IN", "91", ("98", "99", "70"), 10, 0.2),
           ("PH", "63", ("917", "918", "927"), 10, 0.15), ("CN", "86", ("138", "139", "186"), 11, 0.15),
           ("GB", "44", ("7958", "7802", "7766"), 10, 0.15)),
    "GB": (("IN", "91", ("98", "99", "70"), 10, 0.25), ("PL", "48", ("50", "51", "60", "69"), 9, 0.2),
           ("PK", "92", ("300", "301", "333"), 10, 0.15), ("IE", "353", ("83", "85", "86", "87"), 9, 0.15),
           ("US", "1", ("21255", "64638", "31075"), 10, 0.1), ("FR", "33", ("689", "609", "660"), 9, 0.15)),
    "DE": (("TR", "90", ("532", "533", "542", "555"), 10, 0.35), ("PL", "48", ("50", "51", "60", "69"), 9, 0.25),
           ("IT", "39", ("31", "32", "33", "34"), 10, 0.15), ("AT", "43", ("664", "676", "699"), 11, 0.15),
           ("FR", "33", ("689", "609", "660"), 9, 0.1)),
    "FR": (("DZ", "213", ("55", "66", "77"), 9, 0.3), ("MA", "212", ("61", "66"), 9, 0.3),
           ("PT", "351", ("91", "93", "96"), 9, 0.15), ("ES", "34", ("6",), 9, 0.15),
           ("GB", "44", ("7958", "7802", "7766"), 10, 0.1)),
    "IN": (("AE", "971", ("50", "52", "55", "56"), 9, 0.35), ("US", "1", ("21255", "64638", "31075", "40892"), 10, 0.2),
           ("SA", "966", ("50", "53", "55"), 9, 0.2), ("GB", "44", ("7958", "7802", "7766"), 10, 0.1),
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
BINS = 1 << 14  # a weighted draw is a look-up in this many bins of the cumulative weights


def _digits(spec: str) -> np.ndarray:
    """``"2-9"`` or ``"378"``: the digits a subscriber number may start with."""
    if "-" in spec:
        lo, hi = spec.split("-")
        return np.arange(int(lo), int(hi) + 1)
    return np.array([int(c) for c in spec])


def _bins(cum: np.ndarray) -> np.ndarray:
    """Weighted tables stacked by country (entry e of country c in [c, c + 1) of ``cum``) as a
    look-up: (country, bin) -> the entry whose weight covers the bin's middle."""
    countries = len(COUNTRIES)
    at = np.arange(countries)[:, None] + (np.arange(BINS) + 0.5) / BINS
    return np.minimum(np.searchsorted(cum, at, side="right"), len(cum) - 1).astype(np.int32)


class Counterparties:
    """Numbers of users' contacts outside the file, by (user, member), for one run.

    ``plmns``: the users' (mcc, mnc); ``plmn_code``, ``city_names``/``city_code`` and ``msisdn`` per
    user.  ``networks``: the PLMN texts (mccmnc) counterparty_network takes, by index.  Every table is
    an array indexed by country, city or entry, so that a chunk's numbers take a few array operations
    whatever its countries (no loop over them).
    """

    def __init__(self, seed: int, plmns: list, plmn_code: np.ndarray, city_names: list, city_code: np.ndarray,
                 msisdn: np.ndarray):
        self.seed = np.uint64((seed * 0x9E3779B97F4A7C15 + 0x5851F42D4C957F2D) % 2**64)
        self.plmn_code, self.city_code, self.msisdn = plmn_code, city_code, msisdn
        self.users_sorted = np.sort(msisdn)
        # a bit per value of the users' numbers' low bits: a number whose bit is clear is no user's
        self.mark_bits = min(27, max(10, (16 * len(msisdn)).bit_length()))
        self.marks = np.zeros(1 << (self.mark_bits - 3), dtype=np.uint8)
        low_bits = msisdn & ((1 << self.mark_bits) - 1)
        np.bitwise_or.at(self.marks, low_bits >> 3, (1 << (low_bits & 7)).astype(np.uint8))
        self.networks = sorted({op.plmn for op in OPERATORS} | {m + c for m, c in plmns})
        net_of = {p: i for i, p in enumerate(self.networks)}
        self.plmn_net = np.array([net_of[m + c] for m, c in plmns], dtype=np.int64)
        country_of = {op.plmn: op.country for op in OPERATORS}
        # per users' PLMN: its country (index into COUNTRIES), or len(COUNTRIES) for an operator not known here
        self.plmn_country = np.array([COUNTRIES.index(country_of.get(m + c)) if m + c in country_of else len(COUNTRIES)
                                      for m, c in plmns], dtype=np.int64)
        self._mobile_table(net_of)
        self._fixed_table(city_names)
        self._abroad_table()
        # Service numbers: per users' PLMN, its (voicemail, care) as SERVICE_TEXT indexes (-1: none).
        self.service = np.array([[SERVICE_TEXT.index(s) if s else -1 for s in SERVICE_NUMBERS.get(m + c, ("", ""))]
                                 for m, c in plmns], dtype=np.int64).reshape(len(plmns), 2)

    def _mobile_table(self, net_of: dict) -> None:
        """Every country's mobile number blocks in one table: entry e of country c lies in [c, c + 1) of
        ``m_cum`` (weight: the operator's share times the block's part of its numbers); a NANP operator
        is one entry (its numbers take the user's area code)."""
        cum, first, size, op_pos = [], [], [], []
        most = max(sum(op.country == c for op in OPERATORS) for c in COUNTRIES)
        self.country_ops = np.zeros((len(COUNTRIES) + 1, most), dtype=np.int64)  # each country's operators' networks
        self.country_n_ops = np.ones(len(COUNTRIES) + 1, dtype=np.int64)
        for ci, country in enumerate(COUNTRIES):
            ops = [i for i, op in enumerate(OPERATORS) if op.country == country]
            total = sum(OPERATORS[i].share for i in ops)
            self.country_n_ops[ci] = len(ops)
            acc = 0.0
            for j, oi in enumerate(ops):
                self.country_ops[ci, j] = net_of[OPERATORS[oi].plmn]
                op = OPERATORS[oi]
                if op.blocks:
                    f, sz, bcum = _block_table(oi)
                    parts = np.diff(np.concatenate(([0.0], bcum)))
                else:
                    f, sz, parts = np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.int64), np.ones(1)
                for k in range(len(f)):
                    acc += op.share / total * parts[k]
                    cum.append(ci + min(acc, 1.0))
                    first.append(int(f[k]))
                    size.append(int(sz[k]))
                    op_pos.append(j)
            cum[-1] = ci + 1.0
        self.m_first = np.array(first, dtype=np.int64)
        self.m_size, self.m_op = np.array(size, dtype=np.int64), np.array(op_pos, dtype=np.int64)
        self.m_entry = _bins(np.array(cum))
        # the blocks in number order, with the network each was given to (network_of)
        blocks = np.array([e for e in range(len(first)) if size[e] > 1 or first[e] > 0], dtype=np.int64)
        order = blocks[np.argsort(self.m_first[blocks], kind="stable")]
        self.b_first, self.b_end = self.m_first[order], self.m_first[order] + self.m_size[order]
        self.b_net = np.array([self.country_ops[next(ci for ci in range(len(COUNTRIES)) if cum[e] <= ci + 1),
                                                self.m_op[e]] for e in order.tolist()], dtype=np.int64)

    def _fixed_table(self, city_names: list) -> None:
        """Per city (index into ``city_names``; one more for none): whether it has fixed lines, the
        number up to the subscriber's digits, their place values, and the digits they may start with;
        a US city's area codes."""
        k = len(city_names) + 1
        self.has_fixed = np.zeros(k, dtype=bool)
        self.f_base, self.f_rest = np.zeros(k, dtype=np.int64), np.ones(k, dtype=np.int64)
        self.f_starts, self.f_n_starts = np.zeros((k, 10), dtype=np.int64), np.ones(k, dtype=np.int64)
        self.f_nanp = np.zeros(k, dtype=bool)
        self.f_npa, self.f_n_npa = np.zeros((k, 4), dtype=np.int64), np.ones(k, dtype=np.int64)
        for i, name in enumerate(city_names):
            city = next((c for c in CITIES if c.name == name), None)
            if city is None:
                continue
            if city.country == "US":
                self.has_fixed[i] = self.f_nanp[i] = True
                codes = [int(a) for a in city.area_codes][:4]
                self.f_npa[i, :len(codes)], self.f_n_npa[i] = codes, len(codes)
            elif name in FIXED_LINES:
                area, spec, nsn = FIXED_LINES[name]
                code = next(op.country_code for op in OPERATORS if op.country == city.country)
                starts = _digits(spec)
                self.has_fixed[i] = True
                self.f_base[i] = int(code) * 10**nsn + int(area) * 10 ** (nsn - len(area))
                self.f_rest[i] = 10 ** (nsn - len(area) - 1)
                self.f_starts[i, :len(starts)], self.f_n_starts[i] = starts, len(starts)

    def _abroad_table(self) -> None:
        """Every country's destinations abroad in one table, as _mobile_table's (entry e of country c in
        [c, c + 1) of ``a_cum``): the number up to its prefix, and up to 4 prefixes with their place values."""
        cum, base, prefix, place, n_prefix = [], [], [], [], []
        for ci, country in enumerate(COUNTRIES):
            table = ABROAD.get(country, ())
            total = sum(d[4] for d in table)
            acc = 0.0
            for _, code, prefixes, nsn, w in table:
                acc += w / total
                cum.append(ci + min(acc, 1.0))
                base.append(int(code) * 10**nsn)
                pad = (list(prefixes) * 4)[:4]
                prefix.append([int(p) for p in pad])
                place.append([10 ** (nsn - len(p)) for p in pad])
                n_prefix.append(len(prefixes))
            if table:
                cum[-1] = ci + 1.0
        self.a_entry, self.a_base = _bins(np.array(cum)), np.array(base, dtype=np.int64)
        self.a_prefix, self.a_place = np.array(prefix, dtype=np.int64), np.array(place, dtype=np.int64)
        self.a_n_prefix = np.array(n_prefix, dtype=np.int64)
        self.has_abroad = np.array([bool(ABROAD.get(c)) for c in COUNTRIES] + [False])

    def hashes(self, u: np.ndarray, member: np.ndarray) -> np.ndarray:
        x = u.astype(np.uint64) * np.uint64(0xD1B54A32D192ED03) + member.astype(np.uint64)
        with np.errstate(over="ignore"):
            return _mix(_mix(x + self.seed) ^ self.seed)

    def of(self, u: np.ndarray, member: np.ndarray, texts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Members ``member`` (>= 1) outside the file of users ``u``: their kind (KINDS), E.164 number
        (int64) and serving network (index into ``networks``, NO_NETWORK where not a mobile of the
        user's country).  ``texts`` (rows of SMS): a fixed-line member is texted on a mobile number."""
        h = self.hashes(u, member)
        unit = (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))  # the kind
        h2 = _mix(h)
        r = (h2 >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))  # the operator, block, city code
        low = (h2 & np.uint64(0xFFFFFFFF)).astype(np.int64)  # digits
        country, city = self.plmn_country[self.plmn_code[u]], self.city_code[u]
        kind = np.where(unit < MEMBER_KINDS[0], MOBILE,
                        np.where(unit < MEMBER_KINDS[0] + MEMBER_KINDS[1], FIXED, INTERNATIONAL)).astype(np.int8)
        kind[(kind == FIXED) & (texts | ~self.has_fixed[city])] = MOBILE
        kind[(kind == INTERNATIONAL) & ~self.has_abroad[country]] = MOBILE
        num, net = self._mobile(u, country, r, low, h)
        rows = np.flatnonzero(kind == FIXED)
        num[rows] = self._fixed(city[rows], r[rows], low[rows])
        rows = np.flatnonzero(kind == INTERNATIONAL)
        num[rows] = self._abroad(country[rows], r[rows], low[rows])
        net[kind != MOBILE] = NO_NETWORK
        self._not_users(num)
        return kind, num, net

    def _mobile(self, u, country, r, low, h) -> tuple[np.ndarray, np.ndarray]:
        """Mobile numbers of the users' countries, and their serving networks."""
        known = country < len(COUNTRIES)
        e = self.m_entry[np.minimum(country, len(COUNTRIES) - 1), (r * BINS).astype(np.int64)]
        num = self.m_first[e] + (low * 7919 + (low >> 7)) % self.m_size[e]
        own = self.msisdn[u]
        nanp = own // 10_000_000_000 == 1
        exch = 200 + low % 800
        exch += exch % 100 == 11  # no N11 service codes
        num = np.where(nanp & known, own // 10_000_000 * 10_000_000 + exch * 10_000 + (low >> 12) % 10_000, num)
        # ported: served by another of the country's operators than the block's
        n_ops = self.country_n_ops[country]
        ported = ((h >> np.uint64(4)) & np.uint64(0xFFFF)).astype(np.float64) / 65536 < PORTED_SHARE
        shift = 1 + ((h >> np.uint64(40)) & np.uint64(0xFF)).astype(np.int64) % np.maximum(n_ops - 1, 1)
        pos = np.where(ported & (n_ops > 1), (self.m_op[e] + shift) % n_ops, self.m_op[e])
        net = np.where(known, self.country_ops[country, pos], self.plmn_net[self.plmn_code[u]])
        # an operator not known here: a number of the user's own range, on its network
        return np.where(known, num, own // 1_000_000 * 1_000_000 + low % 1_000_000), net

    def _fixed(self, city, r, low) -> np.ndarray:
        lead = self.f_starts[city, (r * self.f_n_starts[city]).astype(np.int64)]
        num = self.f_base[city] + lead * self.f_rest[city] + low % self.f_rest[city]
        npa = self.f_npa[city, low % self.f_n_npa[city]]
        exch = 200 + (low >> 3) % 800
        exch += exch % 100 == 11
        return np.where(self.f_nanp[city], 10_000_000_000 + npa * 10_000_000 + exch * 10_000 + (low >> 13) % 10_000,
                        num)

    def _abroad(self, country, r, low) -> np.ndarray:
        e = self.a_entry[np.minimum(country, len(COUNTRIES) - 1), (r * BINS).astype(np.int64)]
        k = low % self.a_n_prefix[e]
        place = self.a_place[e, k]
        return self.a_base[e] + self.a_prefix[e, k] * place + (low >> 4) % place

    def _not_users(self, num: np.ndarray) -> None:
        """A number outside the file is no user's: one that is moves to the next free number (a few
        rounds; the users are a sliver of any range)."""
        low_bits = num & ((1 << self.mark_bits) - 1)
        out = np.flatnonzero((self.marks[low_bits >> 3] >> (low_bits & 7)) & 1)
        for _ in range(20):
            at = np.minimum(np.searchsorted(self.users_sorted, num[out]), len(self.users_sorted) - 1)
            out = out[self.users_sorted[at] == num[out]]
            if not len(out):
                return
            num[out] += 1

    def network_of(self, u: np.ndarray, numbers: np.ndarray) -> np.ndarray:
        """The network of mobile ``numbers`` of users ``u``'s countries made elsewhere (--anomalies'):
        the operator its block was given to, else (NANP, no blocks) one of the country's operators by
        share, from the number itself."""
        country = self.plmn_country[self.plmn_code[u]]
        h = _mix(numbers.astype(np.uint64) ^ self.seed)
        r = (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
        e = self.m_entry[np.minimum(country, len(COUNTRIES) - 1), (r * BINS).astype(np.int64)]
        net = np.where(country < len(COUNTRIES), self.country_ops[country, self.m_op[e]],
                       self.plmn_net[self.plmn_code[u]])
        if len(self.b_first):
            at = np.maximum(np.searchsorted(self.b_first, numbers, side="right") - 1, 0)
            inside = (numbers >= self.b_first[at]) & (numbers < self.b_end[at])
            net = np.where(inside, self.b_net[at], net)
        return net

    def services(self, u: np.ndarray, r: np.ndarray) -> np.ndarray:
        """The service number (-1 - its index in SERVICE_TEXT) users ``u`` call: voicemail or customer
        care (``r`` < 0.5: voicemail where the operator has a code for it), or 0 where there is none."""
        pair = self.service[self.plmn_code[u]]
        vm, care = pair[:, 0], pair[:, 1]
        code = np.where((r < 0.5) & (vm >= 0), vm, care)
        return np.where(code >= 0, -1 - code, 0)
