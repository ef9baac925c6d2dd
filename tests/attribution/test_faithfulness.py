"""Faithfulness without a truth: hand-worked linear cases, and cross-checks against Quantus.

Quantus (0.6.0) is written for classifiers: the network is wrapped so that the explained output
cell is a one-"class" output (docs/measures.md, "Faithfulness without a truth").
"""

import copy

import numpy as np
import pytest
import quantus
import torch
from torch import nn

from climemu.attribution.cells import resolve_cells
from climemu.attribution.faithfulness import (Remover, deletion_auc, deletion_curve, faithfulness_correlation,
                                              faithfulness_measures, faithfulness_study, impute, unit_ids,
                                              unit_sums)
from climemu.attribution.ranking import mean_rank
from climemu.attribution.methods import attribute
from climemu.attribution.sanity import cascade, rank_agreement
from climemu.config import CellSpec



class LinearCell(nn.Module):
    """Every output cell is ``sum(w * x)``: the exact contributions are ``w * x``."""

    def __init__(self, w: np.ndarray):
        super().__init__()
        self.w = nn.Parameter(torch.as_tensor(w, dtype=torch.float32), requires_grad=False)

    def forward(self, x):
        y = (x * self.w).sum((1, 2, 3))
        return y[:, None, None, None].expand(len(x), 1, *x.shape[2:])


def _forward(model, cell, sign=1.0):
    def f(xs):
        with torch.no_grad():
            return sign * model(xs)[:, 0, cell[0], cell[1]]
    return f


def test_deletion_curve_of_a_linear_model_by_hand():
    # contributions w * x = [1, 2, 3, -2], f(x) = 4 > f(0) = 0: removed in the order 3, 2, 1, -2
    w = np.array([[[1.0, 2.0], [3.0, -1.0]]])
    x = torch.tensor([[[1.0, 1.0], [1.0, 2.0]]])
    ids, n = unit_ids(np.ones((2, 2), bool), 1, 1)
    assert n == 4
    score = unit_sums((w * x.numpy())[None], ids, n)[0]
    curve = deletion_curve(_forward(LinearCell(w), (0, 0)), x, score, ids, n, [0.25, 0.5, 0.75, 1.0],
                           Remover("zero"))
    np.testing.assert_allclose(curve, [3.0, 5.0, 6.0, 4.0], rtol=1e-6)


def test_deletion_auc_by_hand():
    # log10 fractions -2, -1, 0: two equal steps, trapezoids (1 + 2) / 2 and (2 + 4) / 2, over a span of 2
    np.testing.assert_allclose(deletion_auc(np.array([1.0, 2.0, 4.0]), [0.01, 0.1, 1.0]), 2.25)
    np.testing.assert_allclose(deletion_auc(np.array([[3.0, 5.0]]), [0.1, 1.0]), [4.0])


def test_exact_contributions_give_the_largest_deletion_curve_of_a_linear_model():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(2, 4, 5))
    x = torch.as_tensor(rng.normal(size=(2, 4, 5)), dtype=torch.float32)
    model = LinearCell(w)
    ids, n = unit_ids(np.ones((4, 5), bool), 2, 1)
    exact = (w * x.numpy())
    sign = np.sign(exact.sum())
    fractions = [0.05, 0.1, 0.2, 0.4, 0.6]
    best = deletion_curve(_forward(model, (1, 1), sign), x, sign * unit_sums(exact[None], ids, n)[0],
                          ids, n, fractions, Remover("zero"))
    for other in (np.abs(w), rng.normal(size=w.shape), w):       # saliency, noise, gradient alone
        curve = deletion_curve(_forward(model, (1, 1), sign), x, sign * unit_sums(other[None], ids, n)[0],
                               ids, n, fractions, Remover("zero"))
        assert np.all(curve <= best + 1e-5)
    assert deletion_auc(best, fractions) > 0


