"""Benchmark the close, stage by stage, against the I/O floor of the same books folder.

    python bench/run.py --sizes 10000,100000 [--shapes mix,short] [--seed 1] [--keep DIR] [--profile] [--no-floor]

For each size and shape (``mix``: about 2.5 lines a journal; ``short``: two or three, as
invoices and payments are) a books folder is generated with ``bench/generate.py`` (cached in
``bench/data/books-N-sS[-short]/``, git-ignored, regenerated when the generator changes),
with the same transactions as an hledger journal beside it, copied to a scratch folder, and
closed (period 2026-01, persisted, as the ``close`` command does) by
:func:`closebatch.app.close_books` in a fresh Python process.  Nothing in the library is
wrapped or replaced: the stages are what the close itself reports (``Outcome.timings``):

* ``read``, ``validate``: reading the workbooks and validating them into the book
* ``close``: :func:`closebatch.close.run_close`, and within it each step of the registry
  (``close: settlement`` …, from ``CloseResult.timings``); ``close: other`` is the runner's
  own work around the steps
* ``statements``: the statements with their comparatives
* ``write``: every output workbook and the period's ledger data files, shared out over
  ``--jobs`` processes (default: one per CPU core), timed by the close's own clock around
  the writing call
* ``persist``: moving the outputs into place and committing the sealed ledger
* ``other``: the rest of the benchmark's own clock around ``close_books`` (the lock, the
  ledger's state, the period checks, staging the ledger record)
* ``ledger: load (next close)``: in a fresh process, after the close, what the next period's
  close takes from ``ledger/`` (:func:`closebatch.app.ledger_state`, checking the chain, and
  :func:`closebatch.app.ledger_inputs`), with the calendar and currencies from the books'
  master data

The I/O floor, each part in its own fresh process: reading every workbook of the folder
with fastexcel (``read_excel(path).load_sheet_by_name(name).to_arrow()``), the same with
python-calamine's ``to_python`` (what the reader uses), and writing as many rows and columns
as the close wrote (outputs and ledger) with xlsxwriter in constant-memory mode, ``write_row``,
nothing else.

``hledger bal`` on that journal is timed in its own process right after the close (when hledger
is installed; Debian's package will do).

The table is printed and written to ``bench/results.md`` with a description of the machine.
Wall times on a shared machine are noisy: compare sizes and stages, not single digits.
``--profile`` adds one cProfile run per size (``bench/data/profile-N.pstats``) and lists the
top functions; it does not change the timed runs.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
GENERATOR = HERE / "generate.py"
PERIOD = "2026-01"
#: The phases of a close as ``Outcome.timings`` names them, in their order.
PHASES = ("read", "validate", "close", "statements", "write", "persist")


def peak_mb() -> float:
    """The process's peak resident set size so far, in MB (Linux reports KB)."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 2**20


