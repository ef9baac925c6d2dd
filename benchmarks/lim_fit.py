"""Time of the linear inverse model's fit on the whole smoothed record (800 years by default).

    python benchmarks/lim_fit.py [--modes 20] [--lead 1]

Reads data/smoothed.nc and data/windows.nc (run `dvc repro` first) and fits on every month,
which is more than the evaluate stage does (it fits on the training period only).
"""

from __future__ import annotations

import argparse
import time

from climemu.core import paths
from climemu.forecast.baselines import LinearInverseModel
from climemu.data.window import WindowedData


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--modes", type=int, default=20)
    parser.add_argument("--lead", type=int, default=1)
    args = parser.parse_args()
    data = WindowedData.open(paths.SMOOTHED, paths.WINDOWS)
    start = time.perf_counter()
    LinearInverseModel(args.lead, args.modes, data.ocean).fit(data.x)
    seconds = time.perf_counter() - start
    print(f"LIM fit, {args.modes} modes, lead {args.lead}: {data.x.shape[0]} months x "
          f"{int(data.ocean.sum())} ocean cells in {seconds:.2f} s")


if __name__ == "__main__":
    main()
