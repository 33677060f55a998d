"""Allow ``python -m mplat``."""

from mplat.cli import main

raise SystemExit(main())
