"""`stitchnas bench adapters`: the timm survey's rows, counts and report, on a few modules."""

import json

import pytest

from stitchnas.bench import bench_adapters
from stitchnas.errors import StitchnasError


def test_survey_rows_say_which_adapter_takes_each_module_and_why_not(tmp_path):
    seen = []
    r = bench_adapters(out_dir=tmp_path, progress=seen.append, modules=["pvt_v2", "hrnet", "inception_v3"])
    rows = {row["module"]: row for row in r["rows"]}
    assert rows["pvt_v2"]["adapter"] == "PvtV2Adapter" and rows["pvt_v2"]["model_class"] == "PyramidVisionTransformerV2"
    assert rows["inception_v3"]["adapter"] == "InceptionV3Adapter"
    assert rows["hrnet"]["adapter"] is None
    assert rows["hrnet"]["reason"] == "no anchor adapter for HighResolutionNet (timm.models.hrnet)"
    assert (r["modules"], r["covered"]) == (3, 2) and len(seen) == 3
    assert json.loads((tmp_path / "adapters.json").read_text())["covered"] == 2
    with pytest.raises(StitchnasError, match="no timm model module 'vggg'; did you mean vgg"):
        bench_adapters(modules=["vggg"])
