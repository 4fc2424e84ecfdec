"""Browser sessions: a random id in a cookie, a folder of its own, and the takes scored in it.

A session only ever reaches files under its own folder (:meth:`Session.file`): the id is checked
against its alphabet before it names a folder, and every requested path is resolved and must stay
inside the session's folder.
"""

from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from diffbgm.music.key import Key

if TYPE_CHECKING:
    from diffbgm.studio.jobs import Job

COOKIE = "diffbgm_session"
# secrets.token_urlsafe(24): 32 characters of the URL-safe base64 alphabet.
_ID = re.compile(r"[A-Za-z0-9_-]{32}")
# Containers a source video may come in; the scored take keeps the source's video stream, so those
# an .mp4 cannot hold are written as .mkv (as a batch does).
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi")
TAKE_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv")


class SessionFileError(LookupError):
    """A requested path is not a file of this session."""


@dataclass
class Take:
    """One scored version of the session's video: its folder, and what made it."""

    number: int
    video_path: Path
    manifest: dict
    parent: int | None = None
    regenerated: tuple[float, float] | None = None

    def summary(self) -> dict:
        """What the page lists of the take."""
        options = self.manifest.get("options", {})
        ending = self.manifest.get("ending", {})
        key = options.get("key")
        if ending.get("key_mode") is not None:
            key = str(Key(int(ending["key_tonic"]), ending["key_mode"]))
        return {
            "number": self.number,
            "seed": self.manifest.get("seed"),
            "key": key,
            "mood": self.manifest.get("mood", {}).get("words", []),
            "guidance": options.get("guidance"),
            "tempo_range": options.get("tempo_range"),
            "tempo_bpm": self.manifest.get("tempo_bpm"),
            "duration_s": self.manifest.get("duration_s"),
            "cuts_on_downbeats": self.manifest.get("cut_alignment", {}).get("aligned_fraction"),
            "parent": self.parent,
            "regenerated": self.regenerated,
            "files": {kind: f"takes/{self.number}/{self.video_path.with_suffix(suffix).name}"
                      for kind, suffix in (("video", self.video_path.suffix), ("midi", ".mid"), ("wav", ".wav"),
                                           ("manifest", ".json"))},
        }


@dataclass
class Session:
    """What one browser is working on: its folder, its video and the takes of that video."""

    id: str
    folder: Path
    video: Path | None = None
    video_name: str = ""
    takes: list[Take] = field(default_factory=list)
    analysis: dict | None = None
    video_info: dict | None = None
    job: Job | None = None

    @property
    def busy(self) -> bool:
        """Whether a job of this session is queued or running."""
        return self.job is not None and not self.job.finished

    def file(self, relative: str) -> Path:
        """The session's file at ``relative``; :class:`SessionFileError` for anything else."""
        root = self.folder.resolve()
        path = (root / relative).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise SessionFileError(relative)
        return path

    def take(self, number: int) -> Take:
        for take in self.takes:
            if take.number == number:
                return take
        raise SessionFileError(f"take {number}")

    def new_take_path(self) -> tuple[int, Path]:
        """The number and scored-video path of the next take (its folder is not created)."""
        number = max((take.number for take in self.takes), default=0) + 1
        suffix = self.video.suffix.lower() if self.video.suffix.lower() in TAKE_SUFFIXES else ".mkv"
        return number, self.folder / "takes" / str(number) / f"{Path(self.video_name).stem or 'video'}-take{number}{suffix}"

    def source_path(self, name: str) -> Path:
        """Where a video called ``name`` is kept (only its suffix is taken from the name)."""
        suffix = Path(name).suffix.lower()
        if suffix not in VIDEO_SUFFIXES:
            raise ValueError(f"{name!r} is not a video this studio reads ({', '.join(VIDEO_SUFFIXES)})")
        return self.folder / "source" / f"video{suffix}"


class SessionStore:
    """The sessions of one server, each under ``root/<id>``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def get(self, session_id: str | None) -> Session | None:
        """The session of a cookie value; ``None`` for a missing or malformed id or one this server never made."""
        if not session_id or not _ID.fullmatch(session_id):
            return None
        with self._lock:
            return self._sessions.get(session_id)

    def create(self) -> Session:
        session_id = secrets.token_urlsafe(24)
        folder = self.root / session_id
        folder.mkdir(parents=True, exist_ok=False)
        session = Session(session_id, folder)
        with self._lock:
            self._sessions[session_id] = session
        return session
