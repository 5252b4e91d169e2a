"""OpenAPI pieces shared by every view: the problem-details error body and its responses."""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class FieldError(serializers.Serializer):
    field = serializers.CharField(allow_null=True, help_text="The offending field, e.g. `events[3].event`.")
    message = serializers.CharField()


class Problem(serializers.Serializer):
    """RFC 9457 problem details, served as application/problem+json."""

    type = serializers.CharField(default="about:blank")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = FieldError(many=True, required=False)


def problems(*codes: int) -> dict[tuple[int, str], OpenApiResponse]:
    text = {
        400: "Invalid input: `errors` names each offending field.",
        401: "No or invalid token.",
        403: "Your role may not do this.",
        404: "No such resource, or it is not yours.",
        409: "Conflicts with the current state; `detail` says how.",
        413: "Request body too large.",
        429: "Too many requests; see Retry-After.",
        503: "A backing service is unavailable; retry shortly.",
    }
    # Keyed by (status, media type): errors are served as application/problem+json.
    return {(code, "application/problem+json"): OpenApiResponse(Problem, description=text[code]) for code in codes}


COMMON = (401, 429)
