"""Near-duplicate lookup by perceptual hash, indexed in bands (docs/describe.md).

Two 64-bit hashes within Hamming distance ``d`` differ in at most ``d`` bits, so when the bits are
split into ``d + 1`` bands, at least one band is identical in both (pigeonhole). The index keeps
one entry per upload per band, under the key (scope, band index, band value); a lookup reads the
``d + 1`` entry groups the new hash's bands name, and checks each candidate's full hash. No scan,
and no false negatives within ``d``.

``d + 1`` groups is the least any index of exact band lookups can have: with ``m`` bit sets, two
hashes differing in one bit of each set (``m`` bits) share no set, so ``m <= d`` misses a pair
within ``d``. Each group is its own item (DynamoDB finds items by key), so an upload costs ``d + 1``
small writes and ``d + 1`` reads whatever the layout; what the adapter saves is round trips.

The scope is who may be a duplicate of whom: the same owner (``users/<id>/``) or, for other keys,
the same top-level prefix (``photos/``). Pure: the storage is an :class:`Index` port
(``adapters.py`` on DynamoDB; an in-memory one in the tests).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from imgpipe.catalog.schema import owner_of

from .hashes import PHASH_BITS, hamming

#: the scope of keys at the bucket's root
ROOT_SCOPE = "/"


def scope_of(key: str) -> str:
    """``users/<id>/`` for the upload API's keys, else the first path segment with its slash."""
    owner = owner_of(key)
    if owner:
        return f"users/{owner}/"
    head, sep, _ = key.partition("/")
    return f"{head}/" if sep and head else ROOT_SCOPE


def band_widths(distance: int, bits: int = PHASH_BITS) -> list[int]:
    """``distance + 1`` band widths that add up to ``bits``, as even as possible."""
    count = distance + 1
    return [bits // count + (1 if i < bits % count else 0) for i in range(count)]


def bands(value: int, distance: int, bits: int = PHASH_BITS) -> list[tuple[int, int]]:
    """(band index, band value) of each band of ``value``, most significant bits first."""
    out, shift = [], bits
    for index, width in enumerate(band_widths(distance, bits)):
        shift -= width
        out.append((index, (value >> shift) & ((1 << width) - 1)))
    return out


@dataclass(frozen=True)
class Entry:
    key: str
    phash: int
    at: str  # when it was indexed (ISO 8601): the earlier of two near-duplicates is the original


@dataclass(frozen=True)
class Match:
    key: str
    distance: int


class Index(Protocol):
    def entries(self, scope: str, distance: int, groups: Sequence[tuple[int, int]]) -> list[list[Entry]]:
        """Every entry indexed in ``scope`` under each (band index, band value) of ``groups``, for
        ``distance``: one list per group, in order. One call, so an adapter may read them at once."""

    def add(self, scope: str, distance: int, groups: Sequence[tuple[int, int]], entry: Entry) -> None:
        """Index ``entry`` under every one of ``groups`` in one call, replacing the key's entry
        there (``entry.at`` is the time to keep: the caller knows the first one)."""


@dataclass(frozen=True)
class Lookup:
    match: Match | None
    #: when this key was first indexed, if it was (a replay, a settings change)
    first_at: str | None


def lookup(
    index: Index, key: str, value: int, distance: int, exists: Callable[[str], bool] = lambda _k: True
) -> Lookup:
    """The earliest-indexed other upload of ``key``'s scope within ``distance`` (the closest
    first on a tie of times) that still ``exists``, or None; and when ``key`` itself was first
    indexed. Entries outlive a deleted upload until their TTL (the delete cascade does not know
    the index), hence the check, made only for matches."""
    scope = scope_of(key)
    seen: dict[str, Entry] = {}
    own: str | None = None
    for group in index.entries(scope, distance, bands(value, distance)):
        for entry in group:
            if entry.key == key:
                own = min(own or entry.at, entry.at)
            else:
                seen.setdefault(entry.key, entry)
    close = [(e, hamming(e.phash, value)) for e in seen.values()]
    # A key processed again (a replay, a settings change) keeps the time it was first indexed:
    # only what came before it can be its original.
    close = [(e, d) for e, d in close if d <= distance and (own is None or e.at < own)]
    for entry, found in sorted(close, key=lambda c: (c[0].at, c[1], c[0].key)):
        if exists(entry.key):
            return Lookup(Match(entry.key, found), own)
    return Lookup(None, own)


def find_duplicate(
    index: Index, key: str, value: int, distance: int, exists: Callable[[str], bool] = lambda _k: True
) -> Match | None:
    return lookup(index, key, value, distance, exists).match


def remember(index: Index, key: str, value: int, distance: int, at: str, first_at: str | None = None) -> None:
    """Index ``key`` under each of its bands; ``first_at`` (from :func:`lookup`) keeps a key
    indexed before at its first time."""
    index.add(scope_of(key), distance, bands(value, distance), Entry(key, value, first_at or at))


def check_and_remember(
    index: Index, key: str, value: int, distance: int, at: str, exists: Callable[[str], bool] = lambda _k: True
) -> Match | None:
    """Look ``key`` up, then index it: one read of the ``distance + 1`` groups and one write of
    its entries. After the lookup, so an upload never finds itself; a retry finds its own entries
    and skips them."""
    found = lookup(index, key, value, distance, exists)
    remember(index, key, value, distance, at, found.first_at)
    return found.match
