"""The check behind docs/training.md's "BatchNorm statistics are shared by every route".

Joint stitching training runs one route per step in train mode, so every BatchNorm layer of an
anchor keeps running statistics of whatever routes went through it: a stitched route is later
measured with statistics mostly gathered on other routes. This script measures each given
candidate twice from the same stitched checkpoint: as ``stitchnas evaluate`` does, then after
re-estimating the BatchNorm statistics on that route alone (``--batches`` training batches, no
weights changed), as weight-sharing searches such as Once-for-All do before measuring a subnet::

    STITCHNAS_RESULTS=/tmp/r stitchnas train-anchors fmnist_resnet_2way
    STITCHNAS_RESULTS=/tmp/r stitchnas train fmnist_resnet_2way --out /tmp/r/C.pt
    STITCHNAS_RESULTS=/tmp/r python examples/bn_recalibration.py fmnist_resnet_2way /tmp/r/C.pt \\
        --ids 87,76,82,81,11,83,72,0,1

Prints one JSON line per candidate: its id, route and top-1 (%) before and after, on
``--val-subset`` held-out images. Seeded (``--seed``): the same command gives the same lines.
"""

from __future__ import annotations

import argparse
import json


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("space")
    parser.add_argument("checkpoint")
    parser.add_argument("--ids", required=True, help="comma-separated candidate ids")
    parser.add_argument("--batches", type=int, default=20, help="training batches of 256 per route")
    parser.add_argument("--val-subset", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import torch

    import stitchnas as sn
    from stitchnas.measure import evaluate_candidates, load_datasets, make_loader, space_data
    from stitchnas.network import load_network

    space = sn.load_space(args.space)
    train, val, _ = load_datasets(space_data(space, val_subset=args.val_subset))
    for cid in (int(i) for i in args.ids.split(",")):
        net = load_network(space, args.checkpoint).eval()
        before = evaluate_candidates(net, make_loader(val, 256, False), [cid], progress=False)[0].acc1
        norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # a plain average over the batches
            m.train()
        net.reset_stitch_id(cid)
        with torch.no_grad():
            for i, (x, _) in enumerate(make_loader(train, 256, True, seed=args.seed)):
                if i == args.batches:
                    break
                net(x)
        net.eval()
        after = evaluate_candidates(net, make_loader(val, 256, False), [cid], progress=False)[0].acc1
        print(json.dumps({"id": cid, "route": space.describe(space.candidate(cid).route),
                          "acc1_shared_stats": round(before, 2), "acc1_own_stats": round(after, 2),
                          "batchnorm_layers": len(norms)}))


if __name__ == "__main__":
    main()
