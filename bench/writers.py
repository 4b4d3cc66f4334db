"""Compare xlsx writers on a ledger journal's `Lines` table, side by side in one run.

    python bench/writers.py [--rows 200000] [--repeat 1]

Each writer writes the same frame (built, and the writer imported, before the clock starts) (16 columns as the close writes them: codes and text, a
line number, a date, three amounts in minor units of 0 or 2 decimals by the row's currency)
in a fresh process; the table gives wall and CPU seconds, the process's peak memory, the
file's size, whether a second run wrote the same bytes, and what a reader sees in the file
(:func:`checks`: the formula-looking description is text, the date a date, a JPY amount
without decimals and a USD one with two, the header row frozen).  Writers:

* ``closebatch``: :class:`closebatch.io.writer.Book` as the close uses it (cells a block at a
  time, parts deflated at level 1 in pieces on two threads);
* ``closebatch cell by cell``: the same through xlsxwriter's API, one cell at a time
  (``CLOSEBATCH_CELL_BY_CELL=1``, the reference);
* ``rvgsrust-xlsxwriter``: ``Worksheet.write_dataframe`` (Arrow) in constant-memory mode,
  one number format per column (it cannot vary a column's format by row);
* ``rustpy-xlsxwriter``: ``write_worksheet`` (a frame, one float format for every number).

The Rust-backed packages are optional: a writer whose package is missing is reported as such.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WRITERS = ["closebatch", "closebatch cell by cell", "rvgsrust-xlsxwriter", "rustpy-xlsxwriter"]


def frame(n: int, seed: int = 1):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    j = np.arange(n) // 2
    ccy = np.where(rng.random(n) < 0.1, "JPY", "USD")
    amt = rng.integers(-10**8, 10**8, n)
    return pd.DataFrame({
        "journal": pd.Series([f"INV-{x:07d}" for x in j], dtype="str"),
        "line": (np.arange(n) % 2 + 1).astype("int64"),
        "date": pd.to_datetime("2026-01-02") + pd.to_timedelta(rng.integers(0, 29, n), unit="D"),
        "entity": pd.Series(np.where(rng.random(n) < .5, "P", "DE"), dtype="str"),
        "account": pd.Series(rng.choice(["1100", "4000", "1500", "6100"], n), dtype="str"),
        "department": pd.Series(rng.choice(["SALES", "ADMIN", None], n), dtype="str"),
        "currency": pd.Series(ccy, dtype="str"),
        "debit": np.clip(amt, 0, None), "credit": np.clip(-amt, 0, None), "amount_acct": amt,
        "accounting_currency": pd.Series(np.full(n, "USD"), dtype="str"),
        "journal_type": pd.Series(np.full(n, "daily"), dtype="str"),
        "description": pd.Series([f"=Sales invoice {x} & co" for x in j], dtype="str"),
        "counterparty": pd.Series(rng.choice(["", "DE", "GB"], n), dtype="str"),
        "reference": pd.Series([f"REF-{x:06d}" for x in j], dtype="str"),
        "source": pd.Series(np.full(n, "Journals P Jan.xlsx!Journals"), dtype="str"),
    })


def prepare(which: str) -> None:
    """Import what the writer needs (not timed)."""
    if which.startswith("closebatch"):
        sys.path.insert(0, str(HERE.parent))
        import closebatch.io.writer  # noqa: F401
    elif which == "rvgsrust-xlsxwriter":
        import rvgsrust_xlsxwriter  # noqa: F401
    elif which == "rustpy-xlsxwriter":
        import rustpy_xlsxwriter  # noqa: F401


def write(which: str, df, path: Path) -> None:
    n = len(df)
    money = ("debit", "credit", "amount_acct")
    if which.startswith("closebatch"):
        sys.path.insert(0, str(HERE.parent))
        from closebatch.io.writer import Column, Sheet, write_workbook

        cols = [Column("journal"), Column("line", "int"), Column("date", "date"), Column("entity"), Column("account"),
                Column("department"), Column("currency"), *[Column(c, "money", "currency") for c in money[:2]],
                Column("amount_acct", "money", "accounting_currency"), Column("accounting_currency"),
                Column("journal_type"), Column("description"), Column("counterparty"), Column("reference"),
                Column("source")]
        write_workbook(path, [Sheet("Lines", df, cols)], title="Lines")
        return
    scale = (df["currency"] != "JPY").to_numpy() * 2
    for c in money:
        df[c] = df[c] / 10.0 ** scale
    if which == "rvgsrust-xlsxwriter":
        import rvgsrust_xlsxwriter as rx

        wb = rx.Workbook(str(path))
        wb.set_properties(title="Lines", author="closebatch")  # no creation date to fix
        ws = wb.add_worksheet("Lines", constant_memory=True)
        amount = wb.add_format()
        amount.set_num_format("#,##0.00;-#,##0.00;0.00")
        day = wb.add_format()
        day.set_num_format("yyyy-mm-dd")
        ws.write_dataframe(0, 0, df, column_formats={**{c: amount for c in money}, "date": day})
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, n, len(df.columns) - 1)
        wb.close()
    elif which == "rustpy-xlsxwriter":
        import rustpy_xlsxwriter as rp

        rp.write_worksheet(df, str(path), sheet_name="Lines", freeze_row=1, autofilter=True,
                           float_format="#,##0.00;-#,##0.00;0.00", datetime_format="yyyy-mm-dd")
    else:
        raise SystemExit(f"unknown writer {which}")


def checks(path: Path, df) -> dict:
    """What a reader sees (openpyxl, read-only off so formats and panes are there), on the
    first rows: each check True or False."""
    import openpyxl

    wb = openpyxl.load_workbook(path)
    ws = wb["Lines"]
    cols = {c.value: c.column_letter for c in ws[1]}
    jpy = next(i for i, c in enumerate(df["currency"].tolist()[:500]) if c == "JPY") + 2
    usd = next(i for i, c in enumerate(df["currency"].tolist()[:500]) if c == "USD") + 2
    desc = ws[f"{cols['description']}2"]
    date = ws[f"{cols['date']}2"]
    return {
        "text never a formula": desc.data_type == "s" and str(desc.value).startswith("=Sales invoice"),
        "dates": bool(date.is_date) and date.number_format == "yyyy-mm-dd",
        "amount formats by currency": ws[f"{cols['debit']}{jpy}"].number_format.startswith("#,##0;")
        and ws[f"{cols['debit']}{usd}"].number_format.startswith("#,##0.00;"),
        "frozen header": ws.freeze_panes == "A2",
    }


def checks_of(which: str, small, path: Path) -> dict:
    """:func:`checks` on the first rows written again on their own (openpyxl would take
    minutes and gigabytes over the whole table)."""
    write(which, small.copy(), path)
    return checks(path, small)


def worker(which: str, n: int, path: Path, result: Path) -> None:
    if which == "closebatch cell by cell":
        os.environ["CLOSEBATCH_CELL_BY_CELL"] = "1"
    try:
        prepare(which)
    except ImportError as e:
        result.write_text(json.dumps({"missing": str(e)}))
        return
    df = frame(n)
    w0, c0 = time.perf_counter(), time.process_time()
    write(which, df.copy(), path)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result.write_text(json.dumps({"wall": wall, "cpu": cpu, "peak": peak,
                                  "checks": checks_of(which, df.head(1000), path.with_name("small.xlsx")),
                                  "size": path.stat().st_size,
                                  "sha": hashlib.sha256(path.read_bytes()).hexdigest()}))


def run(which: str, n: int, folder: Path, k: int) -> dict:
    path, res = folder / f"{k}-{which.replace(' ', '-')}" / "Lines.xlsx", folder / f"{k}-{which}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    subprocess.run([sys.executable, __file__, "--worker", which, "--rows", str(n), "--path", str(path),
                    "--result", str(res)], check=True, env=env)
    return json.loads(res.read_text())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--writers", default=",".join(WRITERS))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, args.rows, args.path, args.result)
        return 0
    print(f"{args.rows:,} rows x 16 columns; load average {os.getloadavg()[0]:.1f}", flush=True)
    print("| writer | wall | CPU | peak memory | file | second run, same bytes | what a reader sees |")
    print("|---|---:|---:|---:|---:|---|---|")
    with tempfile.TemporaryDirectory(prefix="writers-") as tmp:
        for which in [w.strip() for w in args.writers.split(",") if w.strip()]:
            first = run(which, args.rows, Path(tmp), 1)
            if "missing" in first:
                print(f"| {which} | not installed ({first['missing']}) | | | | | |", flush=True)
                continue
            time.sleep(1.1)  # a clock-stamped document property would change
            second = run(which, args.rows, Path(tmp), 2)
            print(f"| {which} | {first['wall']:.1f} s | {first['cpu']:.1f} s | {first['peak']:,.0f} MB | "
                  f"{first['size'] / 2**20:.1f} MB | {'yes' if first['sha'] == second['sha'] else 'no'} | "
                  + (", ".join(f"{k}: {'ok' if v else 'WRONG'}" for k, v in first["checks"].items()) or "not checked")
                  + " |", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
