"""Where the embedding model runs: a CUDA GPU when torch can use one, else this machine's CPU.

On a CPU the model runs exported on ONNX Runtime (:mod:`indexer.embed.onnx`).
On a GPU it runs on torch in float16, in batches of ``Settings.gpu_batch_size``
windows sorted by length (``Embedder.encode_passages``), so a batch pads little
and the fast tokenizer's batched encoding keeps ahead of the GPU.

Asking torch costs its import (10-25 s of a CLI start that otherwise never
loads it), so on Linux a machine without the NVIDIA driver's device files is a
CPU machine without asking.
"""

from __future__ import annotations

import sys
from pathlib import Path

from indexer.errors import UserError

__all__ = ["DeviceError", "choose_device", "cuda_available"]

_DRIVER_FILES = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/nvidia0")


class DeviceError(UserError, RuntimeError):
    """The configured device cannot run the model here; the message says what to set."""


def cuda_available() -> bool:
    """Whether torch sees a CUDA GPU (False without torch, or its CPU-only build)."""
    if sys.platform.startswith("linux") and not any(Path(p).exists() for p in _DRIVER_FILES):
        return False
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def choose_device(setting: str) -> str:
    """The torch device for ``GOVSPEECH_DEVICE``: ``auto`` picks ``cuda`` when a GPU is usable.

    ``Settings`` has checked its form (auto, cpu, cuda, cuda:N). An explicit ``cuda``
    on a machine without one is an error rather than a quiet CPU run: a build
    planned as minutes on a GPU would take hours.
    """
    if setting == "auto":
        return "cuda" if cuda_available() else "cpu"
    if setting.startswith("cuda") and not cuda_available():
        raise DeviceError(
            f"GOVSPEECH_DEVICE={setting}: torch sees no CUDA GPU on this machine (no NVIDIA "
            "driver, or torch's CPU-only build); set GOVSPEECH_DEVICE=auto or cpu"
        )
    return setting
