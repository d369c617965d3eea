"""Repair double-encoded UTF-8 ("mojibake") before a page is extracted.

A server that decodes its own UTF-8 as Windows-1252/Latin-1 and encodes the result as
UTF-8 again serves "EspaÃ±ol" for "Español" and "âroamingâ" for "“roaming”" (the
FEMA Hurricane Maria capture of the test corpus).  Every paragraph with a non-ASCII
character then differs from the previous version, and the real change is lost among
dozens of false ones; when the server is fixed, the same dozens come back.

Decision: such a body is repaired, not refused.  The words are all there: the double
encoding is reversible (encode as Windows-1252/Latin-1, decode as UTF-8), so the
version holds the text the publisher wrote and a diff shows only what they changed.
Refusing it as a broken capture would drop a real update, and a server that stays
misconfigured would never give a version again.  The raw body is stored as fetched, so
the capture itself is still there, and the repair is named in the extraction notes
(``Extracted.removed``).

The repair is ``ftfy.fix_encoding`` (ftfy's mojibake detector and its encoding steps
only: none of its other "fixes", which would turn full-width ，：（ into ASCII or uncurl
quotes), with ``fix_c1_controls`` off (a stray C1 control is deleted by normalization,
not turned into a visible character).  It runs only when ftfy's detector finds
mojibake, and its result is refused unless every Han, kana, hangul and full-width
character of the page is still there (mojibake of Chinese has none; repairing it only
adds them): correctly decoded Chinese (GBK or UTF-8) is never touched, which the tests
check on every Chinese page of the corpus.

ftfy is imported on the first page that looks like mojibake (``_HINT``), not with the
module: it and its ``wcwidth`` tables cost 50 ms at every start of ``monitor check``,
for pages that almost never need it.
"""

from __future__ import annotations

from collections import Counter

from monitor import lazyre

# Han, kana, hangul, CJK punctuation and full-width forms: never in mojibake of UTF-8.
_CJK_CHAR = lazyre.compile("[\u2e80-\u2fff\u3000-\u30ff\u3100-\u312f\u3190-\u31ff"
                           "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
                           "\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003134f]")
# What double-encoded UTF-8 looks like: a lead byte read as Â/Ã/â... then a
# continuation byte read as a Windows-1252 or C1 character.
_HINT = lazyre.compile("[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e"
                       "\u0192\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030"
                       "\u2039\u203a\u20ac\u2122]")


def repair(html: str) -> tuple[str, list[str]]:
    """``html`` with double-encoded UTF-8 repaired, and a note if anything was."""
    if not _has_lead(html) or not _HINT.search(html):
        return html, []
    import ftfy
    from ftfy.badness import is_bad

    if not is_bad(html):
        return html, []
    config = ftfy.TextFixerConfig(fix_c1_controls=False, explain=False)
    fixed = ftfy.fix_encoding(html, config)
    if fixed == html or not _cjk(html) <= _cjk(fixed):
        return html, []
    return fixed, [f"repaired double-encoded UTF-8 (mojibake): {len(html) - len(fixed)} "
                   "characters fewer"]


# Every byte but those of _HINT's first characters (U+00C2-U+00F4).
_NOT_LEADS = bytes(b for b in range(256) if not 0xC2 <= b <= 0xF4)


def _has_lead(html: str) -> bool:
    """Whether ``html`` has a character that may start a ``_HINT`` match: told from its
    Latin-1 characters (a Chinese page has few), several times faster than the search
    over the whole page, which it spares all but a page with such a character."""
    return bool(html.encode("latin-1", "ignore").translate(None, _NOT_LEADS))


def _cjk(text: str) -> Counter[str]:
    return Counter(_CJK_CHAR.findall(text))
