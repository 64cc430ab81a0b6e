import json
import subprocess
import sys

import pytest
from support import run_cli

from stitchnas.cli import main


def test_enumerate_jsonl(capsys):
    code, out, err = run_cli(capsys, "enumerate", "tiny_test")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in rows] == list(range(14))
    assert set(rows[0]) == {"id", "route", "flops", "params", "space", "space_hash"}
    from stitchnas.space import load_space

    assert {(r["space"], r["space_hash"]) for r in rows} == {("tiny_test", load_space("tiny_test").content_hash)}
    assert rows[2]["route"] == [[0, 0, 1], [1, 1, 4]]
    assert all(isinstance(r["flops"], int) and r["flops"] > 0 for r in rows)


def test_enumerate_table_and_spaces(capsys):
    code, out, _ = run_cli(capsys, "enumerate", "tiny_test", "--format", "table")
    assert code == 0 and "s[0:1]>l[1:4]" in out and "14 candidates" in out and "MFLOPs" in out
    code, out, _ = run_cli(capsys, "spaces", "deit*")
    assert code == 0 and out.count("\n") == 5 and "snnet_v2" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["enumerate", "no_such_space"], "unknown space 'no_such_space'"),
        (["enumerate", "/nonexistent/space.yaml"], "does not exist"),
        (["enumerate", "tiny_test", "--format", "xml"], "invalid choice"),
        (["bench", "profiling", "tiny_test", "--repeats", "0"], "positive integer"),
    ],
)
def test_bad_input_is_one_line_exit_2(capsys, argv, message):
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    _, err = capsys.readouterr()
    assert code == 2
    assert message in err and err.count("\n") == 1


def test_console_script_malformed_yaml(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("anchors: [\n")
    proc = subprocess.run([sys.executable, "-m", "stitchnas", "enumerate", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("stitchnas: error: space file") and proc.stderr.count("\n") == 1
    assert proc.stdout == ""


def test_building_the_parser_imports_no_torch():
    code = ("import sys; from stitchnas.cli import build_parser; build_parser(); "
            "print('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"


def test_every_verb_is_a_command_with_its_docstring_as_help():
    from stitchnas.cli import build_parser
    from stitchnas.cli._main import COMMANDS

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert list(sub.choices) == [c.name for c in COMMANDS]
    assert [a.help for a in sub._choices_actions] == [c.help_line() for c in COMMANDS]
    assert all(c.help_line() for c in COMMANDS)


def test_predictors_lists_the_built_in_predictors(capsys):
    code, out, _ = run_cli(capsys, "predictors")
    assert code == 0 and "gp" in out.split() and "auto" in out.split()
