"""Unit tests of the paired A/B statistics on fixed data, cross-checked against SciPy."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats as sps

from perfop import stats
from perfop.model import Verdict

RNG_SEED = 20240601


def _data(n: int = 40, seed: int = RNG_SEED) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.01, 0.03, n)


def test_log_ratios_drops_non_positive_pairs() -> None:
    x = stats.log_ratios([1.0, 2.0, 0.0, 4.0, math.nan], [2.0, 2.0, 1.0, -1.0, 1.0])
    assert x == pytest.approx([math.log(2.0), 0.0])


def test_log_ratios_rejects_unpaired() -> None:
    with pytest.raises(ValueError, match="unpaired"):
        stats.log_ratios([1.0, 2.0], [1.0])


def test_untrimmed_mean_se_is_the_one_sample_t_test() -> None:
    x = _data()
    mean, se, df = stats.trimmed_mean_se(x, 0.0)
    ref = sps.ttest_1samp(x, 0.0)
    assert float(mean) / float(se) == pytest.approx(ref.statistic, rel=1e-12)
    assert df == x.size - 1


def test_trimmed_mean_and_winsorized_se_match_scipy() -> None:
    x = _data(25)
    mean, se, df = stats.trimmed_mean_se(x, 0.2)
    assert float(mean) == pytest.approx(sps.trim_mean(x, 0.2), rel=1e-12)
    g = math.floor(0.2 * 25)
    h = 25 - 2 * g
    wins = np.asarray(sps.mstats.winsorize(x, limits=(0.2, 0.2)))
    expected_se = math.sqrt((25 - 1) * wins.var(ddof=1) / (h * (h - 1)))
    assert float(se) == pytest.approx(expected_se, rel=1e-12)
    assert df == h - 1


def test_trimmed_mean_is_vectorised_over_rows() -> None:
    rows = np.vstack([_data(20, s) for s in range(3)])
    mean, se, _ = stats.trimmed_mean_se(rows, 0.2)
    for i in range(3):
        m1, s1, _ = stats.trimmed_mean_se(rows[i], 0.2)
        assert float(mean[i]) == pytest.approx(float(m1))
        assert float(se[i]) == pytest.approx(float(s1))


def test_trimmed_mean_needs_enough_pairs() -> None:
    with pytest.raises(ValueError, match="pairs"):
        stats.trimmed_mean_se(np.array([0.1]), 0.2)


@pytest.mark.parametrize(
    "x",
    [
        _data(30),
        np.array([0.02, -0.01, 0.0, 0.03, 0.02, 0.02, -0.02, 0.05, 0.0, 0.01, 0.04, 0.03]),
        np.round(_data(50), 2),  # many ties
    ],
)
def test_signed_rank_matches_scipy_wilcoxon(x: np.ndarray) -> None:
    z = float(stats.signed_rank_z(x))
    ref = sps.wilcoxon(x, zero_method="zsplit", correction=True, method="approx")
    assert 2 * sps.norm.sf(abs(z)) == pytest.approx(ref.pvalue, rel=1e-9)
    assert (z > 0) == (np.median(x) > 0)


def test_hodges_lehmann_textbook_and_interval() -> None:
    est, lo, hi = stats.hodges_lehmann([1.0, 2.0, 3.0, 4.0, 5.0])
    assert est == 3.0
    assert lo <= est <= hi
    x = _data(60)
    est, lo, hi = stats.hodges_lehmann(x)
    walsh = [(x[i] + x[j]) / 2 for i in range(60) for j in range(i, 60)]
    assert est == pytest.approx(float(np.median(walsh)))
    assert lo < est < hi


@pytest.mark.parametrize("delta", [-0.02, 0.0, 0.005, 0.01, 0.02, 0.05])
def test_hodges_lehmann_above_agrees_with_the_estimate(delta: float) -> None:
    for seed in range(5):
        x = _data(31, seed)
        est, _, _ = stats.hodges_lehmann(x)
        assert bool(stats.hodges_lehmann_above(x, delta)) == (est > delta)


def test_single_look_boundary_is_the_fixed_sample_quantile() -> None:
    (c,) = stats.group_sequential_bounds([10], [0.05])
    assert c == pytest.approx(1.959964, abs=1e-5)


def test_pocock_type_spending_boundaries_match_the_literature() -> None:
    # Lan-DeMets Pocock-type spending, 5 equally spaced looks, two-sided alpha = 0.05.
    cum = [stats.spent_alpha("pocock", k / 5, 0.05) for k in range(1, 6)]
    bounds = stats.group_sequential_bounds([1, 2, 3, 4, 5], cum)
    assert bounds == pytest.approx([2.438, 2.427, 2.410, 2.397, 2.386], abs=2e-3)


@pytest.mark.parametrize("kind", ["pocock", "obf", "power:2"])
def test_boundaries_hold_alpha_on_brownian_motion(kind: str) -> None:
    looks = [5, 7, 9, 12, 15, 19, 24, 30, 40]
    cum = [stats.spent_alpha(kind, n / 40, 0.05) for n in looks]
    bounds = np.array(stats.group_sequential_bounds(looks, cum))
    rng = np.random.default_rng(1)
    inc = np.diff(np.r_[0, looks])
    s = np.cumsum(rng.standard_normal((200_000, len(looks))) * np.sqrt(inc), axis=1)
    crossed = (np.abs(s) / np.sqrt(looks) >= bounds).any(axis=1).mean()
    assert crossed == pytest.approx(0.05, abs=0.003)


def test_spending_function_family() -> None:
    assert stats.spent_alpha("pocock", 1.0, 0.05) == pytest.approx(0.05)
    assert stats.spent_alpha("obf", 1.0, 0.05) == pytest.approx(0.05)
    assert stats.spent_alpha("power:2", 0.5, 0.05) == pytest.approx(0.0125)
    assert stats.spent_alpha("pocock", 0.0, 0.05) == 0.0
    with pytest.raises(ValueError, match="unknown spending"):
        stats.spent_alpha("bogus", 0.5, 0.05)


def test_plan_schedule_and_truncation() -> None:
    design = stats.plan(alpha=0.05, threshold=0.02, first=5, max_pairs=60)
    assert design.looks[0] == 5 and design.looks[-1] == 60
    assert all(b > a for a, b in zip(design.looks, design.looks[1:], strict=False))
    assert design.delta == pytest.approx(math.log(1.02))
    short = design.truncated(20)
    assert short.looks[-1] == 20
    assert short.looks[:-1] == tuple(n for n in design.looks if n < 20)
    # The early end spends all the remaining alpha, so its last boundary is lower.
    k = design.looks.index(next(n for n in design.looks if n >= 20))
    assert short.z_bounds[-1] < design.z_bounds[k]
    assert design.truncated(99) is design
    with pytest.raises(ValueError, match="increasing"):
        stats.plan(alpha=0.05, threshold=0.02, looks=[5, 5, 8])


def test_t_bound_widens_for_few_degrees_of_freedom() -> None:
    assert stats.t_bound(1.959964, 10_000) == pytest.approx(1.96, abs=1e-3)
    assert stats.t_bound(1.959964, 4) == pytest.approx(sps.t.isf(0.025, 4), rel=1e-6)
    assert stats.t_bound(math.inf, 4) == math.inf


def _shifted(effect: float, n: int = 40, sd: float = 0.02, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).normal(math.log1p(effect), sd, n)


def test_decide_codes() -> None:
    kw = {"z_bound": 2.5, "threshold": 0.02, "alpha": 0.05}
    assert stats.decide(_shifted(0.10), **kw) == stats.INCREASE
    assert stats.decide(_shifted(-0.10), **kw) == stats.DECREASE
    assert stats.decide(_shifted(0.0, n=200, sd=0.01), **kw) == stats.EQUIVALENT
    assert stats.decide(_shifted(0.0, n=8, sd=0.05), **kw) == stats.UNDECIDED
    # Significant but smaller than the threshold, and not within it either: not settled yet.
    assert stats.decide(_shifted(0.018, n=100, sd=0.03), **kw) == stats.UNDECIDED
    # Significant, smaller than the threshold and precise: equivalent within the threshold.
    assert stats.decide(_shifted(0.01, n=200, sd=0.02), **kw) == stats.EQUIVALENT


def test_outliers_cannot_manufacture_a_verdict() -> None:
    x = _shifted(0.0, n=40, sd=0.01)
    x[:5] = math.log(3.0)  # five runs hit by a 3x slow-down on the candidate side
    assert stats.trimmed_mean_se(x, 0.0)[0] > math.log(1.05)  # the plain mean is fooled
    got = stats.decide(x, z_bound=2.5, threshold=0.02, alpha=0.05)
    assert got in (stats.EQUIVALENT, stats.UNDECIDED)


def test_rank_check_vetoes_what_the_trimmed_mean_alone_would_call() -> None:
    # 30% of pairs shifted by +20% (beyond what trimming removes), the rest unchanged: the
    # trimmed mean exceeds 2% but the Hodges-Lehmann estimate does not.
    x = np.r_[np.full(28, 0.0), np.full(12, math.log(1.2))] + _shifted(0.0, 40, 0.001)
    mean, _se, _ = stats.trimmed_mean_se(x, stats.DEFAULT_TRIM)
    assert float(mean) > math.log(1.02)
    assert stats.decide(x, z_bound=2.5, threshold=0.02, alpha=0.05) != stats.INCREASE


@pytest.mark.parametrize(
    ("code", "better", "verdict"),
    [
        (stats.INCREASE, "lower", Verdict.SLOWER),
        (stats.DECREASE, "lower", Verdict.FASTER),
        (stats.INCREASE, "higher", Verdict.FASTER),
        (stats.DECREASE, "higher", Verdict.SLOWER),
        (stats.EQUIVALENT, "higher", Verdict.UNCHANGED),
        (stats.UNDECIDED, "lower", Verdict.INCONCLUSIVE),
    ],
)
def test_orient(code: int, better: str, verdict: Verdict) -> None:
    assert stats.orient(code, better) == verdict


def test_compare_metric_reports_ratio_interval_and_verdict() -> None:
    rng = np.random.default_rng(5)
    base = 0.05 * np.exp(rng.normal(0, 0.02, 30))
    cand = base * 0.8 * np.exp(rng.normal(0, 0.02, 30))
    design = stats.plan(alpha=0.05, threshold=0.02, max_pairs=30)
    res = stats.compare_metric(base, cand, z_bound=design.z_bounds[-1], alpha=0.05, threshold=0.02)
    assert res.verdict == Verdict.FASTER
    assert res.ci_low < res.ratio < res.ci_high < 1
    assert res.ratio == pytest.approx(0.8, rel=0.03)
    assert res.gm_ratio == pytest.approx(0.8, rel=0.03)
    assert res.hl_ci_low < res.hl_ratio < res.hl_ci_high
    assert res.p_value < res.nominal_level
    assert res.n == 30
    higher = stats.compare_metric(
        base, cand, z_bound=design.z_bounds[-1], alpha=0.05, threshold=0.02, better="higher"
    )
    assert higher.verdict == Verdict.SLOWER


def test_compare_metric_identical_values_are_unchanged() -> None:
    res = stats.compare_metric(
        [1000.0] * 10, [1000.0] * 10, z_bound=3.0, alpha=0.05, threshold=0.02
    )
    assert res.verdict == Verdict.UNCHANGED
    assert res.ratio == 1.0 and res.ci_low == 1.0 and res.ci_high == 1.0


def test_compare_metric_too_few_pairs_is_inconclusive() -> None:
    res = stats.compare_metric([1.0, 1.0], [2.0, 2.0], z_bound=3.0, alpha=0.05, threshold=0.02)
    assert res.verdict == Verdict.INCONCLUSIVE
    assert math.isnan(res.ratio)


def test_compare_metric_mostly_zero_values_give_no_ratio() -> None:
    """sys_time in clock ticks: mostly 0, so the pairs with two positive values are a biased few."""
    rng = np.random.default_rng(3)
    base = np.where(rng.random(40) < 0.6, 0.0, 0.004)
    cand = np.where(rng.random(40) < 0.6, 0.0, 0.004)
    cand[np.flatnonzero((base > 0) & (cand > 0))[:3]] = 0.008  # a few survivors differ
    assert 6 <= stats.log_ratios(base, cand).size < 20
    res = stats.compare_metric(base, cand, z_bound=2.0, alpha=0.05, threshold=0.02)
    assert res.verdict == Verdict.INCONCLUSIVE and math.isnan(res.ratio)
    # Half the pairs or more usable: analysed as before.
    base[:20], cand[:20] = 0.004, 0.004
    assert stats.compare_metric(base, cand, z_bound=2.0, alpha=0.05, threshold=0.02).n >= 20


def test_minimum_detectable_effect() -> None:
    few = stats.planned_mde(0.03, 10, threshold=0.01, z_bound=2.5)
    many = stats.planned_mde(0.03, 1000, threshold=0.01, z_bound=2.5)
    assert few > many > 0.01
    # With plenty of pairs the threshold dominates: MDE -> threshold from above.
    assert stats.planned_mde(0.03, 10**7, threshold=0.01, z_bound=2.5) == pytest.approx(
        0.01, abs=1e-4
    )


def test_first_batch_is_sized_by_noise_within_bounds() -> None:
    assert stats.first_batch(None, min_pairs=5, max_pairs=100, threshold=0.02) == 5
    assert stats.first_batch(0.01, min_pairs=5, max_pairs=100, threshold=0.02) == 5
    noisy = stats.first_batch(0.15, min_pairs=5, max_pairs=100, threshold=0.02)
    assert 5 < noisy <= 25
    assert stats.first_batch(5.0, min_pairs=5, max_pairs=100, threshold=0.02) == 25


def test_summary_unchanged() -> None:
    s = stats.summarize([1.0, 2.0, 3.0, 4.0])
    assert s.median == 2.5 and s.statistic("max") == 4.0


# --- the decision path's cost inside a budget (issue 14, point 8) ---------------------------


def test_the_decision_path_needs_no_scipy_stats() -> None:
    # scipy.stats took 2.4 s to import at load 5 on the 2-core VM, and its frozen distributions
    # made one 70-pair plan take 1.6 s and its truncation 1.2 s: ~5 s of a 10 s comparison spent
    # on no measurement (docs/statistics.md, section 4). Everything a look and the final analysis
    # run must come from scipy.special's ufuncs and NumPy.
    import json
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from perfop import stats\n"
        "d = stats.plan(alpha=0.05, threshold=0.02, first=5, max_pairs=70)\n"
        "d = d.truncated(40)\n"
        "x = np.random.default_rng(1).normal(0.01, 0.03, 40)\n"
        "stats.decide(x, z_bound=d.z_bounds[-1], threshold=0.02, alpha=0.05, z_eq=d.eq_bound(-1))\n"
        "stats.decide_checked(x, x * 2, z_bound=2.5, threshold=0.02, alpha=0.05)\n"
        "stats.compare_metric(np.exp(x[:30]), np.exp(x[10:]), z_bound=2.5, alpha=0.05,\n"
        "                     threshold=0.02, z_eq=2.2)\n"
        "stats.signed_rank_p(np.round(np.concatenate([x, x[:20]]), 2))\n"
        "stats.signed_rank_z(x)\n"
        "d.nominal_level(0)\n"
        "import sys, json\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "scipy.special" in loaded  # the check would pass vacuously if nothing ran
    assert not {m for m in loaded if m == "scipy.stats" or m.startswith("scipy.stats.")}


def test_distribution_functions_are_scipy_stats_to_the_bit() -> None:
    z = np.linspace(-9, 9, 2001)
    p = np.concatenate([np.geomspace(1e-9, 0.5, 500), [0.5]])
    assert np.array_equal(stats.norm_sf(z), sps.norm.sf(z))
    assert np.array_equal(stats.norm_cdf(z), sps.norm.cdf(z))
    assert np.array_equal(stats.norm_pdf(z), sps.norm.pdf(z))
    assert np.array_equal(stats.norm_isf(p), sps.norm.isf(p))
    assert np.array_equal(stats.norm_ppf(1 - p), sps.norm.ppf(1 - p))
    for df in (1.7, 2.55, 3.4, 10.2, 45.0):
        assert np.array_equal(stats.t_sf(z, df), sps.t.sf(z, df))
        assert np.array_equal(stats.t_isf(p, df), sps.t.isf(p, df))


@pytest.mark.parametrize("shape", [(1,), (7,), (200, 13), (30, 60), (4, 3, 9)])
def test_average_ranks_are_scipy_rankdata(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(sum(shape))
    a = np.round(rng.normal(size=shape), 1)  # many ties
    assert np.array_equal(stats.average_ranks(a), sps.rankdata(a, axis=-1))
    b = rng.normal(size=shape)
    assert np.array_equal(stats.average_ranks(b), sps.rankdata(b, axis=-1))


# --- what an inconclusive comparison would take (issue 14, point 8) -------------------------


def _single_look(n: int) -> stats.SequentialDesign:
    return stats.plan(alpha=0.05, threshold=0.02, looks=(n,))


def _analysed(x: np.ndarray) -> stats.MetricComparison:
    d = _single_look(x.size)
    return stats.compare_metric(
        np.ones(x.size),
        np.exp(x),
        z_bound=d.z_bounds[0],
        alpha=0.05,
        threshold=0.02,
        z_eq=d.eq_bound(0),
    )


def _share(code: int, rows: np.ndarray) -> float:
    d = _single_look(rows.shape[1])
    got, _ = stats.run_sequential(d, rows)
    return float(np.mean(got == code))


def test_pairs_to_decide_predicts_when_an_aa_comparison_reaches_unchanged() -> None:
    # The pairs it names for `unchanged` are the pairs at which the decision rule itself says
    # `unchanged` in about 80% of A/A comparisons with the noise measured; a third of them do not.
    rng = np.random.default_rng(14)
    first = _analysed(rng.normal(0.0, 0.05, 12))
    assert first.verdict is Verdict.INCONCLUSIVE
    got = stats.pairs_to_decide(first, 0.02)
    assert got is not None and got[0] == "unchanged"
    n = got[1]
    sd = first.log_sd  # the noise as measured, which is what the prediction rests on
    assert 30 < n < 400
    assert 0.65 <= _share(stats.EQUIVALENT, rng.normal(0.0, sd, (2000, n))) <= 0.95
    assert _share(stats.EQUIVALENT, rng.normal(0.0, sd, (2000, n // 3))) < 0.4


def test_pairs_to_decide_predicts_when_a_real_change_is_decided() -> None:
    rng = np.random.default_rng(15)
    effect = math.log(1.06)
    first = _analysed(rng.normal(effect, 0.08, 8))
    assert first.verdict is Verdict.INCONCLUSIVE
    got = stats.pairs_to_decide(first, 0.02)
    assert got is not None and got[0] == "changed"
    # Planned from the first estimates of the effect and the noise: the pairs named decide a
    # change of the size estimated, at the spread measured, with about the power promised.
    est, sd, n = math.log(first.ratio), first.log_sd, got[1]
    assert n > 8
    assert 0.65 <= _share(stats.INCREASE, rng.normal(est, sd, (2000, n))) <= 0.97
    assert _share(stats.INCREASE, rng.normal(est, sd, (2000, n // 3))) < 0.6


def test_pairs_to_decide_says_nothing_without_a_measured_spread() -> None:
    flat = _analysed(np.zeros(10))
    assert stats.pairs_to_decide(flat, 0.02) is None
    few = _analysed(np.array([0.01, -0.02]))
    assert stats.pairs_to_decide(few, 0.02) is None


# --- truncating or extending a plan computes only its new looks (issue 14, point 8) ----------


def _integrated_from_scratch(design: stats.SequentialDesign) -> tuple[tuple[float, ...], ...]:
    """The design's directional and equivalence boundaries integrated over every look again."""
    eq_cum = [min(2 * c, 0.5) for c in design.cum_alpha]
    return (
        stats.group_sequential_bounds(design.looks, design.cum_alpha),
        stats.group_sequential_bounds(design.looks, eq_cum),
    )


