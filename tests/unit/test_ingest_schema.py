"""Every field name has one InfluxDB type, whatever message it comes from."""

import typing
from types import UnionType

from pydantic import BaseModel

from hgj_contracts import events
from hgj_contracts.influx_schema import EVENT_TAG_FIELDS


def _base_type(annotation: object) -> object:
    """The stored type of an annotation: Optional and Literal unwrapped, constraints ignored."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _base_type(typing.get_args(annotation)[0])
    if origin in (typing.Union, UnionType):
        kinds = {_base_type(a) for a in typing.get_args(annotation) if a is not type(None)}
        assert len(kinds) == 1, annotation
        return kinds.pop()
    if origin is typing.Literal:
        return type(typing.get_args(annotation)[0])
    return annotation


def test_event_fields_have_one_type_across_kinds() -> None:
    seen: dict[str, object] = {}
    models: list[type[BaseModel]] = list(typing.get_args(typing.get_args(events.DeviceEvent)[0]))
    assert len(models) == len(events.EVENT_KINDS)
    for model in models:
        for name, info in model.model_fields.items():
            if name in ("v", "ts"):  # the point's timestamp, not fields
                continue
            stored = _base_type(info.annotation)
            assert stored in (bool, int, float, str), (model.__name__, name, stored)
            assert seen.setdefault(name, stored) is stored, (model.__name__, name)


def test_tag_fields_are_strings() -> None:
    for model in typing.get_args(typing.get_args(events.DeviceEvent)[0]):
        for name in EVENT_TAG_FIELDS & model.model_fields.keys():
            assert _base_type(model.model_fields[name].annotation) is str
