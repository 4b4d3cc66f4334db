"""The shared acceptance cases of finished features, run against the installed command."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ACCEPTANCE = Path(__file__).resolve().parents[2] / "shared" / "acceptance"
FINISHED = ["bad_books", "revaluation", "allocation", "consolidation", "consol_years", "input_hygiene"]


def _command() -> str:
    exe = Path(sys.executable).with_name("closebatch")
    return str(exe) if exe.exists() else f"{sys.executable} -m closebatch"


@pytest.mark.skipif(not (ACCEPTANCE / "acceptance.py").exists(), reason="shared acceptance cases not present")
@pytest.mark.parametrize("case", FINISHED)
def test_acceptance_case(case):
    env = dict(os.environ, CLOSEBATCH=_command())
    proc = subprocess.run([sys.executable, str(ACCEPTANCE / "acceptance.py"), str(ACCEPTANCE / "cases" / f"{case}.py")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"ok   {case}" in proc.stdout
