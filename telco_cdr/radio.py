"""Radio access by country, date and device: which RATs a user's device and network offer on a day,
how calls are carried (VoLTE, VoNR, VoWiFi or circuit-switched), and the shape of a cell's id on
each RAT.  Vectorised; draws take an explicit generator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

# RATs by their TS 29.274 names; WLAN is untrusted Wi-Fi access (VoWiFi, TS 24.229 IEEE-802.11).
RATS = ("NR", "EUTRAN", "UTRAN", "GERAN", "WLAN")
NR, EUTRAN, UTRAN, GERAN, WLAN = range(len(RATS))
CS_RATS = (UTRAN, GERAN)  # circuit-switched voice, and cells named by CGI (LAC + CI)

VOICE_TECHNOLOGIES = ("VoLTE", "VoNR", "VoWiFi", "CS")
VOLTE, VONR, VOWIFI, CS = range(len(VOICE_TECHNOLOGIES))
TECHNOLOGY_RAT = np.array([EUTRAN, NR, WLAN, -1])  # CS: UTRAN or GERAN, whichever runs


@dataclass(frozen=True)
class Network:
    """An operator's radio network: when its 3G and 2G were switched off (the last day they ran;
    None while they run), and how 5G devices use it."""

    utran_until: str | None
    geran_until: str | None
    nr_share: float  # of a 5G device's time, on NR cells (5G NSA or SA)
    vonr_share: float  # of a 5G device's IMS calls, on VoNR (5G SA)


# 3G/2G switch-offs from the operators' announcements (telco-reference.md "The network of 2026"):
# AT&T 3G Feb 2022 (2G 2017), T-Mobile US UMTS Jul 2022 (its GSM by the end of 2022), Verizon CDMA
# Dec 2022 (no GSM); Germany's 3G in 2021; the UK's 3G during 2024-2025 (2G stays to 2033); France
# keeps 2G/3G in 2026; India's 3G went in 2020-2022 (2G stays).  5G shares: rough time-on-5G
# figures of Opensignal's 2024-2025 5G experience reports; VoNR only where 5G SA carries voice.
NETWORKS: dict[str, Network] = {
    "310260": Network("2022-06-30", "2022-12-31", 0.60, 0.40),  # T-Mobile US
    "310410": Network("2022-02-21", "2016-12-31", 0.35, 0.05),  # AT&T Mobility
    "311480": Network("2022-12-31", "0001-01-01", 0.35, 0.05),  # Verizon Wireless
    "23415": Network("2024-01-31", None, 0.30, 0.02),  # Vodafone UK
    "23410": Network("2025-03-31", None, 0.25, 0.0),  # O2 UK
    "23430": Network("2024-02-29", None, 0.35, 0.02),  # EE
    "26201": Network("2021-06-30", None, 0.40, 0.05),  # Telekom Deutschland
    "26202": Network("2021-06-30", None, 0.35, 0.02),  # Vodafone DE
    "26203": Network("2021-12-31", None, 0.30, 0.0),  # O2 Telefonica DE
    "20801": Network(None, None, 0.30, 0.0),  # Orange France
    "20810": Network(None, None, 0.30, 0.0),  # SFR
    "20820": Network(None, None, 0.30, 0.0),  # Bouygues Telecom
    "40410": Network("2020-03-31", None, 0.50, 0.0),  # Airtel Delhi (5G NSA)
    "40420": Network("2022-06-30", None, 0.20, 0.0),  # Vodafone Idea Mumbai
}
UNKNOWN_NETWORK = Network(None, None, 0.30, 0.0)  # an operator not listed: 2G/3G still on

VOWIFI_SHARE = 0.15  # IMS calls made over Wi-Fi (indoors, Wi-Fi calling on)
CS_FALLBACK_SHARE = 0.02  # of a VoLTE device's calls, where 2G/3G still runs (no IMS coverage)
LEGACY_SHARE = 0.03  # of a 4G device's data and SMS, on 3G or 2G where they run (coverage holes)
VOIP_WLAN_SHARE = 0.40  # over-the-top calls made on Wi-Fi


def _running(until: str | None, on: date) -> bool:
    return until is None or on <= date.fromisoformat(until)


class ByCode:
    """Per-user values that depend on the user's network alone: one value per network, taken by the
    users' network codes (``values[code[users]]``), so that a base of millions holds no array of them."""

    __slots__ = ("values", "code")

    def __init__(self, values: np.ndarray, code: np.ndarray):
        self.values, self.code = values, code

    def __getitem__(self, users) -> np.ndarray:
        return self.values[self.code[users]]


