"""The fetch stage: one page in, one ``FetchResult`` out, or a ``FetchError``.

* ``http`` — the plain HTTP fetcher (httpx): deadline, retries, redirects, body cap.
* ``netguard`` — the SSRF guard: private addresses and non-http schemes refused.
* ``politeness`` — host spacing, per-host concurrency and back-off (``HostLimiter``).
* ``robots`` — the robots.txt cache.
* ``encoding`` — bytes to text: declared charsets first, detection only as a fallback.

Callers import from here: ``Fetcher``, ``host_limiter``.
"""

from monitor.fetch.http import Fetcher, host_limiter

__all__ = ["Fetcher", "host_limiter"]
