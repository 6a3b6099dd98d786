"""``python -m energyssl.bench [flags]`` is ``energyssl bench [flags]``."""

import sys

from energyssl.cli import main

if __name__ == "__main__":  # spawned bench workers import this module too
    sys.exit(main(["bench", *sys.argv[1:]]))
