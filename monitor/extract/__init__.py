"""The extract stage: what a fetched answer says, as a title, text and metadata.

* ``html`` — an HTML page: the article (or, for a column page, its list of dated items,
  ``monitor.listing``), its metadata table and title, normalized.

Attachments and documents served as PDF, Word, spreadsheets or OFD get extractors of
their own here, one module per format, behind this same face.
"""

from monitor.extract.html import extract, main_blocks

__all__ = ["extract", "main_blocks"]
