"""Serve a whole front from one switchable model, stdlib only (plus stitchnas and torch).

One JSON request per line on stdin, one JSON reply per line on stdout. A request holds the budget
of the moment (any of max_latency_ms, max_flops, max_params, max_memory_mb, min_acc1) and
optionally an "input" (nested lists, [C, H, W] or [N, C, H, W]; zeros otherwise). The reply
names the member that answered (the most accurate one within the budget), the time the switch
took and the time the forward pass took, and the logits; a budget nothing fits gets
{"error": "nothing fits: ... the cheapest member's cost"} and the loop goes on.

    stitchnas export --target cpu --switchable          # results/SPACE/export/SPACE_cpu_front.pt
    echo '{"max_latency_ms": 3}' | python examples/serve_front.py results/fmnist_vit_2way/export/fmnist_vit_2way_cpu_front.pt
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch

import stitchnas
from stitchnas.objectives import LIMIT_KEYS


def serve(model, requests, replies) -> int:
    """Answer each line of ``requests`` on ``replies``; returns how many requests were answered."""
    shape = model.info["space"]["input_size"]
    served = 0
    for line in requests:
        if not line.strip():
            continue
        served += 1
        try:
            request = json.loads(line)
            budget = {k: float(request[k]) for k in LIMIT_KEYS if request.get(k) is not None}
            x = torch.tensor(request["input"]) if "input" in request else torch.zeros(shape)
            x = x.unsqueeze(0) if x.dim() == len(shape) else x
            t0 = time.perf_counter()
            point = model.select(**budget)  # a pointer change: no weights move
            t1 = time.perf_counter()
            with torch.no_grad():
                logits = model(x)
            t2 = time.perf_counter()
            reply = {"id": point.id, "route": str(point.route), "acc1": point.acc1,
                     "latency_ms": point.latency_ms, "flops": point.flops,
                     "switch_us": round((t1 - t0) * 1e6, 1), "infer_ms": round((t2 - t1) * 1e3, 3),
                     "logits": logits.tolist()}
        except stitchnas.StitchnasError as err:
            reply = {"error": f"nothing fits: {err}" if type(err).__name__ == "NothingFits" else str(err)}
        except (ValueError, TypeError, KeyError, RuntimeError) as err:
            reply = {"error": f"bad request: {type(err).__name__}: {err}"}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
    return served


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a bundle written by `stitchnas export --switchable` (.pt)")
    parser.add_argument("--front", help="front.json the model must have been exported from")
    args = parser.parse_args(argv)
    try:
        model = stitchnas.load_front_model(args.model, front=args.front)
    except stitchnas.StitchnasError as err:
        print(f"serve_front: error: {err}", file=sys.stderr)
        return 2
    serve(model, sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
