"""The torchrun helpers with one process (the identity) and their sharding rule."""

import numpy as np
import pytest

from climemu.core import distributed


def test_one_process_is_the_identity(monkeypatch):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert (distributed.rank(), distributed.world(), distributed.is_main()) == (0, 1, True)
    a = np.arange(6.0)
    assert distributed.all_reduce_sum(a) is a
    assert distributed.gather([1, 2]) == [1, 2]
    assert distributed.shard(list("abc")) == ["a", "b", "c"]
    assert distributed.relaunch(1, "stages/train.py", "train.nproc") is False


@pytest.mark.parametrize("n, world", [(10, 3), (2, 4), (7, 2), (0, 2)])
def test_shards_are_contiguous_blocks_covering_every_item_once(monkeypatch, n, world):
    items = list(range(n))
    blocks = []
    for r in range(world):
        monkeypatch.setattr(distributed, "rank", lambda r=r: r)
        monkeypatch.setattr(distributed, "world", lambda: world)
        blocks.append(distributed.shard(items))
    assert [i for b in blocks for i in b] == items            # in order: gather restores it
    assert max(map(len, blocks)) - min(map(len, blocks)) <= 1


def test_relaunch_is_skipped_inside_torchrun_and_rejects_zero(monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert distributed.relaunch(2, "stages/train.py", "train.nproc") is False
    with pytest.raises(ValueError, match="train.nproc must be at least 1"):
        distributed.relaunch(0, "stages/train.py", "train.nproc")
