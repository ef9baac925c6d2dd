"""Positive and negative controls for the report's rules (docs/measures.md, "Controls").

The exact contributions of the synthetic source go through the pipeline's own path: the fetch
stage's generator, smoothing (none: the exact setting) and windows, the explain stage's group
sums (the truth is explained beside a method, :func:`climemu.attribution.explain.explain_group`),
the aggregate stage's measures and the report's rules (:mod:`climemu.report.rules`), with the
committed ``report`` params. At the generator's defaults every planted property must be found
where it is planted; with each property switched off in the generator, it must not be found: a
rule that gives both settings the same verdict decides nothing.

Marked ``pipeline``: it runs the pipeline's chain end to end (about 40 s on 2 cores), so it is
in `make test`, not in `make test-fast`.
"""

from functools import lru_cache

import pytest
import torch
from torch import nn

from climemu.attribution import aggregate
from climemu.attribution.cells import resolve_cells
from climemu.attribution.explain import explain_group
from climemu.core.grid import box_mask, cell_centres
from climemu.data.smooth import smooth
from climemu.data.window import WindowedData, build_windows
from climemu.report import rules
from climemu.truth.loader import truth_of
from climemu.truth.synthetic import generate
from tests.helpers import params

pytestmark = pytest.mark.pipeline

N_SAMPLES = 32      # group samples, the training windows ...
STRIDE = 10         # ... 10 months apart (nearly independent, as the 3-year spacing used before)
YEARS = 42          # 504 months: the 32 windows, one validation and one test window, and the gaps