def pss_mb(pid: int) -> float:
    """A process's proportional set size in MB (its private memory plus its share of the
    pages it shares, e.g. with a parent it was forked from), 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


class MemorySampler:
    """Samples the memory of this process and its child processes (the writing processes)
    every ``every`` seconds in a thread: the peak of their summed PSS is what the close
    needs from the machine at its worst moment (Linux only; 0 elsewhere)."""

    def __init__(self, every: float = 0.25):
        import threading

        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)

    def _children(self) -> list[int]:
        out = []
        for task in Path("/proc/self/task").glob("*"):
            try:
                out += [int(x) for x in (task / "children").read_text().split()]
            except (OSError, ValueError):
                pass
        return out

    def _run(self, every: float) -> None:
        me = os.getpid()
        while not self._stop.wait(every):
            self.peak = max(self.peak, pss_mb(me) + sum(pss_mb(c) for c in self._children()))

    def __enter__(self):
        if Path("/proc/self/smaps_rollup").exists():
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


# --------------------------------------------------------------------------------------------
# worker processes

def worker_close(books: Path, result: Path, profile: Path | None, jobs: int | None) -> None:
    """Close the books through :func:`closebatch.app.close_books`, as the ``close`` command
    does, and record what the close says it took (``Outcome.timings``: each phase, and each
    step's time from ``CloseResult.timings``); nothing in the library is wrapped or
    replaced.  The total is this process's own clock around the call."""
    t0 = time.perf_counter()
    import closebatch.app as app

    times = {"import closebatch": time.perf_counter() - t0}
    peaks = {"import closebatch": peak_mb()}
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    t1 = time.perf_counter()
    with MemorySampler() as mem:
        outcome = app.close_books(books, period=PERIOD, user="bench", jobs=jobs)
    total = time.perf_counter() - t1
    if prof:
        prof.disable()
        prof.dump_stats(str(profile))
    reported = dict(outcome.timings or {})
    steps = reported.pop("steps", {}) or {}
    for phase in PHASES:
        if phase in reported:
            times[phase] = reported[phase]
    for name, seconds in steps.items():
        times[f"close: {name}"] = seconds
    if "close" in times:
        times["close: other"] = times["close"] - sum(steps.values())
    times["total (close_books)"] = total
    times["other"] = total - sum(times.get(k, 0.0) for k in PHASES)
    peaks["total (close_books)"] = peak_mb()
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest writing process
    lines = outcome.summary.get("lines", 0) if outcome.summary else 0
    shapes = []  # (stage, file, sheet, rows, columns) of what the close left on disk (after the timing)
    for stage, folder in (("write", outcome.out_dir), ("ledger", Path(books) / "ledger")):
        for path in sorted(Path(folder).glob("*.xlsx")) if folder else []:
            shapes += [(stage, path.name, *dims) for dims in sheet_dims(path)]
    result.write_text(json.dumps({"times": times, "peaks": peaks, "shapes": shapes, "steps": list(steps),
                                  "child_peak": children, "jobs": jobs or os.cpu_count(), "pss_peak": mem.peak,
                                  "exit_code": outcome.exit_code, "message": outcome.message,
                                  "errors": [f.message for f in outcome.errors][:5], "lines_posted": lines}))


def sheet_dims(path: Path) -> list:
    """(sheet, data rows, columns) of every sheet of a workbook."""
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(path))
    try:
        out = []
        for name in wb.sheet_names:
            sh = wb.get_sheet_by_name(name)
            out.append((name, max(0, sh.height - 1), sh.width))
        return out
    finally:
        wb.close()


def worker_ledger_load(books: Path, result: Path) -> None:
    """Time what the close of the next period (2026-02) takes from ``ledger/``, in a fresh
    process: the books' master data only (calendar, currencies) stands for the book."""
    import closebatch.app as app
    from closebatch.close import period_of
    from closebatch.io.store import Store

    master = Path(tempfile.mkdtemp(prefix="bench-master-"))
    try:
        for p in books.glob("Master*.xlsx"):
            shutil.copy(p, master / p.name)
        _, book, _ = app.load(master)
    finally:
        shutil.rmtree(master, ignore_errors=True)
    t0 = time.perf_counter()
    store = Store(books, book.entity_currency(), book.settings.group_currency)
    state = app.ledger_state(store, book)
    t1 = time.perf_counter()
    hist, started, posted = app.ledger_inputs(state, book, period_of(book, "2026-02"))
    t2 = time.perf_counter()
    rows = sum(len(v) for v in posted.values() if v is not None)
    assert not state.breaks and hist.previous is not None and started, "the ledger did not load"
    result.write_text(json.dumps({"check": t1 - t0, "load": t2 - t1, "total": t2 - t0, "peak": peak_mb(),
                                  "posted_rows": rows}))


