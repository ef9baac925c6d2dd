"""The Pangeo CMIP6 cloud catalog: find the dataset with intake-esm, open its zarr store lazily.

The catalog is searched (never a hard-coded store path): whether ``tos`` of CESM2 piControl is
in it is for the search to say. Stores on Google Cloud Storage (``gs://``) are public and read
anonymously over HTTPS, chunk by chunk, as zarr; nothing is downloaded up front.
"""

from __future__ import annotations

import json
import warnings

import xarray as xr

from climemu.core.errors import UserError
from climemu.data.cmip import FACETS, check, check_continuous, dataset_id, months_of, open_tos, select_years

GCS_HTTPS = "https://storage.googleapis.com/"


class PangeoError(UserError, RuntimeError):
    """The catalog cannot be read, or it does not hold the dataset."""


def catalog_query() -> dict:
    """The paper's dataset in the catalog's columns (it says member_id for variant_label)."""
    q = {k: v for k, v in FACETS.items() if k != "variant_label"}
    return {**q, "member_id": FACETS["variant_label"]}


def public_url(store: str) -> str:
    """gs://bucket/path -> its anonymous HTTPS address; other addresses and paths unchanged."""
    return GCS_HTTPS + store.removeprefix("gs://") if store.startswith("gs://") else store


def find_store(catalog: str) -> dict:
    """The catalog row (zstore, version, ...) of the dataset's newest version."""
    with warnings.catch_warnings():
        # intake-esm 2025.2 still uses pydantic validators that pydantic 2.12+ deprecates
        warnings.simplefilter("ignore", DeprecationWarning)
        import intake_esm   # heavy: imported only by this source

        try:
            cat = intake_esm.esm_datastore(catalog, progressbar=False)
        except Exception as e:   # noqa: BLE001 - any failure to read the catalog ends here, said plainly
            raise PangeoError(f"cannot read the intake-esm catalog {catalog}: {type(e).__name__}: {e}") from e
        query = catalog_query()
        hits = cat.search(**query).df
    if hits.empty:
        raise PangeoError(f"the dataset is not in the Pangeo catalog {catalog}: a search for "
                          + " ".join(f"{k}={v}" for k, v in query.items())
                          + f" found nothing among {len(cat.df)} entries; "
                          "use data.source=esgf (or local with files you have)")
    if "version" in hits:
        hits = hits.sort_values("version", key=lambda v: v.astype(str))
    return hits.iloc[-1].to_dict()


def open_store(catalog: str, years: tuple[int, int]) -> tuple[xr.DataArray, dict]:
    """Lazy ``tos(time, nlat, nlon)`` degC for ``years`` and its provenance."""
    row = find_store(catalog)
    store = public_url(str(row["zstore"]))
    name = store.rstrip("/").rsplit("/", 1)[-1] or store
    ds = open_tos(store, name, engine="zarr")
    tos = check(ds, name)
    months = months_of(ds)
    check_continuous([(name, months)])
    tos = select_years(tos, months, years, f"zarr store {store}")
    version = str(row.get("version", "") or "")
    version = f"v{version}" if version and not version.startswith("v") else version
    provenance = {"dataset_id": dataset_id(ds.attrs) + (f".{version}" if version else ""),
                  "files": json.dumps([store]), "catalog": catalog,
                  "checksums_sha256": "none (zarr store read in place)"}
    return tos, provenance
