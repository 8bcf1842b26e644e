"""Which features separate groups of prompts (happy vs angry vs ...), with statistics that respect prompts.

Tokens within a prompt are not independent, so every test runs on per-prompt aggregates (the max or mean of a
feature over the prompt's tokens). Each group is compared with the rest of the compared groups, one-sided:
"is this feature higher in the group?" (Mann-Whitney U or Welch's t, alternative "greater"), with effect sizes
(rank-biserial correlation and Cohen's d, signed) and Benjamini-Hochberg correction over the features tested
for that group. A feature that is lower in a group is never significant for it (with two groups it is
significant for the other one instead), so each group's count lists only the features that mark it.
Always-on features (active on at least `always_on_fraction` of baseline tokens) are removed first: they fire on
everything, so they can only add noise and multiple-comparison burden.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from ..devices import to_numpy
from ..sources import check_same_space
from ._forward import check_group_names
from .activations import ALWAYS_ON_FRACTION, ActivationResult

if TYPE_CHECKING:
    from collections.abc import Mapping

AGGREGATES = ("max", "mean")
TESTS = ("mannwhitney", "welch")
# Whom each group is compared with. "rest": every other prompt, the baseline included (what marks this group
# among all text?); "baseline": the baseline alone; "groups": the other compared groups only, baseline left out
# (e.g. happy vs angry only: a feature of both emotions and of neither can then look like one of them).
AGAINST = ("rest", "baseline", "groups")
_AGAINST_WORDS = {
    "rest": "all other prompts, baseline included",
    "baseline": "the baseline",
    "groups": "the other groups only (baseline left out)",
}
_TEST_WORDS = {"mannwhitney": "Mann-Whitney U", "welch": "Welch's t"}
_BASELINE = object()  # the baseline's key among the compared prompts: never clashes with a group name


def prompt_aggregates(acts: ActivationResult, how: str = "max") -> np.ndarray:
    """[n_prompts, n_features]: each feature's max (or mean) over each prompt's tokens."""
    if how not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {AGGREGATES}, got {how!r}")
    reduce = np.maximum.reduceat if how == "max" else np.add.reduceat
    out = np.zeros((len(acts.offsets) - 1, acts.n_features), dtype=np.float32)
    for first, stop, values in acts.prompt_blocks():  # bounded blocks: sparse results are never densified whole
        filled = np.diff(acts.offsets[first : stop + 1]) > 0  # a prompt without tokens keeps zeros
        if filled.any():
            starts = (acts.offsets[first:stop] - acts.offsets[first])[filled]
            out[first:stop][filled] = reduce(to_numpy(values), starts, axis=0)
    return out / np.diff(acts.offsets)[:, None] if how == "mean" else out


def split_groups(groups) -> dict[str, ActivationResult]:
    """{name: ActivationResult} from such a dict, or from one result whose prompts carry group names."""
    if isinstance(groups, ActivationResult):
        names = list(dict.fromkeys(groups.groups))
        if len(names) < 2 or "" in names:
            raise ValueError(
                "the activation result must hold named groups: build it with "
                "fv.activations(model, source, {'happy': [...], 'angry': [...]})"
            )
        return {name: groups.subset([i for i, g in enumerate(groups.groups) if g == name]) for name in names}
    if not isinstance(groups, Mapping):
        raise TypeError(f"groups must be a dict of name -> activation result, got {type(groups).__name__}")
    check_group_names(groups)
    for name, acts in groups.items():
        if not isinstance(acts, ActivationResult):
            raise TypeError(f"groups[{name!r}] must be an activation result, got {type(acts).__name__}")
    return {str(name): acts for name, acts in groups.items()}


def contrast(
    groups: ActivationResult | Mapping[str, ActivationResult],
    baseline: str | ActivationResult | None = None,
    *,
    against: str = "rest",
    aggregate: str = "max",
    test: str = "mannwhitney",
    always_on_fraction: float = ALWAYS_ON_FRACTION,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Rank features by how strongly they separate each group from the others, on per-prompt aggregates.

    Tokens of one prompt are not independent, so every test compares prompts: each prompt becomes one value per
    feature (its max or mean over tokens).

    Parameters
    ----------
    groups : dict of str to ActivationResult, or ActivationResult
        ``{name: result}``, or one result built from ``{name: prompts}``.
    baseline : str or ActivationResult, optional
        The name of one of the groups, or a separate result of neutral prompts. Its always-on features are
        removed, and the baseline is not itself compared.
    against : {"rest", "baseline", "groups"}, default "rest"
        Whom each group is compared with: every other prompt, the baseline included ("rest"); the baseline
        alone; or the other groups only, the baseline left out.
    aggregate : {"max", "mean"}, default "max"
        How a prompt's tokens become one value per feature.
    test : {"mannwhitney", "welch"}, default "mannwhitney"
        Mann-Whitney U or Welch's t-test (one-sided: the group is higher).
    always_on_fraction : float, default 0.9
        A baseline feature active on at least this fraction of its tokens is removed as always-on.
    alpha : float, default 0.05
        The false discovery rate for ``significant``.

    Returns
    -------
    pandas.DataFrame
        One row per (group, feature), strongest first within each group: the group's and the rest's mean / max /
        fraction of tokens active, rank_biserial, cohens_d, p_value, q_value (Benjamini-Hochberg within the
        group) and significant (q < alpha). ``attrs["always_on"]`` lists the features removed;
        ``attrs["comparison"]`` says in words which test it holds.
    """
    if against not in AGAINST:
        raise ValueError(f"against must be one of {AGAINST}, got {against!r}")
    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}, got {test!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not 0 < always_on_fraction <= 1:
        raise ValueError(f"always_on_fraction must be in (0, 1], got {always_on_fraction}")
    groups = split_groups(groups)
    if baseline is not None and not isinstance(baseline, (str, ActivationResult)):
        raise TypeError(f"baseline must be the name of a group or an activation result, got {type(baseline).__name__}")
    if isinstance(baseline, str):
        if baseline not in groups:
            raise ValueError(f"baseline={baseline!r} is not one of the groups {list(groups)}")
        baseline = groups.pop(baseline)
    if against == "baseline" and baseline is None:
        raise ValueError("against='baseline' needs a baseline: the name of a group or an activation result")
    if against == "groups" and len(groups) < 2:
        raise ValueError(f"against='groups' needs at least two groups besides the baseline, got {list(groups)}")
    if len(groups) + (baseline is not None) < 2:
        raise ValueError(f"contrast needs at least two groups to compare, got {list(groups)}")
    spaces = {f"group {name!r}": acts.feature_space for name, acts in groups.items()}
    if baseline is not None:
        spaces["the baseline"] = baseline.feature_space
    check_same_space(spaces, "contrast")
    space = next(iter(groups.values())).feature_space

    always_on = baseline.always_on(always_on_fraction) if baseline is not None else np.zeros(space.n_features, bool)
    everyone = {**groups, **({_BASELINE: baseline} if baseline is not None else {})}
    per_prompt = {name: prompt_aggregates(acts, aggregate) for name, acts in everyone.items()}
    compared = groups if against == "groups" else everyone
    # Label-blind filter: features that never fire on any compared prompt cannot differ, and only dilute BH.
    fires = np.concatenate([per_prompt[name] for name in compared]).max(0) > 0
    tested = np.flatnonzero(fires & ~always_on)

    frames = []
    for name in groups:
        others = {
            "rest": [o for o in everyone if o != name],
            "baseline": [_BASELINE],
            "groups": [o for o in groups if o != name],
        }[against]
        tokens_in = to_numpy(groups[name].columns(tested))
        tokens_rest = np.concatenate([to_numpy(everyone[o].columns(tested)) for o in others])
        prompts_in = per_prompt[name][:, tested]
        prompts_rest = np.concatenate([per_prompt[o][:, tested] for o in others])
        frames.append(_compare(name, tested, prompts_in, prompts_rest, tokens_in, tokens_rest, test, alpha))
    table = pd.concat(frames, ignore_index=True)
    table.attrs["always_on"] = np.flatnonzero(always_on).tolist()
    table.attrs.update(aggregate=aggregate, test=test, alpha=alpha, feature_space=space, against=against)
    table.attrs["comparison"] = (
        f"each group vs {_AGAINST_WORDS[against]}: one-sided {_TEST_WORDS[test]} on "
        f"per-prompt {aggregate}, Benjamini-Hochberg q < {alpha:g}"
    )
    return table


def _compare(name, features, inside, rest, tokens_in, tokens_rest, test, alpha) -> pd.DataFrame:
    """One group against the rest, for every tested feature at once (columns of the arrays)."""
    n_in, n_rest = len(inside), len(rest)
    if n_in < 2 or n_rest < 2:
        raise ValueError(f"group {name!r} needs at least 2 prompts on each side of the comparison")
    mann_whitney = stats.mannwhitneyu(inside, rest, axis=0, alternative="greater")
    rank_biserial = 2 * mann_whitney.statistic / (n_in * n_rest) - 1
    pooled = np.sqrt(((n_in - 1) * inside.var(0, ddof=1) + (n_rest - 1) * rest.var(0, ddof=1)) / (n_in + n_rest - 2))
    diff = inside.mean(0) - rest.mean(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cohens_d = np.where(pooled > 0, diff / pooled, np.sign(diff) * np.inf)
        p = (
            mann_whitney.pvalue
            if test == "mannwhitney"
            else stats.ttest_ind(inside, rest, axis=0, equal_var=False, alternative="greater").pvalue
        )
    p = np.nan_to_num(p, nan=1.0)  # constant on both sides: no evidence of a difference
    q = stats.false_discovery_control(p, method="bh") if len(p) else p
    table = pd.DataFrame(
        {
            "group": name,
            "feature": features,
            "mean": tokens_in.mean(0),
            "mean_rest": tokens_rest.mean(0),
            # what the test compares: the per-prompt aggregates (their mean over the group's prompts)
            "prompt_mean": inside.mean(0),
            "prompt_mean_rest": rest.mean(0),
            "max": tokens_in.max(0),
            "max_rest": tokens_rest.max(0),
            "frac_active": (tokens_in > 0).mean(0),
            "frac_active_rest": (tokens_rest > 0).mean(0),
            "rank_biserial": rank_biserial,
            "cohens_d": cohens_d,
            "p_value": p,
            "q_value": q,
        }
    )
    table["significant"] = table["q_value"] < alpha
    return table.sort_values(["rank_biserial", "cohens_d"], ascending=False, kind="stable")
