"""Page sizes for every list: `?limit=` from 1 to MAX_PAGE_SIZE (50 by default), `?offset=` from 0.

DRF's LimitOffsetPagination quietly falls back to its defaults for a `limit` or `offset` it
cannot read (`abc`, `-3`, `5.0`) and cuts a large `limit` down: a client never learns that it
was not given what it asked for. Here either is a 400 that names the parameter.
"""

from rest_framework.pagination import LimitOffsetPagination

from app.api.fields import QueryIntegerField, StrictQuery

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50


class PageQuery(StrictQuery):
    limit = QueryIntegerField(min_value=1, max_value=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE)
    offset = QueryIntegerField(min_value=0, default=0)


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    default_limit = DEFAULT_PAGE_SIZE
    max_limit = MAX_PAGE_SIZE

    def paginate_queryset(self, queryset, request, view=None):
        query = PageQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        self._page = query.validated_data
        return super().paginate_queryset(queryset, request, view)

    def get_limit(self, request) -> int:
        return self._page["limit"]

    def get_offset(self, request) -> int:
        return self._page["offset"]
