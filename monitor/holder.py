"""Who holds a page's lease: this process's name, and whether a holder has ended.

A lease (``pages.lease_owner``) names its holder ``host:pid``: ``WORKER`` for this
process (the worker processes of ``monitor check --workers`` hold theirs under the
parent's name, the process the user started).  Standard library only, so that
``monitor status`` can judge a lease without loading the database layer.
"""

from __future__ import annotations

import os
import socket

HOST = socket.gethostname()  # the ``host`` of the leases of this machine's processes
WORKER = f"{HOST}:{os.getpid()}"


def ended_here(owner: str) -> bool:
    """Whether a lease's holder (``host:pid``) is a process of this machine that has
    ended: a ``monitor check`` killed with ``kill -9`` (or by the out-of-memory killer)
    leaves the leases of the pages it held, a few dozen with batches, and the next pass
    (``monitor.exclusive``) or the daemon (``monitor.runner``) would wait for each until
    it runs out.  A holder on another machine, or a live
    process, is waited for as before.  A pid reused since by another process only makes
    the lease look alive: waited for, never taken wrongly.  (Machines sharing a database
    under one host name with separate process spaces — containers given the same host
    name — would be wrong here; the archive's revision test still keeps two checks of a
    page in order.)  A zombie — killed, not yet reaped by a parent that never waits
    (or a slow PID 1) — has ended too: it answers ``kill(pid, 0)`` but checks nothing."""
    host, _, pid = owner.rpartition(":")
    if host != HOST or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive (or a zombie), another user's
        pass
    return process_state(int(pid)) in ("Z", "X")


def process_state(pid: int) -> str | None:
    """The state letter of ``/proc/PID/stat`` (``Z``: a zombie), None where unknown (no
    /proc).  The command name before it may hold spaces and parentheses: the state is
    the first word after the *last* ``)``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    after = stat.rpartition(b")")[2].split()
    return after[0].decode("ascii", "replace") if after else None
