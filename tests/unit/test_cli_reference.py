"""docs/cli.md is the parser's truth: its reference is what ``engine.cli.reference`` makes of it."""

from pathlib import Path

from engine.cli import parser
from engine.cli.reference import BEGIN, END, commands, render

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_the_reference_in_docs_is_made_from_the_parser():
    page = DOC.read_text()
    assert BEGIN in page and END in page
    shown = page[page.index(BEGIN) : page.index(END) + len(END)]
    assert shown == render(), "docs/cli.md is out of date: python -m engine.cli.reference, and paste it there"


def test_every_command_has_examples_exit_codes_and_units_on_its_durations():
    for path, p in commands(parser()):
        assert p.epilog and "examples:" in p.epilog and "exit codes:" in p.epilog, path
        for action in p._actions:
            if action.dest in ("timeout", "run_timeout", "connect_timeout", "drain_timeout"):
                assert action.metavar == "SECONDS", (path, action.dest)
