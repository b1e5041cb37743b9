"""Sequence-model benchmarks of the issue, one command: RNN, Mamba and S4.

    python benchmarks/bench_sequence.py                 # all three (~10 min on a quiet 2-core CPU)
    python benchmarks/bench_sequence.py --only mamba s4

Runs, in this order and with their own defaults:

* ``bench_sequence_rnn.py``: LSTM/GRU fast path >= 0.9x the training throughput of
  ``torch.nn.LSTM``/``GRU``; the reference loop's slowdown is reported (goal <= 3x);
* ``bench_sequence_mamba.py``: the chunked selective scan >= 5x faster than the sequential
  scan at L = 2048; the Mamba layer >= 1.0x the training throughput of Hugging Face's Mamba
  (pure-PyTorch path) with the same config;
* ``bench_sequence_s4.py``: S4D convolution mode vs recurrence from L = 1k to 16k with the
  fitted time exponents.

Each writes its own ``benchmarks/results/sequence_*.{json,md}``; see their docstrings. Options
other than ``--only`` belong to the individual scripts (run them directly to pass any).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

PARTS = {"rnn": "bench_sequence_rnn", "mamba": "bench_sequence_mamba", "s4": "bench_sequence_s4"}


def main(argv: list[str] | None = None) -> int:
    """Run the chosen parts with their default settings."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=sorted(PARTS), default=list(PARTS))
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    for part in args.only:
        print(f"== {PARTS[part]} ==", flush=True)
        importlib.import_module(PARTS[part]).main([])
    return 0


if __name__ == "__main__":
    sys.exit(main())
