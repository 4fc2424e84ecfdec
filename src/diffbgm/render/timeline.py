"""The score as an editor's timeline (OpenTimelineIO): the picture, the music, a marker on every bar line and cut.

An editor drops the file into their NLE and finds the generated music on its own audio track, lined
up with the source video, with the bar lines to cut on. OpenTimelineIO writes ``.otio``; its
``fcp_xml`` adapter writes Final Cut Pro 7 XML (read by Premiere, Resolve, Final Cut Pro 7); its
``cmx_3600`` adapter writes an EDL, which holds one picture track only, so the music is not in it
and the markers become ``* LOC`` comments of the picture event.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import opentimelineio as otio
from opentimelineio.opentime import RationalTime, TimeRange

TIMELINE_ADAPTERS = {".otio": "otio_json", ".xml": "fcp_xml", ".edl": "cmx_3600"}
DOWNBEAT_COLOUR = otio.schema.MarkerColor.GREEN
CUT_COLOUR = otio.schema.MarkerColor.RED


def _frame(time_s: float, rate: float) -> RationalTime:
    """``time_s`` on the nearest frame: NLEs place clips and markers on frames."""
    return RationalTime(round(float(time_s) * rate), rate)


def _media_clip(name: str, path: str | Path, span: TimeRange) -> otio.schema.Clip:
    reference = otio.schema.ExternalReference(target_url=Path(path).resolve().as_uri(), available_range=span)
    return otio.schema.Clip(name=name, media_reference=reference, source_range=span)


def _markers(times_s: Sequence[float], label: str, colour: str, rate: float, end: RationalTime) -> list:
    """A marker per time, numbered from 1; times after ``end`` have none (the music stops with the picture)."""
    markers = []
    for number, time_s in enumerate(times_s, start=1):
        start = _frame(time_s, rate)
        if start.value < 0:
            raise ValueError(f"{label} {number} is at a negative time ({time_s:.3f} s)")
        if start > end:
            continue
        markers.append(otio.schema.Marker(name=f"{label} {number}", color=colour,
                                          marked_range=TimeRange(start, RationalTime(0, rate)),
                                          metadata={"diffbgm": {"kind": label, "time_s": float(time_s)}}))
    return markers


def score_timeline(video_path: str | Path, duration_s: float, downbeats_s: Sequence[float], cuts_s: Sequence[float],
                   music_path: str | Path, fps: float) -> otio.schema.Timeline:
    """A timeline of ``duration_s`` at ``fps``: the video on a video track, the music (e.g. ``OUT.wav``)
    on an audio track, both from 0, and timeline markers named ``bar N`` at ``downbeats_s`` and
    ``cut N`` at ``cuts_s`` (seconds from the video's start, on the nearest frame). The music stops
    with the picture, so a bar line after the video's end (a plan's last one may be) has no marker.

    Raises
    ------
    ValueError
        A negative marker time.
    """
    rate = float(fps)
    span = TimeRange(RationalTime(0, rate), _frame(duration_s, rate))
    end = span.end_time_exclusive()
    timeline = otio.schema.Timeline(name=f"{Path(video_path).stem} score", global_start_time=RationalTime(0, rate))
    picture = otio.schema.Track(name="picture", kind=otio.schema.TrackKind.Video)
    picture.append(_media_clip(Path(video_path).name, video_path, span))
    music = otio.schema.Track(name="music", kind=otio.schema.TrackKind.Audio)
    music.append(_media_clip(Path(music_path).name, music_path, span))
    timeline.tracks.extend([picture, music])
    timeline.tracks.markers.extend(_markers(downbeats_s, "bar", DOWNBEAT_COLOUR, rate, end))
    timeline.tracks.markers.extend(_markers(cuts_s, "cut", CUT_COLOUR, rate, end))
    return timeline


def _markers_on_picture(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """A copy whose timeline markers sit on the first picture clip (which starts at 0), as an EDL needs."""
    copy = timeline.deepcopy()
    clip = copy.video_tracks()[0].find_clips()[0]
    clip.markers.extend(marker.deepcopy() for marker in copy.tracks.markers)
    copy.tracks.markers.clear()
    return copy


def write_timeline(timeline: otio.schema.Timeline, path: str | Path) -> Path:
    """Write ``timeline`` as ``.otio``, ``.xml`` (Final Cut Pro 7) or ``.edl`` (CMX 3600), by ``path``'s suffix.

    Raises
    ------
    ValueError
        Another suffix.
    """
    path = Path(path)
    adapter = TIMELINE_ADAPTERS.get(path.suffix.lower())
    if adapter is None:
        raise ValueError(f"{path}: write a timeline as {', '.join(TIMELINE_ADAPTERS)}")
    to_write = _markers_on_picture(timeline) if adapter == "cmx_3600" else timeline.deepcopy()
    otio.adapters.write_to_file(to_write, str(path), adapter_name=adapter)
    return path
