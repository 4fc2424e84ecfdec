"""``python -m diffbgm.cli``."""

from diffbgm.cli import main

main()
