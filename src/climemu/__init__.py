"""climemu: feature importance in a deep learning climate emulator (Xu et al.), reproducibly."""

__version__ = "0.1.0"
