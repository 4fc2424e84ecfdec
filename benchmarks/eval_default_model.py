"""Evaluate a trained model and the baselines on POP909-valid windows, as the Diff-BGM paper evaluates.

Usage:
    python3 benchmarks/eval_default_model.py --data runs/pop909 [--checkpoint runs/default/model.safetensors]
        [--n 240] [--steps 10] [--guidance 2.0] [--groove-guidance 5] [--sampler dpmpp] [--device cuda] [--song-key]
        [--musicnn-python .venv-musicnn/bin/python] [--json eval.json] [--markdown eval.md]

``--data`` is a window data set built by ``diffbgm data pop909``. Conditions come from the real songs,
built exactly as at training (:class:`diffbgm.training.datasets.Pop909Windows`). Without
``--checkpoint`` only the baselines run (ground truth, shuffled, density-matched), which checks the
harness. A model that reads a key (``unet.scale_input``) is given each song's annotated key, and one
that reads a groove (``unet.groove_input``) each window's own groove, as the other conditions come from
the song. Further columns sample it with the groove of the song's eight bars before each window (what
``diffbgm generate --groove auto`` gives a window: the groove of the music before it), with no groove
(``diffbgm generate`` in the first window of a video, told ``--key``), and with neither (the first
window without ``--key``). ``--song-key`` adds a column
sampled with the pitches outside each song's key held silent (``diffbgm generate --key ... --strict-key``).
All columns start from the same initial noise, and those with a groove are sampled with
``--groove-guidance`` (``diffbgm generate``'s default unless told). ``--only-ours`` samples only the
first column, for sweeps of the sampling options.
``--musicnn-python`` (or ``$DIFFBGM_MUSICNN_PYTHON``) names a Python with musicnn: P@K is then also
measured over musicnn's audio embedding (:mod:`diffbgm.evaluation.audio_embedding`).
Prints the comparison table and timings; writes JSON and Markdown when asked.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

from diffbgm.atomic import atomic_output
from diffbgm.evaluation.audio_embedding import AudioEmbeddingError, musicnn_embedder
from diffbgm.evaluation.baselines import density_matched_generator, ground_truth_generator, shuffled_generator
from diffbgm.evaluation.eval_windows import preceding_windows, select_eval_windows
from diffbgm.evaluation.model_eval import comparison_table, evaluate_generator
from diffbgm.music.dataset import WindowStore
from diffbgm.music.key import Key
from diffbgm.music.window import MusicWindow
from diffbgm.diffusion.samplers import DEFAULT_GROOVE_GUIDANCE, DEFAULT_GUIDANCE, DEFAULT_SAMPLER, DEFAULT_STEPS, SAMPLERS


KEY_USES = ("condition", "none", "strict")
GROOVE_USES = ("condition", "previous", "none")


def model_generator(checkpoint: Path, windows: list[MusicWindow], args: argparse.Namespace, key: str = "condition",
                    groove: str = "condition"):
    """The checkpoint's sampler as a generator over ``windows`` (conditions embedded once, up front).

    ``key`` (one of ``KEY_USES``): each song's annotated key is a condition (read by a model with
    ``unet.scale_input``, ignored by others); ``none``: no window has a key; ``strict``: a condition,
    and the pitches outside its scale are held silent. ``groove`` (one of ``GROOVE_USES``): each
    window's own groove is a condition (read with ``unet.groove_input``); ``previous``: the groove of
    the song's eight bars before it (none at the song's start), as ``diffbgm generate --groove auto``
    gives each window the groove of the music it wrote before; ``none``: no window has one.
    """
    if key not in KEY_USES:
        raise ValueError(f"key must be one of {', '.join(KEY_USES)}, got {key!r}")
    if groove not in GROOVE_USES:
        raise ValueError(f"groove must be one of {', '.join(GROOVE_USES)}, got {groove!r}")
    import torch
    from torch.utils.data import default_collate

    from diffbgm.conditions import groove_vector
    from diffbgm.diffusion import restrict_pitches, sample
    from diffbgm.models import load_checkpoint, text_embedder
    from diffbgm.training.datasets import Pop909Windows, split_batch

    model, config = load_checkpoint(checkpoint, args.device)
    earlier_groove = {}
    if groove == "previous":
        before = preceding_windows(WindowStore(args.data, split="valid"), windows)
        earlier_groove = {(w.song, w.bar): None if p is None else groove_vector(p.pianoroll)
                          for w, p in zip(windows, before)}
    examples = Pop909Windows(windows, text_embedder(config, args.device))
    index_of = {(w.song, w.bar): i for i, w in enumerate(windows)}
    noise = torch.Generator(args.device).manual_seed(args.seed)

    def generate(batch: list[MusicWindow]) -> np.ndarray:
        items = [examples[index_of[(w.song, w.bar)]] for w in batch]
        _, conditions = split_batch(default_collate(items), args.device)
        if key == "none":
            conditions = conditions.with_keys([None] * len(batch))
        if groove == "none":
            conditions = conditions.with_grooves([None] * len(batch))
        elif groove == "previous":
            conditions = conditions.with_grooves([earlier_groove[(w.song, w.bar)] for w in batch])
        known = known_mask = None
        if key == "strict":
            allowed = np.stack([Key(w.key_tonic, w.key_mode).pitch_mask() for w in batch])
            known, known_mask = restrict_pitches(torch.from_numpy(allowed).to(args.device))
        rolls = sample(model, conditions, sampler=args.sampler, steps=args.steps,
                       guidance_scale=args.guidance, generator=noise, known=known, known_mask=known_mask,
                       groove_guidance=args.groove_guidance)
        return rolls.float().cpu().numpy()

    return generate


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as temp:
        temp.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="window data set built by `diffbgm data pop909`")
    parser.add_argument("--checkpoint", type=Path, default=None, help="model weights; omit to run the baselines only")
    parser.add_argument("--n", type=int, default=240, help="evaluation windows")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="sampling steps (as generate's)")
    parser.add_argument("--guidance", type=float, default=DEFAULT_GUIDANCE)
    parser.add_argument("--groove-guidance", type=float, default=DEFAULT_GROOVE_GUIDANCE,
                        help="extra guidance towards the groove (as diffbgm generate --groove-guidance)")
    parser.add_argument("--only-ours", action="store_true",
                        help="sample only the main column (for sweeps); the baselines still run")
    parser.add_argument("--sampler", default=DEFAULT_SAMPLER, choices=list(SAMPLERS))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--song-key", action="store_true",
                        help="also sample the model with the pitches outside each song's key held silent")
    parser.add_argument("--musicnn-python", type=Path, default=os.environ.get("DIFFBGM_MUSICNN_PYTHON"),
                        help="a Python with musicnn, for P@K over audio (default: $DIFFBGM_MUSICNN_PYTHON)")
    parser.add_argument("--musicnn-layer", default="penultimate", help="musicnn layer to embed with")
    parser.add_argument("--device", default=None, help="torch device (default: cuda when available)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    try:
        store = WindowStore(args.data, split="valid")
        windows = select_eval_windows(store, args.n, args.seed)
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f"error: {error}")
    generators = [("ground truth", ground_truth_generator)]
    if args.checkpoint is not None:
        if args.device is None:
            import torch

            args.device = "cuda" if torch.cuda.is_available() else "cpu"
        from diffbgm.models import CheckpointError, load_checkpoint

        try:
            generators.append(("Diff-BGM (ours)", model_generator(args.checkpoint, windows, args)))
            unet = load_checkpoint(args.checkpoint)[1].unet
            if unet.groove_input and not args.only_ours:
                generators.append(("ours, earlier groove",
                                   model_generator(args.checkpoint, windows, args, groove="previous")))
                generators.append(("ours, no groove", model_generator(args.checkpoint, windows, args, groove="none")))
            if unet.scale_input and not args.only_ours:
                name = "ours, no key or groove" if unet.groove_input else "ours, no key"
                generators.append((name, model_generator(args.checkpoint, windows, args, "none", "none")))
            if args.song_key:
                generators.append(("ours, key held", model_generator(args.checkpoint, windows, args, "strict")))
        except CheckpointError as error:
            sys.exit(f"error: {error}")
    generators += [
        ("shuffled", shuffled_generator(windows, seed=args.seed)),
        ("density-matched", lambda batch: density_matched_generator(batch, seed=args.seed)),
    ]

    audio_embedder = None
    if args.musicnn_python is not None:
        audio_embedder = musicnn_embedder(args.musicnn_python, layer=args.musicnn_layer)
    started = time.perf_counter()
    reports = []
    for name, generate in generators:
        try:
            report = evaluate_generator(windows, generate, batch_size=args.batch_size, name=name, seed=args.seed,
                                        audio_embedder=audio_embedder)
        except AudioEmbeddingError as error:
            sys.exit(f"error: {error}")
        reports.append(report)
        print(f"{name}: generate {report.generate_seconds:.1f} s, measures {report.metric_seconds:.1f} s")
    total = time.perf_counter() - started
    # The ground-truth generator's column is the ground truth itself (with its trivial P@K = 100 %).
    table = comparison_table(reports, include_ground_truth=False)
    print(table)
    print(f"total {total:.1f} s for {len(reports)} generators on {len(windows)} windows")
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    if args.json is not None:
        document = {"settings": settings, "seconds": round(total, 2), "table": table,
                    "reports": [r.to_dict() for r in reports]}
        write_atomically(args.json, json.dumps(document, indent=2) + "\n")
    if args.markdown is not None:
        write_atomically(args.markdown, table + "\n")


if __name__ == "__main__":
    main()
