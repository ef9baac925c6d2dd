"""The synthetic source's known model: its generator, exact coefficients, true predictor and agreement with it."""
