"""Read a user's cut list: plain times, JSON, PySceneDetect's scene list, or an editor's EDL / FCP XML / OTIO.

Plain lists hold one time per line or per comma, in seconds, ``[HH:]MM:SS.mmm`` or SMPTE
``HH:MM:SS:FF`` (drop-frame ``HH:MM:SS;FF``; both need the video's frame rate). The editors'
formats are read with OpenTimelineIO and its ``cmx_3600`` and ``fcp_xml`` adapters: the cuts are
where the items of the first video track start, and a transition (e.g. a dissolve) puts its cut at
the transition's middle, the point a musical accent belongs to.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from diffbgm.video.shots import ShotList


class CutListError(ValueError):
    """A cut list that cannot be read or does not fit the video; the message is one line naming the file."""


@dataclass(frozen=True)
class CutList:
    """The cut times a file gives, before they meet a video.

    ``transitions_s`` holds the ``(start_s, end_s)`` of every transition (dissolve, wipe) of an
    editor's timeline; its cut in ``cuts_s`` is the transition's middle.
    """

    cuts_s: tuple[float, ...]
    file_format: str
    transitions_s: tuple[tuple[float, float], ...] = ()


EDITORIAL_ADAPTERS = {"edl": "cmx_3600", "fcp_xml": "fcp_xml", "otio": "otio_json"}
_SUFFIX_FORMATS = {".edl": "edl", ".xml": "fcp_xml", ".otio": "otio", ".json": "json"}
_EDL_EVENT = re.compile(r"^\d{3,6}\s+\S+\s+\S+\s+(C|D|W\d*|K\s*B?)\b")
_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)$")
_SMPTE = re.compile(r"^\d+:\d{2}:\d{2}[:;]\d{1,3}$")
_SCENE_HEADER = "Scene Number"
_SCENE_START_COLUMNS = ("Start Time (seconds)", "Start Timecode")
_JSON_SCENE_STARTS = ("start_s", "start", "start_time", "Start Time (seconds)")
# A shot is at least a few frames: more cuts than one per MIN_MEAN_SHOT_S of video is no edit of
# that video, and MAX_CUTS bounds the planner's work (one per 0.36 s of a one-hour video).
MIN_MEAN_SHOT_S = 0.25
MAX_CUTS = 10_000


# --- times ----------------------------------------------------------------------------------------


def timecode_rate(fps: float | None, path: Path | str = "<cut list>") -> float:
    """The SMPTE timecode rate of a video at ``fps`` (29.97 is 30000/1001), for frame-counted times."""
    from opentimelineio.opentime import RationalTime

    if fps is None or not fps > 0:
        raise CutListError(f"{path}: frame-counted times (HH:MM:SS:FF, EDL) need the video's frame rate")
    rate = RationalTime.nearest_valid_timecode_rate(float(fps))
    if abs(rate - fps) > 0.005 * fps:
        raise CutListError(f"{path}: {fps:g} fps is not a SMPTE timecode rate, so frame-counted times "
                           f"(HH:MM:SS:FF, EDL) cannot be read")
    return rate


def parse_time(cell: str, path: Path | str = "<cut list>", fps: float | None = None) -> float:
    """Seconds from ``"12.5"``, ``"00:12.5"``, ``"00:00:12.500"`` or, at ``fps``, SMPTE ``"00:00:12:12"``."""
    text = cell.strip()
    if _SMPTE.match(text):
        from opentimelineio.opentime import from_timecode

        rate = timecode_rate(fps, path)
        try:
            return from_timecode(text, rate).to_seconds()
        except ValueError as error:
            raise CutListError(f"{path}: {text!r} is not a timecode at {fps:g} fps ({error})") from None
    try:
        value = float(text)
    except ValueError:
        match = _CLOCK.match(text)
        if not match:
            raise CutListError(f"{path}: {text!r} is not a time (seconds, HH:MM:SS.mmm or HH:MM:SS:FF)") from None
        hours, minutes, seconds = match.groups()
        value = int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
    if not math.isfinite(value):
        raise CutListError(f"{path}: {text!r} is not a time (seconds, HH:MM:SS.mmm or HH:MM:SS:FF)")
    return value


def _looks_like_time(cell: str) -> bool:
    text = cell.strip()
    if _SMPTE.match(text) or _CLOCK.match(text):
        return True
    try:
        float(text)
        return True
    except ValueError:
        return False


def _increasing(times: list[float], path: Path) -> tuple[float, ...]:
    """``times`` when none is negative and each is after the one before."""
    for number, time in enumerate(times, start=1):
        if time < 0:
            raise CutListError(f"{path}: cut {number} is at a negative time ({time:g} s)")
        if number > 1 and time <= times[number - 2]:
            raise CutListError(f"{path}: cut {number} ({time:.3f} s) is not after cut {number - 1} "
                               f"({times[number - 2]:.3f} s); list the cuts in time order, each once")
    return tuple(times)


# --- text formats ---------------------------------------------------------------------------------


def read_text_file(path: Path, what: str = "cut list") -> str:
    """The text of a user's file; empty, binary or non-UTF-8 files are a one-line ``CutListError``."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CutListError(f"{path}: cannot read the {what} ({error.strerror})") from None
    if not data.strip():
        raise CutListError(f"{path}: the {what} is empty")
    if b"\0" in data[:8192]:
        raise CutListError(f"{path}: a binary file, not a {what}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CutListError(f"{path}: not UTF-8 text (byte {error.start}); save the {what} as UTF-8") from None


def _plain_cuts(text: str, path: Path, fps: float | None) -> tuple[float, ...]:
    rows = [[cell.strip() for cell in row if cell.strip()] for row in csv.reader(io.StringIO(text))]
    rows = [row for row in rows if row and not row[0].startswith("#")]
    header = rows[0] if rows and not _looks_like_time(rows[0][0]) else None
    cells = [cell for row in rows[1 if header else 0:] for cell in row]
    if not cells and header != ["cut_s"]:
        raise CutListError(f"{path}: no cut times found (one time per line, in seconds or HH:MM:SS.mmm)")
    return _increasing([parse_time(cell, path, fps) for cell in cells], path)


def _scenedetect_cuts(text: str, path: Path, fps: float | None) -> tuple[float, ...]:
    """The scene starts of ``scenedetect list-scenes`` CSV (its optional first line lists the cuts)."""
    rows = list(csv.reader(io.StringIO(text)))
    header_row = next((i for i, row in enumerate(rows) if row and row[0].strip() == _SCENE_HEADER), None)
    if header_row is None:
        raise CutListError(f"{path}: mentions {_SCENE_HEADER!r} but has no PySceneDetect header row")
    header = [cell.strip() for cell in rows[header_row]]
    column = next((header.index(name) for name in _SCENE_START_COLUMNS if name in header), None)
    if column is None:
        raise CutListError(f"{path}: a PySceneDetect scene list without a {_SCENE_START_COLUMNS[0]!r} column")
    scenes = [row for row in rows[header_row + 1:] if any(cell.strip() for cell in row)]
    if not scenes:
        raise CutListError(f"{path}: a PySceneDetect scene list with no scenes")
    if any(len(row) <= column for row in scenes):
        raise CutListError(f"{path}: a PySceneDetect scene row has fewer cells than its header")
    return _increasing([parse_time(row[column], path, fps) for row in scenes], path)


def _json_time(value: object, path: Path, fps: float | None) -> float:
    if isinstance(value, dict):
        key = next((key for key in _JSON_SCENE_STARTS if key in value), None)
        if key is None:
            raise CutListError(f"{path}: a scene without a start ({' or '.join(_JSON_SCENE_STARTS)})")
        value = value[key]
    elif isinstance(value, list) and len(value) == 2:
        value = value[0]  # a [start, end] scene
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise CutListError(f"{path}: {json.dumps(value)[:40]} is not a time")
    return parse_time(str(value), path, fps)


def _json_cuts(text: str, path: Path, fps: float | None) -> tuple[float, ...]:
    """Times: a list or ``{"cuts_s": [...]}``; scenes: ``[{"start": ..}]``, ``[[start, end]]`` or ``{"scenes": ..}``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise CutListError(f"{path}: not valid JSON ({error.msg}, line {error.lineno})") from None
    if isinstance(data, dict):
        data = next((data[key] for key in ("cuts_s", "cuts", "scenes") if key in data), None)
    if not isinstance(data, list):
        raise CutListError(f'{path}: expected a list of cut times, {{"cuts_s": [...]}} or a list of scenes')
    return _increasing([_json_time(value, path, fps) for value in data], path)


# --- editors' timelines ---------------------------------------------------------------------------


def cuts_from_timeline(timeline, path: Path | str = "<timeline>", file_format: str = "otio") -> CutList:
    """The cuts of an ``opentimelineio.schema.Timeline``: where the items of its first video track start.

    Times are in the track's own time, which starts at the first event (the cmx_3600 adapter
    subtracts the first record time, e.g. 01:00:00:00; FCP XML and OTIO place items from the
    sequence's start). A transition overlaps ``in_offset`` before and ``out_offset`` after the
    cut (OpenTimelineIO's transition model), so its middle is ``cut + (out_offset - in_offset) / 2``.
    """
    import opentimelineio as otio

    tracks = timeline.video_tracks()
    if not tracks:
        raise CutListError(f"{path}: the timeline has no video track")
    cuts: list[float] = []
    transitions: list[tuple[float, float]] = []
    pending = None
    for item in tracks[0]:
        if isinstance(item, otio.schema.Transition):
            pending = item
            continue
        if item.duration().value <= 0:
            continue  # an empty event (EDLs hold them before a dissolve) is no shot
        cut = item.range_in_parent().start_time
        if cut.value <= 0:
            pending = None  # a fade in at the start is no cut
        elif pending is not None:
            start, end = cut - pending.in_offset, cut + pending.out_offset
            transitions.append((start.to_seconds(), end.to_seconds()))
            cuts.append(0.5 * (start.to_seconds() + end.to_seconds()))
            pending = None
        else:
            cuts.append(cut.to_seconds())
    return CutList(_increasing(cuts, Path(path)), file_format, tuple(transitions))


def _first_timeline(read, path: Path):
    import opentimelineio as otio

    if isinstance(read, otio.schema.Timeline):
        return read
    children = read.find_children(descended_from_type=otio.schema.Timeline) if hasattr(read, "find_children") else []
    if not children:
        raise CutListError(f"{path}: holds no timeline")
    return children[0]


def _editorial_cuts(path: Path, file_format: str, fps: float | None) -> CutList:
    import opentimelineio as otio

    adapter = EDITORIAL_ADAPTERS[file_format]
    options = {"rate": timecode_rate(fps, path)} if adapter == "cmx_3600" else {}
    try:
        read = otio.adapters.read_from_file(str(path), adapter_name=adapter, **options)
    except Exception as error:  # each adapter raises its own types (EDLParseError, ParseError, ValueError, ...)
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise CutListError(f"{path}: OpenTimelineIO cannot read it as {adapter} ({reason})") from None
    return cuts_from_timeline(_first_timeline(read, path), path, file_format)


# --- entry points ---------------------------------------------------------------------------------


def detect_format(path: Path, text: str) -> str:
    """``edl``, ``fcp_xml``, ``otio``, ``json``, ``scenedetect_csv`` or ``plain``: by suffix, else by content."""
    if path.suffix.lower() == ".fcpxml":
        raise CutListError(f"{path}: Final Cut Pro X XML is not supported; export Final Cut Pro 7 XML or an EDL")
    head = text.lstrip()
    by_suffix = _SUFFIX_FORMATS.get(path.suffix.lower())
    if by_suffix == "json" and '"OTIO_SCHEMA"' in text:
        return "otio"
    if by_suffix:
        return by_suffix
    if head.startswith("<"):
        return "fcp_xml"
    if head.startswith(("{", "[")):
        return "otio" if '"OTIO_SCHEMA"' in text else "json"
    first_line = head.splitlines()[0]
    if first_line.upper().startswith("TITLE:") or _EDL_EVENT.match(first_line):
        return "edl"
    return "scenedetect_csv" if _SCENE_HEADER in text else "plain"


def read_cuts(path: str | Path, fps: float | None = None) -> CutList:
    """The cut times of a cut-list file (see the module docstring); ``fps`` is the video's frame rate,
    needed for EDLs and frame-counted timecodes.

    Raises
    ------
    CutListError
        The file is empty, binary, malformed, holds a time that does not parse, negative times,
        or times out of order.
    """
    path = Path(path)
    text = read_text_file(path)
    file_format = detect_format(path, text)
    if file_format in EDITORIAL_ADAPTERS:
        return _editorial_cuts(path, file_format, fps)
    readers = {"json": _json_cuts, "scenedetect_csv": _scenedetect_cuts, "plain": _plain_cuts}
    return CutList(readers[file_format](text, path, fps), file_format)


def read_cut_list(path: str | Path, duration_s: float, fps: float | None = None) -> ShotList:
    """The shots a cut-list file gives a video ``duration_s`` long at ``fps`` frames per second.

    A cut at the video's very end (within half a frame, or 1 ms without ``fps``) only marks the
    end and is left out.

    Raises
    ------
    CutListError
        See :func:`read_cuts`; also cuts after the video's end (counted in the message), and more
        cuts than one per :data:`MIN_MEAN_SHOT_S` of the video or than :data:`MAX_CUTS`.
    """
    cuts = read_cuts(path, fps).cuts_s
    end = float(duration_s) + (0.5 / fps if fps else 1e-3)
    late = [cut for cut in cuts if cut > end]
    if late:
        raise CutListError(f"{path}: {len(late)} of {len(cuts)} cuts are after the video's end "
                           f"({duration_s:.3f} s), the first at {late[0]:.3f} s; is it the cut list of this video?")
    most = min(MAX_CUTS, max(1, math.floor(float(duration_s) / MIN_MEAN_SHOT_S)))
    if len(cuts) > most:
        raise CutListError(f"{path}: {len(cuts)} cuts for a {duration_s:.3f}-s video; at most {most} "
                           f"(one per {MIN_MEAN_SHOT_S:g} s, {MAX_CUTS} in all) can be scored")
    return ShotList(cuts, float(duration_s))
