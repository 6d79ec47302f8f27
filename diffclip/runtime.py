"""CPU runtime defaults, set by ``diffclip/__init__`` before torch loads (docs/design.md, "The CPU
pipeline"). Each is an environment variable that torch or its OpenMP runtime reads once; a value the user
set is kept.
"""

from __future__ import annotations

import os

#: Measured on this project's 2-core CPU with the bundled model, batches of 32:
CPU_RUNTIME_DEFAULTS = {
    # torch backs its CPU tensors of 2 MB or more with transparent huge pages (Linux, read at its first
    # allocation). A forward pass allocates and frees tens of MB of activations; on 4 KB pages each batch
    # faulted in about 220 MB afresh (56,000 minor faults, a tenth of the CPU time in the kernel). Huge
    # pages cut the faults fifty-fold and the model ran about 1.3x faster.
    "THP_MEM_ALLOC_ENABLE": "1",
    # libgomp's idle threads spin 300,000 rounds (milliseconds) after each parallel region before they
    # sleep (read when torch loads). The pipeline decodes the next batch right after a forward pass, and
    # the spinning threads took a core from the decoders: 0.9 ms of decoding per frame instead of 0.65.
    # 10,000 rounds still spans the gaps between a forward pass's operators.
    "GOMP_SPINCOUNT": "10000",
}


def set_cpu_runtime_defaults() -> dict[str, str]:
    """Set each of :data:`CPU_RUNTIME_DEFAULTS` that the environment does not already set; return the
    values in force. Where the kernel has huge pages off, off Linux, or once torch is loaded (for the
    OpenMP setting), they change nothing."""
    return {name: os.environ.setdefault(name, value) for name, value in CPU_RUNTIME_DEFAULTS.items()}