def test_faithfulness_correlation_of_exact_contributions_is_one():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(3, 4, 4))
    x = torch.as_tensor(rng.normal(size=(3, 4, 4)), dtype=torch.float32)
    model = LinearCell(w)
    ids, n = unit_ids(np.ones((4, 4), bool), 3, 1)
    sums = unit_sums((w * x.numpy())[None], ids, n)[0]
    subsets = np.stack([rng.choice(n, 5, replace=False) for _ in range(20)])
    removed = np.zeros((20, n + 1), bool)
    np.put_along_axis(removed, subsets, True, axis=1)
    xs = Remover("zero")(x[None].expand(20, -1, -1, -1), torch.from_numpy(removed[:, ids]), np.zeros(20, int))
    f = _forward(model, (0, 0))
    drops = (f(x[None]) - f(xs)).numpy()
    assert faithfulness_correlation(sums[subsets].sum(1), drops) == pytest.approx(1.0, abs=1e-6)
    # the gradient alone (w) ignores the inputs' values: clearly below 1
    assert faithfulness_correlation(unit_sums(w[None], ids, n)[0][subsets].sum(1), drops) < 0.9


def test_block_units_cover_every_ocean_input_once():
    ocean = np.ones((3, 5), bool)
    ocean[0, 0] = False
    ids, n = unit_ids(ocean, 2, 2)
    # squares of 2 x 2 from the first row and column, partial ones at the edges: 2 x 3 per month
    assert n == 12 and ids[0, 0, 0] == -1
    assert ids[0, 0, 1] == ids[0, 1, 1] == ids[0, 1, 0]            # one square
    assert ids[1, 0, 1] != ids[0, 0, 1]                            # months apart
    assert ids[0, 2, 4] == n // 2 - 1                              # the partial corner square
    sums = unit_sums(np.ones((1, 2, 3, 5)), ids, n)[0]
    assert sums.sum() == 2 * ocean.sum() and sums[0] == 3          # the square missing a land cell


def test_imputation_by_hand():
    x = torch.full((1, 1, 3, 3), 2.0)
    removed = torch.zeros(1, 1, 3, 3, dtype=torch.bool)
    removed[0, 0, 1, 1] = True
    out = impute(x, removed, sweeps=0)
    np.testing.assert_allclose(out.numpy(), 2.0)                   # the neighbours' mean
    everything = impute(x, torch.ones_like(removed), noise=torch.full_like(x, 0.5), sweeps=10)
    np.testing.assert_allclose(everything.numpy(), 0.5)            # no data: the climatology, plus noise


def test_imputation_converges_to_quantus_noisy_linear_imputation():
    """Many Jacobi sweeps give ROAD's linear system's solution (Quantus solves it directly)."""
    from quantus.functions.perturb_func import noisy_linear_imputation

    rng = np.random.default_rng(2)
    x = rng.normal(size=(1, 8, 9))
    flat = rng.choice(72, 20, replace=False)
    ref = noisy_linear_imputation(arr=x.copy(), indices=flat, noise=0.0)
    removed = np.zeros(72, bool)
    removed[flat] = True
    ours = impute(torch.as_tensor(x[None]), torch.from_numpy(removed.reshape(1, 1, 8, 9)), sweeps=3000)
    np.testing.assert_allclose(ours.numpy()[0], ref, atol=1e-8)


class TinyNet(nn.Module):
    """Three named blocks, each one layer with parameters: the project's cascade and Quantus's
    layer-by-layer randomisation then visit the same layers in the same order."""

    BLOCKS = ("stem", "mid", "last")

    def __init__(self, months: int):
        super().__init__()
        torch.manual_seed(3)
        self.stem = nn.Conv2d(months, 4, 3, padding=1)
        self.mid = nn.Conv2d(4, 4, 3, padding=1)
        self.last = nn.Conv2d(4, 1, 3, padding=1)

    def forward(self, x):
        return self.last(torch.tanh(self.mid(torch.tanh(self.stem(x)))))


class OneClass(nn.Module):
    """The emulator reduced to one output cell as a one-"class" classifier, ``(B, 1)``, for Quantus."""

    def __init__(self, net: nn.Module, cell, sign: float = 1.0):
        super().__init__()
        self.net, self.cell, self.sign = net, cell, sign

    def forward(self, x):
        return self.sign * self.net(x)[:, 0, self.cell[0], self.cell[1]][:, None]


