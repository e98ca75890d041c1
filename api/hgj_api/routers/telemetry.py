"""Telemetry history and latest values (``telemetry:view``), read from InfluxDB.

Every value in a request (community, device, times) reaches InfluxDB as a bound parameter and
every name (metric, window, aggregation) is checked against an allow-list before a query is
built (``hgj_api.telemetry``), so nothing a caller sends becomes InfluxQL text. A device must be
in the registry and in the caller's communities (404 otherwise, as everywhere).
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, Final, TypeVar

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import Field

from hgj_api.deps import ReadSession, ServicesDep, require
from hgj_api.principal import Principal
from hgj_api.routers import API_V1, NOT_FOUND, PROTECTED, ErrorDetail, QueryDateTime
from hgj_api.scope import in_scope_or_404, require_community
from hgj_api.security.permissions import Permission
from hgj_api.services import Services
from hgj_api.telemetry import (
    DEFAULT_RAW_LIMIT,
    MAX_RAW_LIMIT,
    TELEMETRY,
    Aggregation,
    DeviceLatest,
    InfluxReadError,
    InfluxUnavailableError,
    TelemetryHistory,
    TelemetryQueryError,
    TelemetryReader,
    Window,
)
from hgj_statedb.models import DeviceRow

router = APIRouter(prefix=API_V1, tags=["telemetry"], responses=PROTECTED)

Viewer = Annotated[Principal, require(Permission.TELEMETRY_VIEW)]
MetricName = Annotated[
    str, Field(json_schema_extra={"enum": sorted(TELEMETRY.fields)})  # the reader's allow-list
]
Metrics = Annotated[
    list[MetricName] | None,
    Query(alias="metric", description="metric names (default: every metric)"),
]
DEFAULT_SPAN: Final = timedelta(hours=24)
T = TypeVar("T")
READ_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    status.HTTP_503_SERVICE_UNAVAILABLE: {
        "model": ErrorDetail,
        "description": "InfluxDB is down or refused the API's credentials",
    },
    status.HTTP_502_BAD_GATEWAY: {"model": ErrorDetail, "description": "InfluxDB refused"},
}


@router.get("/devices/{community}/{device}/telemetry", responses=NOT_FOUND | READ_ERRORS)
def device_history(
    community: str,
    device: str,
    principal: Viewer,
    services: ServicesDep,
    session: ReadSession,
    metrics: Metrics = None,
    start: QueryDateTime | None = None,
    end: QueryDateTime | None = None,
    window: Window = Window.M15,
    aggregation: Aggregation = Aggregation.MEAN,
) -> TelemetryHistory:
    """A device's metrics aggregated over ``window`` buckets (default: the last 24 h in 15 min
    buckets, mean). At most 2,000 buckets per request: the error names a window that fits."""
    _device_or_404(session, principal, community, device)
    start, end = _span(services, start, end)
    return _read(
        lambda reader: reader.history(
            community,
            device,
            start=start,
            end=end,
            window=window,
            aggregation=aggregation,
            metrics=metrics,
        ),
        services,
    )


@router.get("/devices/{community}/{device}/telemetry/raw", responses=NOT_FOUND | READ_ERRORS)
def device_raw(
    community: str,
    device: str,
    principal: Viewer,
    services: ServicesDep,
    session: ReadSession,
    metrics: Metrics = None,
    start: QueryDateTime | None = None,
    end: QueryDateTime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_RAW_LIMIT)] = DEFAULT_RAW_LIMIT,
) -> TelemetryHistory:
    """Points as stored, the newest ``limit`` of the span (``truncated`` says when more were
    stored)."""
    _device_or_404(session, principal, community, device)
    start, end = _span(services, start, end)
    return _read(
        lambda reader: reader.raw(
            community, device, start=start, end=end, limit=limit, metrics=metrics
        ),
        services,
    )


@router.get("/devices/{community}/{device}/telemetry/latest", responses=NOT_FOUND | READ_ERRORS)
def device_latest(
    community: str,
    device: str,
    principal: Viewer,
    services: ServicesDep,
    session: ReadSession,
    metrics: Metrics = None,
    since: QueryDateTime | None = None,
) -> DeviceLatest:
    """The last value of each metric (battery, signal, temperature, ...)."""
    _device_or_404(session, principal, community, device)
    return _read(
        lambda reader: reader.latest(community, device, metrics=metrics, since=since), services
    )


@router.get("/communities/{community}/telemetry/latest", responses=NOT_FOUND | READ_ERRORS)
def community_latest(
    community: str,
    principal: Viewer,
    services: ServicesDep,
    metrics: Metrics = None,
    since: QueryDateTime | None = None,
) -> list[DeviceLatest]:
    """The last value of each metric of every device of a community, by device id."""
    require_community(principal, community)
    return _read(
        lambda reader: reader.latest_in_community(community, metrics=metrics, since=since),
        services,
    )


def _device_or_404(session: ReadSession, principal: Principal, community: str, device: str) -> None:
    require_community(principal, community, what="device")
    in_scope_or_404(session.get(DeviceRow, (community, device)), principal, what="device")


def _span(
    services: Services, start: datetime | None, end: datetime | None
) -> tuple[datetime, datetime]:
    end = end or services.clock()
    return start or end - DEFAULT_SPAN, end


def _read(read: Callable[[TelemetryReader], T], services: Services) -> T:
    try:
        return read(services.telemetry)
    except TelemetryQueryError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(error)) from None
    except InfluxUnavailableError as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(error)) from None
    except InfluxReadError as error:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, detail=str(error)) from None
