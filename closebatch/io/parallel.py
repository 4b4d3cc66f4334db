"""Writing several workbooks at once, one process per CPU core.

Writing a workbook is pure Python inside xlsxwriter (a few microseconds a cell) and holds
the interpreter's lock, so threads do not help; processes do.  :func:`run` splits a list of
tasks (each writes one file and returns nothing) into ``jobs`` groups balanced by their
estimated cost, keeps the first group in this process and runs the others in forked child
processes, which see the frames already in memory without copying or pickling them.  The
tasks only write files under temporary names; renaming them into place (the commit) stays
with the caller, so crash safety does not depend on how the writing was shared out.

With the number of processes left to the machine (``jobs=None``), writing that is small
(:data:`SMALL` estimated cells in all, a few small workbooks) stays in this process: a forked
child costs more to start, copy memory on write and end than it saves on them (measured on
a close of two small entities: the same wall time, more CPU).

Where ``os.fork`` is missing (Windows) or unsafe (macOS, whose system libraries may not
survive a fork) the tasks run one after the other, with the same files as a result.
"""
from __future__ import annotations

import os
import pickle
import selectors
import signal
import struct
import sys
import traceback
from dataclasses import dataclass
from typing import Callable

from . import memory


class WriteFailed(RuntimeError):
    """A task failed in a child process; the message carries the child's error."""


@dataclass
class Task:
    name: str  # what the task writes, for progress and errors
    cost: float  # an estimate (e.g. cells), to balance the groups
    run: Callable[[], None]


SMALL = 50_000  # estimated cells below which the automatic choice writes in this process


def default_jobs() -> int:
    return os.cpu_count() or 1


def can_fork() -> bool:
    return hasattr(os, "fork") and sys.platform.startswith("linux")


def groups(tasks: list[Task], jobs: int) -> list[list[Task]]:
    """The tasks in ``jobs`` groups: the costliest first, each to the lightest group so far
    (ties to the lower group).  Empty groups are dropped; the order is deterministic."""
    bins: list[list[Task]] = [[] for _ in range(max(1, jobs))]
    load = [0.0] * len(bins)
    for t in sorted(tasks, key=lambda t: -t.cost):
        k = min(range(len(bins)), key=lambda i: (load[i], i))
        bins[k].append(t)
        load[k] += t.cost
    return [b for b in bins if b]


def run(tasks: list[Task], jobs: int | None = None, progress=None) -> None:
    """Run every task; ``progress(done, total, name)`` is called in this process as tasks
    finish.  ``jobs``: the processes to use; None chooses one per CPU core, or this process
    alone when the tasks' estimated cost is below :data:`SMALL`.  Raises the first error of
    this process's own tasks, else :class:`WriteFailed` naming a child's failed task (after
    every child has ended)."""
    if jobs is None:
        jobs = default_jobs() if sum(t.cost for t in tasks) >= SMALL else 1
    jobs = max(1, int(jobs))
    total, done = len(tasks), 0

    def tick(name: str) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total, name)

    parts = groups(tasks, jobs) if can_fork() and jobs > 1 else [tasks]
    children = [_spawn(g) for g in parts[1:]]
    try:
        for t in parts[0] if parts else []:
            t.run()
            tick(t.name)
    except BaseException:
        for pid, fd in children:
            _stop(pid, fd)
        raise
    failure = _collect(children, tick)
    if isinstance(failure, OSError):
        raise failure
    if failure:
        raise WriteFailed(failure)


def _spawn(group: list[Task]) -> tuple[int, int]:
    """Fork a child that runs ``group`` and reports on a pipe: ``ok NAME`` per task done,
    ``error NAME: MESSAGE`` and exit on the first failure."""
    def body(w: int) -> int:
        for t in group:
            try:
                t.run()
            except BaseException as e:  # noqa: BLE001 - reported to the parent
                if isinstance(e, OSError) and e.errno:  # a full disk, a permission: the parent raises it as such
                    fields = [t.name, str(e.errno), e.strerror or "", str(e.filename or "")]
                    os.write(w, ("oserror " + "\t".join(f.replace("\t", " ").replace("\n", " ") for f in fields)
                                 + "\n").encode("utf-8", "replace"))
                    return 1
                detail = "".join(traceback.format_exception_only(type(e), e)).strip()
                os.write(w, f"error {t.name}: {detail}\n".encode("utf-8", "replace"))
                return 1
            os.write(w, f"ok {t.name}\n".encode("utf-8", "replace"))
            memory.give_back()  # what the task freed: this process runs beside the closing one
        return 0

    return _fork(body)


