"""Does stitchnas's fvcore count equal the meta path's on every adapter's family? One small
instance of each (the instances tests/anchors/test_staged.py checks adapters on), one input of
one channel, counted twice: ``count_flops`` (fvcore with stitchnas's op handles) and
``count_flops_meta(...).fvcore_flops`` (torch's FlopCounterMode on meta, plus fvcore's norms and
pools). Also lists, per model, the ops fvcore saw and has no handle for, those that are not
elementwise, data movement, pooling or norms (none, with the handles): an op left there would
be multiply-adds counted as 0.

    python results/benchmarks/flop_handles/survey.py     # from the repository root; about 4 min

writes survey.json beside it.
"""
import ast
import json
import re
import warnings
from pathlib import Path

import timm
import torch
from fvcore.nn import FlopCountAnalysis

from stitchnas.costs import EXTRA_OP_HANDLES, count_flops, count_flops_meta

HERE = Path(__file__).resolve().parent
TESTS = HERE.parents[2] / "tests" / "anchors" / "test_staged.py"
NO_MULTIPLY_ADDS = re.compile(
    r"add|mul|sub|div|gelu|relu|sigmoid|softmax|silu|hardswish|hardsigmoid|tanh|mean|pool|cat|clone|pad|"
    r"roll|norm|exp|neg|sqrt|pow|fill|ones|zeros|where|max|min|sum|clamp|floor|erf|sin|cos|abs|log|"
    r"index|expand|repeat|tile|flip|stack|upsample|dropout|ceil|square|cumsum|amax|im2col|col2im|"
    r"reshape_as|hardtanh|leaky|rsub")


def instances() -> list[tuple[str, dict, int]]:
    """(model, kwargs, input size) of every adapter test's instance, read from the test module."""
    found = []
    for node in ast.walk(ast.parse(TESTS.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "parametrize" \
                and ast.literal_eval(node.args[0]) == "model, kwargs, size":
            found += [tuple(row) for row in ast.literal_eval(node.args[1])]
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "STAGED_FAMILY_MODELS":
            found += [(model, {}, size) for model, size in ast.literal_eval(node.value).values()]
    return found


def main() -> None:
    warnings.simplefilter("ignore")
    rows = []
    for name, kwargs, size in instances():
        channels = 3 if name == "csatv2" else 1  # csatv2's stem assumes three channels
        torch.manual_seed(0)
        model = timm.create_model(name, num_classes=10, in_chans=channels, **kwargs).eval()
        x = torch.zeros(1, channels, size, size)
        analysis = FlopCountAnalysis(model, x).set_op_handle(**EXTRA_OP_HANDLES)
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
        analysis.total()
        left = sorted(op for op in analysis.unsupported_ops() if not NO_MULTIPLY_ADDS.search(op))
        fvcore, meta = count_flops(model, x), count_flops_meta(model, (channels, size, size)).fvcore_flops
        rows.append({"model": name, "input": [channels, size, size], "fvcore_flops": fvcore,
                     "meta_flops": meta, "equal": fvcore == meta, "uncounted_ops": left})
        print(f"{name:40s} {fvcore:>14,d} {'equal' if fvcore == meta else f'meta {meta:,d}'} {left or ''}",
              flush=True)
    summary = {"models": len(rows), "equal": sum(r["equal"] for r in rows),
               "with_uncounted_ops": sum(bool(r["uncounted_ops"]) for r in rows),
               "torch": torch.__version__, "timm": timm.__version__}
    (HERE / "survey.json").write_text(json.dumps({"summary": summary, "rows": rows}, indent=1) + "\n")
    print(summary)


if __name__ == "__main__":
    main()
