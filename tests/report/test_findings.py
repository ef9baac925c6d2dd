"""The report: claims phrased from the numbers it is given, never from the paper."""

import copy

import pytest

from climemu.report.findings import (ceiling, claim_locality, claim_location, claim_reach, claim_teleconnection,
                              exact_setting, faithfulness_table, render, same_size,
                                     skill_gate, NOT_JUDGED)
from tests import helpers


def _cells(r50, r90, share, source, early=0.1):
    return {"x": {"radius50_km": r50, "radius90_km": r90, "share_month_minus1": share,
                  "share_before_minus12": early, "efolding_month": -2.0, "source_box_share": source},
            "y": {"radius50_km": r50 + 10, "radius90_km": r90 + 10, "share_month_minus1": share,
                  "share_before_minus12": early, "efolding_month": -2.5, "source_box_share": 0.0}}


def _by_lead(early_x: dict[int, float]):
    return {str(lead): {"cells": {"x": {"share_before_minus12": v, "share_month_minus1": 0.5, "efolding_month": -2.0},
                                  "y": {"share_before_minus12": 0.0, "share_month_minus1": 0.7, "efolding_month": -1.5}},
                        "curve_spread": 0.2} for lead, v in early_x.items()}


# x lies in the planted link's target box (the aggregate stage writes the cells it resolved there)
AGGREGATE = {"method": "deeplift", "n_samples": 8, "linked_cells": ["x"],
             "attribution": {"cells": _cells(300.0, 900.0, 0.18, 1e-10, early=0.3), "curve_spread": 0.006},
             "truth": {"cells": _cells(120.0, 220.0, 0.57, 0.05, early=0.05), "curve_spread": 0.019,
                       "by_lead": _by_lead({1: 0.05, 9: 0.18})}}
ABLATE = {"far_field_influence": 0.008, "halo_cells": 3,
          "teleconnection": {"model_target_response_mean_abs": 6e-9, "true_target_response_mean_abs": 0.027,
                             "response_ratio": 2e-7, "response_correlation": 0.01}}
STEPS = ["last", "middle", "first"]


def _sanity(random_r90, signed_full=0.0):
    entry = lambda signed: {  # noqa: E731
        "spearman": dict(zip(STEPS, signed)), "spearman_abs": dict(zip(STEPS, [0.99, 0.98, 0.97])),
        "trained": {"radius50_km": 300.0, "radius90_km": 900.0, "share_month_minus1": 0.15, "efolding_month": -2.0},
        "randomised": {"radius50_km": 500.0, "radius90_km": random_r90, "share_month_minus1": 0.02,
                       "efolding_month": float("nan")}}
    return {"cell": "x", "n_samples": 4, "lead": 1, "steps": STEPS,
            "deeplift": entry([0.1, 0.0, 0.0]), "saliency": entry([0.99, 0.99, signed_full or 0.98])}


SCORE_ALL = {"pearson_median": 0.55, "pearson_q25": 0.5, "pearson_q75": 0.6, "spearman_median": 0.0,
             "pearson_support_median": 0.87, "spearman_support_median": 0.5, "radius50_abs_error_km": 200.0,
             "radius90_abs_error_km": 700.0, "curve_error": 1.36}
SCORE = {"n_samples": 8, "lead": 1,
         "truth": {"x": {"source_box_share": 0.05}, "y": {"source_box_share": 0.0}},
         "deeplift": {"all": SCORE_ALL, **_cells(310.0, 2000.0, 0.2, 1e-10)},
         "saliency": {"all": {**SCORE_ALL, "pearson_support_median": 0.3}, **_cells(400.0, 950.0, 0.1, 0.01)}}
SKILL = {"test": {"model": {"rmse_degC": 0.09, "acc_time": 0.98}, "persistence": {"rmse_degC": 0.05, "acc_time": 0.99},
                  "truth": {"rmse_degC": 0.04, "acc_time": 0.995}}}


