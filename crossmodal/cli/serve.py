"""``crossmodal serve``: a local web page to try a generator (see docs/serve.md).

The web stack (starlette, uvicorn, python-multipart: the ``serve`` extra) and torch are imported
when the command runs, so ``crossmodal --help`` needs neither.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import socket

import click

from crossmodal.errors import RecipeError
from crossmodal.storage.files import shown
from crossmodal.cli._group import plugins_of
from crossmodal.cli._options import generator_source_options

__all__ = ["serve"]

INSTALL_SERVE = "pip install 'crossmodal[serve]'"
"""How to install what the command needs."""

_NEEDED = {"starlette": ("starlette",), "uvicorn": ("uvicorn",), "python-multipart": ("python_multipart", "multipart")}
"""Distribution -> the module names it may be imported under."""


@click.command("serve")
@generator_source_options
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; one that other machines can reach needs --allow-remote.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--allow-remote", is_flag=True,
              help="Allow a --host that other machines can reach (anyone reaching it can upload files and run "
                   "the generator).")
@click.option("--device", default="auto", show_default=True, metavar="auto|cpu|cuda",
              help="Where to run the generator (auto: CUDA when available).")
@click.pass_context
def serve(ctx: click.Context, checkpoint: str | None, model: str | None, host: str, port: int,
          allow_remote: bool, device: str) -> None:
    """Serve a local web page to try a generator; prints its URL.

    On the page: choose or drop a condition file, pick the seed and the number of samples, and
    see the condition as the model sees it and what the recipe's writer made (images, audio
    players when the recipe has a sample renderer, download links). Uploads are limited in size
    and time and checked by the recipe's conditions dataset; each request gets its own temporary
    folder, deleted with the others when the server stops (Ctrl-C), or, after a kill, when the
    next server starts.

    It listens on 127.0.0.1 (this machine only); an address other machines can reach is refused
    unless --allow-remote is given.
    """
    missing = [name for name, modules in _NEEDED.items() if not any(importlib.util.find_spec(m) for m in modules)]
    if missing:
        raise click.ClickException(f"crossmodal serve needs {', '.join(missing)} (not installed): {INSTALL_SERVE}")
    if checkpoint is not None and model is not None:
        raise click.UsageError("give --checkpoint or --model, not both")
    family, address = _listen_address(host, allow_remote)
    listener = _bind(family, address, port, host)
    try:
        _serve_on(ctx, listener, host, checkpoint, model, device, allow_remote)
    finally:
        listener.close()


def _serve_on(ctx: click.Context, listener: socket.socket, host: str, checkpoint: str | None, model: str | None,
              device: str, allow_remote: bool) -> None:
    """Load the generator, print the URL, serve until Ctrl-C."""
    import uvicorn

    from crossmodal.storage.checkpoint import plugin_version_changes
    from crossmodal.generation.web_app import LOOPBACK_HOSTS, create_app

    plugins = plugins_of(ctx)
    generation = _open(plugins.registry, checkpoint, model, device)
    for change in plugin_version_changes(generation.recorded_plugins, {p.name: p.version for p in plugins.loaded}):
        click.echo(f"Warning: {change}", err=True)
    click.echo(f"generator: {generation.source} (recipe {generation.recipe})", err=True)
    click.echo(f"renderer: {shown(generation.renderer_engine or 'none (the recipe names no sample renderer)')}", err=True)
    if allow_remote:
        click.echo(f"Warning: serving on {shown(host)} with --allow-remote: anyone who can reach it can upload "
                   "files and run the generator", err=True)
    app = create_app(generation, allowed_hosts=None if allow_remote else (*LOOPBACK_HOSTS, host))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    click.echo(_url(host, listener.getsockname()[1]))
    click.echo("Ctrl-C stops the server (and deletes its temporary files)", err=True)
    try:
        server.run(sockets=[listener])
    except KeyboardInterrupt:  # uvicorn stopped cleanly, then re-raised the Ctrl-C it caught
        click.echo("stopped", err=True)
        return
    if not server.started:
        raise click.ClickException("the server could not start (the reason is above)")
    click.echo("stopped", err=True)  # a signal uvicorn handled without raising it again


def _open(registry, checkpoint: str | None, model: str | None, device: str):
    """The generation, with its sample renderer when its recipe names one."""
    from crossmodal.generation.session import open_generation

    try:
        return open_generation(registry, checkpoint=checkpoint, model=model, device=device, render=True)
    except RecipeError:  # no renderer; any other recipe problem is raised again just below
        return open_generation(registry, checkpoint=checkpoint, model=model, device=device)


def _listen_address(host: str, allow_remote: bool) -> tuple[socket.AddressFamily, tuple]:
    """``(family, socket address)`` to bind for ``host`` (its first address).

    :raises click.ClickException: ``host`` cannot be resolved, or reaches beyond this machine
        (any of its addresses is not a loopback address) and ``allow_remote`` is not set.
    """
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:
        raise click.ClickException(f"--host {shown(host)}: cannot be resolved ({err})") from err
    if not allow_remote:
        for _, _, _, _, address in found:
            ip = ipaddress.ip_address(address[0].split("%")[0])  # without an IPv6 zone (%eth0)
            if not ip.is_loopback:
                named = shown(host) if str(ip) == host else f"{shown(host)} ({ip})"
                raise click.ClickException(
                    f"--host {named} can be reached from other machines, and the page lets whoever "
                    "reaches it upload files and run the generator; serve on 127.0.0.1 (the default), or add "
                    "--allow-remote to serve there anyway"
                )
    family, _, _, _, address = found[0]
    return family, address


def _bind(family: socket.AddressFamily, address: tuple, port: int, host: str) -> socket.socket:
    """A socket listening on ``address`` at ``port`` (0: a free one), for uvicorn to serve."""
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((address[0], port, *address[2:]))
        listener.listen()  # connections wait in the backlog until uvicorn accepts them
    except OSError as err:
        listener.close()
        raise click.ClickException(f"cannot listen on {shown(host)} port {port}: {err.strerror}") from err
    return listener


def _url(host: str, port: int) -> str:
    """The page's URL: ``host`` as given (an IPv6 literal in brackets; the unspecified address,
    which listens everywhere, as this machine's loopback)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return f"http://{host}:{port}/"
    if ip.is_unspecified:
        ip = ipaddress.ip_address("::1" if ip.version == 6 else "127.0.0.1")
    return f"http://[{ip}]:{port}/" if ip.version == 6 else f"http://{ip}:{port}/"
