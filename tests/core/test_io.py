import json

import pytest

from climemu.core.io import atomic_path, write_json


def test_interrupted_write_leaves_old_output_and_no_temp(tmp_path):
    target = tmp_path / "out.json"
    write_json({"a": 1}, target)
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_written_files_are_world_readable(tmp_path):
    write_json({}, tmp_path / "m.json")
    assert (tmp_path / "m.json").stat().st_mode & 0o044 == 0o044
