"""The ``report`` section: the rules that turn the paper's findings into verdicts; the ``controls``
section: the end-to-end controls of those rules (tools/controls.py, :mod:`.controls`).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from climemu.core.config import Strict
from climemu.core.params import LEAD


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


class Replicate(Strict):
    """One replicate of the end-to-end controls: its own data and its own network."""

    data: int                          # data.synthetic.seed
    seed: int                          # the network's seed


class Pair(Strict):
    """A finding's two generator settings (names in ``controls.settings``) and the leads it needs."""

    present: str
    absent: str
    leads: list[LEAD] = Field(min_length=1)


FINDINGS = ("local", "reach", "location", "teleconnection")   # the paper's four findings' rules


class ControlsConfig(Strict):
    """``make controls`` (tools/controls.py): every generator setting of ``settings`` at every
    replicate and every lead a pair needs it at, each a run of the pipeline with ``set``, the
    setting's values, the replicate's seeds and the lead replaced (docs/controls.md)."""

    replicates: list[Replicate] = Field(min_length=1)
    set: dict[str, Any]
    stages: list[str]
    methods: list[str]                 # judged on the score samples beside the group method
    link_error_max: float = Field(gt=0, lt=1)
    interval: float = Field(gt=0, lt=1)
    settings: dict[str, dict[str, Any]] = Field(min_length=2)
    pairs: dict[str, Pair] = Field(min_length=1)

    @model_validator(mode="after")
    def _named(self) -> "ControlsConfig":
        for finding, pair in self.pairs.items():
            if finding not in FINDINGS:
                raise ValueError(f"controls.pairs: {finding!r} is no finding; expected one of {', '.join(FINDINGS)}")
            for state in ("present", "absent"):
                if getattr(pair, state) not in self.settings:
                    raise ValueError(f"controls.pairs.{finding}.{state}: {getattr(pair, state)!r} is not a setting "
                                     f"of controls.settings ({', '.join(self.settings)})")
        if "reach" in self.pairs and len(set(self.pairs["reach"].leads)) < 2:
            raise ValueError("controls.pairs.reach needs two leads (finding 2 compares them)")
        return self

    def leads(self, setting: str) -> list[int]:
        """The leads a setting is run at: every lead of every pair that uses it."""
        return sorted({lead for p in self.pairs.values() if setting in (p.present, p.absent) for lead in p.leads})

    def experiments(self) -> list[tuple[str, int, int, dict[str, Any]]]:
        """``(setting, lead, replicate index, values replaced)``, replicates outermost (a stopped
        run holds every setting at its first replicates)."""
        out = []
        for r, rep in enumerate(self.replicates):
            for setting, values in self.settings.items():
                for lead in self.leads(setting):
                    out.append((setting, lead, r, {**self.set, **values, "data.synthetic.seed": rep.data,
                                                   "lead": lead, "seed": rep.seed}))
        return out
