"""The API's JSON parser: DRF's, plus the checks of config/untrusted.py on every JSON body.

A body nested deeper than MAX_JSON_DEPTH, or holding a lone surrogate or a NUL character
anywhere (values, object keys, inside an import's rows), is a 400 naming each field by its path,
before a view, a serializer or a service sees it. DRF's own parser recursed into a deep body
and answered 500 (RecursionError).
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError

from config.untrusted import UntrustedInputError, json_loads_checked


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode(parsers.get_encoding(parser_context or {}))
            return json_loads_checked(text, strict=self.strict)
        except UntrustedInputError as exc:
            raise ValidationError(exc.errors) from None
        except ValueError as exc:  # not JSON, or not in the declared encoding
            raise ParseError(f"JSON parse error - {exc}") from None
