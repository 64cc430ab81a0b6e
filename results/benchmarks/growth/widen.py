"""Anchors grown by width (an experiment of docs/run.md, not a stitchnas feature): each wider
anchor starts as the trained one before it, every channel repeated (the residual stream tiled,
heads and head dimensions tiled, MLP units tiled, every consumer divided by the repeat, queries
rescaled for the wider heads: the same function exactly), then noise of 5% of each weight
matrix's spread to break the symmetry. Trains every anchor of SPACE.yaml with its
training.anchors recipe, through stitchnas's own train_anchors, into the anchors' checkpoints.

    python results/benchmarks/growth/widen.py SPACE.yaml [NOISE]

SPACE.yaml: a copy of search_spaces/fmnist_vit_2way.yaml with its own checkpoint paths (the
widths 16, 64, 128 and heads 2, 4, 4 of the demo; each width a multiple of the one before it).
"""
import logging
import math
import sys

import torch

import stitchnas.anchors as A
from stitchnas.measure import train_anchors
from stitchnas.space import load_space

NOISE = float(sys.argv[2]) if len(sys.argv) > 2 else 0.05


def widen(old, new, noise=NOISE, gen=None):
    so, sn = old.state_dict(), new.state_dict()
    d, D = old.embed_dim, new.embed_dim
    r = D // d
    assert D == r * d
    H, Hn = old.blocks[0].attn.num_heads, new.blocks[0].attn.num_heads
    hd, hdn = d // H, D // Hn
    s = torch.arange(D) % d
    g, t = torch.arange(D) // hdn, torch.arange(D) % hdn
    a = (g % H) * hd + (t % hd)
    assert (Hn // H) * (hdn // hd) == r and Hn % H == 0 and hdn % hd == 0
    cq = math.sqrt(hd / hdn)
    ho = so["blocks.0.mlp.fc1.weight"].shape[0]; hn = sn["blocks.0.mlp.fc1.weight"].shape[0]
    h = torch.arange(hn) % ho
    assert hn == r * ho
    out = {}
    for k, v in so.items():
        if k in ("cls_token", "pos_embed"):
            w = v[..., s]
        elif k.startswith("patch_embed.proj"):
            w = v[s]
        elif k.startswith("norm.") or k.endswith(("norm1.weight", "norm1.bias", "norm2.weight",
                                                   "norm2.bias")):
            w = v[s]
        elif k.endswith("attn.qkv.weight"):
            rows = torch.cat([p * d + a for p in range(3)])
            w = v[rows][:, s] / r
            w[:D] *= cq
        elif k.endswith("attn.qkv.bias"):
            w = v[torch.cat([p * d + a for p in range(3)])].clone()
            w[:D] *= cq
        elif k.endswith("attn.proj.weight"):
            w = v[s][:, a] / r
        elif k.endswith(("attn.proj.bias", "mlp.fc2.bias")):
            w = v[s]
        elif k.endswith("mlp.fc1.weight"):
            w = v[h][:, s] / r
        elif k.endswith("mlp.fc1.bias"):
            w = v[h]
        elif k.endswith("mlp.fc2.weight"):
            w = v[s][:, h] / r
        elif k == "head.weight":
            w = v[:, s] / r
        elif k == "head.bias":
            w = v
        else:
            raise KeyError(k)
        w = w.clone()
        if noise and w.dim() >= 2:
            w += torch.randn(w.shape, generator=gen) * noise * w.std()
        assert w.shape == sn[k].shape, (k, w.shape, sn[k].shape)
        out[k] = w
    new.load_state_dict(out)
    return new


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    space = load_space(sys.argv[1])
    orig = A.create_anchor_model
    prev = {a.name: space.anchors[i - 1] if i else None for i, a in enumerate(space.anchors)}

    def grown(spec, *, weights=True, device=None, space="SPACE"):
        model = orig(spec, weights=weights, device=device, space=space)
        p = prev.get(spec.name)
        if weights or device is not None or p is None:
            return model
        old = orig(p, weights=True).eval()
        x = torch.randn(4, 1, 28, 28)
        exact = widen(old, orig(spec, weights=False), noise=0.0).eval()
        print("exact widen same function:", torch.allclose(old(x), exact(x), atol=1e-4), flush=True)
        widen(old, model, gen=torch.Generator().manual_seed(0))
        print("noisy widen max logit change:", (old(x) - model.eval()(x)).abs().max().item(), flush=True)
        return model

    A.create_anchor_model = grown
    for r in train_anchors(space, force=True):
        print(r, flush=True)
