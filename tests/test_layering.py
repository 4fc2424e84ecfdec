"""The package's shape: every module imports only from its own stage or the stages below, and no source
file grows past a size a reader takes in at once."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "diffbgm"
# Stages from the bottom up; a module may import its own stage and any stage below it, never above.
STAGES = (
    ("music", "video", "atomic"),
    ("conditions",),
    ("models",),
    ("diffusion",),
    ("render", "evaluation"),
    ("pipeline", "training", "studio", "cli"),
)
LEVEL = {name: level for level, names in enumerate(STAGES) for name in names}
MAX_LINES = 400


def _stage_of(module: str) -> str | None:
    """``diffbgm.video.decode`` -> ``video``; the package's own ``__init__`` has no stage."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "diffbgm" else None


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every ``diffbgm`` module imported by ``path`` (at any depth, type-checking blocks included)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("diffbgm.")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("diffbgm.") and not node.level:
            found.append((node.lineno, node.module))
    return found


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE or p.name != "__init__.py")


def test_every_stage_of_the_package_is_ranked():
    stages = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in _sources()}
    assert stages <= set(LEVEL) | {"__main__"}, f"unranked stages: {stages - set(LEVEL)}"


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_higher_stage(path):
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    upward = [f"line {line}: {module}" for line, module in _imports(path)
              if _stage_of(module) in LEVEL and LEVEL[_stage_of(module)] > LEVEL[own]]
    assert not upward, f"{own} (stage {LEVEL[own]}) imports a higher stage: {'; '.join(upward)}"


def test_no_source_file_is_too_long():
    long = {str(p.relative_to(PACKAGE)): n for p in _sources() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these files (over {MAX_LINES} lines): {long}"


def test_the_walk_sees_an_upward_import(tmp_path):
    # The check itself must be able to fail: a music module importing a model is caught.
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from diffbgm.models.unet import UNet\n")
    assert [(2, "diffbgm.models.unet")] == _imports(module)
    assert LEVEL[_stage_of("diffbgm.models.unet")] > LEVEL["music"]
