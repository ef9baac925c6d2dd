"""One loop for every batched attribution: training samples x output cells x a method.

The explain (group heatmaps, paper Sec. 4.2), score (every method against the truth), sanity
(cascading randomisation) and basin (many cells) stages all explain output cells of one network
on batches of training samples. This module does it once: batches of sample positions, the
device, the memory layout, the torchrun sharding of batches, and the engine:

- ``deeplift`` (the paper's method, zero baseline): :class:`~.fast.DeepLiftCells`, one forward
  pass per batch for every cell, each further cell one backward pass;
- ``occlusion``: :func:`~.perturb.occlusion_maps`, one forward pass per perturbed input for
  every cell;
- any other method, or ``deeplift`` with ``fast=False``: Captum through
  :func:`~.methods.attribute`, one call per cell.

The callers keep only what is theirs: running sums, scores against the truth, measures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from climemu.attribution.fast import DeepLiftCells
from climemu.attribution.frozen import frozen_eval
from climemu.attribution.methods import attribute, get_method, method_kwargs
from climemu.attribution.perturb import occlusion_maps
from climemu.core import distributed
from climemu.core.devices import memory_layout
from climemu.core.progress import progress
from climemu.data.window import WindowedData


def sample_batches(positions, batch_size: int) -> list[np.ndarray]:
    """Consecutive slices of ``batch_size`` positions (the last may be shorter), in order."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    positions = np.asarray(positions)
    return [positions[s:s + batch_size] for s in range(0, len(positions), batch_size)]


@dataclass
class Attributions:
    """One method's attributions of K output cells on one batch of B samples."""

    maps: np.ndarray                  # (K, B, 36, H, W) float32: the heatmaps of cell k
    outputs: np.ndarray | None        # (B, H, W) f(x): on the fast path, or when asked for
    deltas: np.ndarray | None         # (K, B) Captum's convergence delta, when asked for


class AttributionRunner:
    """Explains output cells of ``model`` on batches of training samples of ``data``.

    The model is moved to ``device`` and to the memory layout (in place, as ``nn.Module.to``
    does). ``n_steps``: Integrated Gradients' steps; ``shap_base``: DeepLiftShap's baselines;
    ``options``: the other methods' ``explain.options`` (:func:`~.methods.method_kwargs`). ``fast=False`` sends ``deeplift`` to Captum as well.
    ``pin_memory``: on a CUDA device, batches go through page-locked host memory and are copied
    asynchronously (a no-op on the CPU).
    """

    def __init__(self, model: nn.Module, data: WindowedData, *, channels_last: bool = True,
                 device: torch.device = torch.device("cpu"), n_steps: int = 50,
                 shap_base: torch.Tensor | None = None, options=None, fast: bool = True,
                 pin_memory: bool = False):
        self.layout = memory_layout(channels_last)
        self.device = device
        self.model = model.to(device, memory_format=self.layout)
        self.data = data
        self.n_steps, self.shap_base, self.options, self.fast = n_steps, shap_base, options, fast
        self.pin = pin_memory and torch.device(device).type == "cuda"
        self._engine: DeepLiftCells | None = None       # built on the first fast deeplift call

    def batches(self, positions, batch_size: int, shard: bool = False,
                desc: str | None = None) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
        """``(positions (B,), inputs (B, 36, H, W))``, batch after batch of training samples.

        The inputs are on the device, in the memory layout. ``shard``: under torchrun each
        process takes its own block of the batches; the batches themselves are those of one
        process, so sums over every process equal one process's sums. ``desc``: a progress bar.
        """
        chunks = sample_batches(positions, batch_size)
        if shard:
            chunks = distributed.shard(chunks)
        if desc:
            chunks = progress(chunks, desc=desc, unit="batch")
        for chunk in chunks:
            x = self.data.inputs("train", chunk)
            if self.pin:
                x = x.pin_memory()
            x = x.to(self.device, non_blocking=self.pin).contiguous(memory_format=self.layout)
            yield chunk, x

    def attribute(self, x: torch.Tensor, cells: Sequence[tuple[int, int]], method: str = "deeplift",
                  outputs: bool = False, return_delta: bool = False) -> Attributions:
        """The attributions of each output cell ``(i, j)`` in ``cells`` for the batch ``x``.

        ``outputs``: also f(x) ``(B, H, W)`` (the fast path returns it anyway). ``return_delta``:
        Captum's convergence delta, for the methods that have one (Captum path only: on the
        fast path completeness gives it, sum of the map = f(x) - f(0)).
        """
        cells = [(int(i), int(j)) for i, j in cells]
        if method == "deeplift" and self.fast:
            maps, out = self._deeplift_cells().attribute(x, cells)    # (K, B, 36, H, W), (B, H, W)
            return Attributions(maps.cpu().numpy(), out.cpu().numpy(), None)
        out = None
        if outputs:
            with frozen_eval(self.model), torch.no_grad():
                out = self.model(x)[:, 0].cpu().numpy()                  # (B, H, W)
        kwargs = method_kwargs(method, self.n_steps, self.shap_base, self.options)
        if method == "occlusion":            # one forward per perturbation for every cell
            rows, cols = [i for i, _ in cells], [j for _, j in cells]
            with frozen_eval(self.model):
                maps = occlusion_maps(lambda xs: self.model(xs)[:, 0, rows, cols], x.float(), **kwargs)
            return Attributions(maps.cpu().contiguous().numpy(), out, None)      # (K, B, 36, H, W)
        with_delta = return_delta and get_method(method).has_delta
        maps, deltas = [], []
        for cell in cells:
            if with_delta:
                attr, delta = attribute(self.model, method, x, cell, return_delta=True, **kwargs)
                deltas.append(delta.cpu().numpy())                       # (B,)
            else:
                attr = attribute(self.model, method, x, cell, **kwargs)
            maps.append(attr.cpu().contiguous().numpy())                 # (B, 36, H, W)
        return Attributions(np.stack(maps), out, np.stack(deltas) if with_delta else None)

    def deeplift(self, x: torch.Tensor, cells: Sequence[tuple[int, int]]) -> torch.Tensor:
        """The fast path's DeepLift maps ``(K, B, 36, H, W)`` as a tensor on the device.

        For callers that reduce the maps at once (basin): the reduction then runs in torch on
        the device, and only its result is copied to the host.
        """
        return self._deeplift_cells().attribute(x, [(int(i), int(j)) for i, j in cells])[0]

    def _deeplift_cells(self) -> DeepLiftCells:
        if self._engine is None:
            shape = (self.data.input_months, *self.data.ocean.shape)      # (36, H, W)
            self._engine = DeepLiftCells(self.model, shape, memory_format=self.layout).to(self.device)
        return self._engine
