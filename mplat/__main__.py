"""Allow ``python -m mplat``."""

from mplat.cli.main import main

raise SystemExit(main())
