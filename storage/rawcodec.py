"""Compression of raw page bodies.

A page fetched again is nearly the same bytes as last time (a counter, a token, a date
differ), so each raw body is compressed with zstd using the previous version's raw body
as a raw-content dictionary: the stored delta is typically well under 5% of the page.
A full copy every ``DELTA_CHAIN_MAX`` versions bounds the work of reading one back.

Level 3: against the previous body a typical edit's delta is as small as at level 10
(0.87% of a 40–120 KB bench page either way; ``bench.bench_storage --seed 3``: 4.0% of
the raw page per changed version, text and index included), in less than half the CPU
(0.20 ms against 0.45 ms a delta; a full copy 0.10 against 0.39 ms, 13.2% of the page
against 12.5%).  Stored bodies of either level read back the same.
"""

from __future__ import annotations

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
        LEVEL, window_log=max(window, 10), enable_ldm=True)
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
