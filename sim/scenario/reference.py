"""Generate the scenario reference (docs/scenario-reference.md) from the schema itself.

Run ``python -m sim.scenario.reference > docs/scenario-reference.md``. A test fails when the
committed page and the schema disagree, so the page cannot go stale.
"""

from __future__ import annotations

import typing
from types import UnionType

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from sim.scenario import schema

HEADER = """# Scenario reference

Generated from `sim/scenario/schema.py` by `python -m sim.scenario.reference`; do not edit by
hand. Every key, its type, default and bounds. Unknown keys are errors. A key marked
*required* must be given; the others default as shown. Ids are lower-case names
(`^[a-z][a-z0-9_]*$`); a dyad is written `a~b`. Any value may be written
`{{value: V, source: "quote"}}` or `{{value: V, assumption: "reason"}}`, and a mapping may carry
`source:` or `assumption:` for its own values (see the README, "Scenarios").

Objective vocabulary for `actors.<id>.interests`: {objectives}.

Verbs for `actors.<id>.actions[].verb`: {verbs}.
"""


def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin in (typing.Union, UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        name = " or ".join(_type_name(a) for a in args)
        return name + " (optional)" if len(args) < len(typing.get_args(annotation)) else name
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in typing.get_args(annotation))
    if origin is list:
        return f"list of {_type_name(typing.get_args(annotation)[0])}"
    if origin is dict:
        key, value = typing.get_args(annotation)
        return f"mapping {_type_name(key)} -> {_type_name(value)}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    return getattr(annotation, "__name__", str(annotation))


def _bounds(info) -> str:
    parts = []
    for meta in info.metadata:
        for attr, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"),
                           ("min_length", "at least"), ("max_length", "at most")):
            value = getattr(meta, attr, None)
            if value is not None:
                parts.append(f"{sign} {value}")
    annotation = info.annotation
    for arg in typing.get_args(annotation):
        for meta in getattr(arg, "__metadata__", ()):
            for attr, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
                value = getattr(meta, attr, None)
                if value is not None:
                    parts.append(f"{sign} {value}")
    if typing.get_origin(annotation) is typing.Annotated:
        for meta in typing.get_args(annotation)[1:]:
            for attr, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
                value = getattr(meta, attr, None)
                if value is not None:
                    parts.append(f"{sign} {value}")
    return ", ".join(dict.fromkeys(parts))


def _models() -> list[type[BaseModel]]:
    """Every schema model reachable from ``Scenario``, in reading order."""
    seen: list[type[BaseModel]] = []

    def visit(annotation) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation in seen:
                return
            seen.append(annotation)
            for info in annotation.model_fields.values():
                visit(info.annotation)
            return
        for arg in typing.get_args(annotation):
            visit(arg)

    visit(schema.Scenario)
    return seen


def render() -> str:
    """The reference page as Markdown."""
    out = [HEADER.format(objectives=", ".join(f"`{o}`" for o in schema.OBJECTIVES),
                         verbs=", ".join(f"`{v}`" for v in schema.VERBS))]
    for model in _models():
        doc = (model.__doc__ or "").strip().splitlines()[0]
        out.append(f"\n## {model.__name__}\n\n{doc}\n")
        out.append("| key | type | default | bounds | meaning |")
        out.append("|---|---|---|---|---|")
        for name, info in model.model_fields.items():
            key = info.alias or name
            if info.is_required():
                default = "*required*"
            elif info.default_factory is not None:
                default = "empty"
            elif info.default is PydanticUndefined or info.default is None:
                default = "none"
            else:
                default = f"`{info.default}`"
            description = (info.description or "").replace("|", "\\|")
            out.append(f"| `{key}` | {_type_name(info.annotation)} | {default} | "
                       f"{_bounds(info)} | {description} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(render(), end="")
