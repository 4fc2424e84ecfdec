"""A picture of the result: the piano roll over the video's time line, with bar lines, cuts and shots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from diffbgm.atomic import atomic_output
from diffbgm.music.timing import TimingPlan
from diffbgm.music.grid import STEPS_PER_BEAT
from diffbgm.music.pianoroll import PianoRoll

# A third of an inch per second of video, but no wider than this many pixels: Agg refuses images of
# 2**16 pixels or more (an hour-long video), and a wider PNG is no easier to read.
MAX_WIDTH_PX = 30_000


def render_picture(
    roll: PianoRoll | np.ndarray,
    plan: TimingPlan,
    path: str | Path,
    shots: list[tuple[float, float]] | None = None,
    title: str | None = None,
    dpi: int = 100,
    transitions: list[dict] | None = None,
) -> Path:
    """Save a PNG: notes as bars in seconds, downbeats (grey), cuts (red, dashed), shots (shaded bands),
    fades and dissolves (hatched spans) and accents (ticks along the top).

    Parameters
    ----------
    roll:
        The whole piece; step 0 is the plan's beat 0.
    plan:
        The music's grid, which maps steps to seconds.
    path:
        The PNG to write (atomically).
    shots:
        ``(start_s, end_s)`` of each shot, drawn as alternating bands.
    transitions:
        Fades and dissolves as the manifest holds them (``start_s``, ``end_s``; ``Transition.to_dict``).
    """
    # A bare Figure renders through Agg when saved to PNG: no pyplot, no global backend switch.
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    if not isinstance(roll, PianoRoll):
        roll = PianoRoll.from_array(np.asarray(roll))
    notes = roll.to_notes()
    figure = Figure(figsize=(min(max(8.0, plan.duration_s / 3.0), MAX_WIDTH_PX / dpi), 4.5), dpi=dpi)
    axes = figure.add_subplot(1, 1, 1)
    for index, (start, end) in enumerate(shots or []):
        axes.axvspan(start, end, color="tab:blue" if index % 2 else "tab:orange", alpha=0.08, lw=0)
    # One collection per kind of mark, not an artist per line or note: a long video has thousands.
    full_height = axes.get_xaxis_transform()
    axes.vlines(plan.downbeats_s, 0, 1, transform=full_height, color="0.6", lw=0.6, label="bar line")
    for index, transition in enumerate(transitions or []):
        axes.axvspan(transition["start_s"], transition["end_s"], facecolor="none", edgecolor="tab:red", hatch="//",
                     alpha=0.35, lw=0, label=None if index else "transition (fade, dissolve, wipe)")
    if len(plan.cuts_s):
        axes.vlines(plan.cuts_s, 0, 1, transform=full_height, color="tab:red", lw=1.2, linestyles="--", label="cut")
    if len(plan.accents_s):
        axes.vlines(plan.accents_s, 0.93, 1, transform=full_height, color="tab:purple", lw=2.0, label="accent")
    if notes:
        starts = plan.tempo_map.time_of_beat(np.array([n.start for n in notes]) / STEPS_PER_BEAT)
        ends = plan.tempo_map.time_of_beat(np.array([n.end for n in notes]) / STEPS_PER_BEAT)
        pitches = np.array([n.pitch for n in notes], dtype=np.float64)
        velocities = np.array([n.velocity for n in notes]) / 127.0
        low, high = pitches - 0.4, pitches + 0.4
        boxes = np.stack([np.stack([starts, low], 1), np.stack([ends, low], 1), np.stack([ends, high], 1),
                          np.stack([starts, high], 1)], axis=1)
        axes.add_collection(PolyCollection(boxes, facecolors=colormaps["viridis"](velocities), edgecolors="none"))
        axes.set_ylim(pitches.min() - 3, pitches.max() + 3)
        figure.colorbar(ScalarMappable(Normalize(0, 127), colormaps["viridis"]), ax=axes, label="velocity", pad=0.01)
    axes.legend(loc="upper right", fontsize="small", framealpha=0.8)
    axes.set_xlim(0.0, plan.duration_s)
    axes.set_xlabel("time (s)")
    axes.set_ylabel("MIDI pitch")
    axes.set_title(title or f"{plan.n_bars} bars, median {plan.tempo_bpm:.0f} BPM, "
                   f"{100 * plan.aligned_fraction:.0f} % of cuts on downbeats")
    figure.tight_layout()
    path = Path(path)
    with atomic_output(path) as temp:
        figure.savefig(temp, format="png")
    return path