def _inputs(months=2, h=8, w=8, n=3, seed=4):
    return torch.as_tensor(np.random.default_rng(seed).normal(size=(n, months, h, w)), dtype=torch.float32)


def test_faithfulness_correlation_matches_quantus():
    net, cell = TinyNet(2).eval(), (3, 4)
    x = _inputs()
    a = attribute(net, "input_x_gradient", x, cell).numpy()
    metric = quantus.FaithfulnessCorrelation(nr_runs=12, subset_size=10, perturb_baseline=0.0, normalise=False,
                                             abs=False, return_aggregate=False, disable_warnings=True)
    np.random.seed(5)
    theirs = metric(model=OneClass(net, cell).eval(), x_batch=x.numpy(), y_batch=np.zeros(3, int), a_batch=a,
                    channel_first=True, device="cpu")
    np.random.seed(5)                       # the same draws, in Quantus's order: run by run, sample by sample
    draws = [[np.random.choice(a[0].size, 10, replace=False) for _ in range(3)] for _ in range(12)]
    ids, n = unit_ids(np.ones((8, 8), bool), 2, 1)                # all ocean: unit k is flat input k
    f = _forward(net, cell)
    for k in range(3):
        subsets = np.stack([run[k] for run in draws])
        removed = np.zeros((12, n + 1), bool)
        np.put_along_axis(removed, subsets, True, axis=1)
        xs = Remover("zero")(x[k][None].expand(12, -1, -1, -1), torch.from_numpy(removed[:, ids]), np.zeros(12, int))
        drops = (f(x[k][None]) - f(xs)).numpy()
        sums = unit_sums(a[k:k + 1], ids, n)[0][subsets].sum(1)
        assert faithfulness_correlation(sums, drops) == pytest.approx(theirs[k], abs=1e-4)


def test_block_deletion_curve_matches_quantus_region_perturbation():
    """One month: Quantus's patches (all channels of a square) are the project's block units."""
    net, cell = TinyNet(1).eval(), (3, 4)
    x = _inputs(months=1)
    a = attribute(net, "integrated_gradients", x, cell, n_steps=8).numpy()
    metric = quantus.RegionPerturbation(patch_size=2, regions_evaluation=16, perturb_baseline=0.0, normalise=False,
                                        abs=False, return_aggregate=False, disable_warnings=True)
    ids, n = unit_ids(np.ones((8, 8), bool), 1, 2)
    assert n == 16
    with torch.no_grad():
        out, base = net(x)[:, 0, cell[0], cell[1]], net(torch.zeros_like(x[:1]))[0, 0, cell[0], cell[1]]
    for k in range(3):
        sign = float(np.sign(out[k] - base))
        # the project ranks by sign * attribution and reports sign * change: Quantus sees sign * output
        theirs = metric(model=OneClass(net, cell, sign).eval(), x_batch=x[k:k + 1].numpy(), y_batch=np.zeros(1, int),
                        a_batch=sign * a[k:k + 1], channel_first=True, device="cpu",
                        softmax=False)[0]                 # its default softmax: 1 for any one-class output
        ours = deletion_curve(_forward(net, cell, sign), x[k], sign * unit_sums(a[k:k + 1], ids, n)[0], ids, n,
                              np.arange(1, 17) / 16, Remover("zero"))
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)


class ResetTo(nn.Conv2d):
    """A layer whose re-initialisation draws from its own seed, not the global RNG: the project's
    cascade (one seed for the run) and Quantus's (re-seeded before each layer) then give the same
    random weights, so their correlations can be compared number for number."""

    def reset_parameters(self):
        g = torch.Generator().manual_seed(self.out_channels * 100 + self.in_channels)
        with torch.no_grad():
            self.weight.copy_(torch.randn(self.weight.shape, generator=g) * 0.3)
            if self.bias is not None:
                self.bias.copy_(torch.randn(self.bias.shape, generator=g) * 0.1)


