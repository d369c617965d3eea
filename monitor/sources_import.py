"""``monitor sources import FILE``: sources from a peer's configuration.

Four formats, told apart by the file's name and then its first bytes:

* **urlwatch** ``urls.yaml`` (``.yaml``/``.yml``, or YAML documents with ``url:``): one
  job per YAML document.  ``name`` → the source's ``title`` (a urlwatch name is free
  text; a monitor name is an identifier, made from the URL unless the urlwatch name is
  one already); ``filter`` → what maps of it: ``css`` / ``element-by-id`` /
  ``element-by-class`` / ``element-by-tag`` → ``content`` (a css ``exclude`` →
  ``ignore``), ``re.sub`` with an empty replacement → ``ignore_text``, ``html2text`` and
  ``strip`` are what extraction does anyway; ``headers`` and ``encoding`` map as they
  are; ``use_browser``/``navigate`` → ``fetch = "browser"``.  The older one-line form
  ``filter: css:div.main,html2text`` is read too.
* **changedetection.io** backup: its JSON datastore (``url-watches.json``, or the backup
  ``.zip`` that holds it).  Each entry of ``watching``: ``url``; ``title`` → ``title``;
  ``include_filters`` (CSS) → ``content``; ``subtractive_selectors`` → ``ignore``;
  ``ignore_text`` (a line containing the text is ignored; ``/regex/`` is a regex) →
  ``ignore_text`` regexes matching such a line; ``tags`` (uuids of
  ``settings.application.tags``, or the older comma-separated ``tag``) → ``tags``;
  ``time_between_check`` → ``interval``; ``paused`` → ``enabled = false``;
  ``fetch_backend = "html_webdriver"`` → ``fetch = "browser"``.
* **CSV** (``.csv``): a header row naming ``url`` (and optionally ``name``, ``title``,
  ``content``, ``tags`` separated by ``;`` or ``,``, ``interval``), or rows whose first
  cell is the URL.
* **a plain list**: one URL per line; blank lines and ``#`` comments are skipped.

What does not map is never guessed: XPath (monitor selects with CSS), ``re.sub`` with a
replacement, ``grep``, trigger texts, urlwatch's own keys (``max_tries``,
``user_visible_url``…) and the like are listed per source as *not mapped*, and the source
is imported without them.  A job that is not a GET of a web page (a command job, a
``method: POST`` or ``data`` job) is not imported: monitor would watch another page.
Secrets never reach ``sources.toml``: a ``Cookie`` or ``Authorization`` header and
urlwatch's ``cookies`` are reported by name only, pointing at ``cookies_env``.  A URL
already in the sources file, or twice in the import, is imported once.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomlkit

from monitor.errors import BadInputError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
_SLUG_JUNK = re.compile(r"[^A-Za-z0-9]+")
_SUFFIX = re.compile(r"(\.(gov|edu|com|org|net|ac))?\.(cn|com|org|net)$")
_UNITS = (("weeks", 7 * 86400), ("days", 86400), ("hours", 3600), ("minutes", 60),
          ("seconds", 1))

# urlwatch keys mapped above; every other key of a job is reported as not mapped.
_URLWATCH_MAPPED = {"kind", "name", "url", "filter", "headers", "encoding", "use_browser",
                    "navigate"}
# Request headers that carry a secret: never written to sources.toml (see cookies_env).
_SECRET_HEADERS = {"cookie", "authorization", "proxy-authorization", "x-api-key",
                   "x-auth-token"}


@dataclass
class Candidate:
    """One source to add: its ``[[sources]]`` entry (name still to be made unique) and
    what of the original could not be mapped."""

    origin: str  # "urls.yaml job 3", "watch 0c1d…": how the report names it
    entry: dict[str, Any]
    unmapped: list[str] = field(default_factory=list)


def read_file(path: Path) -> tuple[str, list[Candidate]]:
    """(the format's name, its candidates); ``BadInputError`` for a file that is none."""
    data = path.read_bytes()
    fmt = detect(path, data)
    if fmt == "changedetection.io":
        return fmt, from_changedetection(_json_of(path, data))
    text = _text(path, data)
    if fmt == "urlwatch":
        return fmt, from_urlwatch(text, path)
    if fmt == "csv":
        return fmt, from_csv(text)
    return fmt, from_list(text)


def detect(path: Path, data: bytes) -> str:
    suffix = path.suffix.lower()
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if suffix in (".zip", ".json") or data[:2] == b"PK" or head == b"{":
        return "changedetection.io"
    if suffix in (".yaml", ".yml"):
        return "urlwatch"
    if suffix == ".csv":
        return "csv"
    if re.search(rb"(?m)^\s*-?\s*url\s*:", data):
        return "urlwatch"
    return "list"


def _text(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{path} 不是 UTF-8 编码的文本（{path}: byte {exc.start} is not "
                            "UTF-8）") from None


def _json_of(path: Path, data: bytes) -> dict[str, Any]:
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                inner = next((n for n in z.namelist() if n.endswith("url-watches.json")), None)
                if inner is None:
                    raise BadInputError(f"{path} 不是 changedetection.io 的备份（the zip has "
                                        "no url-watches.json）")
                data = z.read(inner)
        except zipfile.BadZipFile as exc:
            raise BadInputError(f"{path} 不是有效的 zip 文件（{exc}）") from None
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"{path} 不是有效的 JSON（{exc}）") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("watching"), dict):
        raise BadInputError(f"{path} 不是 changedetection.io 的数据文件（no \"watching\" "
                            "object at the top）")
    return doc


