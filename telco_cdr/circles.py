"""Contact circles: whom each user calls and texts.

Circles are heavy-tailed in size (a few dozen people for most, hundreds for some), grow with the
user's activity, and are mostly mutual (Onnela et al., "Structure and tie strengths in mobile
communication networks", PNAS 2007; telco-reference.md "The network of 2026", Counterparties).

The users of the file of each city sit on a ring of their own, by activity (heavy users know heavy
users: the call graph's positive assortativity, ibid.).  User u's contacts in the file are its ring
neighbours up to ``reach[u]`` places away on either side that reach as far back: u and v are
contacts when their distance is at most both reaches, so the relation is mutual by construction.
Its other contacts are numbered 1, 2, ... (members) and made into numbers by
telco_cdr.counterparties.  A call picks a contact by rank, ranks called in proportion to
rank ** -RANK_EXPONENT (a few contacts get most calls), and the ranks interleave the two kinds
(from a phase of the user's own, so that over users every rank is a user of the file as often).
A user's circle costs 20 bytes of memory whatever its size: nothing is stored per contact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Circle size: SIZE_SCALE * activity ** SIZE_GROWTH people, SIZE_MIN to SIZE_MAX.  Activity is
# Pareto with shape 1.2 from 1 (traffic.ACTIVITY_PARETO_SHAPE): the median user knows about 25
# people, the heaviest a few hundred (the reference's "a few dozen for most people, hundreds for
# some"); the scale and growth are ours.
SIZE_SCALE, SIZE_GROWTH, SIZE_MIN, SIZE_MAX = 18.0, 0.55, 8, 400
ON_NET_SHARE = 0.35  # of a circle, the people who are users of the file too
RANK_EXPONENT = 1.5  # contact k of a circle is called in proportion to k ** -RANK_EXPONENT


@dataclass
class Circles:
    ring: np.ndarray  # int32: the active users, city by city, by activity within a city
    pos: np.ndarray  # int32 per user: its place on the ring (-1: not on it)
    first: np.ndarray  # int32 per user: where its city's stretch of the ring begins
    span: np.ndarray  # int32 per user: how many users its city's stretch holds
    reach: np.ndarray  # uint16 per user: how far its contacts in the file go on either side
    size: np.ndarray  # uint16 per user: its circle's size

    def _at(self, u: np.ndarray, step: np.ndarray) -> np.ndarray:
        """The user ``step`` places from each of ``u`` around its own city's ring."""
        first, span = self.first[u].astype(np.int64), self.span[u].astype(np.int64)
        return self.ring[first + (self.pos[u].astype(np.int64) - first + step) % np.maximum(span, 1)]

    def pick(self, u: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The contact of rank drawn from uniforms ``x`` of each user ``u``: the user it is (-1 for one
        outside the file) and, for those, its member number (>= 1; 0 for a user of the file)."""
        size = self.size[u].astype(np.float64)
        reach = self.reach[u].astype(np.int64)
        a = 1.0 - RANK_EXPONENT
        k = np.floor((1.0 - x * (1.0 - (size + 1.0) ** a)) ** (1.0 / a))
        k = np.clip(k, 1, size)
        q = 2 * reach / size  # the share of the ranks that are users of the file
        phase = (u * 0.6180339887498949) % 1.0  # each user's own interleaving: over users, each rank is
        j = np.floor(k * q + phase).astype(np.int64)  # a user of the file with odds q; j of ranks 1..k are
        onnet = (j > np.floor((k - 1) * q + phase)) & (reach > 0)
        member = np.where(onnet, 0, (k - j).astype(np.int64))
        cp = np.full(len(u), -1, dtype=np.int64)
        rows = np.flatnonzero(onnet)
        if len(rows):
            jr, ur = j[rows], u[rows]
            sign = np.where(jr & 1, 1, -1)  # ranks alternate: the neighbour after, the one before, ...
            dist = (jr + 1) // 2
            v = self._at(ur, sign * dist)
            far = self.reach[v] < dist  # v does not reach back: the nearest neighbour on that side
            cp[rows] = np.where(far, self._at(ur, sign), v)
        return cp, member

    def knows(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Whether users ``u`` and ``v`` of the file are in each other's circle."""
        pu, pv = self.pos[u].astype(np.int64), self.pos[v].astype(np.int64)
        span = self.span[u].astype(np.int64)
        d = np.abs(pu - pv)
        d = np.minimum(d, span - d)
        ok = (pu >= 0) & (pv >= 0) & (d >= 1) & (self.first[u] == self.first[v])
        return ok & ((d <= np.minimum(self.reach[u], self.reach[v])) | (d == 1))


def draw_circles(activity: np.ndarray, active: np.ndarray, city_code: np.ndarray) -> Circles:
    """Every user's circle (no draws: the rings follow city and activity, sizes follow activity).
    Each city is a ring of its own, so contacts in the file are of the user's city."""
    n = len(activity)
    members = np.flatnonzero(active)
    order = members[np.lexsort((members, activity[members], city_code[members]))]
    m = len(order)
    pos = np.full(n, -1, dtype=np.int32)
    pos[order] = np.arange(m, dtype=np.int32)
    # each city's stretch of the ring: where it begins and how many it holds
    cities = city_code[order]
    starts = np.flatnonzero(np.concatenate(([True], cities[1:] != cities[:-1]))) if m else np.zeros(0, np.int64)
    counts = np.diff(np.concatenate((starts, [m])))
    first, span = np.zeros(n, dtype=np.int32), np.zeros(n, dtype=np.int32)
    if m:
        stretch = np.repeat(np.arange(len(starts)), counts)
        first[order], span[order] = starts[stretch], counts[stretch]
    size = np.clip(np.rint(SIZE_SCALE * np.maximum(activity, 1.0) ** SIZE_GROWTH), SIZE_MIN, SIZE_MAX)
    reach = np.minimum(np.maximum(np.rint(size * ON_NET_SHARE / 2), 1), (span - 1) // 2)  # (0: a city of 1 or 2)
    reach = np.where((pos >= 0) & (span >= 2), np.maximum(reach, 1), 0)  # (a city of 2: each the other's)
    size = np.maximum(size, 2 * reach + 1)  # room for at least one contact outside the file
    return Circles(ring=order.astype(np.int32), pos=pos, first=first, span=span, reach=reach.astype(np.uint16),
                   size=size.astype(np.uint16))
