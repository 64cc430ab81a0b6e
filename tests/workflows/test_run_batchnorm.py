"""`stitchnas run` on a BatchNorm family: every row and proxy score is measured with each route's
own BatchNorm statistics (the recipe in the rows and the report, no shared-statistics warning),
and a second run reuses them instead of measuring again."""

import json

from support import run_cli, write_space

RESNET = ("{model: resnet18, name: %s, kwargs: {in_chans: 1, num_classes: 10, channels: [%d, 8, 8, 8]}, "
          "checkpoint: '${results}/anchors/run_bn/%s.pt'}")
SPACE = f"""name: run_bn
input_size: [1, 28, 28]
anchors:
  - {RESNET % ('s', 4, 's')}
  - {RESNET % ('l', 8, 'l')}
rule: {{type: two_way, pairs: nearest, max_stitches: 1}}
data: {{name: digits}}
training:
  anchors: {{epochs: 1, batch_size: 64, lr: 0.003, train_subset: 256, val_subset: 128}}
  stitching: {{epochs: 1, batch_size: 64, train_subset: 256}}
run:
  initial: 4
  rounds: 1
  per_round: 2
  val_subset: 128
  proxy_images: 200
  targets: [flops]
  trials: 10
"""


def test_run_measures_each_route_with_its_own_statistics(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STITCHNAS_CACHE", str(tmp_path / "cache"))
    path = write_space(tmp_path, SPACE)
    out = tmp_path / "out"
    code, report, err = run_cli(capsys, "run", path, "--out", out, "--quiet")
    assert code == 0, err
    assert "BatchNorm statistics that every route" not in err
    folder = out / "run_bn" / "run"
    rows = [json.loads(ln) for ln in (folder / "measurements.jsonl").read_text().splitlines()]
    assert len(rows) >= 6 and all(r["batchnorm"] == "per_route:5120x256:seed0" for r in rows)
    proxies = [json.loads(ln) for ln in (folder / "proxies.jsonl").read_text().splitlines()]
    assert proxies and all(p["batchnorm"] == "per_route:5120x256:seed0" for p in proxies)
    assert "Each route measured with its own BatchNorm statistics (`per_route:5120x256:seed0`)" in report
    code, again, err = run_cli(capsys, "run", path, "--out", out, "--quiet")
    assert code == 0, err
    assert "0 new" in again and "reused" in again  # the rows and proxy scores of the first run
