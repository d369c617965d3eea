"""Session ids in links: not part of what a link names.

Java CMSes (Tomcat, WebLogic, TRS on a servlet container: many government sites) put
the visitor's session into every link of a page when the visitor sends no session
cookie, as a *path parameter*: ``t20210801_191.html;jsessionid=0A1B…``.  A monitor
sends no cookie, so every fetch of a column gets every link rewritten with a new id.
PHP's ``session.use_trans_sid`` does the same in the query (``?PHPSESSID=…``).  Read as
written, each pass of a column would find every reply at a new URL: a new document
(新文档) each time, and the reply's history cut into copies.

``without_session`` drops those parameters, so a document is identified by the rest of
its URL, and is fetched without them: a servlet container serves the page to a request
without a session id (it starts a new session, or none for a static page), as it does
for the first visit of any reader; the id in a link is one the server made for that
one response anyway.

Which parameters: only names that are session ids and nothing else, case-insensitive
(``SESSION_KEYS``): ``jsessionid`` (servlets: ``;jsessionid=``, also ``;JSESSIONID=``),
``phpsessid`` (PHP), ``aspsessionid``, ``sessionid`` and ``session_id``, as a path
parameter (``;name=value`` in any path segment) or a query parameter (``name=value``
between ``&`` or ``;``, so ``info.jsp?id=5;jsessionid=…`` keeps ``id=5``).  Short names
such as ``sid`` or ``s`` are kept: Chinese CMSes address columns and documents by them
(``list.jsp?sid=12``), and a kept parameter can only cost a duplicate where a dropped
one would merge two documents.  Other path parameters are kept too (rare, but they may
name the document).  A URL without any of them is returned as it is, character for
character.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

SESSION_KEYS = frozenset({"jsessionid", "phpsessid", "aspsessionid", "sessionid",
                          "session_id"})


def without_session(url: str) -> str:
    """``url`` without its session-id parameters (the module doc)."""
    if ";" not in url and "sess" not in url.lower():  # most URLs: nothing to look at
        return url
    parts = urlsplit(url)
    path = "/".join(_segment(seg) for seg in parts.path.split("/"))
    query = "&".join(kept for pair in parts.query.split("&")
                     if (kept := _pair(pair)) or not pair)
    if path == parts.path and query == parts.query:
        return url
    return urlunsplit((parts.scheme, parts.netloc, path, query, parts.fragment))


def is_session(param: str) -> bool:
    """Whether ``name=value`` (or a bare ``name``) is a session id."""
    return param.partition("=")[0].strip().lower() in SESSION_KEYS


def _segment(segment: str) -> str:
    """A path segment without its session path parameters (``d1.html;jsessionid=A1``)."""
    if ";" not in segment:
        return segment
    name, *params = segment.split(";")
    return ";".join([name, *(p for p in params if not is_session(p))])


def _pair(pair: str) -> str:
    """A query pair (it may hold ``;``-separated ones) without session ids: "" if none is
    left; as it is when it holds none."""
    pieces = pair.split(";")
    if not any(map(is_session, pieces)):
        return pair
    return ";".join(p for p in pieces if p and not is_session(p))
