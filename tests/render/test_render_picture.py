"""Tests of the result picture."""

from __future__ import annotations

import numpy as np
from PIL import Image

from diffbgm.music.planner import plan_timing
from diffbgm.music.notes import Note
from diffbgm.music.pianoroll import PianoRoll
from diffbgm.render.picture import render_picture


def test_picture_is_a_png_with_coloured_notes(tmp_path):
    plan = plan_timing(12.0, [4.0, 8.0])
    roll = PianoRoll.from_notes([Note(48 + (i % 24), 2 * i, 2, 60 + i % 60) for i in range(plan.n_beats * 2)],
                                n_steps=plan.n_beats * 4)
    path = render_picture(roll, plan, tmp_path / "result.png", shots=[(0, 4), (4, 8), (8, 12)])
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width >= 800
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert len(colours) > 20
    assert [p.name for p in tmp_path.iterdir()] == ["result.png"]


def test_an_hour_long_piece_fits_in_a_picture(tmp_path):
    plan = plan_timing(3600.0, [900.0, 1800.0])
    roll = PianoRoll.from_notes([Note(60, 16 * i, 8) for i in range(200)], n_steps=plan.n_beats * 4)
    with Image.open(render_picture(roll, plan, tmp_path / "hour.png")) as image:
        assert 10_000 <= image.width < 2**16  # wide enough to read, within what Agg can draw


def test_fades_dissolves_and_accents_are_drawn(tmp_path):
    dissolve = {"kind": "dissolve", "start_s": 7.5, "end_s": 8.5, "point_s": 8.0}
    pictures = []
    for name, transitions, accents in (("bare", None, []), ("dissolve", [dissolve], []), ("accent", None, [6.0])):
        plan = plan_timing(12.0, [4.0, 8.0], accents_s=accents)
        roll = PianoRoll.from_notes([Note(60, 16 * i, 8) for i in range(6)], n_steps=plan.n_beats * 4)
        with Image.open(render_picture(roll, plan, tmp_path / f"{name}.png", transitions=transitions)) as image:
            pictures.append(np.asarray(image.convert("RGB"), dtype=np.int16))
    bare, with_dissolve, with_accent = pictures
    assert bare.shape == with_dissolve.shape == with_accent.shape
    assert np.abs(with_dissolve - bare).sum() > 0 and np.abs(with_accent - bare).sum() > 0
