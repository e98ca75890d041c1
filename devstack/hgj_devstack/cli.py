"""Command line of the local stack (the Makefile calls these)."""

from pathlib import Path
from typing import Annotated

import typer

from hgj_devstack import contract_docs

REPO_ROOT = Path(__file__).resolve().parents[2]

app = typer.Typer(help="Hongguanjia local stack: run, status, docs, bench.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Hongguanjia local stack."""


@app.command()
def docs(
    check: Annotated[bool, typer.Option(help="fail when the generated files are stale")] = False,
) -> None:
    """Generate docs/mqtt-contract.md and docs/schemas/*.json from the contract."""
    docs_dir = REPO_ROOT / "docs"
    if check:
        stale = contract_docs.stale_files(docs_dir)
        if stale:
            names = ", ".join(str(p.relative_to(REPO_ROOT)) for p in stale)
            typer.echo(f"generated contract docs are stale: {names}; run `make docs`", err=True)
            raise typer.Exit(1)
        typer.echo("contract docs are current")
        return
    written = contract_docs.write_files(docs_dir)
    typer.echo(f"wrote {len(written)} file(s)" if written else "contract docs already current")
