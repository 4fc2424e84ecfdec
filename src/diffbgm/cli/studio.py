"""``diffbgm studio``: the local web page for scoring a video."""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

import click

from diffbgm.cli.environment import check_device, default_cache_dir, set_threads

DEFAULT_PORT = 7860  # the port of the peers' Gradio pages
DEFAULT_MAX_UPLOAD_MB = 500
# The example of the source checkout (``make demo`` scores it); an installed wheel has none.
CHECKOUT_EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "demo.mp4"


@click.command("studio")
@click.option("--host", default="127.0.0.1",
              help="address to listen on (another than 127.0.0.1 lets other machines use your studio)")
@click.option("--port", type=click.IntRange(min=0, max=65535), default=DEFAULT_PORT, help="port to listen on")
@click.option("--model", "model_path", type=click.Path(path_type=Path, dir_okay=False),
              help="weights file  [default: the model shipped in the package]")
@click.option("--device", default="cpu", help="torch device (cpu, cuda, cuda:1)")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads  [default: the cores this process may use]")
@click.option("--max-upload-mb", type=click.IntRange(min=1), default=DEFAULT_MAX_UPLOAD_MB,
              help="largest video a browser may upload, in MB")
@click.option("--example", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help="the video the page offers as its example  [default: examples/demo.mp4 of a source checkout]")
@click.option("--workdir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="folder of the sessions' videos and takes  [default: a temporary folder, removed at exit]")
@click.option("--no-cache", is_flag=True, help="analyse videos again even if a cached result exists")
def studio(host, port, model_path, device, threads, max_upload_mb, example, workdir, no_cache) -> None:
    """Score a video in a local web page.

    Open the address it prints in a browser; it works offline. Stop it with Ctrl+C.
    """
    try:
        import uvicorn

        from diffbgm.studio import create_app
    except ImportError:
        raise click.ClickException("the studio needs FastAPI and uvicorn: pip install 'diffbgm[studio]'") from None
    from diffbgm.pipeline.scoring import ScoringPipeline

    check_device(device)
    if model_path is not None and not model_path.is_file():
        raise click.ClickException(f"model not found: {model_path}")
    set_threads(threads)
    if example is None and CHECKOUT_EXAMPLE.is_file():
        example = CHECKOUT_EXAMPLE
    temporary = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="diffbgm-studio-")) if temporary else workdir
    factory = functools.partial(ScoringPipeline.from_checkpoint, model_path, device=device,
                                cache_dir=None if no_cache else default_cache_dir())
    loopback = host in ("127.0.0.1", "localhost", "::1")
    app = create_app(factory, workdir, max_upload_bytes=max_upload_mb * 2**20, example=example,
                     **({} if loopback else {"allowed_hosts": ("*",)}))
    click.echo(f"diffbgm studio at http://{host}:{port}/  (Ctrl+C stops it)")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)
