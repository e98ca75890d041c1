"""App factory: tests and deployments build the API the same way."""

from fastapi import FastAPI

from hgj_api import __doc__ as _about


def create_app() -> FastAPI:
    app = FastAPI(title="Hongguanjia API", description=_about or "", version="0.1.0")

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    return app
