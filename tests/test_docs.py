"""Every command and option of the command line is documented: in its own --help, and in the
README's table of commands (as sqlite-utils checks its documentation)."""
from pathlib import Path

import click
import pytest

from closebatch.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
COMMANDS = sorted(main.commands)


def command_rows() -> dict:
    """The README's table of commands: command name -> its row."""
    rows = {}
    for line in README.splitlines():
        if line.startswith("| `closebatch "):
            name = line.split("`closebatch ", 1)[1].split()[0].rstrip("`")
            rows[name] = line
    return rows


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_and_a_row_in_the_readme(name):
    cmd = main.commands[name]
    assert (cmd.help or "").strip() and (cmd.short_help or cmd.help).strip(), name
    assert name in command_rows(), f"the README's table of commands has no row for closebatch {name}"


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_is_in_the_readme_and_has_help(name):
    cmd = main.commands[name]
    row = command_rows()[name]
    for p in cmd.params:
        if not isinstance(p, click.Option) or p.hidden or p.name == "help":
            continue
        longest = max(p.opts, key=len)
        assert (p.help or "").strip(), f"closebatch {name} {longest} has no help text"
        assert longest in row or longest in README, f"closebatch {name} {longest} is not in the README"
