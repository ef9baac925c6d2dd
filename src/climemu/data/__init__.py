"""Data: sources behind the fetch stage, smoothing, and the chronological windows."""
