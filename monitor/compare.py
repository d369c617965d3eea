"""Two stored versions side by side: the text diff, title and metadata changes, and
the attachments added, removed or replaced between them.

Shared by ``monitor diff``, the web UI, the feeds and the API; no web framework here.
An attachment replaced by another file is shown with the text diff of the two files when
both have text, as in the alert (``alerts.attachments``); a file without text says why.

Two versions a change was found between after an admin edited the source's settings
(``content``, ``ignore_text``…) differ by the page's edit and by the settings'.  The
alert and the change row tell the page's edit alone, comparing with the old version
read again under the new settings (``details["reread"]``); ``compare(…, page_only=True)``
(the web UI's diff, the feeds) does the same, and ``Comparison.settings_changed`` says
so, so the page can say why its old side differs from the stored version.  ``monitor
diff`` and the API compare the versions as stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from alerts.attachments import Section, sections
from monitor.detect import attachment_changes
from monitor.diff import TextDiff, diff_texts
from monitor.extract.title import shown
from storage import Store
from storage.archive import Archive
from storage.records import StoredFile, VersionFull


@dataclass(frozen=True)
class MetaChange:
    key: str
    old: str | None
    new: str | None

    @property
    def old_shown(self) -> str:
        """``old`` as the alert tells it ("（无）" where the field was absent)."""
        return shown(self.key, self.old)

    @property
    def new_shown(self) -> str:
        return shown(self.key, self.new)


@dataclass
class Comparison:
    """Two versions of a page and what differs between them."""

    old: VersionFull
    new: VersionFull
    diff: TextDiff
    title_changed: bool
    metadata: list[MetaChange] = field(default_factory=list)
    # detect.attachment_changes entries, and the stored files they name (their text)
    attachments: list[dict[str, object]] = field(default_factory=list)
    files: dict[str, StoredFile] = field(default_factory=dict)
    timeout: float = 5.0
    # why the old side is the old version read again (page_only): "settings" (the
    # source's new settings) or "rules" (an upgrade's reading rules); None: as stored
    reread_cause: str | None = None

    @property
    def settings_changed(self) -> bool:
        return self.reread_cause == "settings"

    @property
    def rules_changed(self) -> bool:
        return self.reread_cause == "rules"

    def attachment_section(self, *, context: int = 1) -> Section:
        """Every changed attachment as text and HTML: its name, link and text diff."""
        return sections({"attachments": self.attachments}, self.files,
                        timeout=self.timeout, context=context)

    def attachment_texts(self, *, context: int = 1) -> list[str]:
        """One text per changed attachment (name, link, then its diff or excerpt)."""
        return [sections({"attachments": [a]}, self.files, timeout=self.timeout,
                         context=context).text for a in self.attachments]

    @property
    def stats(self) -> dict[str, int]:
        return dict(self.diff.stats)

    @property
    def exact(self) -> bool:
        """False when the diff hit its time bound: some runs are whole paragraphs."""
        return self.diff.exact


def compare(store: Store, a: int, b: int, *, timeout: float,
            page_only: bool = False) -> Comparison:
    """Compare two stored versions (any two: across pages too, if asked); with
    ``page_only``, the two of a change found after a settings edit as that change was
    (the page's edit only: see the module's docstring)."""
    old, new = store.version(a), store.version(b)
    reread = Archive(store).reread(a, b) if page_only else None
    if reread is not None:
        old = replace(old, title=str(reread.get("title", old.title)),
                      text=str(reread.get("text", old.text)),
                      metadata=dict(reread.get("metadata", old.metadata)))
    diff = diff_texts(old.text, new.text, timeout=timeout)
    keys = list(dict.fromkeys([*old.metadata, *new.metadata]))
    meta = [MetaChange(k, old.metadata.get(k), new.metadata.get(k)) for k in keys
            if old.metadata.get(k) != new.metadata.get(k)]
    atts = attachment_changes(old.attachments, new.attachments)
    shas = [str(a[k]) for a in atts for k in ("old_sha256", "new_sha256") if a.get(k)]
    stored = store.stored_files(shas) if shas else {}
    return Comparison(old, new, diff, old.title != new.title, meta, atts, stored, timeout,
                      reread_cause=None if reread is None else
                      str(reread.get("cause", "settings")))
