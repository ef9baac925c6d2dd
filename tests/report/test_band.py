"""The report's equivalence-band verdicts (climemu.report.band)."""

from __future__ import annotations

from types import SimpleNamespace

from climemu.report.band import band_table, outside, slack_of, verdicts

CFG = SimpleNamespace(band_slack_km=60.0, band_slack_months=0.3, band_slack_share=0.01)


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
    assert "**2 of 3**" in table
    assert "The truth's measures outside the band: 0 of 2" in table
