"""The collective path of climemu.core.distributed on this machine's backend (NCCL on GPUs, gloo on
CPUs): an all-reduce, a gather and one DistributedDataParallel step of the Table 1 network.

    python -m torch.distributed.run --standalone --nproc_per_node N benchmarks/ddp_check.py
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from climemu.core import distributed
from climemu.core.devices import resolve_device
from climemu.models.densenet import DenseNet


def main() -> None:
    device = distributed.local_device(resolve_device("auto"))
    distributed.setup(device)
    rank, world = distributed.rank(), distributed.world()
    total = distributed.all_reduce_sum(np.array([rank + 1.0]))
    assert total[0] == world * (world + 1) / 2, total
    assert distributed.gather([rank]) == list(range(world))
    torch.manual_seed(rank)                       # different data per rank, same weights (DDP)
    net = DenseNet().to(device)
    ddp = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    x = torch.randn(4, 36, 70, 125, device=device)
    start = time.perf_counter()
    ddp(x).square().mean().backward()
    grad = net.stem.weight.grad                   # DDP has averaged it over the ranks
    mean = distributed.all_reduce_sum(grad.detach().cpu().double().numpy()) / world
    assert np.allclose(mean, grad.detach().cpu().double().numpy(), rtol=1e-5, atol=1e-8)
    print(f"rank {rank}/{world} on {device} ({'nccl' if device.type == 'cuda' else 'gloo'} when "
          f"distributed): all-reduce, gather and a DDP step agree ({time.perf_counter() - start:.2f} s)")
    distributed.teardown()


if __name__ == "__main__":
    main()
