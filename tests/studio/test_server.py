"""The studio's server through its HTTP API (FastAPI's TestClient): sessions kept apart, uploads limited,
paths outside a session refused, and scoring jobs with the shipped model: progress, takes, cancel."""

from __future__ import annotations

import threading
import time

import pretty_midi
import pytest

pytest.importorskip("fastapi", reason="the studio extra is not installed: pip install 'diffbgm[studio]'")
from fastapi.testclient import TestClient  # noqa: E402

from diffbgm.studio import create_app  # noqa: E402
from diffbgm.studio.sessions import COOKIE, SessionFileError, SessionStore  # noqa: E402
from diffbgm.video.decode import probe_video  # noqa: E402


def follow(client: TestClient, timeout_s: float = 120.0) -> tuple[dict, list[dict]]:
    """Poll the session's job until it ends; its last status and every status seen."""
    seen = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = client.get("/api/job").json()
        seen.append(status)
        if status["state"] in ("done", "failed", "cancelled"):
            return status, seen
        time.sleep(0.05)
    raise AssertionError(f"the job did not end in {timeout_s} s: {seen[-1]}")


def local(app, **given) -> TestClient:
    """A browser on this machine, with a cookie jar of its own."""
    return TestClient(app, base_url="http://127.0.0.1", **given)


def upload(client: TestClient, video, name: str | None = None):
    return client.put("/api/video", params={"name": name or video.name}, content=video.read_bytes())


@pytest.fixture
def app(tmp_path, pipeline):
    return create_app(lambda: pipeline, tmp_path / "work", max_upload_bytes=10 * 2**20)


def test_a_session_sees_only_its_own_files(app, short_clip):
    alice, bob = local(app), local(app)
    state = upload(alice, short_clip).json()
    assert state["video"]["name"] == short_clip.name
    assert abs(state["video"]["duration_s"] - probe_video(short_clip).duration_s) < 1e-6
    own = alice.get(f"/{state['video']['url']}")
    assert own.status_code == 200 and own.content == short_clip.read_bytes()

    assert bob.get("/api/state").json()["video"] is None
    assert bob.get(f"/{state['video']['url']}").status_code == 404
    assert alice.cookies[COOKIE] != bob.cookies[COOKIE]
    # A cookie this server did not make gets no session's files either (and cannot name a folder).
    stranger = local(app, cookies={COOKIE: "../" + alice.cookies[COOKIE]})
    assert stranger.get(f"/{state['video']['url']}").status_code == 404


def test_paths_leaving_the_session_are_refused(app, short_clip, tmp_path):
    alice, bob = local(app), local(app)
    url = upload(alice, short_clip).json()["video"]["url"]
    upload(bob, short_clip)
    (tmp_path / "work" / "secret.txt").write_text("not for browsers")
    other = f"..%2F{alice.cookies[COOKIE]}%2F{url.removeprefix('files/')}"
    for path in (f"/files/{other}", "/files/..%2Fsecret.txt", "/files/..%2F..%2Fsecret.txt",
                 f"/files/%2F{(tmp_path / 'work' / 'secret.txt').as_posix().lstrip('/')}", "/files/source"):
        response = bob.get(path)
        assert response.status_code == 404, path
        assert b"not for browsers" not in response.content


def test_session_file_resolves_inside_its_folder(tmp_path):
    session = SessionStore(tmp_path / "sessions").create()
    (session.folder / "takes").mkdir()
    (session.folder / "takes" / "a.mid").write_bytes(b"MThd")
    (tmp_path / "outside.txt").write_text("x")
    (session.folder / "link.txt").symlink_to(tmp_path / "outside.txt")
    assert session.file("takes/a.mid") == (session.folder / "takes" / "a.mid").resolve()
    for relative in ("../../outside.txt", "link.txt", str(tmp_path / "outside.txt"), "takes", "missing.mid"):
        with pytest.raises(SessionFileError):
            session.file(relative)


def test_uploads_over_the_limit_are_refused_and_leave_nothing(tmp_path, pipeline, short_clip):
    limit = short_clip.stat().st_size - 1
    app = create_app(lambda: pipeline, tmp_path / "work", max_upload_bytes=limit)
    client = local(app)
    declared = upload(client, short_clip)
    assert declared.status_code == 413
    assert "larger than this studio accepts" in declared.json()["detail"]

    def chunks():  # no Content-Length: the limit holds while the body streams in
        data = short_clip.read_bytes()
        for start in range(0, len(data), 4096):
            yield data[start:start + 4096]

    streamed = client.put("/api/video", params={"name": "clip.mp4"}, content=chunks())
    assert streamed.status_code == 413
    assert client.get("/api/state").json()["video"] is None
    assert not [p for p in (tmp_path / "work").rglob("*") if p.is_file()]


def test_a_file_that_is_no_video_is_a_one_line_error(app, tmp_path):
    client = local(app)
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 10)
    response = upload(client, text)
    assert response.status_code == 400 and "\n" not in response.json()["detail"]
    assert client.put("/api/video", params={"name": "notes.txt"}, content=b"x").status_code == 400