def test_cascade_matches_quantus_mprt():
    net = TinyNet(2)          # 6 x 6 inputs: the 7 x 7 receptive field covers them, no map has exact zeros
    for name in net.BLOCKS:
        old = getattr(net, name)
        new = ResetTo(old.in_channels, old.out_channels, 3, padding=1)
        new.load_state_dict(old.state_dict())
        setattr(net, name, new)
    net.eval()
    cell, x, method = (2, 3), _inputs(h=6, w=6), "saliency"

    def explain(model, inputs, targets, **kwargs):
        inner = model.net if isinstance(model, OneClass) else model
        return attribute(inner, method, torch.as_tensor(inputs), cell).numpy()

    trained = explain(net, x, None)
    ours = {name: rank_agreement(trained, explain(step, x, None), np.ones((6, 6), bool))
            for name, step in cascade(net, seed=0)}
    for absolute in (False, True):
        metric = quantus.MPRT(layer_order="top_down", seed=0, abs=absolute, normalise=False,
                              return_aggregate=False, disable_warnings=True)
        theirs = metric(model=OneClass(copy.deepcopy(net), cell).eval(), x_batch=x.numpy(), y_batch=np.zeros(3, int),
                        a_batch=trained, explain_func=explain, channel_first=True, device="cpu")
        names = [k for k in theirs if k != "original"]
        assert [n.split(".")[-1] for n in names] == ["last", "mid", "stem"]       # output first, cumulative
        for layer in names:
            np.testing.assert_allclose(ours[layer.split(".")[-1]][int(absolute)], theirs[layer], atol=1e-6)


def _study(methods, curve_values, correlations):
    """A faithfulness_study result of one cell and sample: every curve point of a method equal to
    its ``curve_values`` entry, every correlation to its ``correlations`` entry."""
    import xarray as xr
    n = len(methods)
    curve = np.broadcast_to(np.asarray(curve_values, float)[:, None, None, None, None, None], (n, 2, 2, 1, 1, 2))
    corr = np.broadcast_to(np.asarray(correlations, float)[:, None, None, None, None], (n, 2, 2, 1, 1))
    return xr.Dataset({"curve": (("method", "scale", "baseline", "cell", "sample", "fraction"), curve.copy()),
                       "correlation": (("method", "scale", "baseline", "cell", "sample"), corr.copy())},
                      coords={"method": methods, "scale": ["cell", "block"], "baseline": ["zero", "impute"],
                              "fraction": [0.1, 1.0]},
                      attrs={"n_samples": 1, "lead": 1, "seconds": 0.0, "forwards": 0, "block_cells": 3})


def _agreement_with_truth(methods, pearson):
    """score.json's agreement of each method with the truth, at both scales."""
    return {m: {"all": {"pearson_median": p, "variants": {"block": {"pearson_median": p}}}}
            for m, p in zip(methods, pearson)}


def test_measures_rank_and_validate_against_the_truth():
    methods = ["a", "b", "c", "d"]
    auc_like = np.array([4.0, 3.0, 2.0, 1.0])                  # a most faithful
    ds = _study(methods, auc_like, -auc_like)                   # correlation: d most faithful
    score = _agreement_with_truth(methods, [0.9, 0.5, 0.2, -0.3])
    out = faithfulness_measures(ds, score, alpha=0.05)
    assert out["ranking"]["cell.zero.deletion_auc_degC"] == methods
    v = out["validation"]["cell.zero.deletion_auc_degC"]
    # 4 methods in the truth's order: p = 1 / 4! exactly; Holm over all 8 measures (the smallest
    # p times 8): 8 / 24 = 1/3; 8 / 4! >= 0.05, so underpowered, "consistent"
    assert v["spearman"] == pytest.approx(1.0) and v["p"] == pytest.approx(1 / 24)
    assert v["p_holm"] == pytest.approx(8 / 24) and v["underpowered"] and v["verdict"] == "consistent"
    against = out["validation"]["block.impute.correlation"]
    assert against["spearman"] == pytest.approx(-1.0) and against["p"] == pytest.approx(1.0)
    assert against["verdict"] == "ranks against the truth" and against["methods"] == 4
    assert all(k.endswith("deletion_auc_degC") for k in out["overall"]["measures"])
    assert out["overall"]["ranking"] == methods and out["overall"]["mean_rank"]["b"] == 2.0
    assert "validation" not in faithfulness_measures(ds, None, alpha=0.05)


