"""The runtime (stylecam/) never imports the exporter's or the trainer's entry packages."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"export", "train"}


def _imported(tree: ast.AST) -> set[str]:
    """Top-level package names of every absolute import, function-local ones included."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_runtime_does_not_import_export_or_train():
    modules = sorted((ROOT / "stylecam").rglob("*.py"))
    assert len(modules) > 40                      # the walk found the package
    offenders = {str(p.relative_to(ROOT)): sorted(_imported(ast.parse(p.read_text(), str(p))) & FORBIDDEN)
                 for p in modules}
    assert not {k: v for k, v in offenders.items() if v}


def test_the_walk_sees_function_local_imports():
    tree = ast.parse("def f():\n    from export.convert import torch2onnx\n    import train.loop as t\n")
    assert _imported(tree) >= FORBIDDEN