# --- urlwatch ----------------------------------------------------------------------------


def from_urlwatch(text: str, path: Path) -> list[Candidate]:
    import yaml  # only this format needs it

    try:
        jobs = [j for j in yaml.safe_load_all(text) if j is not None]
    except yaml.YAMLError as exc:
        raise BadInputError(f"{path} 不是有效的 YAML（{exc}）") from None
    out = []
    for n, job in enumerate(jobs, 1):
        origin = f"job {n}"
        if not isinstance(job, dict):
            raise BadInputError(f"{path} 第 {n} 个任务不是映射（job {n} is a "
                                f"{type(job).__name__}, not a mapping of keys）")
        url = job.get("url") or job.get("navigate")
        if not isinstance(url, str):
            what = "a command job" if "command" in job else "a job without url"
            named = f"{origin} ({job['name']})" if job.get("name") else origin
            out.append(Candidate(named, {}, [f"{what}: not a web page, skipped"]))
            continue
        method = str(job.get("method") or "GET").upper()
        if method != "GET" or job.get("data") is not None:
            out.append(Candidate(f"{origin} ({job.get('name') or url})", {}, [
                f"a {method} request with data: monitor fetches pages with GET only, so "
                "watching this URL would watch another page; skipped"]))
            continue
        c = Candidate(f"{origin} ({url})", {"url": url})
        _title(c, job.get("name"))
        if job.get("use_browser") or "navigate" in job:
            c.entry["fetch"] = "browser"
        if job.get("encoding"):
            c.entry["encoding"] = job["encoding"]
        _urlwatch_headers(c, job.get("headers"))
        _urlwatch_filters(c, job.get("filter"))
        c.unmapped += [_unmapped_key(k, job[k]) for k in job
                       if k not in _URLWATCH_MAPPED | {"method", "data"}]
        out.append(c)
    return out


def _urlwatch_headers(c: Candidate, headers: Any) -> None:
    """Plain headers map as they are; a secret one (a cookie, a token) is left out and
    named without its value: secrets come from the environment (``cookies_env``)."""
    if not isinstance(headers, dict) or not headers:
        return
    plain = {k: v for k, v in headers.items() if str(k).lower() not in _SECRET_HEADERS}
    if plain:
        c.entry["headers"] = plain
    c.unmapped += [f"header {k} (value not shown: a secret stays out of sources.toml; "
                   "put it in an environment variable named by cookies_env)"
                   for k in headers if str(k).lower() in _SECRET_HEADERS]


