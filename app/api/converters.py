"""Path converters of the API's URLs: `<external_id:...>` matches the marketplace's own ids only.

Registered when this module is imported (by the URL confs that use it). drf-spectacular
documents a registered converter as a string with its pattern, so the schema says exactly
which ids a path takes.
"""

from django.urls import register_converter

from app.marketplace.models import EXTERNAL_ID_PATTERN


class ExternalIdConverter:
    regex = EXTERNAL_ID_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ExternalIdConverter, "external_id")
