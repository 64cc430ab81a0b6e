"""``stitchnas bench active`` on a space smaller than its default sizes: the curve stops at
every candidate measured instead of waiting for picks that cannot come."""

import json

from support import run_cli
from support.tiny import ACC, costs, row, space  # noqa: F401 - fixtures


def test_active_curve_stops_at_every_candidate_measured(space, costs, tmp_path, capsys):  # noqa: F811
    table = tmp_path / "m.jsonl"
    table.write_text("".join(json.dumps(row(space, costs, i).to_json()) + "\n" for i in ACC))
    code, out, err = run_cli(capsys, "bench", "active", "tiny_test", "--measurements", table, "--predictor",
                             "flops", "--seeds", "2", "--out", tmp_path / "bench")  # default --stop 32 > 14
    assert code == 0, err
    report = json.loads((tmp_path / "bench" / "active_tiny_test.json").read_text())
    assert report["sizes"] == [4, 8, 12]
    assert "the space has 14 candidates" in out
    code, out, err = run_cli(capsys, "bench", "active", "tiny_test", "--measurements", table, "--start", "14",
                             "--out", tmp_path / "bench2")
    assert code == 2 and "lower --start below 14" in err and not (tmp_path / "bench2").exists()
