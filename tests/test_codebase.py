"""The package's shape: no function longer than the house style allows.

ruff checks complexity (C901) and branches, returns and statements (PLR);
nothing in ruff measures a function's length in lines, so this does.
"""

from __future__ import annotations

import ast
from pathlib import Path

import django_reqlog

PACKAGE = Path(django_reqlog.__file__).parent
MAX_LINES = 50


def _functions(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        (f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}", _length(node))
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]


def _length(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return (node.end_lineno or node.lineno) - first + 1


def test_the_package_has_python_files_to_check():
    assert len(list(PACKAGE.rglob("*.py"))) > 20


def test_no_function_is_longer_than_fifty_lines():
    too_long = [
        f"{name}: {length} lines"
        for path in sorted(PACKAGE.rglob("*.py"))
        for name, length in _functions(path)
        if length > MAX_LINES
    ]
    assert too_long == []
