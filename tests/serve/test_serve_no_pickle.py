"""Nothing in the package unpickles: no pickle import anywhere, no pickling helpers in serve."""

from __future__ import annotations

import re
from pathlib import Path

import pixelpad

PACKAGE = Path(pixelpad.__file__).parent
PICKLE_IMPORT = re.compile(r"^\s*(import|from)\s+(c?pickle|_pickle|dill|cloudpickle|joblib)\b", re.MULTILINE)
# zmq's *_pyobj helpers and torch/numpy loaders that unpickle, in the code that faces the network.
UNPICKLING_CALLS = re.compile(r"_pyobj\(|pickle\.[A-Za-z_]|allow_pickle\s*=\s*True|torch\.load\(")


def test_no_pickle_import_anywhere_in_the_package() -> None:
    sources = list(PACKAGE.rglob("*.py"))
    offenders = [str(p.relative_to(PACKAGE)) for p in sources if PICKLE_IMPORT.search(p.read_text())]
    assert offenders == []


def test_serve_has_no_unpickling_call() -> None:
    sources = list((PACKAGE / "serve").rglob("*.py"))
    assert len(sources) >= 4
    offenders = [str(p.name) for p in sources if UNPICKLING_CALLS.search(p.read_text())]
    assert offenders == []


def test_the_patterns_catch_what_they_should() -> None:
    assert PICKLE_IMPORT.search("x = 1\nimport pickle\n")
    assert PICKLE_IMPORT.search("  from cloudpickle import x")
    assert UNPICKLING_CALLS.search("socket.recv_pyobj()")
    assert UNPICKLING_CALLS.search("np.load(f, allow_pickle=True)")
    assert not PICKLE_IMPORT.search('"""msgpack, never pickle"""')
    assert not UNPICKLING_CALLS.search("msgpack, never pickle.")
    assert UNPICKLING_CALLS.search("pickle.loads(data)")