def test_locality_follows_the_rule_and_the_null():
    # trained r90 900 km, random 1000 km: 900 / 1000 = 0.90 >= 0.8, the same size: architectural
    c = claim_locality(AGGREGATE, _sanity(random_r90=1000.0), local_km=1500.0, ratio_min=0.8)
    assert c.verdict.startswith("Holds for the network") and "910 km" in c.evidence_for[0]
    assert "architecture" in c.verdict and c.short == "holds; mostly architectural"
    assert any("wider than the truth" in e for e in c.evidence_against)
    assert claim_locality(AGGREGATE, _sanity(1000.0), 1500.0, ratio_min=0.95).short == "holds"  # 0.90 < 0.95
    strict = claim_locality(AGGREGATE, _sanity(random_r90=3000.0), local_km=500.0, ratio_min=0.8)
    assert strict.verdict.startswith("Does not hold") and "910 km" in strict.evidence_against[0]
    assert any("learnt" in e for e in strict.evidence_for)
    assert claim_locality(AGGREGATE, None, 1500.0, 0.8).short == "holds"


def test_random_weights_far_more_local_is_not_architectural():
    # The headline run's case: random r90 128 km under the 1,500 km rule, trained 900 km:
    # 128 / 900 = 0.142 < 0.8, so the trained reach is learnt, though both pass the threshold.
    c = claim_locality(AGGREGATE, _sanity(random_r90=128.0), local_km=1500.0, ratio_min=0.8)
    assert c.short == "holds" and "learnt" in c.verdict and "ratio of r90 0.14" in c.evidence_for[-1]
    # random 1,400 km, trained 900: both local, 900 / 1400 = 0.64 < 0.8: learnt as well
    assert claim_locality(AGGREGATE, _sanity(random_r90=1400.0), 1500.0, 0.8).short == "holds"


@pytest.mark.parametrize("a, b, ratio_min, same", [
    (900.0, 1000.0, 0.8, True),      # 0.900
    (800.0, 1000.0, 0.8, True),      # 0.800, the edge counts
    (799.0, 1000.0, 0.8, False),     # 0.799
    (1000.0, 128.0, 0.8, False),     # 0.128, either order
    (0.0, 100.0, 0.8, False),        # a zero radius has no ratio
])
def test_same_size_is_the_smaller_over_the_larger(a, b, ratio_min, same):
    assert same_size(a, b, ratio_min) is same


def test_location_independence_and_the_truth():
    assert claim_location(AGGREGATE, spread_max=0.02).short == "holds"
    c = claim_location(AGGREGATE, spread_max=0.005)
    assert c.short == "does not hold" and "0.006" in c.verdict
    assert any("0.019" in e for e in c.evidence_against)


def test_location_independence_fails_when_the_basin_spreads():
    basin = {"n_cells": 24, "attributions": 384, "curve_spread": 0.05, "curve_spread_noise": 0.03,
             "curve_spread_excess": 0.04, "share_month_minus1": {"p10": 0.11, "median": 0.16, "p90": 0.22}}
    c = claim_location(AGGREGATE, spread_max=0.02, basin=basin)
    assert c.short == "does not hold" and "0.040" in c.verdict
    assert any("24 ocean cells" in e and "16 samples" in e and "0.030" in e and "0.11 to 0.22" in e
               for e in c.evidence_against)
    noisy = {**basin, "curve_spread_noise": 0.048, "curve_spread_excess": 0.014}   # mostly sampling noise
    assert claim_location(AGGREGATE, spread_max=0.02, basin=noisy).short == "holds"


def test_reach_needs_several_leads_and_reports_this_one():
    c = claim_reach(AGGREGATE, _sanity(1000.0), lead=6, ratio_min=0.8)
    assert "one lead (6)" in c.verdict
    assert any("0.57" in e for e in c.evidence_against)          # the truth is more concentrated
    # random share 0.020 against trained 0.15: 0.13 < 0.8, learnt
    assert any("0.020" in e and "is learnt" in e for e in c.evidence_for)


def test_reach_profile_of_random_weights_close_to_the_trained_is_architectural():
    sanity = _sanity(1000.0)
    sanity["deeplift"]["randomised"]["share_month_minus1"] = 0.13     # 0.13 / 0.15 = 0.87 >= 0.8
    c = claim_reach(AGGREGATE, sanity, lead=6, ratio_min=0.8)
    assert any("comes with the architecture" in e for e in c.evidence_against)
    assert not any("is learnt" in e for e in c.evidence_for)


