"""ESGF search and download against a fake index and data node on 127.0.0.1 (no internet)."""

import hashlib

import pytest

from climemu.data import esgf
from climemu.data.esgf import EsgfError, RemoteFile
from tests.helpers_cmip6 import DATASET, FakeEsgf, Grid, closed_port_url, write_files

GRID = Grid.make(n_lat=40, n_lon=50)   # 192 kB per 2-year file: several read chunks


@pytest.fixture
def published(tmp_path):
    """Two files in sequence (0401-0402, 0403-0404) published by a fake node."""
    paths = write_files(tmp_path / "origin", GRID, 401, 2, 2)
    with FakeEsgf() as fake:
        for p in paths:
            fake.publish(p)
        yield fake, paths


def test_search_asks_for_the_dataset_and_reads_files(published):
    fake, paths = published
    files = esgf.search([fake.url("/search")], timeout=5)
    assert [f.name for f in files] == [p.name for p in paths]
    q = fake.queries[0]
    assert {k: q[k] for k in ("type", "source_id", "experiment_id", "variant_label", "table_id",
                              "variable_id", "grid_label", "latest")} == {
        "type": "File", "source_id": "CESM2", "experiment_id": "piControl", "variant_label": "r1i1p1f1",
        "table_id": "Omon", "variable_id": "tos", "grid_label": "gn", "latest": "true"}
    f = files[0]
    assert (f.dataset_id, f.version, f.size) == (DATASET, "v20190320", paths[0].stat().st_size)
    assert f.checksum == hashlib.sha256(paths[0].read_bytes()).hexdigest()
    assert f.urls == [fake.url(f"/files/{paths[0].name}")]    # HTTPServer only, not OPENDAP


def test_replicas_merge_and_the_newest_version_wins(published):
    fake, paths = published
    fake.publish(paths[0], host="/mirror")                      # a replica: second URL
    old = dict(fake.docs[0], dataset_id=f"{DATASET}.v20180101|old.node", checksum=["0" * 64])
    fake.docs.append(old)
    files = esgf.search([fake.url("/search")], timeout=5)
    assert [f.version for f in files] == ["v20190320"] * 2
    assert files[0].urls == [fake.url(f"/files/{paths[0].name}"), fake.url(f"/mirror/{paths[0].name}")]


def test_nodes_tried_in_turn_then_a_clear_error(published, capsys):
    fake, _ = published
    dead, slow, broken = closed_port_url(), fake.url("/slow/search"), fake.url("/broken/search")
    files = esgf.search([dead, slow, broken, fake.url("/search")], timeout=0.5)
    assert len(files) == 2
    out = capsys.readouterr().out
    for node in (dead, slow, broken):
        assert f"index node {node} did not answer" in out
    with pytest.raises(EsgfError) as err:
        esgf.search([dead, slow], timeout=0.5)
    assert f"{dead}: no answer (ConnectionError" in str(err.value)
    assert f"{slow}: no answer (ReadTimeout" in str(err.value)


def test_a_search_that_finds_nothing(published):
    fake, _ = published
    fake.docs.clear()
    with pytest.raises(EsgfError, match="found no files for source_id=CESM2 .*variable_id=tos"
                                        "(.|\n)*answered, but found no file .* \\(0 records\\)"):
        esgf.search([fake.url("/search")], timeout=5)


def test_files_for_the_years_only(published):
    fake, paths = published
    files = esgf.search([fake.url("/search")], timeout=5)
    assert [f.name for f in esgf.files_for_years(files, (403, 404))] == [paths[1].name]
    with pytest.raises(EsgfError, match="no published file covers model years 0500-0600"):
        esgf.files_for_years(files, (500, 600))


def test_dropped_connection_is_resumed_with_a_range_request(published, tmp_path):
    fake, paths = published
    fake.drop_once.add(paths[0].name)
    f = esgf.search([fake.url("/search")], timeout=5)[0]
    path = esgf.download(f, tmp_path / "dl", timeout=5, retries=2)
    assert path.read_bytes() == paths[0].read_bytes()
    (first, r1), (second, r2) = fake.downloads()
    # resumed where the drop left it: after the whole chunks that arrived before it
    assert r1 is None and r2.startswith("bytes=") and 0 < int(r2[6:-1]) <= f.size // 2
    assert not (tmp_path / "dl" / (f.name + ".part")).exists()


def test_wrong_checksum_is_never_used(published, tmp_path):
    fake, paths = published
    fake.docs[0]["checksum"] = ["ab" * 32]
    f = esgf.search([fake.url("/search")], timeout=5)[0]
    with pytest.raises(EsgfError, match=f"could not download {f.name} after 2 attempts"
                                        "(.|\n)*do not match the published size .* and sha256 abab"):
        esgf.download(f, tmp_path / "dl", timeout=5, retries=1)
    assert list((tmp_path / "dl").iterdir()) == []             # neither the file nor a .part


def test_corrupted_download_is_deleted_and_fetched_again(published, tmp_path, capsys):
    fake, paths = published
    fake.corrupt_once.add(paths[0].name)
    f = esgf.search([fake.url("/search")], timeout=5)[0]
    path = esgf.download(f, tmp_path / "dl", timeout=5, retries=2)
    assert path.read_bytes() == paths[0].read_bytes() and len(fake.downloads()) == 2
    assert "failed its checksum; deleted, downloading again" in capsys.readouterr().out


def test_rerun_downloads_nothing_and_a_damaged_file_is_replaced(published, tmp_path, capsys):
    fake, paths = published
    folder = tmp_path / "dl"
    got, files = esgf.fetch([fake.url("/search")], folder, (401, 404), timeout=5, retries=1)
    assert [p.name for p in got] == [p.name for p in paths] and len(fake.downloads()) == 2
    esgf.fetch([fake.url("/search")], folder, (401, 404), timeout=5, retries=1)
    assert len(fake.downloads()) == 2                          # all there and verified
    truncated = folder / paths[1].name
    truncated.write_bytes(truncated.read_bytes()[:100])
    esgf.fetch([fake.url("/search")], folder, (401, 404), timeout=5, retries=1)
    assert "incomplete or damaged" in capsys.readouterr().out
    assert [e[0] for e in fake.downloads()[2:]] == [f"/files/{paths[1].name}"]
    assert truncated.read_bytes() == paths[1].read_bytes()


def test_verified_checks_size_then_checksum(tmp_path):
    p = tmp_path / "x.nc"
    p.write_bytes(b"abc")
    good = hashlib.sha256(b"abc").hexdigest()
    assert esgf.verified(p, RemoteFile("x.nc", 3, good, DATASET, "v1"))
    assert not esgf.verified(p, RemoteFile("x.nc", 4, good, DATASET, "v1"))
    assert not esgf.verified(p, RemoteFile("x.nc", 3, "0" * 64, DATASET, "v1"))
