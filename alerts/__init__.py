"""Alerts: who is told what (``plan``), how messages look (``compose``), channels (one
module each, listed in ``registry``) and the outbox delivery loop (``delivery``)."""