def worker_read_floor(books: Path, result: Path, how: str) -> None:
    import logging
    import warnings

    import fastexcel

    logging.getLogger("fastexcel").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")
    from python_calamine import CalamineWorkbook

    rows = 0
    t0 = time.perf_counter()
    for path in sorted(books.glob("*.xlsx")):
        if how == "fastexcel":
            reader = fastexcel.read_excel(path)
            for name in reader.sheet_names:
                rows += reader.load_sheet_by_name(name).to_arrow().num_rows
        else:
            wb = CalamineWorkbook.from_path(str(path))
            for name in wb.sheet_names:
                rows += len(wb.get_sheet_by_name(name).to_python(skip_empty_area=False)) - 1
            wb.close()
    result.write_text(json.dumps({"seconds": time.perf_counter() - t0, "peak": peak_mb(), "rows": rows}))


def worker_write_floor(shapes: list, result: Path) -> None:
    import xlsxwriter

    out = Path(tempfile.mkdtemp(prefix="floor-"))
    cells = 0
    t0 = time.perf_counter()
    try:
        by_file: dict[str, list] = {}
        for _stage, file, sheet, nrows, ncols, *_ in shapes:
            by_file.setdefault(file, []).append((sheet, nrows, ncols))
        for i, (file, sheets) in enumerate(by_file.items()):
            wb = xlsxwriter.Workbook(str(out / f"{i}.xlsx"), {"constant_memory": True, "strings_to_formulas": False,
                                                              "strings_to_urls": False})
            for j, (sheet, nrows, ncols) in enumerate(sheets):
                ws = wb.add_worksheet(f"{j}-{sheet}"[:31])
                ws.write_row(0, 0, [f"column_{c}" for c in range(ncols)])
                # a typical output row: codes and text alternating with amounts
                row = [f"TXT-{c:04d}" if c % 2 == 0 else 1234.56 + c for c in range(ncols)]
                for r in range(1, nrows + 1):
                    ws.write_row(r, 0, row)
                cells += nrows * ncols
            wb.close()
    finally:
        shutil.rmtree(out, ignore_errors=True)
    result.write_text(json.dumps({"seconds": time.perf_counter() - t0, "peak": peak_mb(), "cells": cells}))


def worker_hledger(journal: Path, result: Path) -> None:
    """``hledger -f JOURNAL bal`` (every account's balance), its wall time and peak memory."""
    exe = shutil.which("hledger")
    if not exe:
        result.write_text(json.dumps({"seconds": None, "peak": None, "version": None}))
        return
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    t0 = time.perf_counter()
    with open(os.devnull, "wb") as null:
        proc = subprocess.Popen([exe, "-f", str(journal), "bal"], stdout=null, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    if proc.returncode:
        raise SystemExit(f"hledger bal failed on {journal}: {err[:500]}")
    result.write_text(json.dumps({"seconds": seconds, "peak": usage.ru_maxrss / 1024, "version": version}))


# --------------------------------------------------------------------------------------------
# the driver

def generator_hash() -> str:
    return hashlib.sha256(GENERATOR.read_bytes()).hexdigest()[:16]


def books_for(size: int, seed: int, shape: str = "mix") -> tuple[Path, int, float | None, dict]:
    """The cached books folder of ``size`` lines of ``shape`` (generated when missing or
    stale), its number of journal lines, the generation time (None when cached) and what the
    generator said (journals, the hledger journal written beside the folder).

    The driver process stays small (it reads no workbook): a worker forked from it inherits
    its peak memory (``ru_maxrss`` survives fork and exec)."""
    folder = DATA / (f"books-{size}-s{seed}" + ("" if shape == "mix" else f"-{shape}"))
    journal = folder.with_suffix(".journal")
    marker = folder / ".generated"
    if marker.exists() and journal.exists():
        try:
            cached = json.loads(marker.read_text())
            if cached.get("generator") == generator_hash():
                return folder, int(cached["lines"]), None, cached
        except ValueError:
            pass
    if folder.exists():
        shutil.rmtree(folder)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, str(GENERATOR), str(folder), "--lines", str(size), "--seed", str(seed),
                          "--shape", shape, "--hledger", str(journal)],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    seconds = time.perf_counter() - t0
    tail = out.strip().splitlines()
    lines = int(tail[-1].split()[0])
    info = {"generator": generator_hash(), "lines": lines, "seconds": seconds, "journals": int(tail[-2].split()[0]),
            "journal": str(journal)}
    marker.write_text(json.dumps(info))
    return folder, lines, seconds, info