def test_score_reports_progress_and_makes_a_take(app, short_clip):
    client = local(app)
    upload(client, short_clip)
    assert client.post("/api/analyze", json={}).status_code == 200
    status, _ = follow(client)
    assert status["state"] == "done", status
    analysis = client.get("/api/analysis").json()
    assert len(analysis["shots"]) == 2 and abs(analysis["cuts_s"][0] - 1.6) < 0.05
    assert all(shot["caption"] and shot["mood"] for shot in analysis["shots"])
    assert client.get(f"/files/{analysis['thumbnails']}").headers["content-type"] == "image/jpeg"

    response = client.post("/api/score", json={"options": {"seed": 7, "key": "A minor"},
                                               "shot_moods": [None, "tense, dark"]})
    assert response.status_code == 200
    assert client.post("/api/score", json={}).status_code == 409  # one job of a session at a time
    status, seen = follow(client)
    assert status["state"] == "done", status
    stages = {s["stage"] for s in seen}
    assert {"diffusion", "audio"} & stages, stages
    assert status["stages"][:2] == ["analyze", "timing"] and status["stages"][-1] == "write"
    take = client.get("/api/state").json()["takes"][0]
    assert take["seed"] == 7 and take["key"] == "A minor"
    midi = client.get(f"/files/{take['files']['midi']}", params={"download": 1})
    assert "attachment" in midi.headers["content-disposition"]
    notes = client.get(f"/api/takes/{take['number']}/notes").json()["notes"]
    assert notes and all(0 <= start < end <= take["duration_s"] + 0.01 for start, end, *_ in notes)
    manifest = client.get(f"/files/{take['files']['manifest']}").json()
    assert manifest["seed"] == 7 and abs(manifest["duration_s"] - probe_video(short_clip).duration_s) < 0.05

    response = client.post("/api/regenerate", json={"take": take["number"], "start_s": 0.5, "end_s": 2.0})
    status, _ = follow(client)
    assert status["state"] == "done", status
    again = client.get("/api/state").json()["takes"][1]
    assert again["parent"] == take["number"] and again["regenerated"] == [0.5, 2.0]
    assert client.get(f"/files/{again['files']['midi']}").content != midi.content


def test_bad_options_and_mood_counts_are_one_line_errors(app, short_clip):
    client = local(app)
    upload(client, short_clip)
    bad = client.post("/api/score", json={"options": {"key": "H major"}})
    assert bad.status_code == 400 and "unknown key" in bad.json()["detail"]
    assert client.post("/api/score", json={"options": {"tempo_range": [140, 90]}}).status_code == 400
    client.post("/api/score", json={"shot_moods": ["calm"] * 5})
    status, _ = follow(client)
    assert status["state"] == "failed" and status["error"] == "mood words for 5 shots given; the video has 2 shots"


class GatedPipeline:
    """The real pipeline, held at the first report of ``stage`` until the test releases it."""

    def __init__(self, pipeline, stage: str) -> None:
        self._pipeline, self._stage = pipeline, stage
        self.reached, self.release = threading.Event(), threading.Event()

    def __getattr__(self, name):
        return getattr(self._pipeline, name)

    def generate(self, video, options, progress, **given):
        def gated(stage: str, done: int, total: int) -> None:
            if stage == self._stage and not self.reached.is_set():
                self.reached.set()
                self.release.wait(60)
            progress(stage, done, total)

        return self._pipeline.generate(video, options, progress=gated, **given)


def test_cancel_stops_the_job_and_leaves_no_take(tmp_path, pipeline, short_clip):
    gated = GatedPipeline(pipeline, "diffusion")
    client = local(create_app(lambda: gated, tmp_path / "work"))
    upload(client, short_clip)
    client.post("/api/score", json={})
    assert gated.reached.wait(120)
    assert client.post("/api/job/cancel").status_code == 200
    gated.release.set()
    status, _ = follow(client)
    assert status["state"] == "cancelled"
    assert client.get("/api/state").json()["takes"] == []
    assert not list((tmp_path / "work").rglob("takes/*"))
    # The studio goes on: the next job runs.
    client.post("/api/analyze", json={"cuts": [1.0]})
    status, _ = follow(client)
    assert status["state"] == "done" and client.get("/api/analysis").json()["cuts_s"] == [1.0]


def test_a_cut_list_is_read_as_the_command_line_reads_it(app, short_clip, tmp_path):
    client = local(app)
    upload(client, short_clip)
    response = client.put("/api/cutlist", params={"name": "cuts.txt"}, content=b"0.8\n00:00:02:00\n")
    assert response.status_code == 200
    assert response.json()["cuts"] == pytest.approx([0.8, 2.0])
    late = client.put("/api/cutlist", params={"name": "cuts.txt"}, content=b"1.0\n9.0\n")
    assert late.status_code == 400 and "after the video's end" in late.json()["detail"]
    outside = client.post("/api/analyze", json={"cuts": [1.0, 7.5]})
    assert outside.status_code == 400 and "outside the video" in outside.json()["detail"]


def test_requests_for_other_host_names_are_refused(app):
    # A page of another site whose name resolves to 127.0.0.1 (DNS rebinding) reaches no session.
    assert TestClient(app, base_url="http://attacker.example").get("/api/state").status_code == 400
    assert local(app).get("/api/state").status_code == 200
    assert TestClient(app, base_url="http://localhost:7860").get("/").status_code == 200
