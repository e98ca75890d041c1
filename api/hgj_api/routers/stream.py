"""The live stream: ``/api/v1/stream``, a WebSocket (see ``hgj_api.live.protocol`` for the
messages and close codes, ``hgj_api.live.session`` for sign-in and dropping slow clients).

WebSocket routes are not part of the OpenAPI description; the README documents this one."""

from fastapi import APIRouter, WebSocket

from hgj_api.live.session import StreamSession
from hgj_api.routers import API_V1
from hgj_api.services import Services

router = APIRouter(tags=["stream"])

STREAM_PATH = f"{API_V1}/stream"


@router.websocket(STREAM_PATH)
async def stream(websocket: WebSocket) -> None:
    """Alert changes, device status and command progress in the user's communities."""
    services: Services = websocket.app.state.services
    await StreamSession(websocket, services, services.live).run()