def run_worker(args: list, env=None) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        res = Path(tmp) / "result.json"
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", *args, "--result", str(res)],
                       check=True, env=env)
        return json.loads(res.read_text())


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 2**20:.1f} GB"
    except OSError:
        pass
    versions = {}
    for mod in ("pandas", "numpy", "pandera", "python_calamine", "fastexcel", "xlsxwriter", "isal"):
        try:
            from importlib.metadata import version

            versions[mod] = version(mod.replace("_", "-"))
        except Exception:  # noqa: BLE001
            versions[mod] = "?" if mod != "isal" else "not installed (zlib deflates)"
    exe = shutil.which("hledger")
    if exe:
        versions["hledger"] = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.split(",")[0]
    return {"nproc": os.cpu_count(), "cpu": cpu or "?", "memory": mem or "?",
            "python": platform.python_version(), "versions": versions, "load": os.getloadavg()}


def order(times: dict) -> list:
    """The stages of a close in the order they run: the steps (``close: …``) inside ``close``."""
    steps = [k for k in times if k.startswith("close: ") and k != "close: other"]
    out = ["import closebatch", "read", "validate", "close", *steps, "close: other", "statements", "write",
           "persist", "other", "total (close_books)", "ledger: load: check chain", "ledger: load (next close)"]
    return [k for k in out if k in times]


def bench_size(size: int, seed: int, keep: Path | None, profile: bool, jobs: int | None, shape: str = "mix",
               floor: bool = True) -> dict:
    books, lines, gen_seconds, info = books_for(size, seed, shape)
    scratch = (Path(tempfile.mkdtemp(prefix=f"bench-{size}-")) if keep is None
               else keep / (f"books-{size}" + ("" if shape == "mix" else f"-{shape}")))
    if scratch.exists():
        shutil.rmtree(scratch)
    shutil.copytree(books, scratch, ignore=shutil.ignore_patterns(".generated", "out", "ledger"))
    try:
        print(f"[{size} {shape}] closing {lines} journal lines in {scratch} ...", file=sys.stderr, flush=True)
        load = os.getloadavg()[0]
        jobs_arg = ["--jobs", str(jobs)] if jobs else []
        close = run_worker(["close", "--books", str(scratch), *jobs_arg])
        print(f"[{size} {shape}] exit {close['exit_code']}: {close['message']} ({close['times']['total (close_books)']:.1f} s)",
              file=sys.stderr, flush=True)
        if close["exit_code"] not in (0, 3):
            raise SystemExit(f"the close of {size} lines failed: {close['message']} {close['errors']}")
        if close["exit_code"] == 0:  # persisted and on hold: the next close starts from it
            loaded = run_worker(["ledger-load", "--books", str(scratch)])
            close["times"]["ledger: load (next close)"] = loaded["total"]
            close["times"]["ledger: load: check chain"] = loaded["check"]
            close["peaks"]["ledger: load (next close)"] = loaded["peak"]
        hl = run_worker(["hledger", "--books", info["journal"]])  # right after the close: the same load
        load_end = os.getloadavg()[0]
        fx = run_worker(["read-fastexcel", "--books", str(books)])
        cal = run_worker(["read-calamine", "--books", str(books)])
        wr = {"seconds": None, "peak": 0, "cells": 0}
        if floor:
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
                json.dump(close["shapes"], fh)
            try:
                wr = run_worker(["write", "--dims", fh.name])
            finally:
                os.unlink(fh.name)
        prof_path = None
        if profile:
            again = Path(tempfile.mkdtemp(prefix=f"bench-prof-{size}-"))
            shutil.rmtree(again)
            shutil.copytree(books, again, ignore=shutil.ignore_patterns(".generated", "out", "ledger"))
            prof_path = DATA / f"profile-{size}-{shape}.pstats"
            try:
                run_worker(["close", "--books", str(again), "--profile-to", str(prof_path), *jobs_arg])
            finally:
                shutil.rmtree(again, ignore_errors=True)
    finally:
        if keep is None:
            shutil.rmtree(scratch, ignore_errors=True)
    written = {}
    for stage, _file, _sheet, nrows, ncols, *_ in close["shapes"]:
        stage = stage or "other"
        r, c = written.get(stage, (0, 0))
        written[stage] = (r + nrows, c + nrows * ncols)
    return {"size": size, "shape": shape, "lines": lines, "journals": info.get("journals"), "generate": gen_seconds,
            "load": load, "load_end": load_end, "close": close, "hledger": hl, "fastexcel": fx, "calamine": cal,
            "write": wr, "written": written, "profile": str(prof_path) if prof_path else None}


