"""The read-only web UI, JSON API and Atom feeds (``monitor serve``, or ``monitor run``
with ``web_enabled``).  ``create_app`` builds the FastAPI app; ``serve`` runs it."""

from monitor.web.app import create_app, serve

__all__ = ["create_app", "serve"]
