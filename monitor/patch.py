"""The stored form of a diff: diff-match-patch's patch text, kept as UTF-8.

``patch_toText`` percent-escapes every non-ASCII character (9 bytes for one Chinese
character instead of 3), so ``make_patch`` escapes only what would break the
one-line-per-piece format or the escaping itself.  ``apply_patch`` is strict: a patch
applies only to the exact text it was made from.
"""

from __future__ import annotations

import re
import urllib.parse

from diff_match_patch import diff_match_patch

from monitor.diff import DELETE, EQUAL, INSERT, Op
from monitor.errors import StorageError

# '%' because unescaping must not touch literal percent signs; line ends and other
# control characters because the format is one piece per line (and some readers split
# on U+0085/U+2028/U+2029 too).  Everything else stays as it is, in UTF-8.
_MUST_ESCAPE = re.compile("[%\x00-\x1f\x7f\x85\u2028\u2029]")


def _escape(text: str) -> str:
    return _MUST_ESCAPE.sub(lambda m: urllib.parse.quote(m.group(0), safe=""), text)


def make_patch(old: str, new: str, diffs: list[Op]) -> str:
    """A patch turning ``old`` into ``new``: patch_toText's format, UTF-8, not escaped."""
    dmp = diff_match_patch()
    if dmp.diff_text1(diffs) != old or dmp.diff_text2(diffs) != new:
        raise ValueError("make_patch: the diff is not a diff of these two texts")
    out: list[str] = []
    for patch in dmp.patch_make(old, diffs):
        out.append(f"@@ -{_coords(patch.start1, patch.length1)} "
                   f"+{_coords(patch.start2, patch.length2)} @@\n")
        for op, data in patch.diffs:
            out.append({INSERT: "+", DELETE: "-", EQUAL: " "}[op] + _escape(data) + "\n")
    return "".join(out)


def _coords(start: int, length: int) -> str:
    """GNU diff's 1-based coordinates, as patch_obj.__str__ writes them."""
    if length == 0:
        return f"{start},0"
    if length == 1:
        return str(start + 1)
    return f"{start + 1},{length}"


def apply_patch(old: str, patch: str) -> str:
    """Apply a ``make_patch`` patch.  Strict: the text must be the one it was made from.

    Raises StorageError when the patch is unreadable or does not fit ``old`` (a stored
    chain of versions that does not add up).
    """
    dmp = diff_match_patch()
    dmp.Match_Threshold = 0.0  # exact matches at the exact place only, no fuzzy apply
    dmp.Patch_DeleteThreshold = 0.0
    try:
        patches = dmp.patch_fromText(patch)  # unquotes each piece: our escapes only
    except ValueError as exc:
        raise StorageError("unreadable patch", detail=str(exc)) from None
    new, applied = dmp.patch_apply(patches, old)
    if not all(applied):
        raise StorageError(f"patch does not apply: {applied.count(False)} of "
                           f"{len(applied)} hunks do not match the text")
    return new
