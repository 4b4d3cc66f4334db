"""A lock file that stops two closes of the same books running at once.

``BOOKS/.closebatch.lock`` holds the holder's pid, host and start time.  A lock whose process
is gone (on this host) is stale and taken over.
"""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

LOCK_NAME = ".closebatch.lock"


class BooksBusy(Exception):
    def __init__(self, holder: dict):
        self.holder = holder
        super().__init__(f"the books are busy: another closebatch run (pid {holder.get('pid')}, started "
                         f"{holder.get('started')}) holds {LOCK_NAME}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class BooksLock:
    def __init__(self, books: Path):
        self.path = Path(books) / LOCK_NAME
        self.held = False

    def __enter__(self):
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    holder = json.loads(self.path.read_text() or "{}")
                except (OSError, ValueError):
                    holder = {}
                pid = int(holder.get("pid", 0) or 0)
                if holder.get("host") in (None, me["host"]) and (pid == 0 or not _alive(pid)):
                    try:  # stale: its process is gone
                        self.path.unlink()
                    except FileNotFoundError:
                        pass
                    continue
                raise BooksBusy(holder)
            with os.fdopen(fd, "w") as fh:
                json.dump(me, fh)
            self.held = True
            return self
        raise BooksBusy({})

    def __exit__(self, *exc):
        if self.held:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
        return False
