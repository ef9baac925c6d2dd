"""Small files in the exact CMIP6 layout of CESM2 Omon ``tos``, a fake ESGF index and data node,
and an intake-esm catalog: what the real sources read, made by the tests (no internet).

Layout (docs/data.md): ``tos(time, nlat, nlon)`` float32 with ``_FillValue`` 1e20,
2-D ``lat``/``lon(nlat, nlon)`` with longitude 0-360 and ``lat_bnds``/``lon_bnds(nlat, nlon,
vertices)``, ``time`` in "days since 0001-01-01" with calendar 365_day and ``time_bnds(time, d2)``,
files named ``tos_Omon_CESM2_piControl_r1i1p1f1_gn_YYYYMM-YYYYMM.nc``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time as clock
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import cftime
import numpy as np
import pandas as pd
import xarray as xr

from climemu.core.calendar import UNITS, monthly_time
from climemu.core.grid import wrap_lon

PREFIX = "tos_Omon_CESM2_piControl_r1i1p1f1_gn"
ATTRS = {"activity_id": "CMIP", "institution_id": "NCAR", "source_id": "CESM2",
         "experiment_id": "piControl", "variant_label": "r1i1p1f1", "table_id": "Omon",
         "variable_id": "tos", "grid_label": "gn", "frequency": "mon", "Conventions": "CF-1.7 CMIP-6.2"}
DATASET = "CMIP6.CMIP.NCAR.CESM2.piControl.r1i1p1f1.Omon.tos.gn"


@dataclass(frozen=True)
class Grid:
    """A small curvilinear grid: grid lines bend (2-D lat/lon), longitudes wrap into 0-360."""

    lat: np.ndarray   # (nlat, nlon) degrees north
    lon: np.ndarray   # (nlat, nlon) degrees east, 0-360

    @classmethod
    def make(cls, n_lat=40, n_lon=50, lat0=35.0, lon0=300.0, dlat=1.0, dlon=1.2, bend=0.2) -> "Grid":
        i, j = np.meshgrid(np.arange(n_lat), np.arange(n_lon), indexing="ij")
        lat = lat0 + dlat * i + bend * np.sin(j / 7.0)
        lon = (lon0 + dlon * j + bend * np.cos(i / 5.0)) % 360.0
        return cls(lat, lon)


def linear_field(lat, lon, months: np.ndarray) -> np.ndarray:
    """(time, ...) degC linear in lat and (wrapped) lon each month: 20 - 0.3 (lat-40) + 0.05 lon + season."""
    season = 2.0 * np.cos(2 * np.pi * (months % 12) / 12.0)
    return (20.0 - 0.3 * (lat - 40.0) + 0.05 * wrap_lon(lon))[None] + season[:, None, None]


def cmip6_dataset(grid: Grid, first_year: int, n_months: int, land: np.ndarray | None = None,
                  *, units: str = "degC", calendar: str = "365_day", variable: str = "tos",
                  field=linear_field, start_month: int = 0) -> xr.Dataset:
    """One file's content, time encoded by hand (numbers + attributes) exactly as CESM2 writes it."""
    months = start_month + np.arange(n_months)
    dates, bnds = monthly_time(first_year, start_month + n_months)
    to_days = lambda d: cftime.date2num(d, UNITS, calendar="noleap")  # noqa: E731
    t, tb = to_days(dates[start_month:]), to_days(bnds[start_month:])
    values = field(grid.lat, grid.lon, months).astype(np.float32)          # (time, nlat, nlon)
    if units == "K":
        values = values + np.float32(273.15)
    if land is not None:
        values[:, land] = np.nan
    corners = np.stack([grid.lat - 0.5, grid.lat - 0.5, grid.lat + 0.5, grid.lat + 0.5], -1)
    lon_corners = np.stack([grid.lon - 0.6, grid.lon + 0.6, grid.lon + 0.6, grid.lon - 0.6], -1) % 360
    return xr.Dataset(
        {variable: (("time", "nlat", "nlon"), values,
                    {"standard_name": "sea_surface_temperature", "units": units,
                     "cell_methods": "area: mean where sea time: mean"}),
         "time_bnds": (("time", "d2"), tb),
         "lat_bnds": (("nlat", "nlon", "vertices"), corners),
         "lon_bnds": (("nlat", "nlon", "vertices"), lon_corners)},
        coords={"time": ("time", t, {"units": UNITS, "calendar": calendar, "bounds": "time_bnds",
                                     "standard_name": "time"}),
                "lat": (("nlat", "nlon"), grid.lat, {"units": "degrees_north", "bounds": "lat_bnds"}),
                "lon": (("nlat", "nlon"), grid.lon, {"units": "degrees_east", "bounds": "lon_bnds"})},
        attrs=dict(ATTRS, variable_id=variable))


def file_name(first_year: int, n_months: int, start_month: int = 0) -> str:
    a, b = start_month, start_month + n_months - 1
    return f"{PREFIX}_{first_year + a // 12:04d}{a % 12 + 1:02d}-{first_year + b // 12:04d}{b % 12 + 1:02d}.nc"


