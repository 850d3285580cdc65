"""`rewardlab.synth` is a bottom layer (the world and its policy): it must not import training or
evaluation, which sit above it (the demo that drives all three lives in `rewardlab.demo`). Checked on the
source, so imports inside functions count too."""

from __future__ import annotations

import ast
from pathlib import Path

import rewardlab.synth

FORBIDDEN = ("rewardlab.train", "rewardlab.evaluate", "rewardlab.demo")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import statement in a file, relative imports resolved to absolute names."""
    package = "rewardlab.synth"
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def test_synth_imports_neither_train_nor_evaluate():
    root = Path(rewardlab.synth.__file__).parent
    files = sorted(root.rglob("*.py"))
    assert len(files) >= 5  # the package really was found
    bad = [f"{path.relative_to(root)}:{line}: {module}" for path in files for line, module in imported_modules(path)
           if any(module == f or module.startswith(f + ".") for f in FORBIDDEN)]
    assert bad == []


def test_the_check_sees_function_level_and_relative_imports(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from rewardlab.train.bt import main\n    from ..evaluate import metrics\n")
    modules = [m for _, m in imported_modules(source)]
    assert "rewardlab.train.bt" in modules and "rewardlab.evaluate.metrics" in modules
