"""The report's equivalence-band verdicts (climemu.report.band)."""

from __future__ import annotations

from types import SimpleNamespace

from climemu.report.band import band_table, outside, slack_of, verdicts

CFG = SimpleNamespace(band_slack_km=60.0, band_slack_months=0.3, band_slack_share=0.01, band_coverage_min=0.9)


def test_outside_only_beyond_the_slack():
    band = {"low": 0.2, "high": 0.3}
    assert outside(0.25, band) is False
    assert outside(0.305, band) is True and outside(0.305, band, 0.01) is False
    assert outside(0.19, band, 0.005) is True
    assert outside(float("nan"), band) is None


def test_slack_by_measure_kind():
    assert slack_of("radius50_km", CFG) == 60.0
    assert slack_of("efolding_month", CFG) == 0.3
    assert slack_of("share_month_minus1", CFG) == 0.01


def _band(low, high):
    return {"low": low, "high": high}


def test_verdicts_and_table_count_outside_measures():
    aggregate = {"attribution": {"cells": {"c": {
        "radius50_km": 500.0, "share_month_minus1": 0.25,
        "variants": {"signed": {"share_month_minus1": 0.9}}}}},
        "truth": {"cells": {"c": {"radius50_km": 100.0, "share_month_minus1": 0.26}}}}
    band = {"tolerance": 0.05, "cells": {"c": {
        "n_near_optimal": 2, "n_predictors": 3, "best_val_mse": 0.1,
        "band": {"abs": {"radius50_km": _band(0.0, 120.0), "share_month_minus1": _band(0.2, 0.3)},
                 "signed": {"share_month_minus1": _band(0.5, 0.6)}}}}}
    v = verdicts(aggregate, band, CFG)
    assert v[("c", "abs", "radius50_km")][2] is True       # 500 km > 120 + 60
    assert v[("c", "abs", "share_month_minus1")][2] is False
    assert v[("c", "signed", "share_month_minus1")][2] is True
    assert verdicts(aggregate, band, CFG, "truth")[("c", "abs", "radius50_km")][2] is False
    table = band_table(aggregate, band, CFG)
    assert "**2 of 3**" in table and "**outside**" in table
    assert "the band holds the truth's measures at c 2 of 2" in table and "no judge" not in table


def test_a_band_that_misses_the_truth_judges_nothing_there():
    aggregate = {"attribution": {"cells": {"c": {"radius50_km": 500.0, "share_month_minus1": 0.25}}}}
    band = {"tolerance": 0.05, "cells": {"c": {
        "n_near_optimal": 2, "n_predictors": 3, "best_val_mse": 0.1,
        # the band stage's own truth measures (preferred to aggregate's): radius inside, share not
        "truth": {"abs": {"radius50_km": 100.0, "share_month_minus1": 0.9}},
        "band": {"abs": {"radius50_km": _band(0.0, 120.0), "share_month_minus1": _band(0.2, 0.3)}}}}}
    table = band_table(aggregate, band, CFG)
    # coverage 1 of 2 < 90%: the method's 500 km is "beyond", not "outside", and nothing is counted
    assert "at c 1 of 2" in table and "At c it holds less, so there it is no judge" in table
    assert "**outside**" not in table and "500 beyond [0.00, 120]" in table
    assert "**The band judges no cell here**" in table and "of 0**" not in table
    loose = SimpleNamespace(**{**vars(CFG), "band_coverage_min": 0.5})
    assert "**1 of 2**" in band_table(aggregate, band, loose)