def table(results: list) -> str:
    out = ["| size | stage | seconds | peak MB |", "|---|---|---:|---:|"]
    for r in results:
        label = label_of(r)
        t, p = r["close"]["times"], r["close"]["peaks"]
        for stage in order(t):
            peak = f"{p[stage]:,.0f}" if stage in p else ""
            name = f"&nbsp;&nbsp;{stage}" if stage.startswith("close: ") else stage
            if stage.startswith("total"):
                name = f"**{stage}**"
            out.append(f"| {label} | {name} | {t[stage]:.2f} | {peak} |")
        out.append(f"| {label} | &nbsp;&nbsp;largest writing process ({r['close'].get('jobs', 1)} jobs) |  | "
                   f"{r['close'].get('child_peak', 0):,.0f} |")
        out.append(f"| {label} | *memory: peak of all processes together (PSS, sampled)* |  | "
                   f"{r['close'].get('pss_peak', 0):,.0f} |")
        compute = compute_of(t)
        if r["write"]["seconds"] is not None:
            floor = r["fastexcel"]["seconds"] + r["write"]["seconds"]
            out.append(f"| {label} | *vs floor: total / (fastexcel read + write floor)* | "
                       f"{t['total (close_books)'] / floor:.2f}x |  |")
        if r["hledger"]["seconds"] is not None:
            out.append(f"| {label} | *hledger bal, the same transactions* | {r['hledger']['seconds']:.2f} | "
                       f"{r['hledger']['peak']:,.0f} |")
        out.append(f"| {label} | *compute: validate and close (the steps)* | {compute:.2f} |  |")
        w = r["written"]
        rows_out = sum(v[0] for v in w.values())
        cells_out = sum(v[1] for v in w.values())
        out.append(f"| {label} | floor: read, fastexcel to_arrow | {r['fastexcel']['seconds']:.2f} | "
                   f"{r['fastexcel']['peak']:,.0f} |")
        out.append(f"| {label} | floor: read, calamine to_python | {r['calamine']['seconds']:.2f} | "
                   f"{r['calamine']['peak']:,.0f} |")
        if r["write"]["seconds"] is not None:
            out.append(f"| {label} | floor: write {rows_out:,} rows / {cells_out:,} cells, xlsxwriter | "
                       f"{r['write']['seconds']:.2f} | {r['write']['peak']:,.0f} |")
    return "\n".join(out)


def label_of(r: dict) -> str:
    size = f"{r['size'] // 1000}k" if r["size"] >= 1000 else str(r["size"])
    return f"{size} {r.get('shape', 'mix')} ({r['lines']:,} lines)"