def test_teleconnection_verdict_flips_with_the_response():
    c = claim_teleconnection(AGGREGATE, ABLATE, ratio_max=0.1, linked=["x"])
    assert c.short == "holds for the network, not for the data"
    assert any("5.0%" in e for e in c.evidence_against)          # the truth's source-box share
    responsive = copy.deepcopy(ABLATE)
    responsive["teleconnection"]["response_ratio"] = 0.6
    assert claim_teleconnection(AGGREGATE, responsive, 0.1, ["x"]).short == "does not hold"
    # Without a linked cell the truth's share is not quoted
    assert not any("source box" in e for e in claim_teleconnection(AGGREGATE, ABLATE, 0.1, []).evidence_against)


def test_ceiling_says_who_wins():
    assert "lowest test RMSE" in ceiling(SKILL, exact=True)
    assert "The LIM" not in ceiling(SKILL, exact=True)
    spanned = {**SKILL, "lim_modes": 100, "lim_span_share_val": 0.084}
    assert "The LIM (100 EOFs of the training period, chosen on validation) can represent 8% of" in \
        ceiling(spanned, exact=True)
    worse = copy.deepcopy(SKILL)
    worse["test"]["truth"]["rmse_degC"] = 0.06
    assert "persistence match(es) or beat(s)" in ceiling(worse, exact=True)
    assert "check the truth" in ceiling(worse, exact=True)
    assert "only approximate" in ceiling(worse, exact=False)
    shared = copy.deepcopy(SKILL)
    shared["test"]["shared_filter"] = {"rmse_degC": 0.05, "acc_time": 0.99}
    # by hand: (0.09 / 0.04)^2 = 5.0625, (0.05 / 0.04)^2 = 1.5625
    assert "Test MSE over the truth's: model 5.062x, shared_filter 1.562x." in ceiling(shared, exact=True)


@pytest.mark.parametrize("source,smooth,seasonal,exact", [
    ("synthetic", 1, False, True), ("synthetic", 12, False, False), ("synthetic", 1, True, False),
    ("pangeo", 1, False, False)])                         # no truth at all on real data
def test_exact_setting(source, smooth, seasonal, exact):
    params = helpers.params({"smooth": {"months": {"synthetic": smooth}},
                             "data": {"source": source, "synthetic": {"seasonal_cycle": seasonal}}})
    assert exact_setting(params) is exact


def test_render_holds_every_section():
    params = helpers.params()
    basin = {"n_cells": 24, "attributions": 384, "curve_spread": 0.01, "curve_spread_noise": 0.008,
             "curve_spread_excess": 0.006, "share_month_minus1": {"p10": 0.11, "median": 0.16, "p90": 0.22},
             "truth": {"curve_spread": 0.3, "curve_spread_noise": 0.001}}
    text = render(params, AGGREGATE, ABLATE, SCORE, _sanity(1000.0, signed_full=0.9), SKILL, basin)
    for heading in ("Finding 1", "Finding 2", "Finding 3", "Finding 4", "Every method against the truth",
                    "Sanity checks", "The ceiling"):
        assert f"## {heading}" in text
    assert "Setting: smoothing 1 month(s), seasonal cycle off: the truth is **exact**" in text   # the default
    # the controls: the truth through each rule beside the network's methods
    controls = text.split("## Controls", 1)[1].split("\n## ", 1)[0]
    rows = [r for r in controls.splitlines() if r.startswith("| ") and "---" not in r][1:]
    assert len(rows) == 4
    local, reach, location, tele = rows
    assert "| local: r90 220 km to 230 km" in local and "deeplift: not local; saliency: local" in local
    assert "grows at x (leads 1 -> 9: x 0.050 -> 0.180, y 0.000 -> 0.000)" in reach
    assert "| independent: spread 0.019; basin (24 cells): depends (spread 0.300, noise 0.001) |" in location
    assert "independent (spread 0.010, noise 0.008)" in location
    assert "present: 5.0%" in tele and "deeplift: absent; saliency: present" in tele
    assert "Highest median Pearson on the truth's support: **deeplift** (0.87); lowest: saliency (0.30)" in text
    assert "| saliency | 0.99 | 0.90 |" in text and "Failing: saliency." in text


