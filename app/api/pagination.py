"""Page sizes for every list: `?limit=` up to MAX_PAGE_SIZE, 50 by default."""

from rest_framework.pagination import LimitOffsetPagination

MAX_PAGE_SIZE = 100


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = MAX_PAGE_SIZE
