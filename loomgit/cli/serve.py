from __future__ import annotations

import importlib.util

import click

from loomgit.errors import UsageError


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port (0: any free one).",
)
@click.option(
    "--bundle",
    type=click.Path(dir_okay=False),
    help="Serve this bundle file (loomgit export) instead of the repository's stage branches.",
)
@click.option(
    "--keys-file",
    type=click.Path(dir_okay=False),
    help="API keys as 'NAME SCOPE sha256:HEX [RPM]' lines (also: LOOMGIT_SERVE_KEYS).",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="ORIGIN",
    help="Allow browser requests from this origin (repeatable; CORS is off without it).",
)
@click.option(
    "--max-age",
    default=5,
    show_default=True,
    type=click.IntRange(0),
    help="Cache-Control max-age of prompt answers, in seconds.",
)
def serve(
    host: str,
    port: int,
    bundle: str | None,
    keys_file: str | None,
    cors_origins: tuple[str, ...],
    max_age: int,
) -> int:
    """Serve the prompts each stage holds over HTTP (needs loomgit[serve]).

    Reads the stage branches of the repository (following promotions as they land), or a
    bundle file (re-read when it changes). Without API keys it answers on loopback only.
    """
    missing = [m for m in ("starlette", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(
            f"loomgit serve needs {' and '.join(missing)}: pip install 'loomgit[serve]'"
        )
    # start-up: the server and its framework only for this command
    from loomgit.serve.run import serve as run

    return run(
        host=host,
        port=port,
        bundle=bundle,
        keys_file=keys_file,
        cors_origins=cors_origins,
        max_age=max_age,
        say=lambda line: click.echo(line, err=True),
    )