def test_mean_rank_by_hand():
    values = {"m1": {"a": 3.0, "b": 2.0, "c": 1.0},          # ranks 1, 2, 3
              "m2": {"a": 1.0, "b": 1.0, "c": 5.0},          # c first; a and b tie at (2 + 3) / 2
              "m3": {"a": np.nan, "b": 0.0, "c": -1.0}}      # NaN last
    assert mean_rank(values, ["m1", "m2"]) == {"a": 1.75, "b": 2.25, "c": 2.0}
    assert mean_rank(values, ["m3"]) == {"a": 3.0, "b": 1.0, "c": 2.0}
    assert mean_rank(values, []) == {}


def test_study_runs_on_a_tiny_network(windowed):
    net = TinyNet(36).eval()
    cells = resolve_cells([CellSpec(name="x", lat=12.5, lon=-48.5)], windowed.lat, windowed.lon, windowed.ocean)
    ds = faithfulness_study(net, windowed, ["deeplift", "deeplift_shap", "saliency"], cells, n_samples=2,
                            batch_size=2, forward_batch=4, n_steps=4, fractions=[0.1, 0.5, 1.0], n_subsets=5,
                            subset_fraction=0.2, noise=0.1, sweeps=2, block_cells=2, seed=0)
    assert ds["curve"].shape == (3, 2, 2, 1, 2, 3) and np.isfinite(ds["curve"]).all()
    # deeplift_shap with zero baselines is deeplift: the same curves
    np.testing.assert_array_equal(ds["curve"].sel(method="deeplift_shap"), ds["curve"].sel(method="deeplift"))
    # everything removed: the same output whatever the order
    last = ds["curve"].sel(fraction=1.0, baseline="zero")
    np.testing.assert_allclose(last.sel(method="saliency"), last.sel(method="deeplift"), rtol=1e-5, atol=1e-6)
    again = faithfulness_study(net, windowed, ["deeplift", "deeplift_shap", "saliency"], cells, n_samples=2,
                               batch_size=2, forward_batch=4, n_steps=4, fractions=[0.1, 0.5, 1.0], n_subsets=5,
                               subset_fraction=0.2, noise=0.1, sweeps=2, block_cells=2, seed=0)
    np.testing.assert_array_equal(again["correlation"], ds["correlation"])


def test_spearman_p_is_scipys_exact_permutation_test_with_ties():
    from scipy.stats import permutation_test, rankdata
    from climemu.attribution.faithfulness import spearman_p

    def rho(a, b, axis=-1):                    # Spearman, batched for scipy (Pearson of average ranks)
        ra, rb = rankdata(a, axis=axis), rankdata(b, axis=axis)
        ra, rb = ra - ra.mean(axis, keepdims=True), rb - rb.mean(axis, keepdims=True)
        return (ra * rb).sum(axis) / np.sqrt((ra ** 2).sum(axis) * (rb ** 2).sum(axis))
    cases = [([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]), ([0.3, 0.1, 0.1, 0.9, 0.5], [2.0, 1.0, 3.0, 5.0, 4.0]),
             ([1, 1, 2, 3, 5, 8], [3, 1, 4, 1, 5, 9]), ([5, 4, 3, 2, 1], [1, 2, 3, 4, 5])]
    for x, y in cases:
        ref = permutation_test((np.array(x, float), np.array(y, float)), rho, vectorized=True,
                               permutation_type="pairings", alternative="greater", n_resamples=np.inf)
        assert spearman_p(x, y) == pytest.approx(ref.pvalue, rel=1e-12), (x, y)
    assert spearman_p([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]) == pytest.approx(1 / 120)   # by hand: 1 / 5!


