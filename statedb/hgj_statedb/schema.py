"""Every table of the state database on one metadata: importing this module registers all model
modules on ``Base``, for Alembic's environment and the schema tests (a table whose module nobody
imported would silently be missing from a comparison)."""

from hgj_statedb import command_models, registry_models
from hgj_statedb.models import Base

MODEL_MODULES = (command_models, registry_models)
metadata = Base.metadata

__all__ = ["MODEL_MODULES", "metadata"]