def _faithfulness(validated: bool) -> dict:
    ranking = {"cell.zero.deletion_auc_degC": ["deeplift", "saliency"], "cell.zero.correlation": ["saliency", "deeplift"]}
    values = {"cell.zero.deletion_auc_degC": {"deeplift": 0.3, "saliency": 0.1},
              "cell.zero.correlation": {"deeplift": 0.2, "saliency": 0.4}}
    out = {"n_samples": 2, "fractions": [0.001, 0.3], "ranking": ranking, "values": values,
           "overall": {"ranking": ["deeplift", "saliency"]}}
    if validated:
        out["distinct_methods"], out["alpha"] = ["deeplift", "saliency"], 0.05
        out["validation"] = {"cell.zero.deletion_auc_degC": {"spearman": 1.0, "p": 0.01, "p_holm": 0.02,
                                                             "verdict": "validated", "methods": 2},
                             "cell.zero.correlation": {"spearman": -1.0, "p": 1.0, "p_holm": 1.0,
                                                       "verdict": "ranks against the truth", "methods": 2}}
    return out


def test_faithfulness_names_the_validated_measures():
    text = faithfulness_table(_faithfulness(True))
    assert "| cell.zero.correlation | saliency > deeplift | -1.00 (p 1, Holm 1): ranks against the truth |" in text
    assert "| cell.zero.deletion_auc_degC | deeplift > saliency | 1.00 (p 0.01, Holm 0.02): validated |" in text
    assert "below 0.05 after a Holm correction across the 2 measures. Validated in this run: " \
           "cell.zero.deletion_auc_degC." in text
    assert "Overall (mean rank): **deeplift > saliency**" in text
    # five distinct methods and eight measures: even a perfect ranking has Holm p 8 / 120 > 0.05
    weak = _faithfulness(True)
    for v in weak["validation"].values():
        v.update(verdict="consistent" if v["spearman"] > 0 else v["verdict"], underpowered=True)
    weak_text = faithfulness_table(weak)
    assert "Validated in this run: none." in weak_text and "Not validated: underpowered." in weak_text
    assert "consistent; not validated: underpowered |" in weak_text
    real = faithfulness_table(_faithfulness(False), ["cell.zero.correlation"])
    assert "no truth in this run" in real and "docs/results.md" in real
    assert "| cell.zero.correlation | saliency > deeplift | no truth in this run; validated on the synthetic source |" in real
    assert "| cell.zero.deletion_auc_degC | deeplift > saliency | no truth in this run; not validated" in real
    assert "validated there (`report.faithfulness_validated`): cell.zero.correlation. Ranked by those alone: **saliency > deeplift**." in real


def test_render_adds_faithfulness_when_given():
    params = helpers.params()
    assert "## Faithfulness" not in render(params, AGGREGATE, ABLATE, SCORE, None, SKILL)
    assert "## Faithfulness" in render(params, AGGREGATE, ABLATE, SCORE, None, SKILL,
                                       faithfulness=_faithfulness(False))


def _skill(model_rmse: float) -> dict:
    # MSE: climatology 0.16, truth 0.09 (predictable 0.07), damped persistence 0.1089, LIM 0.1225
    rmse = {"climatology": 0.4, "truth": 0.3, "damped_persistence": 0.33, "lim": 0.35, "model": model_rmse}
    return {"test": {name: {"rmse_degC": v, "acc_time": 0.9} for name, v in rmse.items()}}


