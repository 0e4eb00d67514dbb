"""``python -m w2vbackend AUDIO... [options]``: the same as ``w2v-extract``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