@dataclass
class Radio:
    """Per user: what the device and its network offer on the day of the events."""

    lte: np.ndarray  # 4G device on a network with LTE (every network here has it)
    nr: np.ndarray  # 5G device
    volte: np.ndarray  # the device calls over IMS
    utran: np.ndarray  # its network runs 3G
    geran: np.ndarray  # its network runs 2G
    nr_share: ByCode  # of the user's network (Network.nr_share), by user
    vonr_share: ByCode

    @property
    def cs(self) -> np.ndarray:
        """A circuit-switched call can be made (2G or 3G runs)."""
        return self.utran | self.geran

    @property
    def served(self) -> np.ndarray:
        """The device has any network at all (a 3G-only phone where 2G and 3G are gone has none)."""
        return self.lte | self.cs

    @property
    def can_call(self) -> np.ndarray:
        return (self.lte & self.volte) | self.cs


def radio_of(plmns: list[str], code: np.ndarray, lte: np.ndarray, nr: np.ndarray, volte: np.ndarray,
             on: date) -> Radio:
    """The Radio of users of PLMNs ``plmns[code]`` (MCC+MNC) and device capabilities, on day ``on``."""
    nets = [NETWORKS.get(p, UNKNOWN_NETWORK) for p in plmns]
    utran = np.array([_running(n.utran_until, on) for n in nets], dtype=bool)[code]
    geran = np.array([_running(n.geran_until, on) for n in nets], dtype=bool)[code]
    return Radio(lte=np.asarray(lte, bool), nr=np.asarray(nr, bool) & np.asarray(lte, bool),
                 volte=np.asarray(volte, bool) & np.asarray(lte, bool), utran=utran, geran=geran,
                 nr_share=ByCode(np.array([n.nr_share for n in nets], dtype=float), code),
                 vonr_share=ByCode(np.array([n.vonr_share for n in nets], dtype=float), code))


def _legacy(radio: Radio, u: np.ndarray) -> np.ndarray:
    """UTRAN where 3G runs, else GERAN (a user without either has no legacy RAT: -1)."""
    return np.where(radio.utran[u], UTRAN, np.where(radio.geran[u], GERAN, -1))


def bearer_rats(rng: np.random.Generator, radio: Radio, u: np.ndarray) -> np.ndarray:
    """The RAT of each event of users ``u`` on a mobile bearer (data, SMS): NR for part of a 5G
    device's time, else LTE, and now and then (or always, for a 3G-only device) 3G or 2G where they
    run."""
    legacy = _legacy(radio, u)
    r = rng.random(len(u))
    lte = np.where(radio.nr[u] & (r < radio.nr_share[u]), NR, EUTRAN)
    hole = (rng.random(len(u)) < LEGACY_SHARE) & (legacy >= 0)
    return np.where(~radio.lte[u] | hole, np.where(legacy >= 0, legacy, EUTRAN), lte)


def voice_technologies(rng: np.random.Generator, radio: Radio, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How calls of users ``u`` are carried, and on which RAT: a VoLTE device calls over IMS
    (VoWiFi indoors, VoNR on 5G SA, else VoLTE), save a small CS fallback where 2G/3G runs; any
    other device calls circuit-switched."""
    r1, r2, r3 = rng.random(len(u)), rng.random(len(u)), rng.random(len(u))
    ims = np.where(r1 < VOWIFI_SHARE, VOWIFI, np.where(radio.nr[u] & (r2 < radio.vonr_share[u]), VONR, VOLTE))
    cs = ~radio.volte[u] | (radio.cs[u] & (r3 < CS_FALLBACK_SHARE))
    tech = np.where(cs, CS, ims)
    legacy = _legacy(radio, u)
    rat = np.where(tech == CS, np.where(legacy >= 0, legacy, UTRAN), TECHNOLOGY_RAT[tech])
    return tech, rat


# ---------------------------------------------------------------- cell ids by RAT

def nr_cell(enb: np.ndarray, sector: np.ndarray) -> np.ndarray:
    """A 36-bit NR Cell Identity (TS 23.003 §19.6A) of the gNB beside eNodeB ``enb``: a 22-bit gNB
    id and a 14-bit local cell id."""
    return (np.asarray(enb, np.int64) << 14) | np.asarray(sector, np.int64)


def legacy_cell(enb: np.ndarray, sector: np.ndarray, tac: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A 2G/3G location of the site beside eNodeB ``enb``: its location area code (16 bits, the
    area of the tracking area) and its cell id (16 bits), as a CGI names them (TS 23.003 §4.3)."""
    lac = (np.asarray(tac, np.int64) + 0x4000) & 0xFFFF
    ci = ((np.asarray(enb, np.int64) & 0xFFF) << 4) | np.asarray(sector, np.int64)
    return lac, ci
