"""One router per resource. Each declares its full path (``prefix=f"{API_V1}/users"``) and the
app includes it without a prefix: the metrics label requests by the matched route's own path,
which does not contain a prefix added at inclusion."""

import re
from typing import Annotated, Any, Final

from fastapi import status
from pydantic import AwareDatetime, BaseModel, BeforeValidator

API_V1: Final = "/api/v1"
MAX_OFFSET: Final = 1_000_000
"""The largest ``offset`` of a paged list (beyond it the databases' integers overflow: 500)."""


_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _date_time_text(value: object) -> object:
    # Pydantic would also take a number of seconds ("0.5") for a datetime; the OpenAPI
    # description promises RFC 3339 text, and only that is accepted.
    if isinstance(value, str) and not _DATE_TIME.match(value):
        raise ValueError("expected an RFC 3339 date-time with its offset, e.g. 2026-11-27T08:00Z")
    return value


QueryDateTime = Annotated[AwareDatetime, BeforeValidator(_date_time_text)]
"""A date-time in a query parameter: RFC 3339 text with an offset, nothing else."""


def _json_integer(value: object) -> object:
    # Pydantic would also take true or "5" for an int; JSON's integers (48 or 48.0) only.
    if isinstance(value, bool | str):
        raise ValueError("expected an integer")
    return value


INTEGER_ONLY: Final = BeforeValidator(_json_integer)
"""For an integer in a JSON body: a JSON number with no fraction, never a boolean or text.
Place it after the field's constraints (``Annotated[int, Field(ge=1), INTEGER_ONLY]``), which
then stay in the OpenAPI description."""


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
