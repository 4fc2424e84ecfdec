"""``diffbgm studio`` on the command line: its example, and a one-line error without the studio extra."""

from __future__ import annotations

import sys

from click.testing import CliRunner
from repo_paths import REPO_ROOT

from diffbgm.cli import cli
from diffbgm.cli.studio import CHECKOUT_EXAMPLE


def test_the_example_is_the_checkout_s_demo():
    assert CHECKOUT_EXAMPLE == REPO_ROOT / "examples" / "demo.mp4" and CHECKOUT_EXAMPLE.is_file()


def test_without_the_studio_extra_it_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn raises ImportError
    result = CliRunner().invoke(cli, ["studio", "--port", "0"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["Error: the studio needs FastAPI and uvicorn: pip install 'diffbgm[studio]'"]


def test_the_help_names_its_options():
    result = CliRunner().invoke(cli, ["studio", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--model", "--threads", "--max-upload-mb"):
        assert option in result.output
    assert "127.0.0.1" in result.output and "7860" in result.output
