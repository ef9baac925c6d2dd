"""Forecast skill: the emulator beside honest baselines (climatology, persistence, LIM, the truth)."""
