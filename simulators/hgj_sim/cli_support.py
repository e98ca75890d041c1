"""Pieces the simulator's commands share: options, logging, loading with friendly errors."""

import logging
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler

from hgj_contracts.ids import check_identifier
from hgj_sim.credentials import load_credentials
from hgj_sim.model import BUILTIN_COMMUNITIES, Community, CommunityFileError, load_community

console = Console()

CommunityOption = Annotated[
    list[str] | None,
    typer.Option(
        "--community",
        "-c",
        help=f"built-in community ({', '.join(BUILTIN_COMMUNITIES)}) or path to a community "
        ".yaml file; repeat for several",
    ),
]
HostOption = Annotated[str, typer.Option(help="broker host")]
PortOption = Annotated[int, typer.Option(help="broker port")]
RootOption = Annotated[str, typer.Option(help="topic root, the first topic level")]
CredentialsOption = Annotated[
    Path, typer.Option(help="JSON object mapping each MQTT username to its password")
]
LogLevelOption = Annotated[str, typer.Option(help="debug, info, warning or error")]


class Protocol(StrEnum):
    V5 = "5"
    V311 = "3.1.1"


def load_communities(names: list[str]) -> list[Community]:
    try:
        communities = [load_community(name) for name in names]
    except CommunityFileError as exc:
        raise typer.BadParameter(str(exc), param_hint="--community") from None
    ids = [c.id for c in communities]
    if len(set(ids)) != len(ids):
        raise typer.BadParameter(f"a community is given twice: {ids}", param_hint="--community")
    return communities


def read_credentials(path: Path) -> dict[str, str]:
    try:
        return load_credentials(path)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--credentials") from None


def check_root(root: str) -> None:
    try:
        check_identifier(root, "root")
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--root") from None


def configure_logging(level: str) -> None:
    if console.is_terminal:  # beside the live line, which rich keeps at the bottom
        logging.basicConfig(
            level=level.upper(),
            format="%(message)s",
            handlers=[RichHandler(console=console, show_path=False)],
        )
    else:  # a log file (`make run`): one unwrapped line per record
        logging.basicConfig(
            level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )


def hms(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