class Zero(nn.Module):
    """A network that predicts nothing: the controls need the truth's sums, not a network's."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, kernel_size=1, bias=False)
        nn.init.zeros_(self.conv.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:   # (B, 36, H, W) -> (B, 1, H, W)
        return self.conv(x[:, -1:])


def _switched_off(name: str):
    p = params()
    syn = p.data.synthetic
    memories = lambda **kw: {"regions": [r.model_copy(update=kw) for r in syn.regions], **kw}  # noqa: E731
    update = {
        "planted": {},
        # every cell averages over a 25-cell radius: importance spreads over thousands of km
        "locality off": memories(kernel_radius=25, kernel_self=0.0),
        "reach off": memories(reemergence=0.0),
        # one memory everywhere (the base's), the kernels and the teleconnection kept
        "location off": {"regions": [r.model_copy(update={"persistence": syn.persistence, "decay": syn.decay,
                                                          "reemergence": syn.reemergence})
                                     for r in syn.regions]},
        "teleconnection off": {"tele_gain": 0.0},
    }[name]
    return p, syn.model_validate({**syn.model_dump(), **{k: (v if not isinstance(v, list) else
                                                              [r.model_dump() for r in v])
                                                          for k, v in update.items()}})


@lru_cache(maxsize=None)
def measured(name: str) -> tuple[dict, dict]:
    p, syn = _switched_off(name)
    syn = syn.model_copy(update={"seasonal_cycle": False})                 # the exact setting
    raw = generate(syn, p.data.box, p.data.resolution, [401, 400 + YEARS])  # the fetch stage's generator
    truth = truth_of(raw)
    smoothed = smooth(raw, 1)
    window = p.window.model_copy(update={"n_train": N_SAMPLES, "n_val": 1, "n_test": 1, "stride": STRIDE})
    data = WindowedData(smoothed, build_windows(smoothed, window, p.lead))
    cells = resolve_cells(p.explain.group_cells, data.lat, data.lon, data.ocean)
    explain = p.explain.model_copy(update={"max_samples": N_SAMPLES, "batch_size": 8})
    group, _ = explain_group(Zero(), data, explain, cells, source_box=truth.source_box,
                             truth=lambda c, lead=p.lead: truth.coefficients((c.i, c.j), lead, data.input_months))
    m = aggregate.measures(group, truth.source_box)["truth"]
    cfg = p.report
    verdicts = {
        "local": rules.local(m["cells"], cfg.local_km),
        "reach": rules.reach_by_cell(m["by_lead"], cfg.reach_ratio_min, cfg.reach_share_min),
        "location": rules.location_dependent(m["curve_spread"], cfg.spread_max),
        "teleconnection": rules.teleconnection(m["cells"], truth.linked(cells), cfg.tele_share_min),
    }
    return m, verdicts


def test_defaults_place_a_group_cell_in_each_planted_region():
    p = params()
    syn = p.data.synthetic
    lat, lon = cell_centres(p.data.box, p.data.resolution)
    for box in [r.box for r in syn.regions] + [syn.target_box]:
        inside = box_mask(lat, lon, box)
        assert any(bool(inside.sel(lat=c.lat, lon=c.lon, method="nearest")) for c in p.explain.group_cells), box


def test_planted_truth_has_every_property_where_it_is_planted():
    m, v = measured("planted")
    assert v["local"], {k: c["radius90_km"] for k, c in m["cells"].items()}
    # re-emergence lives in the subpolar region only, where the target-box cell lies
    reemerging = {r.name for r in params().data.synthetic.regions if r.reemergence > 0}
    assert reemerging and v["reach"]["target_box"] is True
    assert v["reach"]["mid_atlantic"] is False and v["reach"]["subtropics"] is False
    assert v["location"], m["curve_spread"]
    assert v["teleconnection"]
    # finding 1's counterpart: the regions' kernels give the truth different 50% radii
    r50 = [c["radius50_km"] for c in m["cells"].values()]
    assert max(r50) - min(r50) >= 100.0, r50


@pytest.mark.parametrize("name, finding", [("locality off", "local"), ("reach off", "reach"),
                                           ("location off", "location"),
                                           ("teleconnection off", "teleconnection")])
def test_each_property_switched_off_is_not_found(name, finding):
    m, v = measured(name)
    if finding == "local":
        assert v["local"] is False, {k: c["radius90_km"] for k, c in m["cells"].items()}
    elif finding == "reach":
        assert not any(v["reach"].values()), v["reach"]
    elif finding == "location":
        assert v["location"] is False, m["curve_spread"]
    else:
        assert v["teleconnection"] is False
    # and the other findings keep the planted verdict (the switch is specific)
    _, planted = measured("planted")
    for other in ("local", "teleconnection"):
        if other != finding and not (name == "location off" and other == "location"):
            assert v[other] == planted[other], (name, other)


# --- the end-to-end controls' settings (params.yaml `controls`, tools/controls.py) ------------------

@lru_cache(maxsize=None)
def controls_truth(setting: str) -> tuple[dict, list[str]]:
    """The truth's measures of one controls setting at the controls' scale (its `set`), the first
    replicate's data seed, through the same chain as :func:`measured`."""
    from climemu.config import Params, with_overrides
    from tests.helpers import raw_params
    raw = raw_params()
    cfg = params().controls
    p = Params.model_validate(with_overrides(raw, {**cfg.set, **cfg.settings[setting],
                                                   "data.synthetic.seed": cfg.replicates[0].data}))
    raw_data = generate(p.data.synthetic.model_copy(update={"seasonal_cycle": False}), p.data.box,
                        p.data.resolution, [401, 400 + YEARS])
    truth = truth_of(raw_data)
    smoothed = smooth(raw_data, 1)
    window = p.window.model_copy(update={"n_train": N_SAMPLES, "n_val": 1, "n_test": 1, "stride": STRIDE})
    data = WindowedData(smoothed, build_windows(smoothed, window, 1))
    cells = resolve_cells(p.explain.group_cells, data.lat, data.lon, data.ocean)
    explain = p.explain.model_copy(update={"max_samples": N_SAMPLES, "batch_size": 8, "methods": ["deeplift"]})
    group, _ = explain_group(Zero(), data, explain, cells, source_box=truth.source_box,
                             truth=lambda c, lead=1: truth.coefficients((c.i, c.j), lead, data.input_months))
    return aggregate.measures(group, truth.source_box)["truth"], truth.linked(cells)


@pytest.mark.parametrize("finding", ["local", "reach", "location", "teleconnection"])
def test_each_controls_pair_plants_its_finding_in_the_truth_and_withholds_it(finding):
    # The pair tests the chain only if the settings' own answer differs: yes present, no absent.
    cfg, rule = params().controls, params().report
    pair = cfg.pairs[finding]
    found = {}
    for state in ("present", "absent"):
        m, linked = controls_truth(getattr(pair, state))
        found[state] = {
            "local": lambda: rules.local(m["cells"], rule.local_km),
            "reach": lambda: any(rules.reach_by_cell(m["by_lead"], rule.reach_ratio_min, rule.reach_share_min).values()),
            "location": lambda: rules.location_dependent(m["curve_spread"], rule.spread_max),
            "teleconnection": lambda: rules.teleconnection(m["cells"], linked, rule.tele_share_min),
        }[finding]()
    assert found == {"present": True, "absent": False}, (finding, pair)
