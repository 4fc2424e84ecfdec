"""Where the tests find the repository's own files (the configs, the example)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIGS = REPO_ROOT / "configs"
