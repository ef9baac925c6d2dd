"""ESGF: find the paper's files through the search API, download them with resume and checksums.

Search: the esg-search API (``type=File``, Solr JSON) on several index nodes tried in turn,
each with a timeout; a node that fails or finds nothing hands over to the next.
Download: HTTP into a download folder that survives re-runs. A file is written as ``<name>.part``
(resumed with an HTTP Range request after a dropped connection) and renamed to ``<name>`` only
when its size and sha256 match the published ones; a complete file is verified again before use,
and one that fails (truncated, damaged) is deleted and downloaded again. Nothing half-downloaded
is ever taken as done.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import requests

from climemu.core.errors import UserError
from climemu.data.cmip import FACETS, FileSpan, sha256
from climemu.core.progress import progress

CHUNK = 1 << 16   # bytes per read while streaming: a dropped connection loses less than this


class EsgfError(UserError, RuntimeError):
    """The search or a download failed; the message says what was tried and what came back."""


@dataclass
class RemoteFile:
    """One file of the dataset as the index publishes it, with every HTTP mirror."""

    name: str
    size: int
    checksum: str          # sha256, hex
    dataset_id: str        # e.g. CMIP6.CMIP.NCAR.CESM2.piControl.r1i1p1f1.Omon.tos.gn
    version: str           # e.g. v20190320
    urls: list[str] = field(default_factory=list)


def _http_urls(doc: dict) -> list[str]:
    # "url": ["https://.../file.nc|application/netcdf|HTTPServer", "...|OPENDAP", ...]
    return [u.split("|")[0] for u in doc.get("url", []) if u.endswith("|HTTPServer")]


def _parse(docs: list[dict]) -> list[RemoteFile]:
    """Files of the newest version, replicas merged into one entry with several mirrors."""
    files: dict[tuple[str, str], RemoteFile] = {}
    for doc in docs:
        name = doc["title"]
        kinds = [k.upper() for k in doc.get("checksum_type", [])]
        if "SHA256" not in kinds:
            continue   # without a published sha256 a download cannot be verified
        checksum = doc["checksum"][kinds.index("SHA256")].lower()
        # dataset_id "CMIP6.CMIP.NCAR.CESM2.piControl.r1i1p1f1.Omon.tos.gn.v20190320|data.node"
        dataset = doc.get("dataset_id", "").partition("|")[0]
        base, _, version = dataset.rpartition(".")
        if not re.fullmatch(r"v\d+", version):
            base, version = dataset, f"v{doc.get('version', 0)}"
        entry = files.setdefault((name, version), RemoteFile(name, int(doc.get("size", 0)), checksum,
                                                             base, version))
        if entry.checksum != checksum:
            raise EsgfError(f"{name} {version}: replicas publish different sha256 "
                            f"({entry.checksum} and {checksum})")
        entry.urls += [u for u in _http_urls(doc) if u not in entry.urls]
    if not files:
        return []
    newest = max(v for _, v in files)
    return sorted((f for (_, v), f in files.items() if v == newest and f.urls), key=lambda f: f.name)


def search(nodes: list[str], timeout: float, facets: dict | None = None) -> list[RemoteFile]:
    """Files of the dataset (latest version, HTTP mirrors), from the first node that finds them."""
    facets = facets or FACETS
    query = {"type": "File", "format": "application/solr+json", "latest": "true",
             "distrib": "true", "limit": 500, **facets}
    tried = []
    for node in nodes:
        docs: list[dict] = []
        try:
            while True:
                r = requests.get(node, params={**query, "offset": len(docs)}, timeout=timeout)
                r.raise_for_status()
                answer = r.json()["response"]
                docs += answer["docs"]
                if not answer["docs"] or len(docs) >= int(answer["numFound"]):
                    break
        except (requests.RequestException, ValueError, KeyError) as e:
            tried.append(f"{node}: no answer ({type(e).__name__}: {e})")
            print(f"esgf: index node {node} did not answer ({type(e).__name__}); trying the next")
            continue
        files = _parse(docs)
        if files:
            print(f"esgf: {node} lists {len(files)} files of {files[0].dataset_id} {files[0].version}")
            return files
        tried.append(f"{node}: answered, but found no file with a sha256 and an HTTP URL "
                     f"({len(docs)} records)")
    raise EsgfError("ESGF search found no files for "
                    + " ".join(f"{k}={v}" for k, v in facets.items()) + ":\n  " + "\n  ".join(tried))


def files_for_years(files: list[RemoteFile], years: tuple[int, int]) -> list[RemoteFile]:
    wanted = [f for f in files if FileSpan.parse(f.name).overlaps(years)]
    if not wanted:
        names = ", ".join(f.name for f in files)
        raise EsgfError(f"no published file covers model years {years[0]:04d}-{years[1]:04d} "
                        f"(found: {names})")
    return wanted


def verified(path: Path, f: RemoteFile) -> bool:
    """Whether ``path`` is the complete published file (size, then sha256)."""
    if f.size and path.stat().st_size != f.size:   # cheap first: a truncated file
        return False
    return sha256(path) == f.checksum


def _stream(url: str, part: Path, f: RemoteFile, timeout: float) -> None:
    """Append the rest of ``url`` to ``part`` (an HTTP Range request when part is non-empty)."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    with requests.get(url, headers=headers, stream=True, timeout=timeout) as r:
        if r.status_code == 416:   # nothing left to send: the part is complete (or too long)
            return
        r.raise_for_status()
        if offset and r.status_code != 206:   # the server ignored Range: start again
            offset = 0
        with open(part, "ab" if offset else "wb") as out, \
                progress(total=f.size or None, initial=offset, unit="B", unit_scale=True,
                         unit_divisor=1024, desc=f.name, leave=False) as bar:
            for chunk in r.iter_content(CHUNK):
                out.write(chunk)
                bar.update(len(chunk))


