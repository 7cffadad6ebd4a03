"""API errors of the bulk endpoints, each answered with an exact JSON body."""

from typing import Any

from rest_framework import status
from rest_framework.exceptions import APIException


class BulkAPIException(APIException):
    """An ``APIException`` whose ``detail`` is a ready JSON body, kept as is (numbers stay)."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.detail = body


class BulkValidationError(BulkAPIException):
    """Some items are invalid: nothing was written."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, total_items: int, errors: list[dict[str, Any]]) -> None:
        super().__init__(
            {
                "error": "Validation failed",
                "total_items": total_items,
                "error_count": len(errors),
                "errors": errors,
            }
        )


class BadBulkRequest(BulkAPIException):
    """The request as a whole cannot be understood (bad ids, unknown unique_fields, bad body)."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__({"error": message, **extra})


class PayloadTooLarge(BulkAPIException):
    """More items than the endpoint accepts."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE


class BulkConflict(BulkAPIException):
    """The database refused the write (a concurrent change): nothing was written."""

    status_code = status.HTTP_409_CONFLICT

    def __init__(self, message: str) -> None:
        super().__init__({"error": message})


class DatabaseTimeout(BulkAPIException):
    """A synchronous batch ran past its statement timeout, or the database failed under it."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE


class ServiceUnavailable(APIException):
    """A service the request needs (the task queue) refused it: nothing was started."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE


class OperationStoreUnavailable(ServiceUnavailable):
    """Redis (operation records, broker) or the database cannot be reached right now."""

    default_detail = "The operation store is unavailable; retry shortly."
