"""Feature importance of the emulator (paper Secs. 3-4): Captum methods on one output cell,
group means over many samples, the measures we report, and ablation.

Modules: ``methods`` (names -> Captum), ``pixel`` (one output cell, completeness),
``group`` (running sums), ``measures`` (curves, radii, reach), ``ablation``,
``frozen`` (eval mode, frozen weights), ``heatmaps`` (named dims).

Import from the modules: no re-exports here, so that importing one module (or ``config``) does
not load the rest.
"""