def write_file(ds: xr.Dataset, path: Path) -> Path:
    variable = next(v for v in ds.data_vars if ds[v].ndim == 3)
    ds.to_netcdf(path, engine="netcdf4", unlimited_dims=["time"],
                 encoding={variable: {"_FillValue": np.float32(1e20), "dtype": "float32"},
                           "time": {"_FillValue": None}, "time_bnds": {"_FillValue": None},
                           "lat": {"_FillValue": None}, "lon": {"_FillValue": None}})
    return path


def write_files(folder: Path, grid: Grid, first_year: int, years_per_file: int, n_files: int,
                land: np.ndarray | None = None, **kwargs) -> list[Path]:
    """``n_files`` files of ``years_per_file`` years each, in sequence from ``first_year``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(n_files):
        year = first_year + k * years_per_file
        n = 12 * years_per_file
        paths.append(write_file(cmip6_dataset(grid, year, n, land, **kwargs), folder / file_name(year, n)))
    return paths


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --- a fake ESGF index node and data node on 127.0.0.1 -------------------------------------

@dataclass
class FakeEsgf:
    """One HTTP server playing index node (/search) and data node (/files/<name>).

    ``drop_once``: names whose first download stops half-way (connection closed);
    ``corrupt_once``: names whose first download has one byte changed.
    """

    files: dict[str, bytes] = field(default_factory=dict)
    docs: list[dict] = field(default_factory=list)
    drop_once: set[str] = field(default_factory=set)
    corrupt_once: set[str] = field(default_factory=set)
    log: list[tuple[str, str | None]] = field(default_factory=list)    # (path, Range header)
    queries: list[dict] = field(default_factory=list)
    slow_s: float = 2.0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def publish(self, path: Path, version: str = "v20190320", checksum: str | None = None,
                host: str = "/files") -> None:
        data = Path(path).read_bytes()
        self.files[path.name] = data
        self.docs.append({
            "title": path.name, "size": len(data), "checksum": [checksum or hashlib.sha256(data).hexdigest()],
            "checksum_type": ["SHA256"], "dataset_id": f"{DATASET}.{version}|127.0.0.1",
            "url": [self.url(f"{host}/{path.name}") + "|application/netcdf|HTTPServer",
                    self.url(f"/opendap/{path.name}.html") + "|application/opendap-html|OPENDAP"]})

    def downloads(self) -> list[tuple[str, str | None]]:
        return [entry for entry in self.log if entry[0].startswith("/files/")]

    def __enter__(self) -> "FakeEsgf":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):   # quiet
                pass

            def do_GET(self):
                url = urlparse(self.path)
                fake.log.append((url.path, self.headers.get("Range")))
                if url.path == "/search":
                    fake.queries.append({k: v[0] for k, v in parse_qs(url.query).items()})
                    return self._json({"response": {"numFound": len(fake.docs), "docs": fake.docs}})
                if url.path == "/slow/search":
                    clock.sleep(fake.slow_s)
                    return self._json({"response": {"numFound": 0, "docs": []}})
                if url.path == "/broken/search":
                    self.send_error(503, "index down")
                    return
                if url.path.startswith("/files/"):
                    return self._file(url.path.removeprefix("/files/"))
                self.send_error(404)

            def _json(self, obj):
                body = json.dumps(obj).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _file(self, name):
                data = fake.files.get(name)
                if data is None:
                    return self.send_error(404)
                start = 0
                if rng := self.headers.get("Range"):
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(data):
                        return self.send_error(416)
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if name in fake.drop_once:
                    fake.drop_once.discard(name)
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if name in fake.corrupt_once:
                    fake.corrupt_once.discard(name)
                    body = body[:10] + bytes([body[10] ^ 0xFF]) + body[11:]
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def closed_port_url() -> str:
    """An address on 127.0.0.1 where nothing listens (connection refused)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/search"


# --- an intake-esm catalog over a zarr store -------------------------------------------------

CATALOG_COLUMNS = ["activity_id", "institution_id", "source_id", "experiment_id", "member_id",
                   "table_id", "variable_id", "grid_label", "zstore", "dcpp_init_year", "version"]


def write_catalog(folder: Path, rows: list[dict]) -> Path:
    """An intake-esm (ESM collection spec) catalog, JSON + CSV, in the Pangeo CMIP6 columns."""
    csv = folder / "catalog.csv"
    pd.DataFrame(rows, columns=CATALOG_COLUMNS).to_csv(csv, index=False)
    spec = {
        "esmcat_version": "0.1.0", "id": "test-cmip6", "description": "test catalog",
        "catalog_file": str(csv),
        "attributes": [{"column_name": c, "vocabulary": ""} for c in CATALOG_COLUMNS if c != "zstore"],
        "assets": {"column_name": "zstore", "format": "zarr"},
        "aggregation_control": {
            "variable_column_name": "variable_id",
            "groupby_attrs": ["activity_id", "institution_id", "source_id", "experiment_id",
                              "table_id", "grid_label"],
            "aggregations": [{"type": "union", "attribute_name": "variable_id"}]},
    }
    path = folder / "catalog.json"
    path.write_text(json.dumps(spec, indent=1))
    return path


def catalog_row(zstore: str, **over) -> dict:
    row = {"activity_id": "CMIP", "institution_id": "NCAR", "source_id": "CESM2",
           "experiment_id": "piControl", "member_id": "r1i1p1f1", "table_id": "Omon",
           "variable_id": "tos", "grid_label": "gn", "zstore": zstore, "dcpp_init_year": "",
           "version": 20190320}
    return {**row, **over}
