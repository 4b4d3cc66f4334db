"""A lock file that stops two closes of the same books running at once.

``BOOKS/.closebatch.lock`` holds the holder's pid, host, user and start time.  It appears
complete or not at all: the content is written to a private file first, which is then
hard-linked to the lock's name (``link`` fails if the name exists, so exactly one of two
racing runs wins).  Where links are not supported, ``O_CREAT | O_EXCL`` is used instead.

A lock whose process is gone (on this host) is stale and taken over: the stale file is
renamed aside (only one racer's rename succeeds) and checked to be the one that was judged
stale before it is deleted, so a live run's fresh lock is never removed.  A lock file that
cannot be read or is empty (a run killed in the instant of the ``O_EXCL`` fallback) counts
as stale once it is a minute old.
"""
from __future__ import annotations

import getpass
import json
import os
import socket
import time
from pathlib import Path

from .atomic import pid_alive

LOCK_NAME = ".closebatch.lock"
UNREADABLE_GRACE = 60  # seconds before an unreadable lock file counts as stale


class BooksBusy(Exception):
    def __init__(self, holder: dict, path: Path | None = None):
        self.holder = holder
        self.path = path
        who = f"pid {holder.get('pid', '?')}"
        if holder.get("host"):
            who += f" on {holder['host']}"
        if holder.get("user"):
            who += f", user {holder['user']}"
        super().__init__(f"the books are busy: another closebatch run ({who}, started {holder.get('started', '?')}) "
                         f"holds {path or LOCK_NAME}")


def _alive(pid: int) -> bool:  # kept for callers of the old name
    return pid_alive(pid)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001
        return os.environ.get("USER", "")


class BooksLock:
    def __init__(self, books: Path):
        self.path = Path(books) / LOCK_NAME
        self.held = False
        self.me = {}

    def __enter__(self):
        self.me = {"pid": os.getpid(), "host": socket.gethostname(), "user": _user(),
                   "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        for _ in range(5):
            if self._create():
                self.held = True
                return self
            holder, raw = self._holder()
            if not self._stale(holder, raw):
                raise BooksBusy(holder, self.path)
            self._take_over(raw)
        raise BooksBusy(self._holder()[0], self.path)

    def _create(self) -> bool:
        data = json.dumps(self.me).encode()
        tmp = self.path.with_name(f"{LOCK_NAME}.{os.getpid()}.new")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, self.path)
                return True
            except FileExistsError:
                return False
            except (OSError, NotImplementedError):  # no hard links here: fall back to O_EXCL
                try:
                    fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                except FileExistsError:
                    return False
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                return True
        finally:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass

    def _holder(self) -> tuple[dict, bytes | None]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}, b"<gone>"
        except OSError:
            return {}, None
        try:
            holder = json.loads(raw.decode() or "{}")
            return (holder if isinstance(holder, dict) else {}), raw
        except (ValueError, UnicodeDecodeError):
            return {}, raw

    def _stale(self, holder: dict, raw: bytes | None) -> bool:
        if raw == b"<gone>":
            return True  # released meanwhile: try again
        if not holder.get("pid"):
            try:
                age = time.time() - self.path.stat().st_mtime
            except FileNotFoundError:
                return True
            return age > UNREADABLE_GRACE
        try:
            pid = int(holder["pid"])
        except (TypeError, ValueError):
            return True
        if holder.get("host") not in (None, "", self.me["host"]):
            return False  # another machine's run: we cannot tell, so it holds
        return not pid_alive(pid)

    def _take_over(self, raw: bytes | None) -> None:
        if raw == b"<gone>":
            return
        aside = self.path.with_name(f"{LOCK_NAME}.{os.getpid()}.stale")
        try:
            os.replace(self.path, aside)
        except FileNotFoundError:
            return  # another run took it over first
        try:
            if aside.read_bytes() != (raw or b""):  # not the file judged stale: put it back
                try:
                    os.link(aside, self.path)
                except OSError:
                    pass
        finally:
            try:
                aside.unlink()
            except FileNotFoundError:
                pass

    def __exit__(self, *exc):
        if self.held:
            try:
                holder, _ = self._holder()
                if holder.get("pid") == self.me["pid"] and holder.get("started") == self.me["started"]:
                    self.path.unlink()
            except FileNotFoundError:
                pass
            self.held = False
        return False
