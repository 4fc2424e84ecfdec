"""``diffbgm train``, ``info`` and ``export``: training runs and weights files."""

from __future__ import annotations

from pathlib import Path

import click

from diffbgm.cli.environment import check_device, set_threads


@click.command()
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Run folder: checkpoint.safetensors (weights and trainer state), log.csv, loss.png.")
@click.option("--resume", is_flag=True, help="Continue the run saved in --out exactly where it stopped.")
@click.option("--init-from", type=click.Path(dir_okay=False), default=None,
              help="Start a new run from this checkpoint's weights (it may lack input channels CONFIG adds, "
                   "e.g. unet.metric_position).")
@click.option("--max-steps", type=click.IntRange(min=1), default=None, help="Override training.max_steps.")
@click.option("--max-minutes", type=click.FloatRange(min=0), default=None,
              help="Override training.max_minutes (0 = no time limit).")
@click.option("--data", "data_root", type=click.Path(file_okay=False), default=None,
              help="Override data.root (the folder `diffbgm data pop909` wrote).")
@click.option("--device", default="cpu", help="Torch device (cpu, cuda, cuda:1).")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads  [default: the cores this process may use]. On a busy shared machine 1 is "
                   "often much faster than oversubscribed cores.")


def train(config_path, out_dir, resume, init_from, max_steps, max_minutes, data_root, device, threads) -> None:
    """Train the denoiser described by CONFIG.

    CONFIG is a YAML run config such as configs/cpu.yaml; torchrun launches DDP."""
    import logging

    from diffbgm.models.checkpoint import CheckpointError
    from diffbgm.training.checkpoint_state import ResumeError, checkpoint_path, holds_run
    from diffbgm.training.config import ConfigError, check_data, load_config

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    overrides = {}
    if data_root is not None:
        overrides["data.root"] = data_root
    if max_minutes is not None:
        overrides["training.max_minutes"] = max_minutes
    try:
        config = load_config(config_path, overrides)
        check_data(config)
        if not resume and holds_run(out_dir):
            raise ConfigError(f"{out_dir} already holds a run: pass --resume or choose another --out")
        check_device(device)
        set_threads(threads)
        from diffbgm.training.run import train as run_training

        result = run_training(config, out_dir, device=device, resume=resume, max_steps=max_steps,
                              init_from=init_from)
    except (ConfigError, ResumeError, CheckpointError) as error:
        raise click.ClickException(str(error)) from None
    state = "stopped early at" if result.stopped_early else "finished at"
    click.echo(f"{state} step {result.step}, loss {result.loss:.4f}; weights in {checkpoint_path(out_dir)}")


@click.command()
@click.argument("path", metavar="CONFIG_OR_CHECKPOINT", type=click.Path(dir_okay=False))
def info(path) -> None:
    """Summarise the model of a config or checkpoint.

    CONFIG_OR_CHECKPOINT is a YAML run config or a .safetensors weights file."""
    from diffbgm.models.summary import describe_checkpoint, summarize
    from diffbgm.training.config import load_config

    try:
        if Path(path).suffix in (".yaml", ".yml"):
            click.echo(f"config: {path}\n" + summarize(load_config(path).model))
        else:
            click.echo(describe_checkpoint(path))
    except ValueError as error:
        raise click.ClickException(str(error)) from None


@click.command()
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.argument("output", type=click.Path(dir_okay=False))
@click.option("--fp16/--fp32", default=True, help="Store the weights in half precision.")
def export(checkpoint, output, fp16) -> None:
    """Write a checkpoint's EMA weights as a small file.

    The output is a stand-alone weights file (fp16 by default), as the package ships."""
    from diffbgm.models.checkpoint import export_weights

    try:
        size = export_weights(checkpoint, output, half=fp16)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"wrote {output} ({size / 1e6:.1f} MB)")
