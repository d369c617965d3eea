"""Compression of raw page bodies.

A page fetched again is nearly the same bytes as last time (a counter, a token, a date
differ), so each raw body is compressed with zstd using the previous version's raw body
as a raw-content dictionary: the stored delta is typically well under 5% of the page.
A full copy every ``DELTA_CHAIN_MAX`` versions bounds the work of reading one back.

Level 3: against the previous body a typical edit's delta is as small as at level 10,
in less than half the CPU (a full copy 0.10 against 0.39 ms, 13.2% of the page against
12.5%).  No long-distance matching (``enable_ldm``): the previous body is a raw-content
dictionary, which the ordinary match finder searches whole, while long-distance
matching does not use it and cost more for a larger delta: on the bench pages (40–120
KB, a sentence added and a counter moved) 131 bytes a delta against 651 with it, 0.17
against 0.27 ms; on a 1 MB page with five edits 856 bytes against 3,643, 2.0 against
2.9 ms (level 1: 0.11 ms, but 7–19 KB deltas on 1–5 MB pages).  Bodies stored with
any of these settings read back the same: the parameters are the compressor's only.
The sizes of the body and its base are given, so zstd sizes its match tables for
them (0.16 against 0.18 ms a delta, the same bytes within 1%).

A delta chain is read back in one call (``decompress_chain``): zstd's content
dictionary chain, one decompression context whose history each link is decompressed
with, where a link at a time (``decompress``) made a dictionary object (a copy of the
body before) and a context a link.  A chain of ten links of 120 KB: 0.16 against
0.57 ms; the same bytes (any failure is retried a link at a time, which says what it
says).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import zstandard

from monitor.errors import StorageError

DELTA_CHAIN_MAX = 16
LEVEL = 3


def compress(raw: bytes, base: bytes | None = None) -> bytes:
    if base is None:
        return zstandard.ZstdCompressor(level=LEVEL).compress(raw)
    zdict = zstandard.ZstdCompressionDict(base, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    window = max(len(base), len(raw)).bit_length() + 1
    params = zstandard.ZstdCompressionParameters.from_level(
        LEVEL, source_size=len(raw), dict_size=len(base), window_log=max(window, 10))
    return zstandard.ZstdCompressor(dict_data=zdict, compression_params=params).compress(raw)


def decompress(blob: bytes, base: bytes | None = None) -> bytes:
    """The raw body back; a damaged blob (or the wrong base) is a ``StorageError``, and
    so is a value that is not bytes at all (SQLite keeps whatever type was written: a
    body overwritten with TEXT reads back as ``str``)."""
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise StorageError("a stored raw body is not bytes",
                           detail=f"{type(blob).__name__} {str(blob)[:40]!r}")
    try:
        if base is None:
            return zstandard.ZstdDecompressor().decompress(blob)
        zdict = zstandard.ZstdCompressionDict(base, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
        return zstandard.ZstdDecompressor(dict_data=zdict,
                                          max_window_size=1 << 31).decompress(blob)
    except zstandard.ZstdError as exc:
        raise StorageError("a stored raw body cannot be decompressed", detail=str(exc)) from None


def decompress_chain(blobs: Sequence[bytes]) -> bytes:
    """The raw body at the end of a delta chain: ``blobs[0]`` stored whole, each next
    one a delta against the body before it; what ``decompress`` gives a link at a time,
    in one call.  A chain it cannot read (a damaged blob, a frame without its content
    size) is read a link at a time, so the error, or the body, is ``decompress``'s."""
    for blob in blobs:
        if not isinstance(blob, bytes | bytearray | memoryview):
            decompress(blob)  # not bytes: said as decompress says it
    try:
        return _chain_reader().decompress_content_dict_chain(list(blobs))
    except (zstandard.ZstdError, ValueError):
        raw = decompress(blobs[0])
        for blob in blobs[1:]:
            raw = decompress(blob, raw)
        return raw


_LOCAL = threading.local()


def _chain_reader() -> zstandard.ZstdDecompressor:
    """This thread's decompressor of delta chains, made once: making one (its context)
    cost more than reading a bench page's chain with it (python-zstandard resets its
    context at each call; it is not to be shared between threads).  Its memory stays
    that of one context, ~0.12 MB, whatever the bodies (measured up to 5 MB)."""
    reader = getattr(_LOCAL, "chain", None)
    if reader is None:
        reader = _LOCAL.chain = zstandard.ZstdDecompressor(max_window_size=1 << 31)
    return reader
