"""`adapt serve`: an OpenAI-compatible HTTP endpoint for the best (or chosen) built variant."""

from __future__ import annotations

import click

from adaptfile.cli.app import App, pass_app
from adaptfile.errors import ConfigError

EPILOG = """Examples:

  adapt serve                              # http://127.0.0.1:8000/v1, the report's best variant

  adapt serve --variant icl+rag --port 9000

  # then: OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="unused")

  curl -N localhost:8000/v1/chat/completions -d '{"messages": [{"role": "user", "content": "Hi"}], "stream": true}'

Greedy unless the request sends a temperature; see docs/serving.md for the parameters honoured.
"""


@click.command("serve", epilog=EPILOG)
@click.option("--variant", help="Variant to serve (default: the report's best).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; 0.0.0.0 exposes it.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--max-body",
    type=click.IntRange(256),
    default=64 * 1024,
    show_default=True,
    help="Largest request, bytes.",
)
@pass_app
def command(app: App, variant: str | None, host: str, port: int, max_body: int) -> None:
    """Serve POST /v1/chat/completions, GET /v1/models and GET /health until interrupted."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise ConfigError(
            "adapt serve needs fastapi and uvicorn", hint="pip install 'adaptfile[ml]' (fastapi, uvicorn)"
        ) from None
    from adaptfile.plan.offsite import check_serve_host
    from adaptfile.runtime import Runtime
    from adaptfile.runtime.server import serve

    project = app.project()
    check_serve_host(project.config, host, is_loopback(host))
    runtime = Runtime.from_build(project.root, variant)
    model_id = f"{project.config.project.name}/{runtime.name}"
    if not is_loopback(host):
        app.warn(
            f"--host {host} exposes the model beyond this machine, without authentication; "
            "put it behind a proxy that checks who is asking, or keep the default 127.0.0.1"
        )
    click.echo(f"serving {model_id} on http://{host}:{port}/v1 (Ctrl-C to stop)", err=True)
    serve(runtime, model_id, host, port, max_body)


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