def _unmapped_key(key: str, value: Any) -> str:
    if key == "cookies" and isinstance(value, dict):  # names only: values are secrets
        return (f"cookies {', '.join(map(str, value))} (values not shown; put the cookie "
                "header in an environment variable named by cookies_env)")
    return f"{key}: {value!r}"


def _urlwatch_filters(c: Candidate, filters: Any) -> None:
    if filters is None:
        return
    if isinstance(filters, str):  # the old form: "css:div.main,html2text"
        filters = [dict([part.split(":", 1)]) if ":" in part else part
                   for part in filters.split(",")]
    if isinstance(filters, dict):
        filters = [filters]
    for f in filters:
        kind, arg = (f, None) if isinstance(f, str) else next(iter(f.items()))
        _urlwatch_filter(c, kind, arg)


def _urlwatch_filter(c: Candidate, kind: str, arg: Any) -> None:
    sel = {"element-by-id": "#{}", "element-by-class": ".{}", "element-by-tag": "{}"}
    if kind in ("html2text", "strip", "beautify"):
        return  # extraction reads the text of the page, stripped, anyway
    if kind == "css":
        spec = arg if isinstance(arg, dict) else {"selector": arg}
        _add(c.entry, "content", spec.get("selector"))
        _add(c.entry, "ignore", spec.get("exclude"))
        return
    if kind in sel and isinstance(arg, str):
        _add(c.entry, "content", sel[kind].format(arg))
        return
    if kind == "re.sub":
        spec = arg if isinstance(arg, dict) else {"pattern": arg}
        if spec.get("repl", "") == "" and spec.get("pattern"):
            _add(c.entry, "ignore_text", str(spec["pattern"]))
            return
    c.unmapped.append(f"filter {kind}: {arg!r}" if arg is not None else f"filter {kind}")


# --- changedetection.io --------------------------------------------------------------------


def from_changedetection(doc: dict[str, Any]) -> list[Candidate]:
    tag_titles = {uuid: t.get("title", uuid) for uuid, t in
                  (doc.get("settings", {}).get("application", {}).get("tags") or {}).items()
                  if isinstance(t, dict)}
    out = []
    for uuid, w in doc["watching"].items():
        if not isinstance(w, dict) or not isinstance(w.get("url"), str):
            out.append(Candidate(f"watch {uuid}", {}, ["no url: skipped"]))
            continue
        c = Candidate(f"watch {uuid} ({w['url']})", {"url": w["url"]})
        _title(c, w.get("title"))
        for sel in w.get("include_filters") or []:
            if sel.startswith(("xpath:", "xpath1:", "/", "json:", "jq:")):
                c.unmapped.append(f"include_filters {sel!r} (monitor selects with CSS)")
            else:
                _add(c.entry, "content", sel)
        for sel in w.get("subtractive_selectors") or []:
            _add(c.entry, "ignore", sel)
        for text in w.get("ignore_text") or []:
            _add(c.entry, "ignore_text", _line_regex(text))
        tags = [tag_titles.get(t, t) for t in w.get("tags") or []]
        tags += [t.strip() for t in (w.get("tag") or "").split(",") if t.strip()]
        if tags:
            c.entry["tags"] = list(dict.fromkeys(tags))
        if interval := _interval(w.get("time_between_check")):
            c.entry["interval"] = interval
        if w.get("paused"):
            c.entry["enabled"] = False
        if w.get("fetch_backend") == "html_webdriver":
            c.entry["fetch"] = "browser"
        for key in ("trigger_text", "text_should_not_be_present", "extract_text",
                    "browser_steps"):
            if w.get(key):
                c.unmapped.append(f"{key}: {w[key]!r}")
        out.append(c)
    return out


def _line_regex(text: str) -> str:
    """changedetection.io ignores a line containing the text (any case); ``/re/`` is a
    regex.  Here: a regex matching such a line, with (?i) as it is case-insensitive."""
    if len(text) > 2 and text.startswith("/") and text.endswith("/"):
        return f".*{text[1:-1]}.*"
    return f"(?i).*{re.escape(text)}.*"


