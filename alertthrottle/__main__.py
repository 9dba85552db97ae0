"""``python -m alertthrottle``: the same command line as the ``alertthrottle`` script."""

from .cli import main

raise SystemExit(main())