def _fork(body) -> tuple[int, int]:
    """Fork a child that runs ``body(w)`` (``w``: the write end of a pipe to this process) and
    exits with the code it returns (1 if it raises), never returning into the caller's code:
    no atexit handlers, no flushing of the parent's buffers, killed with the parent.  Returns
    the child's pid and the pipe's read end."""
    r, w = os.pipe()
    parent = os.getpid()
    try:
        pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        raise
    if pid == 0:
        code = 1
        try:
            os.close(r)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            _die_with(parent)
            code = body(w)
        finally:
            os._exit(code)
    os.close(w)
    return pid, r


def _die_with(parent: int) -> None:
    """Have the kernel kill this child when the process that forked it dies (a killed close
    must not leave a child that goes on writing a temporary file after the next run swept it)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # it died before the request took effect
        os._exit(1)


def _collect(children: list[tuple[int, int]], tick):
    """Wait for every child, reporting its finished tasks; the first failure: its message, or
    the ``OSError`` a child met (rebuilt with its number, reason and file name)."""
    failure = ""
    sel = selectors.DefaultSelector()
    buffers = {}
    for pid, fd in children:
        sel.register(fd, selectors.EVENT_READ, pid)
        buffers[fd] = b""
    try:
        while buffers:
            for key, _ in sel.select():
                fd = key.fd
                chunk = os.read(fd, 65536)
                if chunk:
                    buffers[fd] += chunk
                    *lines, buffers[fd] = buffers[fd].split(b"\n")
                    for line in lines:
                        text = line.decode("utf-8", "replace")
                        if text.startswith("ok "):
                            tick(text[3:])
                        elif text.startswith("error ") and not failure:
                            failure = text[6:]
                        elif text.startswith("oserror ") and not failure:
                            _, errno_, strerror, filename = (text[8:].split("\t") + ["", "", "", ""])[:4]
                            failure = OSError(int(errno_) if errno_.isdigit() else 0, strerror, filename or None)
                    continue
                sel.unregister(fd)
                os.close(fd)
                del buffers[fd]
    except BaseException:
        for pid, fd in children:
            _stop(pid, fd)
        raise
    finally:
        sel.close()
    for pid, _ in children:
        _, status = os.waitpid(pid, 0)
        if not failure and status != 0:
            failure = f"a writing process ended abnormally (status {status})"
    return failure


def _stop(pid: int, fd: int) -> None:
    """End a child early (this process failed or was interrupted)."""
    try:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
    try:
        os.close(fd)
    except OSError:
        pass


class InChild:
    """``fn(*args)`` for each ``args`` of ``calls``, one after the other, in a forked child
    process, while this process goes on with other work (the child holds its own interpreter
    lock, where a thread would take turns with this process's).  :meth:`next` gives the
    results in order, each as soon as the child has it, through a pipe (pickled).  Whatever
    the child does not deliver (a call that raised, a result that would not pickle, a child
    that died or could not be forked) is computed by :meth:`next` in this process, so the
    results, and the exceptions raised, are exactly those of calling ``fn`` here."""

    def __init__(self, fn, calls):
        self.fn, self.calls, self.done = fn, list(calls), 0
        self.pid, self.pipe = None, None
        self.forked = bool(self.calls) and can_fork()
        if not self.forked:
            return

        def body(w: int) -> int:
            for args in self.calls:
                try:
                    data = pickle.dumps(("ok", fn(*args)), protocol=pickle.HIGHEST_PROTOCOL)
                except BaseException:  # noqa: BLE001 - the parent calls fn again and sees it
                    data = pickle.dumps(("redo", None))
                _write_all(w, struct.pack("<Q", len(data)) + data)
            return 0

        try:
            self.pid, r = _fork(body)
        except OSError:  # no memory or no process left for it: everything is computed here
            self.forked = False
            return
        self.pipe = os.fdopen(r, "rb")

    def next(self):
        """The result of the next call."""
        args = self.calls[self.done]
        self.done += 1
        message = self._receive()
        if message is None or message[0] != "ok":
            return self.fn(*args)
        return message[1]

    def _receive(self):
        if self.pipe is None:
            return None
        try:
            head = self.pipe.read(8)
            if len(head) == 8:
                data = self.pipe.read(struct.unpack("<Q", head)[0])
                return pickle.loads(data)
        except Exception:  # noqa: BLE001 - a broken message: computed here instead
            pass
        self.close()
        return None

    def close(self) -> None:
        """Stop the child (if it is still at work) and wait for it."""
        if self.pipe is not None:
            self.pipe.close()
            self.pipe = None
        if self.pid is not None:
            pid, self.pid = self.pid, None
            try:
                if os.waitpid(pid, os.WNOHANG) == (0, 0):
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
