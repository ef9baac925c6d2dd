"""Training the emulator (paper Sec. 2.3) and its checkpoints."""
