"""``BulkRouter``: DRF's default router plus list-level PUT/PATCH/DELETE and a ``/bulk/`` route.

The routes are this class's own list, their method mappings read from ``actions.ACTIONS``; DRF's
and adrf's router classes are left as they are.
"""

from adrf.routers import DefaultRouter
from rest_framework.routers import Route, SimpleRouter

from .actions import Route as BulkRoute
from .actions import route_mapping

LIST_ROUTE = Route(
    url=r"^{prefix}{trailing_slash}$",
    mapping=route_mapping(BulkRoute.LIST),
    name="{basename}-list",
    detail=False,
    initkwargs={"suffix": "List"},
)

BULK_ROUTE = Route(
    url=r"^{prefix}/bulk{trailing_slash}$",
    mapping=route_mapping(BulkRoute.BULK),
    name="{basename}-bulk",
    detail=False,
    initkwargs={"suffix": "Bulk"},
)


# DRF's own list-action, detail and detail-action routes, unchanged.
_, DYNAMIC_LIST_ROUTE, DETAIL_ROUTE, DYNAMIC_DETAIL_ROUTE = SimpleRouter.routes


class BulkRouter(DefaultRouter):
    """Routes a ``BulkModelViewSet``; plain viewsets registered on it get DRF's usual routes."""

    routes = [LIST_ROUTE, BULK_ROUTE, DYNAMIC_LIST_ROUTE, DETAIL_ROUTE, DYNAMIC_DETAIL_ROUTE]
