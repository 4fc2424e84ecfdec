"""``diffbgm evaluate``: the objective metrics of MIDI files."""

from __future__ import annotations

from pathlib import Path

import click

from diffbgm.cli.paths import check_not_an_input


@click.command("evaluate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="write the results here")
@click.option("--reference", "reference", multiple=True, type=click.Path(path_type=Path),
              help="reference MIDI files/folders; report each metric's difference to them")
@click.option("--gps-positions", type=click.Choice(["16", "64"]), default="16", help="onset positions per bar for GPS")
def evaluate(paths, json_path, reference, gps_positions) -> None:
    """Objective metrics (PCHE, GPS, SI, ...) of MIDI files or folders."""
    import json

    from diffbgm.atomic import atomic_output
    from diffbgm.evaluation.evaluate import EvaluationInputError, evaluate_files, find_midi_files

    try:
        files = find_midi_files(list(paths))
        references = find_midi_files(list(reference)) if reference else []
    except EvaluationInputError as error:
        raise click.ClickException(str(error)) from None
    if json_path is not None:
        check_not_an_input(json_path, [*files, *references], "--json")
    try:
        result = evaluate_files(files, int(gps_positions))
        ref = evaluate_files(references, int(gps_positions)) if reference else None
    except EvaluationInputError as error:
        raise click.ClickException(str(error)) from None
    metrics = [k for k in result if k not in ("n_files", "files")]
    click.echo(f"{'metric':<16}{'value':>10}" + (f"{'reference':>12}{'diff':>10}" if ref else ""))
    for name in metrics:
        line = f"{name:<16}{result[name]:>10.4f}"
        if ref:
            line += f"{ref[name]:>12.4f}{result[name] - ref[name]:>+10.4f}"
        click.echo(line)
    click.echo(f"files: {result['n_files']}" + (f", reference files: {ref['n_files']}" if ref else ""))
    if json_path:
        if ref:
            result["reference"] = {k: v for k, v in ref.items() if k != "files"}
            result["difference"] = {k: result[k] - ref[k] for k in metrics}
        json_path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(json_path) as temp:
            temp.write_text(json.dumps(result, indent=2))
