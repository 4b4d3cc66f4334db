"""What a command returns (:class:`Outcome`, with the exit status of spec section 5), and the
small helpers every command shares: the user, progress stages, refusals."""
from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from pathlib import Path

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_BLOCKED = 0, 1, 2, 3


@dataclass
class Outcome:
    exit_code: int
    message: str = ""
    findings: list = field(default_factory=list)
    blockers: list = field(default_factory=list)
    out_dir: Path | None = None
    written: list = field(default_factory=list)
    period: str = ""
    summary: dict = field(default_factory=dict)
    # seconds per phase of a close (read, validate, close, statements, write, persist), and
    # under ``steps`` each step's own (:attr:`closebatch.close.CloseResult.timings`)
    timings: dict = field(default_factory=dict)

    @property
    def errors(self):
        return [f for f in self.findings if f.is_error]

    @property
    def warnings(self):
        return [f for f in self.findings if not f.is_error]


def run_user(user: str | None) -> str:
    if user:
        return user
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001
        return os.environ.get("USER", "unknown")


def missing_books(books: Path) -> Outcome | None:
    if Path(books).is_dir():
        return None
    what = "is not a folder" if Path(books).exists() else "does not exist"
    return Outcome(EXIT_ERRORS, message=f"The books folder {books} {what}; nothing was read or written. Give the folder "
                   "that holds the books' workbooks (closebatch init NEW_FOLDER makes one).")


def refuse(msg: str, findings=()) -> Outcome:
    return Outcome(EXIT_ERRORS, message=msg, findings=list(findings))


def stage_progress(progress, stage: str):
    """``progress(stage, done, total, name)`` as the ``(done, total, name)`` callback of one stage."""
    if progress is None:
        return None
    return lambda done, total, name: progress(stage, done, total, name)


def stage(progress, stage: str) -> None:
    """Tell ``progress`` that a stage of unknown length starts (``total`` 0)."""
    if progress is not None:
        progress(stage, 0, 0, "")


def shell_path(path: Path) -> str:
    """A path as it would be typed in a command line (quoted when it needs to be)."""
    import shlex

    return shlex.quote(str(path))
