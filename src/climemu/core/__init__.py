"""Infrastructure every layer may use: files, paths, progress, devices, torchrun, MLflow, geometry, config blocks."""
