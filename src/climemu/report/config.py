"""The ``report`` section: the rules that turn the paper's findings into verdicts.
"""

from __future__ import annotations

from pydantic import Field

from climemu.core.config import Strict


class ReportConfig(Strict):
    """The report stage: the paper's findings as claims, with the rules that decide them.

    Each rule is a number a reader can change and see the verdict follow (reports/findings.md
    states every rule beside its numbers).
    """

    local_km: float = Field(gt=0)         # finding 1: 90% of |attribution| within this radius
    reach_ratio_min: float = Field(gt=1)  # finding 2: growth of the share of months <= -13 with lead
    reach_share_min: float = Field(gt=0)  # finding 2: ... and that share at the longest lead at least
    spread_max: float = Field(gt=0)       # finding 3: largest std across cells of a month's share
    tele_share_min: float = Field(gt=0)   # finding 4: source-box share of a target-box cell
    response_ratio_max: float = Field(gt=0)   # finding 4: network / true ablation response
    sanity_rank_max: float = Field(gt=0, le=1)   # a method "fails" above this rank correlation
    # "mostly architectural": a random-weight network's r90 (or share of month -1) is at least
    # this share of the trained one's, whichever is smaller (findings.same_size)
    architectural_ratio_min: float = Field(gt=0, le=1)
    # The skill gate (findings.skill_gate): a network is judged only when it beats damped
    # persistence and the LIM on the test split and captures this share of the predictable MSE
    captured_min: float = Field(gt=0, le=1)
    # The equivalence band's edges are widened by what differs across machines and seeds
    # (docs/reliability.md): a value closer to the band than that is not called outside.
    band_slack_km: float = Field(ge=0)          # radii
    band_slack_months: float = Field(ge=0)      # e-folding month
    band_slack_share: float = Field(ge=0)       # shares
    band_coverage_min: float = Field(gt=0, le=1)   # the band judges at a cell holding this share of the truth's measures
    # Faithfulness measures (scale.baseline.metric) that a synthetic run validated (Holm-adjusted
    # permutation p below faithfulness.alpha, docs/measures.md); on real data the report ranks
    # the methods by these alone and says so.
    faithfulness_validated: list[str]