@pytest.mark.parametrize("model_rmse, passed, words", [
    (0.305, True, "captures 96%"),         # (0.16 - 0.093025) / 0.07 = 0.957
    (0.32, False, "captures 82%"),         # 0.1024: beats damped persistence (0.94x), (0.16 - 0.1024) / 0.07 = 0.823
    (0.34, False, "1.06x damped_persistence's"),   # 0.1156 / 0.1089 = 1.062: loses to damped persistence
])
def test_skill_gate_worked_by_hand(model_rmse, passed, words):
    ok, text = skill_gate(_skill(model_rmse), captured_min=0.9)
    assert ok is passed and words in text
    if model_rmse == 0.305:   # every predictor, by MSE over the truth's: 0.093025 / 0.09 = 1.03, 0.1089 / 0.09 = 1.21
        assert text.endswith("(MSE over the truth's: truth 1.00, network 1.03, damped_persistence 1.21, lim 1.36, "
                             "climatology 1.78)")


def test_a_network_without_skill_gets_no_verdict():
    params = helpers.params()
    bad = render(params, AGGREGATE, ABLATE, SCORE, _sanity(1000.0), _skill(0.34))
    summary = bad.split("## Controls", 1)[0]
    assert "| skill (test split; the gate) | **not skilful**" in summary
    assert summary.count(f"| {NOT_JUDGED} |") == 4
    assert bad.count("Not judged: the network is not skilful") == 4 and "Holds for the network" not in bad
    good = render(params, AGGREGATE, ABLATE, SCORE, _sanity(1000.0), _skill(0.305))
    assert NOT_JUDGED not in good and "| skill (test split; the gate) | skilful: " in good
    assert "Holds for the network" in good


def test_skip_path_section_gives_the_share_and_each_measure_whole_and_table1():
    aggregate = copy.deepcopy(AGGREGATE)
    aggregate["table1"] = {"cells": _cells(800.0, 2000.0, 0.05, 0.0, early=0.4), "curve_spread": 0.03,
                           "skip_share": {"x": 0.62, "y": 0.5}}
    text = render(helpers.params(), aggregate, ABLATE, SCORE, _sanity(1000.0), SKILL)
    section = text.split("## The skip path and Table 1's network", 1)[1].split("\n## ", 1)[0]
    # x: 62% through the path; r50 300 km whole, 800 km Table 1's; r90 900 / 2000 km; shares by hand
    assert "| x | 62.0% | 300 km / 800 km | 900 km / 2000 km | 18.0% / 5.0% | 30.0% / 40.0% |" in section
    assert "| y | 50.0% | 310 km / 810 km |" in section
    assert "0.006 / 0.030" in section
    assert "## The skip path" not in render(helpers.params(), AGGREGATE, ABLATE, SCORE, _sanity(1000.0), SKILL)


def test_skip_path_section_on_real_data_has_no_source_box():
    aggregate = copy.deepcopy(AGGREGATE)
    for cells in (aggregate["attribution"]["cells"],):
        for c in cells.values():
            c.pop("source_box_share")
    aggregate["table1"] = {"cells": copy.deepcopy(aggregate["attribution"]["cells"]), "curve_spread": 0.01,
                           "skip_share": {"x": 0.5, "y": 0.5}}
    from climemu.report.findings import skip_path_table
    assert "| x | 50.0% | 300 km / 300 km | 900 km / 900 km | 18.0% / 18.0% | 30.0% / 30.0% | n/a" in \
        skip_path_table(aggregate)


def test_chain_power_beside_each_verdict():
    from climemu.report.findings import chain_power
    entry = {"present": {"k": 2, "n": 3, "low": 0.14, "high": 0.98}, "absent": {"k": 0, "n": 3, "low": 0.0, "high": 0.63}}
    power = {"local": {"sources": {"group": entry}}}
    assert chain_power(power, "local") == ("finds locality in 2/3 where planted [0.14, 0.98], "
                                           "in 0/3 where absent [0.00, 0.63]")
    assert chain_power(power, "reach") == "not measured (`make controls`)"
    assert chain_power({}, "local") == chain_power(None, "local") == "not measured (`make controls`)"
    # the gate hid a false alarm: the maps of 2 of 3 absent replicates pass the rule, their networks fail it
    entry["absent"]["rule"] = {"k": 2, "n": 3}
    entry["present"]["rule"] = {"k": 2, "n": 3}
    assert chain_power(power, "local").endswith(
        "where absent [0.00, 0.63] (the rule alone, gate or not: 2/3 where planted, 2/3 where absent)")
