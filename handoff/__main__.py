"""``python -m handoff``: see :mod:`handoff.cli`."""
from .cli import main

raise SystemExit(main())
