#!/usr/bin/env bash
# The junction-additive and GP-residual regressors against the default route model, every committed
# two-way table (20% measured at random, 20 splits): writes junction_gp.json here. From the
# repository root: bash results/benchmarks/transfer_probes/junction_gp.sh (about 2 minutes on 2 cores).
set -euo pipefail
D=results/benchmarks/transfer_probes
R=results
P=results/benchmarks/proxies
out=$(mktemp -d)
PYTHONPATH=$D stitchnas bench predictors --quiet \
    --table fmnist_vit_2way=$R/fmnist_vit_2way/measurements.jsonl \
    --table fmnist_vit_2way=$R/fmnist_vit_2way/measurements_uniform.jsonl \
    --table fmnist_resnet=$R/fmnist_resnet/measurements.jsonl \
    --table fmnist_resnet=$R/fmnist_resnet/measurements_uniform.jsonl \
    --table fmnist_vit_sl_v2=$R/fmnist_vit_sl_v2/measurements.jsonl \
    --table fmnist_vit_3depth=$R/fmnist_vit_3depth/measurements.jsonl \
    --table fmnist_resnet_2way=$R/fmnist_resnet_2way/measurements.jsonl \
    --table fmnist_vit_sl_v2_12x24=$R/fmnist_vit_sl_v2_12x24/measurements.jsonl \
    --table fmnist_vit_sl_v2_long=$R/fmnist_vit_sl_v2_long/measurements.jsonl \
    --table fmnist_vit_sl_v2_12x24_long=$R/fmnist_vit_sl_v2_12x24_long/measurements.jsonl \
    --table fmnist_vit_grown=$P/fmnist_vit_grown.measurements.jsonl \
    --table fmnist_convnext_2way=results/benchmarks/lstsq_cut/fmnist_convnext_2way.rcond1e-5.measurements.jsonl \
    --table fmnist_resnet_grown=$R/fmnist_resnet_grown/measurements.jsonl \
    --predictors route,junction:JLine,junction:JLineRC,junction:JAvg,junction:JAvg3,gpres:GPRes,gpres:GPIso,gpres:Blend \
    --out "$out" > /dev/null
sed "s#$PWD/##g" "$out/predictors.json" > $D/junction_gp.json.tmp && mv $D/junction_gp.json.tmp $D/junction_gp.json
rm -rf "$out"
