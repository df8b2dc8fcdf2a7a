"""`python -m bench.flash_sale` (and `make flash-sale`): see the package's docstring."""

import sys

from bench.flash_sale.cli import main

sys.exit(main())
