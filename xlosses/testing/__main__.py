"""``python -m xlosses.testing``: the conformance suite's command line (``python -m
conformance``), for example ``python -m xlosses.testing --entries mypackage.losses``."""

from __future__ import annotations

import sys

from conformance.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
