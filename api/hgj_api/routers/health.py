"""Liveness and readiness, for orchestrators and load balancers (no authentication)."""

from typing import Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from hgj_api.deps import ServicesDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    database: Literal["ok", "unreachable", "not_migrated"]
    schema_revision: str | None
    expected_revision: str | None


@router.get("/healthz")
def healthz() -> Health:
    """Liveness: the process answers (it does not touch the database, so a database outage
    does not get healthy API processes restarted)."""
    return Health(status="ok")


@router.get(
    "/readyz",
    responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": Readiness}},
)
def readyz(services: ServicesDep, response: Response) -> Readiness:
    """Readiness: the state database answers and its schema is the one this code expects."""
    expected = services.database.head_revision
    try:
        found = services.database.schema_revision()
    except SQLAlchemyError:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Readiness(
            status="not_ready",
            database="unreachable",
            schema_revision=None,
            expected_revision=expected,
        )
    if found != expected:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Readiness(
            status="not_ready",
            database="not_migrated",
            schema_revision=found,
            expected_revision=expected,
        )
    return Readiness(
        status="ready", database="ok", schema_revision=found, expected_revision=expected
    )