def download(f: RemoteFile, folder: Path, timeout: float, retries: int) -> Path:
    """``folder/<name>``, verified; downloads (or resumes) only what is missing."""
    folder.mkdir(parents=True, exist_ok=True)
    path, part = folder / f.name, folder / (f.name + ".part")
    if path.exists():
        if verified(path, f):
            return path
        print(f"esgf: {path} is incomplete or damaged (sha256 or size differs from the "
              f"published {f.checksum}); deleting it and downloading again")
        path.unlink()
    errors = []
    for attempt in range(retries + 1):
        url = f.urls[attempt % len(f.urls)]
        try:
            _stream(url, part, f, timeout)
        except requests.RequestException as e:   # dropped connection, timeout: resume next time
            errors.append(f"{url}: {type(e).__name__}: {e}")
            print(f"esgf: {f.name}: {type(e).__name__} after {part.stat().st_size if part.exists() else 0}"
                  f" bytes; resuming ({attempt + 1}/{retries})")
            continue
        if part.exists() and verified(part, f):
            os.replace(part, path)
            return path
        size = part.stat().st_size if part.exists() else 0
        errors.append(f"{url}: got {size} bytes that do not match the published size {f.size} "
                      f"and sha256 {f.checksum}")
        print(f"esgf: {f.name} failed its checksum; deleted, downloading again")
        part.unlink(missing_ok=True)   # a damaged part is never resumed nor used
    raise EsgfError(f"could not download {f.name} after {retries + 1} attempts:\n  " + "\n  ".join(errors))


def fetch(nodes: list[str], folder: Path, years: tuple[int, int], timeout: float,
          retries: int) -> tuple[list[Path], list[RemoteFile]]:
    """Search, then download every file that covers ``years``; returns local paths and records."""
    files = files_for_years(search(nodes, timeout), years)
    total = sum(f.size for f in files)
    print(f"esgf: {len(files)} files, {total / 2**30:.2f} GiB, into {folder}")
    paths = [download(f, folder, timeout, retries) for f in progress(files, desc="esgf", unit="file")]
    return paths, files
