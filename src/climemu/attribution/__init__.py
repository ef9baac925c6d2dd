"""Feature importance of the emulator (paper Secs. 3-4): Captum methods on one output cell,
group means over many samples, the measures we report, and ablation.

Modules: ``methods`` (names -> Captum), ``pixel`` (one output cell, completeness),
``group`` (running sums), ``measures`` (curves, radii, reach), ``ablation``,
``frozen`` (eval mode, frozen weights), ``heatmaps`` (named dims).
"""

from climemu.attribution.ablation import (ablate_box, box_cells, far_field_influence,
                                          target_response)
from climemu.attribution.frozen import frozen_eval
from climemu.attribution.group import GroupSums, group_explanation
from climemu.attribution.heatmaps import as_heatmaps, month_labels
from climemu.attribution.measures import (curve_spread, efolding_month,
                                          group_monthly_contribution, locality_radius,
                                          monthly_contribution, normalised_curve,
                                          share_of_last_month)
from climemu.attribution.methods import METHODS, attribute, get_method
from climemu.attribution.pixel import PixelOutput, relative_delta

__all__ = [
    "METHODS", "GroupSums", "PixelOutput", "ablate_box", "as_heatmaps", "attribute",
    "box_cells", "curve_spread", "efolding_month", "far_field_influence", "frozen_eval",
    "get_method", "group_explanation", "group_monthly_contribution", "locality_radius",
    "month_labels", "monthly_contribution", "normalised_curve", "relative_delta",
    "share_of_last_month", "target_response",
]
