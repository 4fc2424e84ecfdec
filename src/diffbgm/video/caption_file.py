"""Read a user's captions file and give each shot its caption.

Three layouts: plain text, one caption per line (one line for the whole video, or one per shot);
``start_s<TAB>caption`` lines, each caption lasting until the next; SRT or WebVTT subtitles. Timed
captions are laid on the shots by time, so the file need not know where the cuts are.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from diffbgm.video.captions import CaptionCountError
from diffbgm.video.cutlist import CutListError, parse_time, read_text_file


class CaptionFileError(ValueError):
    """A captions file that cannot be read; the message is one line naming the file."""


@dataclass(frozen=True)
class Caption:
    """A caption, with the span it covers in seconds for timed captions (``None`` when untimed or open-ended)."""

    text: str
    start_s: float | None = None
    end_s: float | None = None


_CUE_TIMES = re.compile(r"^\s*(\S+)\s+-->\s+(\S+)")
_CUE_LINE = re.compile(r"^\s*[\d:.,]+\s+-->\s+[\d:.,]+", re.MULTILINE)
_MARKUP = re.compile(r"<[^>]*>|\{\\[^}]*\}")  # WebVTT/SRT tags (<i>, <v Name>) and SSA overrides ({\an8})
_VTT_BLOCKS = ("WEBVTT", "NOTE", "STYLE", "REGION")


def _time(cell: str, where: str) -> float:
    try:
        return parse_time(cell.replace(",", "."), where)
    except CutListError as error:
        raise CaptionFileError(str(error)) from None


def _blocks(lines: list[str]) -> Iterator[tuple[int, list[str]]]:
    """Runs of non-blank lines, with the line number each starts on."""
    block: list[str] = []
    for number, line in enumerate([*lines, ""], start=1):
        if line.strip():
            block.append(line)
        elif block:
            yield number - len(block), block
            block = []


def _subtitle_cues(lines: list[str], path: Path) -> list[Caption]:
    """SRT or WebVTT cues: an optional cue number or name, ``start --> end [settings]``, the text lines."""
    cues = []
    for first, block in _blocks(lines):
        timing = next((i for i, line in enumerate(block) if "-->" in line), None)
        if timing is None:
            if block[0].strip().startswith(_VTT_BLOCKS) or block[0].strip().isdigit():
                continue
            raise CaptionFileError(f"{path}, line {first}: a subtitle block without a 'start --> end' line")
        where = f"{path}, line {first + timing}"
        match = _CUE_TIMES.match(block[timing])
        if not match:
            raise CaptionFileError(f"{where}: expected 'start --> end', got {block[timing].strip()!r}")
        start, end = _time(match[1], where), _time(match[2], where)
        if end <= start:
            raise CaptionFileError(f"{where}: the cue ends ({end:.3f} s) before it starts ({start:.3f} s)")
        text = " ".join(_MARKUP.sub("", line).strip() for line in block[timing + 1:]).strip()
        if text:
            cues.append(Caption(" ".join(text.split()), start, end))
    if not cues:
        raise CaptionFileError(f"{path}: no subtitle cue has text")
    return cues


def _start_of(line: str) -> float | None:
    """The start of a ``start_s<TAB>caption`` line, or ``None`` for a plain caption."""
    head, tab, _ = line.partition("\t")
    if not tab:
        return None
    try:
        return parse_time(head)
    except CutListError:
        return None


def _line_captions(lines: list[str], path: Path) -> list[Caption]:
    numbered = [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]
    starts = [_start_of(line) for _, line in numbered]
    if all(start is None for start in starts):
        return [Caption(line.strip()) for _, line in numbered]
    captions: list[Caption] = []
    for (number, line), start in zip(numbered, starts):
        if start is None:
            raise CaptionFileError(f"{path}, line {number}: no start time; give 'start_s<TAB>caption' on every "
                                   f"line or on none")
        text = line.partition("\t")[2].strip()
        if not text:
            raise CaptionFileError(f"{path}, line {number}: the caption is empty")
        if start < 0 or (captions and start <= captions[-1].start_s):
            raise CaptionFileError(f"{path}, line {number}: starts at {start:.3f} s, not after the caption before")
        captions.append(Caption(text, start))
    return captions


def read_captions(path: str | Path) -> list[Caption]:
    """The captions of a file: SRT (``.srt``) and WebVTT (``.vtt`` or a ``WEBVTT`` first line) by
    cue times, ``start_s<TAB>caption`` lines by start time, else one untimed caption per line.

    Raises
    ------
    CaptionFileError
        An empty, binary or malformed file.
    """
    path = Path(path)
    try:
        text = read_text_file(path, "captions file")
    except CutListError as error:
        raise CaptionFileError(str(error)) from None
    lines = text.splitlines()
    first = text.lstrip().splitlines()[0].strip()
    if path.suffix.lower() in (".srt", ".vtt") or first.startswith("WEBVTT") or _CUE_LINE.search(text):
        return _subtitle_cues(lines, path)
    return _line_captions(lines, path)


def _spans(captions: Sequence[Caption]) -> list[tuple[float, float]]:
    """Each timed caption's ``(start, end)``; one without an end lasts until the next starts (the last: forever)."""
    starts = [caption.start_s for caption in captions]
    next_starts = [*starts[1:], math.inf]
    return [(caption.start_s, caption.end_s if caption.end_s is not None else next_start)
            for caption, next_start in zip(captions, next_starts)]


def _distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(a[0] - b[1], b[0] - a[1], 0.0)


def captions_for_shots(captions: Sequence[Caption], shots: Sequence[tuple[float, float]]) -> list[str]:
    """The caption of each ``(start_s, end_s)`` shot.

    Untimed captions: one for every shot, or exactly one per shot. Timed captions: every caption
    overlapping the shot, joined in time order; a shot no caption overlaps takes the nearest one.

    Raises
    ------
    CaptionCountError
        Untimed captions, neither one nor one per shot.
    """
    if not captions:
        raise CaptionCountError("no captions given")
    if captions[0].start_s is None:
        texts = [caption.text for caption in captions]
        if len(texts) == 1:
            return texts * len(shots)
        if len(texts) != len(shots):
            raise CaptionCountError(f"got {len(texts)} captions for {len(shots)} shots; give one line for the whole "
                                    f"video, one per shot, or start times ('start_s<TAB>caption', SRT, WebVTT)")
        return texts
    spans = _spans(captions)
    result = []
    for shot in shots:
        overlapping = [c.text for c, span in zip(captions, spans) if min(shot[1], span[1]) > max(shot[0], span[0])]
        if not overlapping:
            overlapping = [min(zip(captions, spans), key=lambda pair: _distance(shot, pair[1]))[0].text]
        result.append(" ".join(dict.fromkeys(overlapping)))
    return result
