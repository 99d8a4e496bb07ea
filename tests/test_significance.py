import numpy as np
import pytest
from scipy import stats

from rankwise.pipelines.significance import holm_bonferroni, paired_t_test, randomization_test, win_tie_loss

A = [0.61, 0.42, 0.77, 0.35, 0.90, 0.58, 0.49, 0.66, 0.71, 0.30, 0.55, 0.62]
B = [0.55, 0.40, 0.70, 0.41, 0.82, 0.50, 0.47, 0.60, 0.73, 0.28, 0.49, 0.57]


def test_paired_t_test_matches_scipy_on_fixed_numbers():
    assert paired_t_test(A, B) == pytest.approx(stats.ttest_rel(A, B).pvalue, rel=1e-12)
    d = np.array(A) - np.array(B)
    t = d.mean() / (d.std(ddof=1) / np.sqrt(len(d)))  # by hand: mean difference over its standard error
    assert paired_t_test(A, B) == pytest.approx(2 * stats.t.sf(abs(t), df=len(d) - 1), rel=1e-9)
    assert paired_t_test(A, B) == pytest.approx(0.012658, abs=5e-6)
    assert paired_t_test(A, A) == 1.0


def test_exact_randomization_test_matches_scipy_permutation_test():
    expected = stats.permutation_test(
        (np.array(A), np.array(B)),
        lambda x, y: np.mean(x - y),
        permutation_type="samples",
        alternative="two-sided",
        n_resamples=np.inf,
    ).pvalue
    assert randomization_test(A, B) == pytest.approx(expected, abs=1e-12)


def test_monte_carlo_randomization_test_is_close_to_t_test_on_many_queries():
    rng = np.random.default_rng(7)
    a = rng.normal(0.5, 0.2, size=200)
    b = a - 0.03 + rng.normal(0, 0.1, size=200)
    p_rand = randomization_test(a, b, trials=20000, seed=1)
    assert p_rand == pytest.approx(paired_t_test(a, b), abs=0.01)
    assert randomization_test(a, b, trials=2000, seed=1) == randomization_test(a, b, trials=2000, seed=1)


def test_holm_bonferroni_on_a_textbook_example():
    # p = 0.01, 0.04, 0.03, 0.005 -> sorted 0.005*4, 0.01*3, 0.03*2, 0.04*1 with monotonicity
    assert holm_bonferroni([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm_bonferroni([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm_bonferroni([]) == []


def test_win_tie_loss_and_input_checks():
    assert win_tie_loss([1, 0.5, 0.2], [0.5, 0.5, 0.3]) == (1, 1, 1)
    with pytest.raises(ValueError, match="equal-length"):
        paired_t_test([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="at least two queries"):
        randomization_test([1], [2])
