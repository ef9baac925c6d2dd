"""Progress bars (tqdm) that stay readable in CI logs and in ``dvc repro`` pipes."""

from __future__ import annotations

import sys

from tqdm import tqdm


def progress(iterable=None, **kwargs) -> tqdm:
    """A tqdm bar: live on a terminal, one line every 30 s when piped to a log."""
    kwargs.setdefault("mininterval", 0.5 if sys.stderr.isatty() else 30.0)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kwargs)


def dask_progress(desc: str):
    """A tqdm bar over the tasks of a dask computation (lazy sources compute while written)."""
    from tqdm.dask import TqdmCallback

    return TqdmCallback(desc=desc, mininterval=0.5 if sys.stderr.isatty() else 30.0,
                        dynamic_ncols=True)