def test_holm_and_distinct_methods():
    from climemu.attribution.faithfulness import distinct, validate
    values = {"m1": {"a": 3.0, "b": 2.0, "b2": 2.0, "c": 1.0, "d": 0.0, "e": -1.0},
              "m2": {"a": 1.0, "b": 0.5, "b2": 0.5, "c": 0.4, "d": 0.3, "e": 0.2}}
    assert distinct(values, list(values["m1"])) == ["a", "b", "c", "d", "e"]   # b2 repeats b everywhere
    ref = {k: {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6, "e": 0.5} for k in values}
    out = validate(values, ref, ["a", "b", "c", "d", "e"], alpha=0.05)
    # both measures rank perfectly: p = 1/120 each; Holm: 2 x 1/120 = 0.0167 < 0.05
    assert out["m1"]["p"] == pytest.approx(1 / 120) and out["m1"]["p_holm"] == pytest.approx(2 / 120)
    assert out["m1"]["verdict"] == "validated" and not out["m1"]["underpowered"]


def test_spearman_p_beyond_enumeration_is_monte_carlo_close_to_the_exact_value(monkeypatch):
    from climemu.attribution import faithfulness
    x, y = [1, 2, 3, 5, 4, 7, 6, 9, 8], [1, 3, 2, 4, 6, 5, 8, 7, 9]
    exact = faithfulness.spearman_p(x, y)
    monkeypatch.setattr(faithfulness, "EXACT_MAX", 8)           # the same 9 methods, sampled
    sampled = faithfulness.spearman_p(x, y)
    # 1e6 draws: the standard error of a p near exact is sqrt(p (1 - p) / 1e6)
    assert abs(sampled - exact) < 5 * np.sqrt(exact * (1 - exact) / faithfulness.RESAMPLES) + 1e-6
    assert faithfulness.spearman_p(x, y) == sampled            # seeded: the same again
    ten = list(range(10))
    assert faithfulness.spearman_p(ten, ten) == pytest.approx(1 / (faithfulness.RESAMPLES + 1))   # never 0


def test_controls_are_judged_apart_from_the_methods():
    from climemu.attribution.faithfulness import judge_controls
    values = {"m1": {"a": 3.0, "b": 2.0, "random": 1.0, "edges": 0.5},    # every method above
              "m2": {"a": 3.0, "b": 0.4, "random": 1.0, "edges": 0.5},    # b below random
              "m3": {"a": np.nan, "b": 2.0, "random": np.nan, "edges": np.nan}}
    out = judge_controls(values, ["a", "b"], ["random", "edges"])
    assert out["m1"]["below"] and out["m1"]["margin"] == pytest.approx(1.0)
    assert not out["m2"]["below"] and out["m2"]["margin"] == pytest.approx(-0.6)
    assert out["m2"]["best_control"] == "random" and out["m2"]["methods_at_or_below"] == ["b"]
    assert out["m3"]["below"] is None


def test_controls_stay_out_of_the_validation_ranking():
    methods = ["deeplift", "saliency", "guided_backprop", "random"]
    val = np.array([4.0, 3.0, 2.0, 5.0])                       # random ranked first by this measure
    ds = _study(methods, val, val)
    score = _agreement_with_truth(methods, [0.9, 0.5, 0.2, 0.0])
    out = faithfulness_measures(ds, score, alpha=0.05)
    assert out["distinct_methods"] == ["deeplift", "saliency", "guided_backprop"]
    assert out["validation"]["cell.zero.correlation"]["spearman"] == pytest.approx(1.0)
    assert out["controls"]["cell.zero.correlation"]["below"] is False
    assert out["controls"]["cell.zero.correlation"]["methods_at_or_below"] == sorted(methods[:3])


def test_too_few_samples_validate_nothing():
    from climemu.attribution.faithfulness import validate
    values = {"m1": {"a": 3.0, "b": 2.0, "c": 1.0, "d": 0.0, "e": -1.0, "f": -2.0}}
    ref = {"m1": {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6, "e": 0.5, "f": 0.4}}
    enough = validate(values, ref, list("abcdef"), alpha=0.05)["m1"]
    assert enough["p"] == pytest.approx(1 / 720) and enough["verdict"] == "validated"
    few = validate(values, ref, list("abcdef"), alpha=0.05, enough_samples=False)["m1"]
    assert few["p"] == enough["p"] and few["underpowered"] and few["verdict"] == "consistent"
