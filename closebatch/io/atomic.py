"""Crash-safe replacement of files: a run killed at any instant leaves every file either as
it was or complete.

A file is written under a temporary name in the same folder, flushed to disk (``fsync``),
then renamed over its final name (``os.replace`` is atomic on POSIX and Windows); the
folder is flushed too, so the rename survives a power cut.  Temporary names carry the
writer's process id (``.NAME.tmp-PID-…``), so the next run can sweep the leftovers of a run
that was killed — only those whose process is gone, never a live run's.  Files are created
with the permissions the user's umask gives (like any file the user saves), never private
to the user only.

**Commit points.**  The moments a run may die between two moves are named
(:data:`POINTS`); with the environment variable ``CLOSEBATCH_STOP_AT`` set to one of them a
run stops dead there (:func:`checkpoint`, ``os._exit``), as if it had been killed, so tests
can check what every point leaves behind without timers.
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
from pathlib import Path

STOP_AT = "CLOSEBATCH_STOP_AT"
STOPPED = 75  # the exit status of a run stopped at a commit point
POINTS = {
    "ledger-written": "a close wrote its outputs and the period's data files under temporary names; nothing is "
                      "moved yet",
    "outputs-moving": "the first output file of a close was moved into place",
    "outputs-moved": "every output of a close (its manifest last) is in place; the ledger is not sealed yet",
    "ledger-staged": "the data files are under their pending names; periods.xlsx, the seal, is not replaced yet",
    "sealed": "periods.xlsx, the new seal, is in place; the data files still wait under their pending names",
    "moving-into-place": "the first pending data file was renamed into place",
    "in-place": "every data file is in place and superseded files are removed",
}


def checkpoint(name: str) -> None:
    """Stop the process dead at commit point ``name`` when ``CLOSEBATCH_STOP_AT`` names it."""
    if name not in POINTS:
        raise ValueError(f"unknown commit point {name}")
    if os.environ.get(STOP_AT) == name:
        os._exit(STOPPED)


def temp_file(folder: Path, name: str, suffix: str = "") -> Path:
    """A new empty file for ``name`` under a temporary name in ``folder`` (``.NAME.tmp-PID-…``),
    created with the permissions of the user's umask (``tempfile.mkstemp`` would make it
    private to the user)."""
    for _ in range(100):
        path = Path(folder) / f"{temp_prefix(name)}{secrets.token_hex(4)}{suffix}"
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return path
    raise FileExistsError(f"no free temporary name for {name} in {folder}")


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine."""
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        import ctypes

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return ctypes.get_last_error() == 5  # access denied: it exists
        code = ctypes.c_ulong()
        try:
            ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        finally:
            kernel32.CloseHandle(handle)
        return bool(ok) and code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename) to disk; a no-op where folders cannot be opened."""
    if os.name == "nt":
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def replace(src: Path, dst: Path, sync_dir: bool = True) -> None:
    """Move the complete file ``src`` over ``dst`` atomically."""
    fsync_file(src)
    os.replace(src, dst)
    if sync_dir:
        fsync_dir(Path(dst).parent)


def temp_prefix(name: str) -> str:
    """The prefix of this process's temporary files for ``name``: ``.NAME.tmp-PID-``."""
    return f".{name}.tmp-{os.getpid()}-"


def sweep(folder: Path, name: str) -> None:
    """Remove the temporary files and folders of ``name`` left in ``folder`` by runs that
    were killed (their process is gone)."""
    pattern = re.compile(re.escape(f".{name}.tmp-") + r"(\d+)-")
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return
    for p in entries:
        m = pattern.match(p.name)
        if not m or int(m.group(1)) == os.getpid() or pid_alive(int(m.group(1))):
            continue
        try:
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        except OSError:
            pass


def file_sha256(path: Path) -> str:
    """The SHA-256 (hex) of a file's bytes, read in 4 MB pieces."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()
