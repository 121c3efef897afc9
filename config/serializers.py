"""The base of every API input serializer: a field the serializer does not declare is an error.

DRF drops undeclared fields silently, so a misspelt ``"samles": 3`` or ``"guidlines"`` would be
answered 200 with the setting unchanged, and the client would never learn. Here it is a 400
naming the field, reported together with any other field errors. Read-only fields an API
returns may be sent back (a client that PUTs what it GOT); they are ignored as before.
"""

from collections.abc import Mapping

from rest_framework import serializers

UNKNOWN_FIELD = "unknown field: this operation does not take it."


class InputSerializer(serializers.Serializer):
    @classmethod
    def parse(cls, data, *, partial: bool = False) -> dict:
        """The request body's fields, validated; raises ValidationError (a 400 naming each field)."""
        serializer = cls(data=data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def to_internal_value(self, data):
        unknown = sorted(str(k) for k in data if k not in self.fields) if isinstance(data, Mapping) else []
        if not unknown:
            return super().to_internal_value(data)
        errors: dict = {}
        try:
            super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not isinstance(exc.detail, Mapping):
                raise
            errors.update(exc.detail)
        errors.update({key: [UNKNOWN_FIELD] for key in unknown})
        raise serializers.ValidationError(errors)


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


def schema_closed_request_bodies(result, generator, request, public):
    """drf-spectacular postprocessing hook: the request bodies of InputSerializers are closed
    objects (``additionalProperties: false``), so the schema says what the server enforces.
    Components are named as drf-spectacular names them: the class name without "Serializer",
    "Request" appended (COMPONENT_SPLIT_REQUEST), "Patched" in front for a partial body."""
    names = set()
    for cls in _subclasses(InputSerializer):
        base = cls.__name__.removesuffix("Serializer")
        names |= {f"{base}Request", f"Patched{base}Request"}
    for name, schema in result.get("components", {}).get("schemas", {}).items():
        if name in names and schema.get("type") == "object":
            schema["additionalProperties"] = False
    return result
