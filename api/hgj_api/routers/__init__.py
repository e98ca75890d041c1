"""One router per resource. Each declares its full path (``prefix=f"{API_V1}/users"``) and the
app includes it without a prefix: the metrics label requests by the matched route's own path,
which does not contain a prefix added at inclusion."""

from typing import Any, Final

from fastapi import status
from pydantic import BaseModel

API_V1: Final = "/api/v1"


class ErrorDetail(BaseModel):
    detail: str


UNAUTHORIZED: Final[dict[int | str, dict[str, Any]]] = {
    status.HTTP_401_UNAUTHORIZED: {"model": ErrorDetail, "description": "no valid access token"}
}
PROTECTED: Final[dict[int | str, dict[str, Any]]] = {
    **UNAUTHORIZED,
    status.HTTP_403_FORBIDDEN: {"model": ErrorDetail, "description": "missing a permission"},
}
"""The error answers of every endpoint behind ``require(...)``, for the OpenAPI description."""
NOT_FOUND: Final[dict[int | str, dict[str, Any]]] = {
    status.HTTP_404_NOT_FOUND: {
        "model": ErrorDetail,
        "description": "absent, or outside your communities (the two look the same)",
    }
}
