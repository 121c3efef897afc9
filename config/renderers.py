"""The API's JSON renderer: DRF's, except that an answer holding text UTF-8 cannot encode (a lone
surrogate in a message that quotes the request, or in a row stored before config/untrusted.py
refused them) is sent with U+FFFD in its place instead of failing with a 500."""

from rest_framework import renderers

from config.untrusted import text_storable


class JSONRenderer(renderers.JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            return super().render(text_storable(data), accepted_media_type, renderer_context)
