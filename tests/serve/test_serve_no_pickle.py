"""Nothing in the package unpickles what it is sent.

No module of the package imports pickle (or dill, cloudpickle, joblib); none calls an unpickler
(``pickle.load(s)``, ``Unpickler``, zmq's ``*_pyobj``, ``allow_pickle=True``), and every
``torch.load`` passes ``weights_only=True`` (torch's restricted loader, which builds tensors and
plain containers only).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pixelpad

PACKAGE = Path(pixelpad.__file__).parent
PICKLE_IMPORT = re.compile(r"^\s*(import|from)\s+(c?pickle|_pickle|dill|cloudpickle|joblib)\b", re.MULTILINE)
UNPICKLING_CALLS = re.compile(
    r"_pyobj\(|pickle\.(loads?|Unpickler)\b|allow_pickle\s*=\s*True|\b(dill|cloudpickle|joblib)\b"
)


def _unsafe_torch_loads(source: str) -> list[int]:
    """Lines of ``torch.load(...)`` calls without ``weights_only=True``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "load"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "torch"
        ):
            safe = any(
                kw.arg == "weights_only" and isinstance(kw.value, ast.Constant) and kw.value.value is True
                for kw in node.keywords
            )
            if not safe:
                lines.append(node.lineno)
    return lines


def test_no_module_imports_pickle() -> None:
    sources = list(PACKAGE.rglob("*.py"))
    assert len(sources) >= 50
    assert [p.name for p in sources if PICKLE_IMPORT.search(p.read_text())] == []


def test_nothing_in_the_package_unpickles() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text()
        name = str(path.relative_to(PACKAGE))
        offenders += [f"{name}: {m.group(0)}" for m in UNPICKLING_CALLS.finditer(source)]
        offenders += [
            f"{name}:{line}: torch.load without weights_only=True" for line in _unsafe_torch_loads(source)
        ]
    assert offenders == []


def test_the_checks_catch_what_they_should() -> None:
    assert PICKLE_IMPORT.search("x = 1\nimport pickle\n")
    assert PICKLE_IMPORT.search("  from cloudpickle import x")
    assert not PICKLE_IMPORT.search('"""msgpack, never pickle"""')
    for bad in ("socket.recv_pyobj()", "np.load(f, allow_pickle=True)", "pickle.loads(data)", "import dill"):
        assert UNPICKLING_CALLS.search(bad), bad
    assert not UNPICKLING_CALLS.search("except pickle.UnpicklingError:")
    assert _unsafe_torch_loads("torch.load(p)\ntorch.load(p, weights_only=False)") == [1, 2]
    assert _unsafe_torch_loads("torch.load(str(p), map_location='cpu', weights_only=True)") == []