@pytest.mark.parametrize(("alpha", "first", "planned"), [(0.05, 5, 70), (0.01, 7, 30), (0.1, 4, 9)])
def test_a_truncated_plan_has_the_boundaries_of_the_full_recomputation(
    alpha: float, first: int, planned: int
) -> None:
    # Truncation reuses the plan's continuation regions and integrates only the new last look;
    # the boundaries (hence the alpha each look spends) must be those of integrating every look.
    design = stats.plan(alpha=alpha, threshold=0.02, first=first, max_pairs=planned)
    for n in sorted({1, first, first + 1, planned // 2, planned - 1}):
        short = design.truncated(n)
        z, eq = _integrated_from_scratch(short)
        assert short.z_bounds == pytest.approx(z, rel=1e-12, abs=1e-12)
        assert short.eq_bounds == pytest.approx(eq, rel=1e-12, abs=1e-12)
        assert short.cum_alpha[-1] == pytest.approx(alpha * stats.ALPHA_MARGIN)
        # and those of the code before the regions were kept: a design without them
        bare = dataclasses.replace(design, z_regions=(), eq_regions=()).truncated(n)
        assert short.z_bounds == pytest.approx(bare.z_bounds, rel=1e-12, abs=1e-12)
        assert short.eq_bounds == pytest.approx(bare.eq_bounds, rel=1e-12, abs=1e-12)


def test_an_extended_then_truncated_plan_has_the_boundaries_of_the_full_recomputation() -> None:
    design = stats.plan(alpha=0.05, threshold=0.02, first=5, max_pairs=30)
    for k in range(len(design.looks) - 1):
        longer = design.extended(k, 60)
        assert longer.z_bounds[: k + 1] == design.z_bounds[: k + 1]
        for d in (longer, longer.truncated(47)):
            z, eq = _integrated_from_scratch(d)
            assert d.z_bounds == pytest.approx(z, rel=1e-12, abs=1e-12)
            assert d.eq_bounds == pytest.approx(eq, rel=1e-12, abs=1e-12)


def test_truncating_a_plan_integrates_no_past_look(monkeypatch: pytest.MonkeyPatch) -> None:
    # What made truncation cost 0.17-0.24 s inside a 10 s budget: every look's 600 x 600
    # transition kernel built again. Now only the new last boundary is searched (directional
    # and equivalence), and no region after it is needed.
    design = stats.plan(alpha=0.05, threshold=0.02, first=5, max_pairs=70)
    regions, bounds = [], []
    real_region, real_bound = stats._region_after, stats._look_bound
    monkeypatch.setattr(stats, "_region_after", lambda *a: regions.append(1) or real_region(*a))
    monkeypatch.setattr(stats, "_look_bound", lambda *a: bounds.append(1) or real_bound(*a))
    design.truncated(40)
    assert (len(regions), len(bounds)) == (0, 2)
    longer = design.extended(3, 90)  # the looks after look 3 only
    future = len(longer.looks) - 4
    assert (len(regions), len(bounds)) == (2 * (future - 1), 2 + 2 * future)
