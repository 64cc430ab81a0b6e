"""``stitchnas bench adapters``: which of timm's model families build anchors.

One model per timm model module (its first registered name), built on the meta device (no
weights, no memory) and handed to :func:`~stitchnas.anchors.adapter_for`; a family counts when
an adapter takes it. That an adapter reproduces its model is the tests' business
(tests/anchors/test_staged.py, one small instance per adapter); this survey says how much of
timm is covered by them.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Sequence

__all__ = ["bench_adapters"]


def bench_adapters(out_dir: Path | None = None, progress: Any = None,
                   modules: Sequence[str] | None = None) -> dict[str, Any]:
    """Rows of (timm module, model, model class, adapter or why not), and the counts;
    ``modules``: only these timm model modules (default: all)."""
    import timm
    import torch
    from timm.models import _registry

    from ..anchors import adapter_for
    from .._util import did_you_mean
    from ..errors import StitchnasError

    first: dict[str, str] = {}
    for name in timm.list_models():
        first.setdefault(_registry._model_to_module[name], name)
    if modules is not None:
        unknown = sorted(set(modules) - set(first))
        if unknown:
            hint = did_you_mean(unknown[0], first) or "; the survey without --modules lists them all"
            raise StitchnasError(f"no timm model module {unknown[0]!r}{hint}")
        first = {m: first[m] for m in modules}
    rows = []
    for module, name in sorted(first.items()):
        row = {"module": module, "model": name, "model_class": None, "adapter": None, "reason": None}
        try:
            with warnings.catch_warnings(), torch.device("meta"):
                warnings.simplefilter("ignore")
                model = timm.create_model(name, pretrained=False)
            row["model_class"] = type(model).__name__
            row["adapter"] = type(adapter_for(model)).__name__
        except StitchnasError as err:
            row["reason"] = str(err).split(";")[0]
        except Exception as err:  # timm cannot build some models on meta: reported, not fatal
            row["reason"] = f"timm.create_model on meta: {type(err).__name__}"
        rows.append(row)
        if progress is not None:
            progress(row)
    covered = sum(r["adapter"] is not None for r in rows)
    report = {"timm_version": timm.__version__, "modules": len(rows), "covered": covered,
              "adapters": sorted({r["adapter"] for r in rows if r["adapter"]}), "rows": rows}
    if out_dir is not None:
        from ..fileio import write_json

        write_json(Path(out_dir) / "adapters.json", report)
    return report
