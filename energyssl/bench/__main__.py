"""``python -m energyssl.bench [flags]`` is ``energyssl bench [flags]``."""

import sys

from energyssl.cli import main

sys.exit(main(["bench", *sys.argv[1:]]))