def _interval(spec: Any) -> str | None:
    if not isinstance(spec, dict):
        return None
    seconds = sum(int(spec.get(k) or 0) * size for k, size in _UNITS)
    if seconds <= 0:
        return None  # the application's default: ours
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# --- lists and CSV -----------------------------------------------------------------------------


def from_list(text: str) -> list[Candidate]:
    return [Candidate(f"line {n}", {"url": line.strip()})
            for n, line in enumerate(text.splitlines(), 1)
            if line.strip() and not line.lstrip().startswith("#")]


def from_csv(text: str) -> list[Candidate]:
    rows = [r for r in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in r)]
    if not rows:
        return []
    header = [h.strip().lower() for h in rows[0]]
    if "url" not in header:
        return [Candidate(f"row {n}", {"url": r[0].strip()}) for n, r in enumerate(rows, 1)]
    out = []
    for n, row in enumerate(rows[1:], 2):
        cells = {h: v.strip() for h, v in zip(header, row, strict=False) if v.strip()}
        c = Candidate(f"row {n}", {"url": cells.get("url", "")})
        _title(c, cells.get("title") or cells.get("name"))
        if NAME.match(cells.get("name", "")):
            c.entry["name"] = cells["name"]
        for key in ("content", "interval"):
            if key in cells:
                c.entry[key] = cells[key]
        if "tags" in cells:
            c.entry["tags"] = [t.strip() for t in re.split(r"[;,]", cells["tags"]) if t.strip()]
        c.unmapped += [f"column {h}" for h in cells
                       if h not in ("url", "name", "title", "content", "interval", "tags")]
        out.append(c)
    return out


# --- shared ------------------------------------------------------------------------------------


def _title(c: Candidate, name: Any) -> None:
    if not isinstance(name, str) or not name.strip():
        return
    if NAME.match(name.strip()):
        c.entry["name"] = name.strip()
    else:
        c.entry["title"] = name.strip()


def _add(entry: dict[str, Any], key: str, value: Any) -> None:
    if not value:
        return
    values = value if isinstance(value, list) else [value]
    entry[key] = [*entry.get(key, []), *map(str, values)]


def name_for(entry: dict[str, Any], taken: set[str]) -> str:
    """A unique source name: the entry's own, else one made from the URL's host and path
    (``www.hunan.gov.cn/jytabl/index.html`` → ``hunan-gov-cn-jytabl-index``)."""
    base = entry.get("name") or _slug(entry["url"])
    name, n = base, 2
    while name in taken:
        suffix = f"-{n}"
        name, n = base[:80 - len(suffix)] + suffix, n + 1
    return name


def _slug(url: str) -> str:
    """The host without ``www.`` and its public suffix, and the last two parts of the
    path: ``https://gxt.hunan.gov.cn/gxt/xxgk_71033/jytabl/index.html`` → ``gxt-hunan-
    xxgk-71033-jytabl``."""
    parts = urlsplit(url)
    host = _SUFFIX.sub("", (parts.hostname or "").removeprefix("www.")) or "page"
    path = re.sub(r"(/index)?\.(s?html?|jsp|php|aspx?)$", "", parts.path.rstrip("/"))
    tail = "-".join([p for p in path.split("/") if p][-2:])
    slug = _SLUG_JUNK.sub("-", f"{host}-{tail}").strip("-").lower()
    return slug[:80].rstrip("-._") or "page"


def flatten(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry as a person writes it in sources.toml: name first, a one-element list
    as the plain value, headers as an inline table."""
    out: dict[str, Any] = {"name": entry["name"]}
    for k, v in entry.items():
        if isinstance(v, list) and len(v) == 1 and k != "tags":
            v = v[0]
        elif isinstance(v, dict):
            table = tomlkit.inline_table()
            table.update(v)
            v = table
        out.setdefault(k, v)
    return out
