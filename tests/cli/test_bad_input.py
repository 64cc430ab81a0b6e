"""The bad-input table: every way a user can hand stitchnas a broken file, name or number.

Each case runs the real command line (``stitchnas.cli.main``, a few also as a separate process)
on a broken input and checks the project's rule: exit code 2 (1 only where the CLI documents it:
``query`` when nothing fits), exactly one line on stderr starting with ``stitchnas: error:``,
naming the problem and the fix (the substrings asserted below), nothing on stdout, no traceback,
and no file created or changed in the working folder (every file's bytes and mtime are compared
before and after; outputs would have gone there). The README's "Bad input" section is generated
from this table (``python tests/cli/test_bad_input.py`` prints it) and checked against it.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml

from stitchnas.network import save_checkpoint
from stitchnas.cli import main
from stitchnas.cli._main import MAX_ERROR_CHARS
from stitchnas.fronts import Front, FrontPoint
from stitchnas.measure import Measurement
from stitchnas.network import StitchedNetwork
from stitchnas.space import SearchSpace, load_space

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]  # ``{d}`` is the folder holding the bad inputs (and the working folder)
    what: str  # the input, in words (README)
    says: tuple  # substrings of the one stderr line, the problem, then the fix (a tuple: any of)
    code: int = 2
    prefix: str = "stitchnas: error:"
    subprocess: bool = False  # also run as `python -m stitchnas` to see what reaches a terminal
    hides: tuple[str, ...] = ()  # substrings the line must never show (passwords, unsafe advice)
    stdout: str = ""  # what stdout holds (nothing, but for a JSON listing's empty list)


def C(id, argv, what, *says, **kw) -> Case:  # a table row
    return Case(id, tuple(argv.split()), what, says, **kw)


OUT = "--out {d}/out/result"  # an output that must not appear
PRED = "predict tiny_test --out {d}/out/pred.jsonl --measurements {d}/"
EVAL = "evaluate tiny_test --data digits --ids 0 --out {d}/out/m.jsonl"

CASES: list[Case] = [
    # ---- space files ------------------------------------------------------------------------
    C("space-malformed-yaml", "enumerate {d}/space_malformed.yaml", "space YAML with an unclosed `[`",
      "is not valid YAML at line", "fix the file's syntax", subprocess=True),
    C("space-truncated", "enumerate {d}/space_truncated.yaml", "space YAML cut off mid-file",
      "is not valid YAML", "fix the file's syntax"),
    C("space-unquoted-placeholder", "enumerate {d}/space_placeholder.yaml",
      "`{name: s, checkpoint: ${results}/s.pt}` (a `${...}` value unquoted inside `{ }`)",
      "is not valid YAML at line 2", 'must be quoted, e.g. checkpoint: "${results}/anchors/a.pt"'),
    C("space-not-mapping", "enumerate {d}/space_list.yaml", "space YAML that is a list",
      "must be a YAML mapping with 'anchors' and 'rule'"),
    C("space-empty", "enumerate {d}/space_empty.yaml", "empty space file",
      "must be a YAML mapping with 'anchors' and 'rule'"),
    C("space-binary", "enumerate {d}/space_binary.yaml", "space file of binary garbage",
      "cannot read space file", "save it as UTF-8 YAML"),
    C("space-unknown-key", "enumerate {d}/space_unknown_key.yaml", "top-level key `anchor` (typo)",
      "unknown key(s) ['anchor']", "did you mean 'anchors'?"),
    C("space-no-rule", "enumerate {d}/space_no_rule.yaml", "space without `rule`",
      "has no 'rule'", "add it"),
    C("space-input-size-type", "enumerate {d}/space_input_size.yaml", "`input_size: 28x28`",
      "'input_size' must be [channels, height, width], got '28x28'"),
    C("space-rank-type", "enumerate {d}/space_rank.yaml", "`stitching: {rank: two}`",
      "stitching rank must be null or a positive integer, got 'two'"),
    C("space-unknown-model", "enumerate {d}/space_unknown_model.yaml",
      "anchor model `vit_tiny_patch16_24` (typo)",
      "unknown timm model 'vit_tiny_patch16_24'", "did you mean vit_tiny_patch16_224"),
    C("space-bad-kwargs", "enumerate {d}/space_bad_kwargs.yaml", "anchor kwargs timm rejects",
      "timm model 'vit_tiny_patch16_224' rejects kwargs", "embed_dimension"),
    C("space-kwargs-value", "enumerate {d}/space_kwargs_value.yaml", "anchor kwargs `num_heads: 0`",
      "timm model 'vit_tiny_patch16_224' cannot be built with kwargs", "fix the anchor's kwargs"),
    C("space-data-augment", "enumerate {d}/space_augment.yaml", "`data: {augment: {hflip: 2}}`",
      "key 'augment' option 'hflip' must be probability 0..1, got 2"),
    C("space-rank-too-big", "enumerate {d}/space_rank_big.yaml", "`stitching: {rank: 1000000}`",
      "stitching rank 1000000 exceeds stitching layer", "set stitching rank to at most 16, or null"),
    C("space-deeply-nested", "enumerate {d}/space_nested.yaml", "space YAML nested 3000 lists deep",
      "nests lists or mappings too deeply to read", "fix the file's syntax"),
    C("space-duplicate-anchors", "enumerate {d}/space_dup_names.yaml", "two anchors named `s`",
      "anchor names ['s', 's'] must be unique"),
    C("space-unknown-rule", "enumerate {d}/space_unknown_rule.yaml", "`rule: {type: two_ways}`",
      "unknown stitching rule 'two_ways'", "did you mean two_way"),
    C("space-rule-option", "enumerate {d}/space_rule_option.yaml", "`two_way` with `max_stitches: 3`",
      "max_stitches must be 1 or 2, got 3"),
    C("space-snnet-v1-depths", "enumerate {d}/space_v1_depths.yaml", "`snnet_v1` on depths 4 and 6",
      "needs anchors of equal depth, got depths [4, 6]", "use rule 'snnet_v2'"),
    C("space-snnet-v2-order", "enumerate {d}/space_v2_order.yaml", "`snnet_v2`, deeper anchor first",
      "needs the small anchor first", "swap the anchors"),
    C("space-grids-differ", "enumerate {d}/space_grids.yaml",
      "`two_way` anchors with 4x4 and 7x7 token grids",
      "share no block boundary to stitch at", "stitching needs the same token grid on both sides"),
    C("space-unknown-name", "enumerate tiny_tst", "bundled space `tiny_tst` (typo)",
      "unknown space 'tiny_tst'", "did you mean tiny_test"),
    C("space-missing-file", "enumerate {d}/nope.yaml", "space path that does not exist",
      "does not exist", "give a YAML path or a bundled name"),
    C("space-acc1-range", "enumerate {d}/space_acc1.yaml", "anchor `acc1: 150` (not a percentage)",
      "anchor 0 (s) 'acc1' must be a top-1 accuracy in percent (a number in 0..100), got 150",
      "write 0.75 as 75.0"),
    # ---- target files -----------------------------------------------------------------------
    C("target-malformed-yaml", "profile-latency tiny_test --target {d}/target_malformed.yaml",
      "target YAML with an unclosed `{`", "target file", "is not valid YAML", "fix the file's syntax"),
    C("target-unknown-key", "profile-latency tiny_test --target {d}/target_unknown_key.yaml",
      "target key `devcie` (typo)", "unknown key(s) 'devcie' (did you mean 'device'?)"),
    C("target-negative-budget", "profile-latency tiny_test --target {d}/target_negative.yaml",
      "`budgets: {max_flops: -5}`", "budget max_flops must be positive, got -5",
      "remove it (or set null) for no bound"),
    C("target-wrong-type", "profile-latency tiny_test --target {d}/target_batch.yaml",
      "`batch_size: big`", "batch_size must be a positive integer, got 'big'"),
    C("target-huge-budget", "profile-latency tiny_test --target {d}/target_huge.yaml",
      "`budgets: {max_flops: 10**400}`", "budget max_flops is a 401-digit number",
      "write e.g. max_flops: 1.5e+9"),
    C("target-unknown-name", "profile-latency tiny_test --target cpuu", "bundled target `cpuu` (typo)",
      "unknown target 'cpuu'", "did you mean cpu"),
    # ---- measurements files -----------------------------------------------------------------
    C("meas-malformed-line", PRED + "m_malformed.jsonl", "a line of broken JSON mid-file",
      "line 2: not valid JSON", "fix or delete that line"),
    C("meas-truncated-last-line", PRED + "m_truncated.jsonl", "last line cut short",
      "line 3: not valid JSON", "the last line is cut short", "delete that line and re-measure"),
    C("meas-not-object", PRED + "m_list.jsonl", "a line that is a JSON list",
      "line 1: expected a JSON object"),
    C("meas-missing-key", PRED + "m_missing.jsonl", "a row without `flops`",
      "missing key(s) ['flops']", "every row needs"),
    C("meas-wrong-type", PRED + "m_type.jsonl", "`\"acc1\": \"high\"`",
      "'acc1' must be a number, got 'high'"),
    C("meas-nan-acc1", PRED + "m_nan.jsonl", "`\"acc1\": NaN`",
      "'acc1' is nan: measurements must be finite", "re-measure this id", subprocess=True),
    C("meas-inf-acc1", PRED + "m_inf.jsonl", "`\"acc1\": Infinity`",
      "'acc1' is inf: measurements must be finite", "re-measure this id"),
    C("meas-acc1-range", PRED + "m_range.jsonl", "`\"acc1\": 930.0` (not a percentage)",
      "'acc1' is 930.0, outside 0..100", "accuracies are percentages"),
    C("meas-acc1-huge-int", PRED + "m_huge.jsonl", "`\"acc1\": 10**400` (a 401-digit integer)",
      "'acc1' is inf: measurements must be finite"),
    C("meas-flops-huge", PRED + "m_flops.jsonl", "`\"flops\": 2**70`",
      "'flops' must be an integer in 0..2**63-1", "take counts from `stitchnas enumerate`"),
    C("meas-unknown-id", PRED + "m_id.jsonl", "`\"id\": 99` in a space of 14",
      "space 'tiny_test' has ids 0..13, not 99", "list them with `stitchnas enumerate tiny_test`"),
    C("meas-route-not-in-space", PRED + "m_route.jsonl", "id 2 with another route",
      "id 2 has route", "the row comes from a different enumeration; re-measure it"),
    C("meas-route-malformed", PRED + "m_route_bad.jsonl", "`\"route\": [[0, 0]]`",
      "line 1: route segment [0, 0] is not [anchor, start, end]"),
    C("meas-other-space", PRED + "m_other.jsonl", "rows of another space (hash differs)",
      "the file belongs to another space", "pass the space it was measured on"),
    C("meas-binary", PRED + "m_binary.jsonl", "measurements file of binary garbage",
      "cannot read measurements file", "it is not text", "give a JSONL file"),
    C("meas-missing-file", PRED + "nope.jsonl", "measurements path that does not exist",
      "does not exist", "measure stitches with `stitchnas evaluate tiny_test`"),
    C("meas-no-space-hash", PRED + "m_nohash.jsonl", "a hand-written row without `space_hash`",
      "missing key(s) ['space_hash']", "rows of space 'tiny_test' take \"space_hash\": \"",
      "`stitchnas enumerate` prints it"),
    C("meas-evaluate-out-broken", "evaluate tiny_test --data digits --ids 0 --out {d}/m_truncated.jsonl",
      "`evaluate --out` a broken file (left as is)", "line 3: not valid JSON", "the last line is cut short"),
    # ---- fronts -----------------------------------------------------------------------------
    C("front-truncated", "query tiny_test --front {d}/front_truncated.json", "front.json cut short",
      "is not valid JSON", "it is truncated or garbled", "re-run"),
    C("front-other-space", "query tiny_test --front {d}/front_other.json",
      "front.json of another space (hash differs)", "was searched on another version of the space",
      "re-run `stitchnas search tiny_test"),
    C("front-wrong-format", "query tiny_test --front {d}/front_format.json", "a JSON file that is no front",
      "is broken: format is 'something/1'", "to rewrite it"),
    C("front-nan-acc1", "query tiny_test --front {d}/front_nan.json", "front member with `acc1: NaN`",
      "is broken", "'acc1' must be a finite number", "to rewrite it"),
    C("query-nothing-fits", "query tiny_test --front {d}/front.json --max-flops 1",
      "a budget no member meets (exit 1, documented)", "nothing on the front of tiny_test",
      "fits max_flops=1 flops: the cheapest member needs 1,000,000 flops", code=1,
      prefix="stitchnas: nothing fits:"),
    C("query-unknown-target", "query tiny_test --target cpu_batch_64 --max-flops 1e6",
      "a target neither bundled nor a file, with no front (a typo)", "no front for target 'cpu_batch_64'",
      "did you mean cpu_batch64?", "(bundled targets: `stitchnas targets`; a target YAML path works too)"),
    C("results-root-a-file", "query tiny_test --results {d}/front.json --max-flops 1e6",
      "`--results` naming a file", "--results", "is a file, not a folder", "give the folder that results go under"),
    C("run-out-a-file", "run tiny_test --out {d}/front.json", "`run --out` naming a file",
      "--out", "is a file, not a folder", "give the folder that results go under"),
    C("run-targets-empty", "run tiny_test --targets , --out {d}/out", "`run --targets` naming no target",
      "--targets: expected comma-separated names like a,b, got ','"),
    C("run-targets-twice", "run tiny_test --targets cpu,flops,cpu --out {d}/out", "`run --targets cpu,flops,cpu`",
      "target 'cpu' is given twice", "name it once"),
    C("data-corrupt-image", "train tiny_test --data {d}/images_corrupt --epochs 1 --out {d}/out/stitched.pt",
      "an ImageFolder holding a file that is not an image", "cannot read image", "notes.png",
      "not an image PIL can identify", "remove or replace it"),
    C("data-missing-folder", "evaluate tiny_test --data {d}/no_such_images --ids 0 --out {d}/out/m.jsonl",
      "`--data` naming a folder that does not exist", "no data folder at", "give an existing ImageFolder folder"),
    # ---- latency tables ---------------------------------------------------------------------
    C("latency-other-space",
      "profile-latency tiny_test --target cpu --any-machine --out {d}/latency_other_space.json",
      "latency table of another space", "belongs to space 'other'", "profile this space with"),
    C("latency-other-machine", "profile-latency tiny_test --target cpu --out {d}/latency_other_machine.json",
      "latency table timed on another machine (left as is)", "was measured on another machine",
      "--any-machine", "--force"),
    C("latency-truncated", "profile-latency tiny_test --target cpu --any-machine --out {d}/latency_truncated.json",
      "latency table cut short", "is not valid JSON", "delete it or re-profile"),
    # ---- checkpoints ------------------------------------------------------------------------
    C("ckpt-other-space-evaluate", EVAL + " --checkpoint {d}/ckpt_other_space.pt",
      "`evaluate` with a stitched checkpoint of another space",
      "was trained on space 'tiny_1stitch'", "use the space it was trained with or retrain"),
    C("ckpt-other-space-export", "export tiny_test --id 2 --checkpoint {d}/ckpt_other_space.pt " + OUT,
      "`export` with a stitched checkpoint of another space", "was trained on space 'tiny_1stitch'",
      "use the space it was trained with or retrain", subprocess=True),
    C("ckpt-wrong-shape", "export tiny_test --id 2 --checkpoint {d}/ckpt_wrong_shape.pt " + OUT,
      "stitched checkpoint whose layer tensors have other shapes",
      "does not fit space 'tiny_test'", "size mismatch", "retrain with this space"),
    C("ckpt-truncated", EVAL + " --checkpoint {d}/ckpt_truncated.pt", "stitched checkpoint cut short",
      "cannot read checkpoint", "it is truncated or not a stitchnas checkpoint",
      "retrain it with `stitchnas train tiny_test --no-resume --out "),
    C("ckpt-anchor-wrong-shape", "export {d}/space_anchor_ckpt.yaml --id 0 " + OUT,
      "anchor checkpoint of a wider model", "does not fit timm model 'vit_tiny_patch16_224'",
      "size mismatch", "check the anchor's model and kwargs", "train-anchors"),
    C("ckpt-anchor-missing", "export {d}/space_anchor_missing.yaml --id 0 " + OUT,
      "anchor checkpoint path that does not exist", "does not exist",
      "train the anchors (stitchnas train-anchors ", "space_anchor_missing.yaml) or fix"),
    # ---- search -----------------------------------------------------------------------------
    C("search-impossible-budget",
      "search tiny_test --target {d}/target_impossible.yaml --measurements {d}/m_good.jsonl --out {d}/out",
      "target budget `max_flops: 1000`", "no stitch of tiny_test fits the budgets",
      "raise the budget or choose another target"),
    C("search-storage-unreachable",
      "search tiny_test --target flops_budget --measurements {d}/m_good.jsonl --out {d}/out "
      "--storage postgresql://nobody@127.0.0.1:1/x", "`--storage postgresql://nobody@127.0.0.1:1/x`",
      ("cannot open Optuna storage postgresql://nobody@127.0.0.1:1/x: OperationalError",  # driver installed
       "postgresql:// storage needs a PostgreSQL driver: pip install"),  # no driver
      ("check the URL, that the server is reachable", "psycopg2-binary")),
    C("search-storage-bad-folder",
      "search tiny_test --target flops_budget --measurements {d}/m_good.jsonl --out {d}/out "
      "--storage sqlite:///{d}/m_good.jsonl/x.db", "`--storage sqlite:///FILE/x.db` (folder is a file)",
      "cannot create the folder of storage", "is a file, not a folder"),
    C("search-storage-jsonl",
      "search tiny_test --target flops_budget --measurements {d}/m_good.jsonl --out {d}/out "
      "--storage {d}/m_good.jsonl", "`--storage m.jsonl` (the measurements file as a journal)",
      "ends in .jsonl, the suffix of measurements files", "journal:PATH"),
    C("search-storage-not-sqlite",
      "search tiny_test --target flops_budget --measurements {d}/m_good.jsonl --out {d}/out "
      "--storage sqlite:///{d}/m_good.jsonl", "`--storage sqlite:///FILE` of a file that is no database",
      "is not a SQLite database, not an Optuna storage", "left it untouched"),
    C("search-storage-not-journal",
      "search tiny_test --target flops_budget --measurements {d}/m_good.jsonl --out {d}/out "
      "--storage journal:{d}/target_impossible.yaml", "`--storage journal:FILE` of a file that is no journal",
      "is not an Optuna journal file", "left it untouched"),
    C("search-unknown-sampler",
      "search tiny_test --target flops_budget --measurements {d}/m_good.jsonl --out {d}/out --sampler nsga3",
      "`--sampler nsga3`", "unknown sampler 'nsga3'", "nsga2"),
    C("search-exact-encoding",
      "search tiny_test --target flops_budget --measurements {d}/m_good.jsonl --out {d}/out --encoding relative",
      "`--encoding relative` where the default search is exact",
      "the default search here is exact (every candidate evaluated), which needs the tree encoding",
      "drop --encoding relative, or give --sampler nsga2 (or --trials N)"),
    C("search-exhaustive-encoding",
      "search tiny_test --target flops_budget --measurements {d}/m_good.jsonl --out {d}/out "
      "--sampler exhaustive --encoding path", "`--sampler exhaustive --encoding path`",
      "the exhaustive sampler needs the tree encoding (finite choices)", "use --encoding tree"),
    C("search-brute-force-encoding",
      "search tiny_test --target flops_budget --measurements {d}/m_good.jsonl --out {d}/out "
      "--sampler optuna.samplers:BruteForceSampler --encoding relative",
      "Optuna's `BruteForceSampler` by class path with `--encoding relative`",
      "Optuna's BruteForceSampler needs the tree encoding (finite choices)", "use --encoding tree"),
    C("search-unknown-objective",
      "search tiny_test --target flops_budget --measurements {d}/m_good.jsonl --out {d}/out "
      "--objectives acc1,speed", "`--objectives acc1,speed`", "unknown objective 'speed'",
      "choose from acc1, flops, params, latency_ms, memory_mb"),
    C("search-meas-nan", "search tiny_test --target flops_budget --measurements {d}/m_nan.jsonl --out {d}/out",
      "search on measurements with NaN", "'acc1' is nan", "re-measure this id"),
    C("search-nothing-measured", "search {d}/space_fresh.yaml --target flops_budget --out {d}/out",
      "a space with no measurements and no anchor `acc1`", "has no measurements",
      "give `acc1:` per anchor in the space file or --anchor-acc NAME=ACC",
      "/space_fresh.yaml --sample 16`"),
    C("search-anchor-acc-unknown",
      "search tiny_test --target flops_budget --out {d}/out --anchor-acc ss=70", "`--anchor-acc ss=70`",
      "space 'tiny_test' has no anchor 'ss'; did you mean s?", "its anchors are s, l"),
    # ---- command-line numbers and names -----------------------------------------------------
    C("cli-train-fraction", "predictor-cv tiny_test --measurements {d}/m_good.jsonl --train-fraction 2",
      "`--train-fraction 2`", "argument --train-fraction: expected a number between 0 and 1"),
    C("cli-kappa-negative", "suggest tiny_test --measurements {d}/m_good.jsonl --kappa -1", "`suggest --kappa -1`",
      "argument --kappa: expected a finite number >= 0, got -1"),
    C("cli-predict-seed-negative", PRED + "m_good.jsonl --seed -1", "`predict --seed -1`",
      "argument --seed: expected a seed (an integer 0..4294967295), got -1"),
    C("cli-k-zero", "suggest tiny_test --measurements {d}/m_good.jsonl -k 0", "`suggest -k 0`",
      "argument -k/--k: expected a positive integer, got 0", "see stitchnas suggest --help",
      subprocess=True),
    C("cli-max-flops-abc", "query tiny_test --front {d}/front.json --max-flops abc", "`--max-flops abc`",
      "argument --max-flops: expected a number like 20, 1.5e9 or 1.5G, got 'abc'"),
    C("cli-unknown-choice", "enumerate tiny_test --format xml", "`--format xml`",
      "argument --format: invalid choice: 'xml'"),
    C("cli-unknown-flag", "search tiny_test --target flops --trails 5 --out {d}/out", "`search --trails 5`",
      "unrecognized arguments: --trails 5; did you mean --trials?", "(see stitchnas search --help)"),
    C("cli-unknown-flag-nothing-close", "suggest tiny_test --measurements {d}/m_good.jsonl --foo",
      "`suggest --foo`", "unrecognized arguments: --foo (see stitchnas suggest --help)"),
    C("cli-unknown-predictor", "predictor-cv tiny_test --measurements {d}/m_good.jsonl --predictor gpp",
      "`--predictor gpp`", "unknown predictor 'gpp'", "Known:"),
    C("cli-chunk-without-storage", "evaluate tiny_test --ids 1 --chunk 4", "`evaluate --chunk 4` without "
      "--storage (one worker: nothing to share, the option would do nothing)", "--chunk needs --storage"),
    C("cli-bench-initial-without-suggest", "bench search tiny_test --measurements {d}/m_good.jsonl --initial 6 "
      "--out {d}/out", "`bench search --initial 6` with the default --choose random (it would do nothing)",
      "--initial only applies to --choose suggest"),
    C("cli-unknown-predictor-unused", "search tiny_test --target flops --measurements {d}/m_good.jsonl --predictor gpp",
      "`search --predictor gpp` with every candidate measured (no prediction needed: the typo still fails)",
      "unknown predictor 'gpp'", "did you mean gp"),
    C("cli-bench-seeds-word", "bench search tiny_test --measurements {d}/m_good.jsonl --seeds 0,one --out {d}/out",
      "`bench search --seeds 0,one`", "argument --seeds: expected a seed (an integer 0..4294967295), got 'one'",
      "comma-separated seeds like 0,1,2"),
    C("cli-bench-empty-list", "bench predictors --table tiny_test={d}/m_good.jsonl --predictors , --out {d}/out",
      "`bench predictors --predictors ,`", "argument --predictors: expected comma-separated names like a,b, got ','"),
    C("cli-bench-seeds-negative", "bench large --seeds -1 --out {d}/out", "`bench large --seeds -1`",
      "argument --seeds: expected a seed (an integer 0..4294967295), got -1"),
    C("cli-spaces-no-match", "spaces vit_2way", "`spaces vit_2way`: a filter no bundled space matches "
      "(exit 1, as `query`'s nothing fits)", "no bundled space matches 'vit_2way'", "did you mean fmnist_vit_2way?",
      "`stitchnas spaces`", code=1, prefix="stitchnas: no bundled space"),
    C("cli-targets-no-match", "targets gpu* --format json", "`targets gpu* --format json` (prints [] and exits 1)",
      "no bundled target matches 'gpu*'", "`stitchnas targets`", code=1, prefix="stitchnas: no bundled target",
      stdout="[]\n"),
    # ---- predictor plug-ins that break the protocol (tests/support/bad_predictors.py) -------
    C("plugin-factory-not-estimator", PRED + "m_good.jsonl --predictor support.bad_predictors:make_nothing",
      "`--predictor` a factory function that returns 42",
      "predictor 'support.bad_predictors:make_nothing' returned int, not an estimator",
      "must give an object with fit and predict"),
    C("plugin-fit-returns-none", PRED + "m_good.jsonl --predictor support.bad_predictors:FitReturnsNone",
      "`predict` with a plug-in whose fit returns None", "fit returned None, not the fitted predictor",
      "end fit with `return self`"),
    C("plugin-predicts-nan", "predictor-cv tiny_test --measurements {d}/m_good.jsonl "
      "--predictor support.bad_predictors:PredictsNaN", "`predictor-cv` with a plug-in predicting NaN",
      "predict returned NaN or inf for 1 of 11 stitches", "return finite top-1 (percent)"),
    C("plugin-wrong-length", "suggest tiny_test --measurements {d}/m_good.jsonl "
      "--predictor support.bad_predictors:WrongLength", "`suggest` with a plug-in predicting one too few",
      "predict returned shape (13,) for 14 stitches", "return one top-1 (percent) per stitch"),
    C("plugin-negative-std", PRED + "m_good.jsonl --predictor support.bad_predictors:NegativeStd",
      "`predict` with a plug-in returning std < 0", "returned a negative or non-finite std",
      "std must be finite and >= 0"),
    C("plugin-fractions", "predictor-cv tiny_test --measurements {d}/m_good.jsonl "
      "--predictor support.bad_predictors:Fractions", "`predictor-cv` with a plug-in predicting 0..1",
      "predictions look like fractions (0..1); return top-1 in percent"),
    C("plugin-off-scale", PRED + "m_good.jsonl --predictor support.bad_predictors:ForgetsMean",
      "`predict` with a plug-in whose numbers are not top-1s (fitted to centred top-1s)",
      "predictions on the wrong scale: they miss the", "return top-1 in percent"),
    C("plugin-unrepeatable", "suggest tiny_test --measurements {d}/m_good.jsonl "
      "--predictor support.bad_predictors:Unrepeatable", "`suggest` with an RNG made in `__init__`",
      "predict is not repeatable", "seed randomness in fit, not __init__"),
    C("cli-evaluate-unknown-id", "evaluate tiny_test --data digits --ids 999 --out {d}/out/m.jsonl",
      "`evaluate --ids 999`", "space 'tiny_test' has ids 0..13, not 999",
      "list them with `stitchnas enumerate tiny_test`"),
    C("cli-evaluate-no-checkpoint", EVAL, "`evaluate` before any stitched checkpoint was trained",
      "results/tiny_test/stitched.pt: train one with `stitchnas train tiny_test`",
      "or measure the anchors alone with `stitchnas evaluate tiny_test --anchors`"),
    C("cli-evaluate-seed-without-sample", "evaluate tiny_test --data digits --seed 3 --out {d}/out/m.jsonl",
      "`evaluate --seed 3` without `--sample`", "--seed only applies to --sample K",
      "add --sample or drop --seed"),
    C("cli-evaluate-bad-ids", "evaluate tiny_test --data digits --ids 3,x --out {d}/out/m.jsonl",
      "`evaluate --ids 3,x`", "e.g. 3,7,10-12"),
    C("cli-export-unknown-id", "export tiny_test --id 99 " + OUT, "`export --id 99`",
      "space 'tiny_test' has ids 0..13, not 99", "list them with `stitchnas enumerate tiny_test`"),
    C("cli-export-route-not-in-space", "export tiny_test --route 0[0:1]>1[3:4] " + OUT,
      "`export --route 0[0:1]>1[3:4]` (skips blocks)", "route 0[0:1]>1[3:4] is not in space 'tiny_test'",
      "run `stitchnas enumerate` to list them"),
    C("cli-export-route-self-stitch", "export tiny_test --route 0[0:2]>0[2:4] " + OUT,
      "`export --route 0[0:2]>0[2:4]` (an anchor stitched to itself)", "stitches anchor 0 to itself",
      "merge them into one segment"),
    C("cli-export-route-malformed", "export tiny_test --route 0[0:1]>x " + OUT, "`export --route 0[0:1]>x`",
      "cannot parse route '0[0:1]>x'", "e.g. 0[0:4]>1[4:12]"),
    C("import-snnet-malformed", "import-snnet {d}/snnet_malformed.txt --space tiny_test --out {d}/out/s.jsonl",
      "published results with a broken line", "line 2: not a Python dict or JSON object",
      "each line must look like"),
    # ---- passwords never shown (any character SQLAlchemy accepts unencoded) ------------------
    C("storage-password-slash",
      "search tiny_test --target flops_budget --measurements {d}/m_good.jsonl --out {d}/out "
      "--storage postgresql://stitch3:Zx9/kQ+r2w==@127.0.0.1:1/stitchnas3",
      "`--storage postgresql://stitch3:Zx9/kQ+r2w==@…` (password with `/`, `+`, `=`), no server",
      "cannot open Optuna storage postgresql://stitch3:***@127.0.0.1:1/stitchnas3",
      hides=("Zx9", "kQ+r2w")),
    C("storage-password-at-colon-hash",
      "search tiny_test --target flops_budget --measurements {d}/m_good.jsonl --out {d}/out "
      "--storage postgresql://u:Pq7@Ss8:Wq9#Rd0?Yz6@127.0.0.1:1/db",
      "`--storage postgresql://u:Pq7@Ss8:Wq9#Rd0?Yz6@…` (password with `@`, `:`, `#`, `?`)",
      "cannot parse storage URL postgresql://u:***@127.0.0.1:1/db", "percent-encoding",
      hides=("Pq7", "Ss8", "Wq9", "Rd0", "Yz6")),
    # ---- names from user files that become paths ---------------------------------------------
    C("space-name-escape", "search {d}/space_escape.yaml --target flops_budget --out {d}/out",
      "space `name: ../../escape_rel`", "'name' must be a name of letters, digits",
      "got '../../escape_rel'"),
    C("space-name-absolute", "train {d}/space_abs.yaml --data digits --out {d}/out/x.pt",
      "space `name: /tmp/stitchnas_abs`", "'name' must be a name of letters, digits",
      "got '/tmp/stitchnas_abs'"),
    C("space-anchor-name-escape", "evaluate {d}/space_anchor_escape.yaml --data digits --out {d}/out/m.jsonl",
      "anchor `name: ../a`", "anchor 0 'name' must be a name of letters, digits", "got '../a'"),
    C("target-name-escape", "profile-latency tiny_test --target {d}/target_escape.yaml",
      "target `name: ../../t`", "'name' must be a name of letters, digits", "got '../../t'"),
    C("target-name-escape-search",
      "search tiny_test --target {d}/target_escape.yaml --measurements {d}/m_good.jsonl --out {d}/out",
      "`search` with target `name: ../../t`", "'name' must be a name of letters, digits"),
    # ---- typed sections of space files -------------------------------------------------------
    C("space-training-lr-type", "train-anchors {d}/space_lr.yaml --data digits",
      "`training: {anchors: {lr: fast}}`",
      "section 'training.anchors' key 'lr' must be a finite number > 0 and <= 10, got 'fast'"),
    C("space-training-epochs-float", "train {d}/space_epochs_float.yaml --data digits --out {d}/out/x.pt",
      "`training: {stitching: {epochs: 1.5}}`",
      "section 'training.stitching' key 'epochs' must be an integer >= 0, got 1.5"),
    C("space-training-epochs-negative", "train-anchors {d}/space_epochs_neg.yaml --data digits",
      "`training: {anchors: {epochs: -1}}`",
      "section 'training.anchors' key 'epochs' must be an integer >= 1, got -1"),
    C("space-training-grow-type", "train-anchors {d}/space_grow_type.yaml --data digits",
      "`training: {anchors: {grow: 'yes'}}`", "section 'training.anchors' key 'grow' must be"),
    C("space-training-grow-widths", "train-anchors {d}/space_grow_widths.yaml --data digits",
      "`training: {anchors: {grow: true}}` on anchors 16 and 32 wide (checked before any training)",
      "training.anchors.grow: anchor 'l' cannot start from 's': its cls_token is shaped [1, 1, 32] where "
      "'s' has [1, 1, 16]", "grow needs anchors of one width and kind that differ only in depth, or drop grow"),
    C("space-run-targets-type", "run {d}/space_run_targets.yaml --out {d}/out", "`run: {targets: 5}`",
      "section 'run' key 'targets' must be a name or a list of names, got 5"),
    C("space-run-unknown-key", "run {d}/space_run_key.yaml --out {d}/out", "`run: {seeed: 1}` (typo)",
      "section 'run' has unknown key(s) ['seeed']", "did you mean 'seed'?"),
    C("space-data-string", "evaluate {d}/space_data.yaml --ids 0 --out {d}/out/m.jsonl", "`data: digits`",
      "section 'data' must be a mapping of keys (name: ...), got 'digits'"),
    C("space-rank-bool", "enumerate {d}/space_rank_bool.yaml", "`stitching: {rank: true}`",
      "stitching rank must be null or a positive integer, got True"),
    # ---- command-line numbers ----------------------------------------------------------------
    C("cli-lr-nan", "train tiny_test --data digits --lr nan --out {d}/out/x.pt", "`train --lr nan`",
      "argument --lr: expected a positive number, got nan"),
    C("cli-lr-negative", "train tiny_test --data digits --lr -1 --out {d}/out/x.pt", "`train --lr -1`",
      "argument --lr: expected a positive number, got -1"),
    C("cli-anchor-epochs-zero", "train-anchors tiny_test --data digits --epochs 0",
      "`train-anchors --epochs 0` (would overwrite trained anchors)",
      "argument --epochs: expected a positive integer, got 0"),
    C("cli-train-rank-too-big", "train tiny_test --data digits --epochs 1 --rank 1000 --out {d}/out/x.pt",
      "`train --rank 1000`, above a stitching layer's full rank", "--rank 1000 exceeds stitching layer",
      "where rank 16 is already full", "give at most 16, or no rank for full layers"),
    C("cli-train-anchor-share", "train tiny_test --data digits --anchor-share 2 --out {d}/out/x.pt",
      "`train --anchor-share 2` (a share above 1)", "argument --anchor-share: expected a number above 0 and at most 1"),
    C("cli-train-subset-below-batch", "train tiny_test --data digits --epochs 1 --train-subset 64 --out {d}/out/x.pt",
      "`train --train-subset 64` with batches of 128 (no full batch: no training step)",
      "64 training images make no full batch of 128", "lower --batch-size"),
    C("cli-anchor-overwrite", "train-anchors {d}/space_anchor_ckpt.yaml --data digits",
      "`train-anchors` where an anchor's checkpoint exists (a user's pretrained weights)",
      "already have weights", "would replace them: pass --force to replace them, or --only-missing"),
    C("cli-study-replaces-table", "study tiny_test --data digits --out {d}/study",
      "`study` into a folder that holds measurements (it writes its own full tables there)",
      "writes its own full tables and would replace", "pass --force to replace them, or --out DIR"),
    C("cli-seed-negative", "search tiny_test --target flops_budget --out {d}/out --seed -1",
      "`search --seed -1`", "argument --seed: expected a seed (an integer 0..4294967295), got -1"),
    C("cli-device-typo", "evaluate tiny_test --data digits --ids 0 --device gpu --out {d}/out/m.jsonl",
      "`evaluate --device gpu`", "argument --device: expected a device: cpu, cuda, cuda:N"),
    # ---- one line, never unsafe advice -------------------------------------------------------
    C("ckpt-anchor-unsafe-pickle", "export {d}/space_anchor_unsafe.yaml --id 0 " + OUT,
      "anchor checkpoint holding a pickled Python object",
      "cannot read checkpoint", "holds Python objects other than tensors (functools.partial)",
      "save a plain state dict", hides=("weights_only", "trust")),
    C("ckpt-unsafe-pickle", EVAL + " --checkpoint {d}/ckpt_unsafe.pt",
      "stitched checkpoint holding a pickled Python object", "cannot read checkpoint",
      "holds Python objects other than tensors", hides=("weights_only", "trust")),
    Case("path-with-newline", ("evaluate", "tiny_test", "--data", "digits", "--ids", "0", "--checkpoint",
                               "{d}/no\nsuch.pt", "--out", "{d}/out/m.jsonl"),
         "`--checkpoint` path holding a newline", ("checkpoint", "no\\nsuch.pt does not exist")),
    C("import-snnet-unknown-ids", "import-snnet {d}/snnet_ids.txt --space tiny_test --out {d}/out/s.jsonl",
      "published results of another space (ids 20, 30)", "id(s) 20, 30 are not valid candidates",
      "import with the space the results were published for"),
    C("query-model-torchscript", "query tiny_test --model {d}/front.ts --max-flops 1e6",
      "`query --model` given the TorchScript form (.ts) of a switchable front",
      "is TorchScript, not a front model bundle", "give the bundle `export --switchable` writes beside its .ts"),
    C("predict-no-measurements", "suggest tiny_test --k 2",
      "`predict`, `suggest` or `predictor-cv` with no measurements file given and none made yet",
      "no measurements of tiny_test: neither", "nor a run's", "measure stitches with `stitchnas evaluate "
      "tiny_test`", "or pass --measurements FILE"),
    C("import-snnet-foreign-flops", "import-snnet {d}/snnet_flops.txt --space tiny_test --out {d}/out/s.jsonl",
      "published results of a far larger family (flops 1.26e9, ours 2.7e5)",
      "its flops are not those of space 'tiny_test': 2 of 2 rows are more than 3x off ours",
      "import with the space the results were published for"),
    # ---- every file read is checked against the space ----------------------------------------
    C("front-id-not-in-space", "query tiny_test --front {d}/front_id.json", "front member `id: 99`",
      "member id 99 is not in space 'tiny_test' (ids 0..13)", "re-run `stitchnas search tiny_test"),
    C("front-route-mismatch", "query tiny_test --front {d}/front_route.json",
      "front member id 1 given the route of id 2",
      "member id 1 has route 0[0:1]>1[1:4], but candidate 1 of space 'tiny_test' is 1[0:4]", "to rewrite it"),
    C("front-route-mismatch-front-alone", "query --front {d}/front_route.json",
      "the same, `--front` alone (checked against the bundled space it names)",
      "member id 1 has route 0[0:1]>1[1:4]", "to rewrite it"),
    C("front-route-past-end", "query tiny_test --front {d}/front_past_end.json",
      "front member route `[[0, 0, 9]]` (past the last block)",
      "member id 0: route 0[0:9]: segment 0[0:9] ends past anchor 0's 4 blocks", "to rewrite it"),
    C("front-acc1-5000", "query tiny_test --front {d}/front_acc.json", "front member `acc1: 5000.0`",
      "member 1: 'acc1' is 5000.0, outside 0..100 (top-1 is a percentage)", "to rewrite it"),
    C("front-negative-budget", "query tiny_test --front {d}/front_budget.json",
      "front `target_budgets: {max_flops: -5}`", "budget max_flops must be a positive number or None, got -5"),
    C("front-negative-flops", "query tiny_test --front {d}/front_flops.json", "front member `flops: -1000`",
      "'flops' must be an integer >= 0, got -1000"),
    C("front-dominated", "query tiny_test --front {d}/front_dominated.json",
      "front member beaten on every objective by another",
      "member id 1 (65.00%, 2,000,000 flops) is dominated by member id 0 (70.00%, 1,000,000 flops)",
      "to rewrite it"),
    C("front-missing-field", "query tiny_test --front {d}/front_missing.json", "front member without `acc1`",
      "member 0 lacks key(s) ['acc1']", "to rewrite it"),
    C("latency-nan-piece", "profile-latency tiny_test --target cpu --any-machine --out {d}/latency_nan.json",
      "latency table with `p10_ms: NaN` in one piece", "piece 'block:0:2' has p10_ms nan",
      "delete it or re-profile with `stitchnas profile-latency tiny_test --target cpu --force`"),
    C("latency-negative-piece",
      "profile-latency tiny_test --target cpu --any-machine --out {d}/latency_negative.json",
      "latency table with a negative timing", "piece 'head:1' has median_ms -3.0: timings must be finite numbers >= 0"),
    C("latency-extra-piece", "profile-latency tiny_test --target cpu --any-machine --out {d}/latency_extra.json",
      "latency table with a piece the space lacks (`block:0:9`)",
      "holds timings of 1 piece(s) space 'tiny_test' does not have (block:0:9)", "--force"),
    C("latency-missing-piece",
      "profile-latency tiny_test --target cpu --any-machine --out {d}/latency_missing.json",
      "latency table without piece `block:1:3`",
      "lacks the timings of 1 piece(s) of space 'tiny_test' (block:1:3)", "re-profile with"),
    C("ckpt-nan", EVAL + " --checkpoint {d}/ckpt_nan.pt", "stitched checkpoint with a NaN weight",
      "is not usable: tensor 'stitch_layers.", "holds 1 NaN and 0 inf",
      "retrain it with `stitchnas train tiny_test --no-resume --out "),
    C("ckpt-anchor-inf", "export {d}/space_anchor_inf.yaml --id 0 " + OUT, "anchor checkpoint with an inf weight",
      "anchor 's': checkpoint", "is not usable: tensor 'head.weight' holds 0 NaN and 1 inf",
      "retrain the anchors"),
    C("cli-number-huge-text", "search tiny_test --target flops_budget --out {d}/out --trials " + "a" * 3000,
      "`search --trials` with a 3000-character value",
      "argument --n-trials/--trials: expected a positive integer", "(see stitchnas search --help)"),
    C("cli-max-flops-inf", "query tiny_test --front {d}/front.json --max-flops inf", "`query --max-flops inf`",
      "argument --max-flops: expected a finite number >= 0, got 'inf'"),
    # ---- proxy scores (stitchnas proxy) ---------------------------------------------------------
    C("proxies-missing", PRED + "m_good.jsonl --proxies {d}/nope.jsonl", "`predict --proxies` a file that is not there",
      "proxies file", "does not exist", "score the candidates with `stitchnas proxy tiny_test`"),
    C("proxies-other-checkpoint", PRED + "m_good.jsonl --proxies {d}/proxies_other.jsonl",
      "`predict --proxies` scores of another checkpoint than the measured rows'",
      "measured id 0 is of checkpoint c.pt but the proxy scores are of other.pt",
      "score the measured checkpoint"),
    C("proxy-no-checkpoint", "proxy tiny_test --data digits --checkpoint {d}/none.pt --out {d}/out/p.jsonl",
      "`proxy` without a stitched checkpoint", "no stitched checkpoint at",
      "`stitchnas train tiny_test`"),
    # ---- writing can fail (more in tests/security/test_write_failures.py) ---------------------
    C("write-out-under-a-file", "evaluate tiny_test --data digits --anchors --out {d}/m_good.jsonl/m.jsonl",
      "`evaluate --out FILE/m.jsonl` (a file where a folder should be)", "cannot write measurements file",
      "a part of the path is a file, not a folder", "move that file away or choose another path"),
    C("write-out-is-a-folder", "predict tiny_test --measurements {d}/m_good.jsonl --out {d}/out",
      "`predict --out` a folder", "cannot write predictions file", "it is a folder; give a file path"),
    C("write-out-dev-full", "train tiny_test --data digits --max-steps 1 --out /dev/full",
      "`train --out /dev/full` (a device, never replaced)", "cannot write checkpoint /dev/full",
      "it is not a regular file"),
    # ---- bounded resources (more in tests/security/test_bounded.py) --------------------------
    C("space-yaml-alias-bomb", "enumerate {d}/space_bomb.yaml", "a 900-byte YAML alias chain in `kwargs`",
      "expands to more than 100,000 values", "use fewer aliases"),
    C("space-kwargs-depth-huge", "enumerate {d}/space_deep.yaml", "an anchor with `depth: 1000000` in `kwargs`",
      "'depth' 1000000 is outside 0..1000 blocks", "fix the value"),
    C("space-fifo", "enumerate {d}/space_fifo.yaml", "space path that is a FIFO (would block)",
      "is not a regular file (a FIFO, device or socket)", "give a file's path"),
    C("meas-dev-zero", "predict tiny_test --out {d}/out/pred.jsonl --measurements /dev/zero",
      "`--measurements /dev/zero` (never ends)", "measurements file /dev/zero is not a regular file"),
    C("cli-trials-huge", "search tiny_test --target flops_budget --out {d}/out --trials 1000000000000000000",
      "`search --trials 10**18`", "expected a positive integer up to 1,000,000"),
    # ---- merges never drop data silently -----------------------------------------------------
    C("meas-conflicting-rows", PRED + "m_conflict.jsonl", "rows of id 3 with acc1 71.5, 10.0 and 99.0",
      "id 3 has conflicting rows (lines 4 and 5: acc1 71.5 vs 10)", "keep the right one and delete the other"),
    C("import-snnet-conflict", "import-snnet {d}/snnet_conflict.txt --space tiny_test --out {d}/m_good.jsonl",
      "`import-snnet` into a file that holds other values for id 0", "already holds id 0 with other values",
      "write to a new file, or delete that row first"),
    # ---- devices this machine has ------------------------------------------------------------
    C("cli-device-missing", "evaluate tiny_test --data digits --ids 0 --device cuda:99 --out {d}/out/m.jsonl",
      "`evaluate --device cuda:99`", "argument --device:", ("this machine has no cuda device",
                                                            "cuda device(s) (cuda:0..")),
    C("space-run-device-missing", "run {d}/space_run_device.yaml --out {d}/out", "`run: {device: cuda:99}`",
      "run.device:", ("this machine has no cuda device", "cuda device(s) (cuda:0..")),
    C("space-too-many-anchors", "enumerate {d}/space_many.yaml", "a space of 33 anchors",
      "33 anchors, more than the 32 a space may hold", "split it into several spaces"),
]

# ---------------------------------------------------------------------------------------------
# the bad inputs
# ---------------------------------------------------------------------------------------------
TINY = {"img_size": 28, "patch_size": 7, "in_chans": 1, "num_classes": 10, "embed_dim": 16,
        "depth": 4, "num_heads": 2}


def anchor(name, **kw) -> dict:
    extra = {k: kw.pop(k) for k in ("checkpoint", "model") if k in kw}
    return {"name": name, "model": extra.pop("model", "vit_tiny_patch16_224"),
            "kwargs": {**TINY, **kw}, **extra}


def space_doc(anchors=None, rule=None, **top) -> dict:
    return {"name": top.pop("name", "bad"), "input_size": [1, 28, 28],
            "anchors": anchors or [anchor("s"), anchor("l", embed_dim=32)],
            "rule": rule or {"type": "two_way"}, **top}


def dump(doc) -> str:
    return yaml.safe_dump(doc, sort_keys=False)


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> Path:
    """The folder of bad inputs (also the working folder and results root of every case)."""
    d = tmp_path_factory.mktemp("bad_input")
    space = load_space("tiny_test")
    files: dict[str, str | bytes] = {}
    good_space = (REPO / "search_spaces" / "tiny_test.yaml").read_text()
    files["space_malformed.yaml"] = "anchors: [\n  {name: s, model: vit_tiny_patch16_224}\nrule: {type: two_way}\n"
    files["space_placeholder.yaml"] = ("anchors:\n  - {name: s, model: vit_tiny_patch16_224, checkpoint: ${results}/s.pt}\n"
                                       "rule: {type: two_way}\n")
    files["space_truncated.yaml"] = good_space[: good_space.index("embed_dim: 32") + 5]
    files["space_list.yaml"] = "- anchors\n- rule\n"
    files["space_empty.yaml"] = ""
    files["space_binary.yaml"] = b"\xff\xfe\x00garbage\x00\x81"
    scripted = io.BytesIO()  # any TorchScript archive: what `export --switchable` writes as .ts
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch 2.14 deprecates TorchScript
        torch.jit.save(torch.jit.script(torch.nn.Identity()), scripted)
    files["front.ts"] = scripted.getvalue()
    doc = space_doc()
    doc["anchor"] = doc.pop("anchors")
    files["space_unknown_key.yaml"] = dump(doc)
    doc = space_doc()
    del doc["rule"]
    files["space_no_rule.yaml"] = dump(doc)
    files["space_input_size.yaml"] = dump(space_doc(input_size="28x28"))
    files["space_rank.yaml"] = dump(space_doc(stitching={"rank": "two"}))
    files["space_augment.yaml"] = dump(space_doc(data={"name": "images", "augment": {"hflip": 2}}))
    files["space_unknown_model.yaml"] = dump(space_doc([anchor("s"), anchor("l", model="vit_tiny_patch16_24")]))
    files["space_bad_kwargs.yaml"] = dump(space_doc([anchor("s"), anchor("l", embed_dimension=32)]))
    files["space_dup_names.yaml"] = dump(space_doc([anchor("s"), anchor("s", embed_dim=32)]))
    files["space_unknown_rule.yaml"] = dump(space_doc(rule={"type": "two_ways"}))
    files["space_rule_option.yaml"] = dump(space_doc(rule={"type": "two_way", "max_stitches": 3}))
    files["space_v1_depths.yaml"] = dump(space_doc([anchor("s"), anchor("l", embed_dim=32, depth=6)],
                                                   rule={"type": "snnet_v1"}))
    files["space_v2_order.yaml"] = dump(space_doc([anchor("l", embed_dim=32, depth=6), anchor("s")],
                                                  rule={"type": "snnet_v2"}))
    files["space_kwargs_value.yaml"] = dump(space_doc([anchor("s"), anchor("l", embed_dim=32, num_heads=0)]))
    files["space_rank_big.yaml"] = dump(space_doc(stitching={"rank": 10 ** 6}))
    files["space_nested.yaml"] = "name: nested\nanchors:\n" + "- " * 3000 + "1\n"
    files["space_grids.yaml"] = dump(space_doc([anchor("s"), anchor("l", embed_dim=32, patch_size=4)]))

    files["space_escape.yaml"] = dump(space_doc(name="../../escape_rel"))
    files["space_abs.yaml"] = dump(space_doc(name="/tmp/stitchnas_abs"))
    files["space_anchor_escape.yaml"] = dump(space_doc([anchor("../a"), anchor("l", embed_dim=32)]))
    files["target_escape.yaml"] = "name: ../../t\ncost_model: flops\ndevice: null\n"
    files["space_lr.yaml"] = dump(space_doc(training={"anchors": {"lr": "fast"}}))
    files["space_epochs_float.yaml"] = dump(space_doc(training={"stitching": {"epochs": 1.5}}))
    files["space_grow_type.yaml"] = dump(space_doc(training={"anchors": {"grow": "yes"}}))
    files["space_grow_widths.yaml"] = dump(space_doc(training={"anchors": {"grow": True}}))
    files["space_epochs_neg.yaml"] = dump(space_doc(training={"anchors": {"epochs": -1}}))
    files["space_run_targets.yaml"] = dump(space_doc(run={"targets": 5}))
    files["space_run_key.yaml"] = dump(space_doc(run={"seeed": 1}))
    files["space_data.yaml"] = dump(space_doc(data="digits"))
    files["space_rank_bool.yaml"] = dump(space_doc(stitching={"rank": True}))
    files["space_acc1.yaml"] = dump(space_doc([{**anchor("s"), "acc1": 150}, anchor("l", embed_dim=32)]))
    files["space_fresh.yaml"] = dump(space_doc(name="fresh"))
    files["target_malformed.yaml"] = "device: cpu\nbudgets: {max_latency_ms: 5\n"
    files["target_unknown_key.yaml"] = "devcie: cpu\n"
    files["target_negative.yaml"] = "cost_model: flops\ndevice: null\nbudgets: {max_flops: -5}\n"
    files["target_batch.yaml"] = "device: cpu\nbatch_size: big\n"
    files["target_huge.yaml"] = f"cost_model: flops\ndevice: null\nbudgets: {{max_flops: {10 ** 400}}}\n"
    files["target_impossible.yaml"] = "name: tiny_budget\ncost_model: flops\ndevice: null\nbudgets: {max_flops: 1000}\n"

    def row(cid, **kw) -> dict:
        r = Measurement(id=cid, route=space.candidate(cid).route, acc1=50.0 + cid, acc5=90.0, loss=1.0,
                        flops=1000 + cid, params=10 + cid, dataset="digits:val", checkpoint="c.pt",
                        space=space.name, space_hash=space.content_hash).to_json()
        r.update(kw)
        return r

    def jsonl(rows) -> str:
        return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)

    good = [row(i) for i in range(space.num_ids)]
    files["m_good.jsonl"] = jsonl(good)
    files["proxies_other.jsonl"] = jsonl(
        {"id": c.id, "loss": 1.0, "acc1": 50.0, "images": 8, "disjoint": True, "dataset": "digits:val:proxy8",
         "checkpoint": "other.pt", "space": space.name, "space_hash": space.content_hash}
        for c in space.candidates)
    files["m_malformed.jsonl"] = jsonl([good[0], '{"id": 1, "route": [[0, 0, 4]', good[2]])
    files["m_truncated.jsonl"] = jsonl(good[:2]) + json.dumps(good[2])[:40]
    files["m_list.jsonl"] = jsonl([[1, 2, 3]])
    files["m_missing.jsonl"] = jsonl([{k: v for k, v in good[0].items() if k != "flops"}])
    files["m_type.jsonl"] = jsonl([good[0], row(1, acc1="high")])
    files["m_nan.jsonl"] = jsonl([good[0], row(1, acc1=float("nan")), *good[2:5]])
    files["m_inf.jsonl"] = jsonl([good[0], row(1, acc1=float("inf"))])
    files["m_huge.jsonl"] = jsonl([row(0, acc1=10 ** 400)])
    files["m_flops.jsonl"] = jsonl([row(0, flops=2 ** 70)])
    files["m_range.jsonl"] = jsonl([row(0, acc1=930.0)])
    files["m_id.jsonl"] = jsonl([good[0], {**good[1], "id": 99}])
    files["m_route.jsonl"] = jsonl([{**good[2], "route": good[3]["route"]}])
    files["m_route_bad.jsonl"] = jsonl([{**good[0], "route": [[0, 0]]}])
    files["m_other.jsonl"] = jsonl([row(0, space="other", space_hash="0123456789abcdef")])
    files["m_nohash.jsonl"] = jsonl([{k: v for k, v in good[0].items() if k != "space_hash"}])
    files["m_binary.jsonl"] = b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x00"
    files["snnet_malformed.txt"] = "{'cfg_id': 0, 'acc1': 70.0}\n{'cfg_id': 1, 'acc1': \n"
    files["snnet_flops.txt"] = ("{'cfg_id': 0, 'acc1': 70.6, 'flops': 1258411200}\n"
                                "{'cfg_id': 1, 'acc1': 79.5, 'flops': 4608338304}\n")
    files["snnet_ids.txt"] = "{'cfg_id': 0, 'acc1': 70.0}\n{'cfg_id': 20, 'acc1': 71.0}\n{'cfg_id': 30, 'acc1': 72.0}\n"

    def front(**kw) -> str:
        members = [FrontPoint(id=i, route=space.candidate(i).route, acc1=70.0 + i, acc1_source="measured",
                              flops=1_000_000 * (i + 1), params=1000 * (i + 1), is_anchor=i < 2)
                   for i in (0, 1)]
        f = Front(space=space.name, space_hash=space.content_hash, target="cpu", members=tuple(members))
        return json.dumps({**f.to_json(), **kw}, indent=1)

    files["front.json"] = front()
    files["front_truncated.json"] = front()[:300]
    files["front_other.json"] = front(space_hash="0123456789abcdef")
    files["front_format.json"] = front(format="something/1")
    doc = json.loads(front())
    doc["members"][0]["acc1"] = float("nan")
    files["front_nan.json"] = json.dumps(doc)

    def edited(edit) -> str:  # front.json edited by hand (members: id 0, then id 1)
        doc = json.loads(front())
        edit(doc)
        return json.dumps(doc, indent=1)

    files["front_id.json"] = edited(lambda d: d["members"][1].update(id=99))
    files["front_route.json"] = edited(lambda d: d["members"][1].update(route=[[0, 0, 1], [1, 1, 4]]))
    files["front_past_end.json"] = edited(lambda d: d["members"][0].update(route=[[0, 0, 9]]))
    files["front_acc.json"] = edited(lambda d: d["members"][1].update(acc1=5000.0))
    files["front_budget.json"] = edited(lambda d: d["target_budgets"].update(max_flops=-5))
    files["front_flops.json"] = edited(lambda d: d["members"][0].update(flops=-1000))
    files["front_dominated.json"] = edited(lambda d: d["members"][1].update(acc1=65.0))
    files["front_missing.json"] = edited(lambda d: d["members"][0].pop("acc1"))

    from stitchnas.costs import profile_latency

    table = profile_latency(space, "cpu", repeats=1, warmup=0, progress=False).to_json()
    other = json.loads(json.dumps(table))
    other["space"].update(name="other", structure_hash="0123456789abcdef")
    files["latency_other_space.json"] = json.dumps(other)
    elsewhere = json.loads(json.dumps(table))
    elsewhere["machine"]["cpu"] = "Z80 at 4 MHz"
    files["latency_other_machine.json"] = json.dumps(elsewhere)
    files["latency_truncated.json"] = json.dumps(table)[:200]
    for name, edit in [("nan", lambda t: t["pieces"]["block:0:2"].update(p10_ms=float("nan"))),
                       ("negative", lambda t: t["pieces"]["head:1"].update(median_ms=-3.0)),
                       ("extra", lambda t: t["pieces"].update({"block:0:9": t["pieces"]["block:0:3"]})),
                       ("missing", lambda t: t["pieces"].pop("block:1:3"))]:
        damaged = json.loads(json.dumps(table))
        edit(damaged)
        files[f"latency_{name}.json"] = json.dumps(damaged)

    for name, text in files.items():
        (d / name).write_bytes(text if isinstance(text, bytes) else text.encode())

    # checkpoints
    torch.manual_seed(0)
    one_stitch = SearchSpace.from_dict(space_doc(rule={"type": "two_way", "max_stitches": 1},
                                                 name="tiny_1stitch"))
    save_checkpoint(d / "ckpt_other_space.pt",
                    StitchedNetwork(one_stitch, one_stitch.create_models(weights=False)),
                    anchors_tuned=False)
    save_checkpoint(d / "ckpt_good.pt", StitchedNetwork(space, space.create_models(weights=False)),
                    anchors_tuned=False)
    doc = torch.load(d / "ckpt_good.pt", weights_only=True)
    key = next(iter(doc["stitch_layers"]))
    doc["stitch_layers"][key] = torch.zeros(3, 5)
    torch.save(doc, d / "ckpt_wrong_shape.pt")
    (d / "ckpt_truncated.pt").write_bytes((d / "ckpt_good.pt").read_bytes()[:200])
    doc = torch.load(d / "ckpt_good.pt", weights_only=True)
    key = next(k for k, v in doc["stitch_layers"].items() if v.is_floating_point())
    doc["stitch_layers"][key].view(-1)[0] = float("nan")
    torch.save(doc, d / "ckpt_nan.pt")
    (d / "ckpt_good.pt").unlink()
    import timm

    wide = timm.create_model("vit_tiny_patch16_224", **{**TINY, "embed_dim": 24})
    torch.save(wide.state_dict(), d / "anchor_wide.pt")
    (d / "space_anchor_ckpt.yaml").write_text(dump(space_doc(
        [anchor("s", checkpoint="anchor_wide.pt"), anchor("l", embed_dim=32)], name="anchor_ckpt")))
    (d / "space_anchor_missing.yaml").write_text(dump(space_doc(
        [anchor("s", checkpoint="no_such_anchor.pt"), anchor("l", embed_dim=32)], name="anchor_missing")))
    state = timm.create_model("vit_tiny_patch16_224", **TINY).state_dict()
    state["head.weight"][0, 0] = float("inf")
    torch.save(state, d / "anchor_inf.pt")
    (d / "space_anchor_inf.yaml").write_text(dump(space_doc(
        [anchor("s", checkpoint="anchor_inf.pt"), anchor("l", embed_dim=32)], name="anchor_inf")))
    import argparse

    import functools

    torch.save({"model": functools.partial(print, "x")}, d / "anchor_unsafe.pt")  # an argparse.Namespace may load
    torch.save({"format": "x", "stitch_layers": argparse.Namespace(x=1)}, d / "ckpt_unsafe.pt")
    (d / "space_anchor_unsafe.yaml").write_text(dump(space_doc(
        [anchor("s", checkpoint="anchor_unsafe.pt"), anchor("l", embed_dim=32)], name="anchor_unsafe")))
    bomb = "".join(f"    a{i}: &a{i} [{','.join([f'*a{i - 1}' if i else 'lol'] * 10)}]\n" for i in range(9))
    (d / "space_bomb.yaml").write_text(dump(space_doc(name="bomb")).replace(
        "  kwargs:\n", "  kwargs:\n" + bomb, 1))
    os.mkfifo(d / "space_fifo.yaml")
    (d / "space_deep.yaml").write_text(dump(space_doc([anchor("s", depth=1000000), anchor("l", embed_dim=32)],
                                                      name="deep")))
    (d / "space_run_device.yaml").write_text(dump(space_doc(name="run_device", run={"device": "cuda:99"})))
    (d / "space_many.yaml").write_text(dump(space_doc([anchor(f"a{i}") for i in range(33)], name="many")))
    conflict = [json.loads(line) for line in (d / "m_good.jsonl").read_text().splitlines()[:4]]
    conflict += [{**conflict[3], "acc1": 10.0}, {**conflict[3], "acc1": 99.0}]
    conflict[3]["acc1"] = 71.5
    (d / "m_conflict.jsonl").write_text("".join(json.dumps(r) + "\n" for r in conflict))
    (d / "snnet_conflict.txt").write_text("{'cfg_id': 0, 'acc1': 10.0}\n")
    (d / "study").mkdir()
    (d / "study" / "measurements.jsonl").write_text((d / "m_good.jsonl").read_text())
    (d / "out").mkdir()
    from support import make_image_tree  # under pytest (conftest puts tests/ on the path)

    make_image_tree(d / "images_corrupt", classes=[f"c{i}" for i in range(10)], per_class=1)
    (d / "images_corrupt" / "train" / "c3" / "notes.png").write_text("not an image\n")
    return d


def snapshot(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under ``root``: (size, mtime_ns, bytes)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            st = p.stat()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns, p.read_bytes())
    return out


def argv_of(case: Case, d: Path) -> list[str]:
    return [a.replace("{d}", str(d)) for a in case.argv]


def check_result(case: Case, code, out: str, err: str) -> None:
    assert code == case.code, f"exit code {code}, stderr: {err!r}"
    assert err.count("\n") == 1 and err.endswith("\n"), f"not one line: {err!r}"
    assert err.startswith(case.prefix), err
    assert "Traceback" not in err
    for text in case.says:
        options = text if isinstance(text, tuple) else (text,)
        assert any(t in err for t in options), f"{text!r} not in {err!r}"
    for text in case.hides:
        assert text not in err, f"{text!r} shown in {err!r}"
    assert len(err) <= MAX_ERROR_CHARS + len(case.prefix) + 2, f"line of {len(err)} characters"
    assert out == case.stdout, f"stdout: {out!r}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, bad: Path, capsys, monkeypatch):
    monkeypatch.chdir(bad)
    monkeypatch.setenv("STITCHNAS_RESULTS", str(bad / "results"))
    before = snapshot(bad)
    capsys.readouterr()
    try:
        code = main(argv_of(case, bad))
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    out, err = capsys.readouterr()
    check_result(case, code, out, err)
    assert snapshot(bad) == before, "a file was created or changed"
    if case.subprocess:  # what a user's terminal sees: no traceback, one line
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        proc = subprocess.run([sys.executable, "-m", "stitchnas", *argv_of(case, bad)], cwd=bad,
                              env=env, capture_output=True, text=True, timeout=120, check=False)
        check_result(case, proc.returncode, proc.stdout, proc.stderr)
        assert snapshot(bad) == before, "a file was created or changed"


def test_table_has_enough_distinct_cases():
    assert len({c.id for c in CASES}) == len(CASES) >= 30
    assert len({c.argv for c in CASES}) == len(CASES)


def readme_table() -> str:
    """The README's table of bad inputs, generated from ``CASES``."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| case | input | what the user sees (exit code; the one stderr line contains) |",
             "|---|---|---|"]
    for c in CASES:
        def code(s: str) -> str:
            return f"`{cell(s)}`" if "`" not in s else f"`` {cell(s)} ``"

        says = " … ".join(" or ".join(map(code, s)) if isinstance(s, tuple) else code(s) for s in c.says)
        lines.append(f"| `{c.id}` | {cell(c.what)} | {c.code}: `{c.prefix}` … {says} |")
    return "\n".join(lines) + "\n"


def test_readme_lists_every_case():
    text = (REPO / "docs" / "bad-input.md").read_text()
    assert readme_table() in text, \
        "regenerate the README's 'Bad input' table: python tests/cli/test_bad_input.py"
    assert f"runs each of the {len(CASES)} cases below" in text, "docs/bad-input.md counts the cases"


if __name__ == "__main__":  # print the README table
    sys.stdout.write(readme_table())