def summary(results: list) -> str:
    """One row per size and shape: the close against hledger and the I/O floor, its compute
    and memory."""
    out = ["| lines | shape | journals | close | `hledger bal` | close / hledger | with import / hledger | I/O floor | "
           "close / floor | compute | peak memory, all processes | per line | load |",
           "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        t = r["close"]["times"]
        total = t["total (close_books)"]
        hl = r["hledger"]["seconds"]
        floor = r["fastexcel"]["seconds"] + r["write"]["seconds"] if r["write"]["seconds"] is not None else None
        compute = compute_of(t)
        pss = r["close"].get("pss_peak", 0)
        out.append(f"| {r['lines']:,} | {r.get('shape', 'mix')} | {r.get('journals') or 0:,} | {total:.1f} s | "
                   + (f"{hl:.1f} s | {total / hl:.2f} | {(total + t.get('import closebatch', 0.0)) / hl:.2f} | "
                      if hl else "n/a | | | ")
                   + (f"{floor:.1f} s | {total / floor:.2f} | " if floor else "not run | | ")
                   + f"{compute:.1f} s | {pss:,.0f} MB | {pss * 1024 / max(1, r['lines']):,.2f} KB | "
                   f"{r['load']:.1f}–{r.get('load_end', r['load']):.1f} |")
    return "\n".join(out)


def git_state() -> str:
    """The commit measured and the library files changed on top of it (read-only git)."""
    try:
        root = HERE.parent
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = [ln[3:] for ln in subprocess.run(["git", "status", "--porcelain", "--", "closebatch"], cwd=root,
                                                 capture_output=True, text=True, check=True).stdout.splitlines()]
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"commit {head}" + (f" plus uncommitted changes to {len(dirty)} file(s) under closebatch/ "
                               f"({', '.join(dirty)})" if dirty else " (clean)")


def compute_of(times: dict) -> float:
    """Validation and the close's steps (with the runner's own work around them): what the
    close computes, as opposed to reading and writing workbooks."""
    return times.get("validate", 0.0) + times.get("close", 0.0)


def largest_files(r: dict) -> str:
    """The largest workbooks the close wrote: rows and cells."""
    size: dict[str, list] = {}
    for stage, file, _sheet, nrows, ncols in r["close"]["shapes"]:
        v = size.setdefault(file if stage != "ledger" else f"ledger/{file}", [0, 0])
        v[0] += nrows
        v[1] += nrows * ncols
    top = sorted(size.items(), key=lambda kv: -kv[1][1])[:4]
    return "; ".join(f"{name} {rows:,} rows / {cells:,} cells" for name, (rows, cells) in top)


def report(results: list, info: dict, argv: list) -> str:
    v = info["versions"]
    lines = [
        "# closebatch benchmark",
        "",
        f"`python bench/run.py {' '.join(argv)}` on {datetime.now():%Y-%m-%d %H:%M}.",
        "",
        f"Machine: {info['nproc']} CPUs ({info['cpu']}), {info['memory']} memory, Python {info['python']}; "
        + ", ".join(f"{k} {x}" for k, x in v.items()) + ".",
        f"Load average at start {info['load'][0]:.2f}, at the end {os.getloadavg()[0]:.2f}: the machine is shared "
        "(other developers run tests on it), so wall times are noisy by ±20 % or more; compare sizes and stages, "
        "not single digits.",
        f"Code measured: {git_state()}. Others edit the library concurrently, so runs at different times may "
        "measure different code.",
        "",
        "Each size and shape is closed once (period 2026-01, persisted) by `closebatch.app.close_books` in a fresh "
        "process. The stages are what the close reports it took (`Outcome.timings`: read, validate, close, "
        "statements, write, persist, and each step's own time from `CloseResult.timings`, the `close: …` rows); "
        "the total is the benchmark's own clock around the call, *other* the rest of it. *peak MB* is the process's "
        "peak resident memory (`ru_maxrss`). The close writes its workbooks in `--jobs` processes (one per CPU core "
        "unless given): the largest writing process's peak is on its own row; *memory* samples the proportional set "
        "size (PSS) of the closing process and its writing processes every 0.25 s and gives the peak of their sum: "
        "the memory the close really takes. Floor rows run in their own fresh processes: reading every workbook of "
        "the same folder (fastexcel, and python-calamine as the reader does), and writing as many rows and columns as "
        "the close wrote into its outputs and `ledger/` (xlsxwriter, constant_memory, `write_row`), in one process. "
        "*close / floor* is the close's total over the floor's read (fastexcel) plus write; *compute* is validation "
        "plus the close's steps (`validate` + `close`). *hledger bal* runs hledger's balance report on the same "
        "transactions (the opening balances and the journals, written by the generator beside the books) in its own "
        "process right after the close, with its peak memory; *with import* adds the close's import of the library "
        "(`import closebatch`, timed in the same process before the close) to the close: what the `closebatch close` "
        "command takes but for the interpreter's own start, against hledger's whole run. *load* is the load average "
        "when the close started and when hledger ended.",
        "",
        summary(results),
        "",
        "Stage by stage:",
        "",
        table(results),
        "",
    ]
    for r in results:
        w = r["written"]
        parts = [f"{stage}: {rows:,} rows" for stage, (rows, _cells) in w.items() if stage]
        gen = f"generated in {r['generate']:.1f} s; " if r["generate"] else "generated earlier (cached); "
        lines.append(f"- {label_of(r)}: {gen}load average {r['load']:.1f} when the close started; close exit "
                     f"{r['close']['exit_code']}, {r['close']['lines_posted']:,} lines posted; sheets written by "
                     f"{', '.join(parts)}. Largest workbooks: {largest_files(r)}.")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated journal line counts")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep the closed books folders (out/, ledger/) under this folder")
    parser.add_argument("--profile", action="store_true", help="one extra cProfile run per size")
    parser.add_argument("--results", type=Path, default=HERE / "results.md")
    parser.add_argument("--jobs", type=int, help="processes for the close (default: one per CPU core)")
    parser.add_argument("--shapes", default="mix,short",
                        help="books shapes, comma-separated: mix (about 2.5 lines a journal), short (two or three)")
    parser.add_argument("--no-floor", dest="floor", action="store_false",
                        help="skip the xlsxwriter write floor (minutes at a million lines)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--books", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--dims", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", dest="profile_to", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        if args.worker == "close":
            worker_close(args.books, args.result, args.profile_to, args.jobs)
        elif args.worker in ("read-fastexcel", "read-calamine"):
            worker_read_floor(args.books, args.result, args.worker.split("-")[1])
        elif args.worker == "ledger-load":
            worker_ledger_load(args.books, args.result)
        elif args.worker == "hledger":
            worker_hledger(args.books, args.result)
        elif args.worker == "write":
            worker_write_floor(json.loads(args.dims.read_text()), args.result)
        else:
            parser.error(f"unknown worker {args.worker}")
        return 0
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    DATA.mkdir(exist_ok=True)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    info = machine()
    shapes = [x.strip() for x in args.shapes.split(",") if x.strip()]
    results = [bench_size(n, args.seed, args.keep, args.profile, args.jobs, shape, args.floor)
               for n in sizes for shape in shapes]
    (DATA / f"{args.results.stem}.json").write_text(json.dumps({"machine": info, "results": results}, indent=1))
    text = report(results, info, argv)
    print(summary(results))
    args.results.write_text(text)
    print(f"\nwritten to {args.results}", file=sys.stderr)
    for r in results:
        if r["profile"]:
            import pstats

            print(f"\n## cProfile, {r['size']:,} lines ({r['profile']})")
            pstats.Stats(r["profile"]).sort_stats("tottime").print_stats(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
