"""Fronts say when their top-1 steps are within measurement noise.

Two stitches measured on the same images mostly agree image by image, so the standard error of
their difference is paired (``difference_stderr``); a front member that leads the member before it
by less than two such errors may be on the front by luck, and the search says so in a note
(``front_accuracy_note``, in ``SearchResult.notes``, on stderr and in the run's report).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from support import run_cli
from support.tiny import ACC, costs, row, space  # noqa: F401 - fixtures

from stitchnas.measure import TOP1_HITS, difference_stderr, encode_outcomes, write_measurements
from stitchnas.fronts import load_front
from stitchnas.optimize import search


def nested(space, costs, images: int, dataset: str = "digits:val"):  # noqa: F811 - fixtures
    """Every candidate measured, image i right for candidate c when i < its top-1 share: any two
    rows differ on |top-1 difference| x images images, all one way."""
    out = []
    for i in sorted(ACC):
        hits = np.arange(images) < round(ACC[i] / 100 * images)
        out.append(dataclasses.replace(row(space, costs, i, 100 * hits.mean()), dataset=dataset,
                                       extra=((TOP1_HITS, encode_outcomes(hits)),)))
    return out


def noisy_steps(front, images: int) -> int:
    """The steps between consecutive members (by FLOPs) whose gain is below two paired standard
    errors, by the closed form for nested outcomes: d = gain share, sd = sqrt(n/(n-1) d (1-d))."""
    ms = sorted(front.members, key=lambda m: m.flops)
    count = 0
    for a, b in zip(ms, ms[1:]):
        d = (b.acc1 - a.acc1) / 100
        se = 100 * math.sqrt(images / (images - 1) * d * (1 - d)) / math.sqrt(images)
        count += (b.acc1 - a.acc1) < 2 * se
    return count


def test_paired_error_is_below_the_independent_one_and_needs_a_known_image_count(space, costs):  # noqa: F811
    a, b = nested(space, costs, 400, "digits:val:subset400")[:2]  # ids 0 and 1: 70% and 80%
    se, paired = difference_stderr(b, a)
    assert paired and se == pytest.approx(100 * math.sqrt(400 / 399 * 0.1 * 0.9 / 400))
    bare_a, bare_b = (dataclasses.replace(r, extra=()) for r in (a, b))
    se_ind, paired_ind = difference_stderr(bare_b, bare_a)  # the count from the label: subset400
    assert not paired_ind and se_ind == pytest.approx(100 * math.sqrt((0.7 * 0.3 + 0.8 * 0.2) / 400))
    assert se < se_ind
    assert difference_stderr(dataclasses.replace(bare_a, dataset="digits:val"),
                             dataclasses.replace(bare_b, dataset="digits:val")) is None  # count unknown
    assert difference_stderr(bare_a, dataclasses.replace(bare_b, dataset="digits:val:subset800")) is None
    whole_a, whole_b = (dataclasses.replace(r, dataset="fashion_mnist:val") for r in (bare_a, bare_b))
    se_whole, paired_whole = difference_stderr(whole_b, whole_a)  # Fashion-MNIST's 10,000 test images
    assert not paired_whole and se_whole == pytest.approx(100 * math.sqrt((0.7 * 0.3 + 0.8 * 0.2) / 10_000))


@pytest.mark.parametrize("images", [200, 300])
def test_search_notes_the_steps_within_noise(space, costs, images):  # noqa: F811 - fixtures
    res = search(space, "flops", measurements=nested(space, costs, images), storage="memory", save=False)
    expected = noisy_steps(res.front, images)
    steps = len(res.front.members) - 1
    assert 0 < expected < steps  # tiny_test's 1-point steps are within noise, its larger ones not
    (note,) = [n for n in res.notes if "standard errors" in n]
    assert f"the flops front: {expected} of its {steps} top-1 steps between measured members" in note
    assert "paired over the same images" in note


def test_no_note_where_every_step_is_resolved_or_no_error_is_known(space, costs):  # noqa: F811
    resolved = search(space, "flops", measurements=nested(space, costs, 10 ** 6), storage="memory", save=False)
    assert noisy_steps(resolved.front, 10 ** 6) == 0
    assert not [n for n in resolved.notes if "standard errors" in n]
    unknown = [dataclasses.replace(r, extra=()) for r in nested(space, costs, 400)]  # digits:val, no hits
    assert not [n for n in search(space, "flops", measurements=unknown, storage="memory",
                                  save=False).notes if "standard errors" in n]


def test_the_cli_prints_the_note_on_stderr(space, costs, tmp_path, capsys):  # noqa: F811 - fixtures
    m = tmp_path / "m.jsonl"
    write_measurements(m, nested(space, costs, 200))
    code, out, err = run_cli(capsys, "search", "tiny_test", "--target", "flops", "--measurements", m,
                             "--out-dir", tmp_path / "out")
    assert code == 0
    assert "stitchnas: note: the flops front:" in err and "within two standard errors" in err
    assert "standard errors" not in out


def paired_se(gain: float, images: int) -> float:
    d = gain / 100
    return 100 * math.sqrt(images / (images - 1) * d * (1 - d)) / math.sqrt(images)


def test_query_names_the_cheapest_member_within_noise_of_its_answer(space, costs, tmp_path, capsys):  # noqa: F811
    m = tmp_path / "m.jsonl"
    write_measurements(m, nested(space, costs, 200))
    code, _, err = run_cli(capsys, "search", "tiny_test", "--target", "flops", "--measurements", m,
                           "--out-dir", tmp_path / "out")
    assert code == 0, err
    front = load_front("tiny_test", "flops", results=tmp_path / "out")
    ms = sorted(front.members, key=lambda p: p.flops)
    answer = ms[-2]  # the second most accurate member: budget at its FLOPs
    within = [p for p in ms if p.flops < answer.flops
              and answer.acc1 - p.acc1 < 2 * paired_se(answer.acc1 - p.acc1, 200)]
    assert within  # tiny_test's 1-point steps
    code, out, err = run_cli(capsys, "--results", tmp_path / "out", "query", "tiny_test", "--target", "flops",
                             "--max-flops", answer.flops)
    assert code == 0 and f'"id": {answer.id},' in out
    assert (f"stitchnas: note: id {within[0].id} costs less" in err
            and f"measured {answer.acc1 - within[0].acc1:.2f} points below this answer" in err)
    code, out, err = run_cli(capsys, "--results", tmp_path / "out", "query", "tiny_test", "--target", "flops",
                             "--max-flops", ms[1].flops)  # 5.5 points above the anchor: no note
    assert code == 0 and "costs less" not in err
