"""The public API is annotated, and the installed package says so (py.typed)."""
import inspect
from pathlib import Path

import pytest

import fastserve
import fastserve.asyncio


def public_api():
    for module in (fastserve, fastserve.asyncio):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if attr.startswith("_") and attr != "__init__":
                        continue
                    if isinstance(member, property):
                        member = member.fget
                    if inspect.isfunction(member):
                        yield f"{module.__name__}.{name}.{attr}", member
            elif inspect.isfunction(obj):
                yield f"{module.__name__}.{name}", obj


API = dict(public_api())


def test_the_api_is_found():
    assert {"fastserve.Server.route", "fastserve.Request.query", "fastserve.parse_request", "fastserve.asyncio.serve"} <= set(API)
    assert {"fastserve.abort", "fastserve.MultiDict.getall", "fastserve.MultiDict.getlist", "fastserve.Request.client", "fastserve.Request.form", "fastserve.Request.cookies", "fastserve.HTTPException.__init__", "fastserve.Server.timeouts"} <= set(API)


@pytest.mark.parametrize("name", sorted(API))
def test_annotated(name):
    sig = inspect.signature(API[name])
    missing = [p.name for p in sig.parameters.values() if p.name not in ("self", "cls") and p.annotation is p.empty]
    assert not missing, f"{name}: parameters without a type: {missing}"
    assert sig.return_annotation is not sig.empty, f"{name}: no return type"


def test_installed_package_is_marked_typed():
    assert (Path(fastserve.__file__).parent / "py.typed").is_file()
