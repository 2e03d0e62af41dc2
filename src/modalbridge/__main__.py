"""``python -m modalbridge train|evaluate|export ...`` (see `modalbridge.cli`)."""

import sys

from modalbridge.cli import main

if __name__ == '__main__':
    sys.exit(main())
