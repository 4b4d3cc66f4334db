"""Crash-safe replacement of files: a run killed at any instant leaves every file either as
it was or complete.

A file is written under a temporary name in the same folder, flushed to disk (``fsync``),
then renamed over its final name (``os.replace`` is atomic on POSIX and Windows); the
folder is flushed too, so the rename survives a power cut.  Temporary names carry the
writer's process id (``.NAME.tmp-PID-…``), so the next run can sweep the leftovers of a run
that was killed — only those whose process is gone, never a live run's.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path


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
