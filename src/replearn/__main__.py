"""``python -m replearn`` (also what ``torchrun -m replearn`` starts)."""

from replearn.cli import main

raise SystemExit(main())
