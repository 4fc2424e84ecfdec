"""End-to-end tests of the scoring pipeline with a tiny random model on a short synthetic video."""

from __future__ import annotations

import itertools
import json
import shutil

import av
import numpy as np
import pretty_midi
import pytest
import torch
from scoring_helpers import FPS, SIZE, one_second_video, three_shot_video, tiny_checkpoint, two_shot_video
from video.synth import hue_colour, solid, write_video

from diffbgm.conditions.from_video import DEFAULT_OVERLAP_BEATS
from diffbgm.music.planner import plan_timing
from diffbgm.music.timing import TimingConfig
from diffbgm.music.grid import STEPS_PER_BAR, STEPS_PER_BEAT, WINDOW_BEATS
from diffbgm.music.key import Key
from diffbgm.music.notes import Note
from diffbgm.music.pianoroll import PianoRoll
from diffbgm.pipeline import (
    DEFAULT_WEIGHTS,
    GenerationError,
    GenerationOptions,
    ScoringPipeline,
    check_outputs,
    key_of_roll,
    shape_ending,
    side_paths,
    window_seed,
)

OPTIONS = GenerationOptions(steps=2, seed=3)


def run(pipeline, video, output, options=OPTIONS):
    """Generate and save, as the command line does."""
    result = pipeline.generate(video, options)
    result.save(output)
    return result


def regenerate(pipeline, video, output, start_s, end_s, overrides=None):
    """Regenerate a range of the result at ``output`` and save it there."""
    result = pipeline.regenerate(video, output, start_s, end_s, overrides)
    result.save(output)
    return result
MANIFEST_KEYS = {"duration_s", "tempo_bpm", "downbeats_s", "beats_s", "cuts_s", "seed", "model_sha256", "options",
                 "cut_alignment", "cut_error_steps", "bar_bpm", "n_bars", "ending"}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("generate")


@pytest.fixture(scope="module")
def pipeline(workdir):
    return ScoringPipeline.from_checkpoint(tiny_checkpoint(workdir / "tiny.safetensors"))


@pytest.fixture(scope="module")
def video(workdir):
    return three_shot_video(workdir / "three_shots.mp4")


@pytest.fixture(scope="module")
def result(pipeline, video, workdir):
    (workdir / "first").mkdir()
    return run(pipeline, video, workdir / "first" / "scored.mp4", OPTIONS)


def _stream_seconds(stream) -> float:
    return float(stream.duration * stream.time_base)


def test_outputs_play_and_last_as_long_as_the_video(result, video):
    paths = result.files
    assert all(path.is_file() for path in paths.values())
    with av.open(str(video)) as source:
        video_s = _stream_seconds(source.streams.video[0])
    with av.open(str(paths["video"])) as scored:
        assert len(scored.streams.video) == 1 and len(scored.streams.audio) == 1
        audio = scored.streams.audio[0]
        samples = sum(frame.samples for frame in scored.decode(audio))
    assert abs(samples / audio.rate - video_s) <= 1.0 / FPS + 1024 / audio.rate
    import wave

    with wave.open(str(paths["wav"])) as wav:
        assert abs(wav.getnframes() / wav.getframerate() - result.plan.duration_s) <= 1.0 / FPS
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Nothing else (no staging folders or temp files) is left beside the outputs.
    assert sorted(p.name for p in paths["video"].parent.iterdir()) == sorted(p.name for p in paths.values())


def test_midi_has_the_solved_tempo_changes_and_ends_with_the_video(result):
    plan = result.plan
    pm = pretty_midi.PrettyMIDI(str(result.files["mid"]))
    times, tempi = pm.get_tempo_changes()
    runs = [plan.bar_bpm[0]] + [b for a, b in zip(plan.bar_bpm, plan.bar_bpm[1:]) if abs(a - b) > 1e-6]
    np.testing.assert_allclose(tempi, runs, rtol=1e-4)
    np.testing.assert_allclose(pm.get_downbeats()[: plan.n_bars], plan.downbeats_s[:-1], atol=2e-3)
    notes = [n for inst in pm.instruments for n in inst.notes]
    assert notes and max(n.end for n in notes) <= plan.duration_s + 1e-3


def test_manifest_is_complete_and_cuts_fall_on_downbeats(result, pipeline):
    manifest = json.loads(result.files["json"].read_text())
    assert MANIFEST_KEYS <= set(manifest)
    assert manifest["seed"] == OPTIONS.seed and manifest["options"] == OPTIONS.to_dict()
    assert manifest["model_sha256"] == pipeline.model_sha256 and len(manifest["model_sha256"]) == 64
    assert manifest["duration_s"] == pytest.approx(6.5, abs=1.0 / FPS)
    np.testing.assert_allclose(manifest["cuts_s"], [2.0, 4.0], atol=1.5 / FPS)
    assert manifest["cut_alignment"]["aligned_fraction"] >= 0.8
    assert manifest["music_end_s"] >= manifest["duration_s"] - 1e-9 and manifest["music_end_s"] == manifest["downbeats_s"][-1]


def test_same_seed_gives_identical_midi_and_another_seed_differs(pipeline, video, result, workdir):
    again = run(pipeline, video, workdir / "again.mp4", OPTIONS)
    assert again.files["mid"].read_bytes() == result.files["mid"].read_bytes()
    other = run(pipeline, video, workdir / "other.mp4", GenerationOptions(steps=2, seed=4))
    assert other.files["mid"].read_bytes() != result.files["mid"].read_bytes()


def test_regenerate_changes_only_the_range(pipeline, video, result, workdir):
    folder = workdir / "regen"
    folder.mkdir()
    for path in result.files.values():
        shutil.copy(path, folder / path.name)
    target = folder / result.files["video"].name
    before = np.load(side_paths(target)["npz"])["roll"]
    start_s, end_s = 2.1, 3.9  # widened to whole beats: 2.0 .. 4.0 s
    redone = regenerate(pipeline, video, target, start_s, end_s)
    after = np.load(side_paths(target)["npz"])["roll"]
    tempo = result.plan.tempo_map
    first = int(np.floor(tempo.beat_of_time(start_s))) * STEPS_PER_BEAT
    last = int(np.ceil(tempo.beat_of_time(end_s))) * STEPS_PER_BEAT
    np.testing.assert_array_equal(after[:, :first], before[:, :first])
    np.testing.assert_array_equal(after[:, last:], before[:, last:])
    assert not np.array_equal(after[:, first:last], before[:, first:last])
    manifest = json.loads(side_paths(target)["json"].read_text())
    assert manifest["revision"] == 1 and manifest["regenerated"] == [pytest.approx([2.0, 4.0], abs=1e-6)]
    # The MIDI notes that end before the range are the same notes.
    def early(path):
        notes = pretty_midi.PrettyMIDI(str(path)).instruments[0].notes
        return [(n.pitch, round(n.start, 4), round(n.end, 4), n.velocity) for n in notes if n.end <= 2.0 - 1e-3]

    assert early(redone.files["mid"]) == early(result.files["mid"]) != []


@pytest.mark.parametrize("failing_writer", ["render_picture", "mux_audio"])
def test_a_failure_leaves_no_output(pipeline, video, workdir, monkeypatch, failing_writer):
    # The muxing runs on a thread beside the other writes: a failure on either side leaves nothing.
    import diffbgm.pipeline.outputs as module

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(module, failing_writer, broken)
    folder = workdir / f"failing-{failing_writer}"
    folder.mkdir()
    with pytest.raises(OSError, match="disk full"):
        run(pipeline, video, folder / "out.mp4", OPTIONS)
    assert list(folder.iterdir()) == []


def test_bad_requests_fail_with_one_line(pipeline, workdir):
    short = one_second_video(workdir / "short.mp4", seconds=0.75)
    with pytest.raises(GenerationError, match="use a longer clip"):
        run(pipeline, short, workdir / "short_out.mp4", OPTIONS)
    with pytest.raises(GenerationError, match="does not exist"):
        check_outputs(workdir / "missing" / "out.mp4", short)
    with pytest.raises(GenerationError, match="must be a video file"):
        check_outputs(workdir / "out.wav", short)
    with pytest.raises(GenerationError, match="unknown sampler"):
        run(pipeline, short, workdir / "x.mp4", GenerationOptions(sampler="euler"))
    with pytest.raises(GenerationError, match="no earlier result"):
        regenerate(pipeline, short, workdir / "never.mp4", 0.0, 1.0)
    assert not (workdir / "short_out.mp4").exists() and not (workdir / "short_out.json").exists()


def test_missing_model_messages(tmp_path):
    with pytest.raises(GenerationError, match="model not found"):
        ScoringPipeline.from_checkpoint(tmp_path / "none.safetensors")
    if not DEFAULT_WEIGHTS.is_file():
        with pytest.raises(GenerationError, match="^no default model shipped; pass --model$"):
            ScoringPipeline.from_checkpoint(None)


def test_window_seeds_are_fixed_and_distinct():
    assert window_seed(0, 1) == window_seed(0, 1)
    assert len({window_seed(s, w, r) for s in range(3) for w in range(3) for r in range(2)}) == 18
    # A further draw of a window has its own seed; the first draw keeps the seed it always had.
    assert window_seed(0, 1, 0, draw=0) == window_seed(0, 1) != window_seed(0, 1, 0, draw=1)


def test_an_opening_with_a_bar_of_rests_is_drawn_again(pipeline, video, monkeypatch):
    import diffbgm.pipeline.windows as module

    real = module.sample
    draws = []

    def counted(*args, silence_first: bool, **kwargs):
        probabilities = real(*args, **kwargs)
        draws.append(1)
        if silence_first and len(draws) == 1:  # the first draw of the first window opens with 2 bars of rests
            probabilities = probabilities.clone()
            probabilities[:, :, : 2 * STEPS_PER_BAR] = 0.0
        return probabilities

    monkeypatch.setattr(module, "sample", lambda *a, **k: counted(*a, silence_first=False, **k))
    pipeline.generate(video, OPTIONS)
    plain_draws, draws[:] = len(draws), []
    monkeypatch.setattr(module, "sample", lambda *a, **k: counted(*a, silence_first=True, **k))
    redrawn = pipeline.generate(video, OPTIONS)
    assert len(draws) == plain_draws + 1
    heard = redrawn.plan.start_beat * STEPS_PER_BEAT
    first = int(np.flatnonzero(redrawn.score.roll[0, heard:].any(axis=1))[0])
    assert first <= module.LATE_OPENING_STEPS


def test_key_estimate_and_ending_on_a_hand_made_piece():
    # An A-minor arpeggio every beat over 4 bars at 120 BPM, the video ending 0.3 s before the last bar line.
    plan = plan_timing(7.7, [], TimingConfig(bpm=120.0))
    pitches = [57, 60, 64, 69, 72, 64, 60, 57]
    notes = [Note(pitches[b % 8], b * STEPS_PER_BEAT, 8) for b in range(plan.n_beats)]
    roll = PianoRoll.from_notes(notes, n_steps=plan.n_beats * STEPS_PER_BEAT)
    assert key_of_roll(roll) == Key(9, "minor")
    shaped, info = shape_ending(roll, plan, fade_bars=2, cadence=True)
    assert info["key_tonic"] == 9 and info["key_mode"] == "minor" and info["cadence"]
    end_step = info["end_step"]
    assert end_step == int(np.floor(plan.tempo_map.beat_of_time(7.7) * STEPS_PER_BEAT))
    out = shaped.to_notes()
    assert max(n.end for n in out) <= end_step
    last_bar = (plan.n_bars - 1) * STEPS_PER_BAR
    chord = sorted(n.pitch % 12 for n in out if n.start == last_bar)
    assert set(chord) == {9, 0, 4} and all(n.start <= last_bar for n in out)
    velocities = [n.velocity for n in sorted(out, key=lambda n: n.start) if n.start < last_bar]
    assert velocities[0] > velocities[-1] and velocities == sorted(velocities, reverse=True)


def test_key_option_keeps_every_note_in_the_scale(pipeline, video, result, workdir):
    scale = Key.parse("Eb major").scale

    def pitch_classes(path):
        return {n.pitch % 12 for n in pretty_midi.PrettyMIDI(str(path)).instruments[0].notes}

    assert pitch_classes(result.files["mid"]) - scale  # left to choose (one window), this model leaves the scale
    keyed = run(pipeline, video, workdir / "keyed.mp4", GenerationOptions(steps=2, seed=3, key="Eb major"))
    assert pitch_classes(keyed.files["mid"]) and pitch_classes(keyed.files["mid"]) <= scale
    manifest = json.loads(keyed.files["json"].read_text())
    assert manifest["options"]["key"] == "Eb major"
    assert (manifest["ending"]["key_tonic"], manifest["ending"]["key_mode"]) == (3, "major")
    with pytest.raises(GenerationError, match="unknown key 'H major'"):
        run(pipeline, video, workdir / "badkey.mp4", GenerationOptions(key="H major"))
    assert not (workdir / "badkey.json").exists()


def test_a_model_that_reads_the_key_is_told_it_and_strict_key_holds_the_scale(video, workdir, monkeypatch):
    import diffbgm.pipeline.windows

    from diffbgm.conditions import scale_vector

    keyed_model = ScoringPipeline.from_checkpoint(tiny_checkpoint(workdir / "keyed.safetensors", scale_input=True))
    key = Key.parse("Eb major")
    calls = []
    sample = diffbgm.pipeline.windows.sample

    def recording(model, conditions, **kwargs):
        calls.append((conditions.scale, kwargs["known_mask"]))
        return sample(model, conditions, **kwargs)

    monkeypatch.setattr(diffbgm.pipeline.windows, "sample", recording)

    def pitch_classes(result):
        return {n.pitch % 12 for n in pretty_midi.PrettyMIDI(str(result.files["mid"])).instruments[0].notes}

    (workdir / "keyed").mkdir()
    free = run(keyed_model, video, workdir / "keyed" / "free.mp4", GenerationOptions(steps=2, seed=3, key="none"))
    assert all(scale is None for scale, _ in calls)
    calls.clear()
    told = run(keyed_model, video, workdir / "keyed" / "told.mp4", GenerationOptions(steps=2, seed=3, key="Eb major"))
    # The key goes in as a condition, and no pitch is held silent: the model decides how far to keep to it.
    assert all(torch.equal(scale[0], torch.from_numpy(scale_vector(key.pitch_mask()))) for scale, _ in calls)
    assert calls and all(torch.equal(mask.amax(-1), mask.amin(-1)) for _, mask in calls)  # same for every pitch
    assert free.files["mid"].read_bytes() != told.files["mid"].read_bytes()
    strict = run(keyed_model, video, workdir / "keyed" / "strict.mp4",
                         GenerationOptions(steps=2, seed=3, key="Eb major", strict_key=True))
    assert pitch_classes(free) - key.scale and pitch_classes(strict) and pitch_classes(strict) <= key.scale
    assert json.loads(strict.files["json"].read_text())["options"]["strict_key"] is True


def test_regenerating_keeps_the_earlier_pieces_key(video, workdir):
    """The kept music of a piece can read in another key (its relative, or a neighbour) than the one the
    piece was written in: regenerating keeps the earlier result's key, not an estimate of what is left."""
    from diffbgm.pipeline.windows import key_of_known_music

    keyed = ScoringPipeline.from_checkpoint(tiny_checkpoint(workdir / "kept_key.safetensors", scale_input=True))
    (workdir / "kept_key").mkdir()
    target = workdir / "kept_key" / "auto.mp4"
    run(keyed, video, target, GenerationOptions(steps=2, seed=5))
    manifest_path = target.with_suffix(".json")
    manifest = json.loads(manifest_path.read_text())
    with np.load(target.with_suffix(".npz")) as stored:
        roll = stored["roll"].astype(bool)
    plan_beats = np.asarray(manifest["beats_s"])
    free = np.zeros(roll.shape[1], dtype=bool)
    free[int(np.searchsorted(plan_beats, 1.0 - 1e-6)) * STEPS_PER_BEAT:
         int(np.searchsorted(plan_beats, 3.0 - 1e-6)) * STEPS_PER_BEAT] = True
    estimate = key_of_known_music(roll, free)
    # The earlier piece's key, a tritone away from what the kept notes suggest.
    written = Key((estimate.tonic + 6) % 12, estimate.mode)
    manifest["ending"].update(key_tonic=written.tonic, key_mode=written.mode)
    manifest_path.write_text(json.dumps(manifest))
    redone = regenerate(keyed, video, target, 1.0, 3.0)
    ending = json.loads(redone.files["json"].read_text())["ending"]
    assert Key(ending["key_tonic"], ending["key_mode"]) == written


@pytest.fixture(scope="module")
def grooved(workdir):
    """A random model that reads a groove, and a 20-s video."""
    model = ScoringPipeline.from_checkpoint(tiny_checkpoint(workdir / "grooved.safetensors", groove_input=True))
    return model, two_shot_video(workdir / "twenty_seconds_groove.mp4")


@pytest.fixture
def grooves(monkeypatch):
    """The groove of every window sampled while the test runs."""
    import diffbgm.pipeline.windows

    given = []
    sample = diffbgm.pipeline.windows.sample

    def recording(model, conditions, **kwargs):
        given.append(conditions.groove)
        return sample(model, conditions, **kwargs)

    monkeypatch.setattr(diffbgm.pipeline.windows, "sample", recording)
    return given


def test_a_model_that_reads_a_groove_gets_the_groove_of_the_music_before_each_window(grooved, grooves, workdir):
    from diffbgm.conditions import groove_vector

    grooved, video = grooved
    (workdir / "grooved").mkdir()
    options = GenerationOptions(steps=2, seed=3, bpm=120.0)  # 40 beats: two windows
    auto = run(grooved, video, workdir / "grooved" / "auto.mp4", options)
    assert len(grooves) == 2 and grooves[0] is None  # the first window chooses its own figure
    with np.load(auto.files["npz"]) as stored:
        first_window = stored["roll"][:, : WINDOW_BEATS * STEPS_PER_BEAT].astype(bool)
    # The second is given the groove of the eight bars written before it (its overlap included).
    assert torch.equal(grooves[1][0], torch.from_numpy(groove_vector(first_window))) and grooves[1].any()
    assert json.loads(auto.files["json"].read_text())["options"]["groove"] == "auto"
    grooves.clear()
    alone = run(grooved, video, workdir / "grooved" / "none.mp4", GenerationOptions(steps=2, seed=3, bpm=120.0,
                                                                               groove="none"))
    assert grooves == [None, None]
    assert alone.files["mid"].read_bytes() != auto.files["mid"].read_bytes()
    # Regenerating a range is given the groove of the music it keeps.
    grooves.clear()
    regenerate(grooved, video, workdir / "grooved" / "auto.mp4", 1.0, 3.0)
    assert len(grooves) == 1 and grooves[0] is not None and grooves[0].any()


def test_a_groove_from_a_midi_file_goes_to_every_window_and_a_bad_one_is_refused(grooved, grooves, workdir):
    grooved, video = grooved
    reference = pretty_midi.PrettyMIDI(initial_tempo=100.0)
    piano = pretty_midi.Instrument(0)
    sixteenth = 60.0 / 100.0 / 4
    for bar in range(4):  # a tresillo: sixteenths 0, 3, 6 and the backbeat 12 (bar 3 without 12)
        for step in (0, 3, 6, 12) if bar < 3 else (0, 3, 6):
            start = (bar * 16 + step) * sixteenth
            piano.notes.append(pretty_midi.Note(90, 48 + step, start, start + sixteenth))
    reference.instruments.append(piano)
    path = workdir / "tresillo.mid"
    reference.write(str(path))
    expected = -torch.ones(16)
    expected[[0, 3, 6]] = 1.0
    expected[12] = 0.5  # three bars of four
    result = run(grooved, video, workdir / "tresillo.mp4", GenerationOptions(steps=2, seed=3, bpm=120.0, groove=str(path)))
    assert len(grooves) == 2 and all(torch.equal(groove[0], expected) for groove in grooves)
    assert json.loads(result.files["json"].read_text())["options"]["groove"] == str(path)
    for bad, message in (("swing", "--groove is auto, none or a MIDI file; not found: swing"),
                         (str(video), "not a readable MIDI file")):
        with pytest.raises(GenerationError, match=message):
            run(grooved, video, workdir / "badgroove.mp4", GenerationOptions(steps=2, groove=bad))
    assert not list(workdir.glob("badgroove.*"))


def test_groove_guidance_reaches_the_sampler_the_manifest_and_a_regenerate(grooved, workdir, monkeypatch):
    import diffbgm.pipeline.windows

    grooved, video = grooved
    strengths = []
    sample = diffbgm.pipeline.windows.sample

    def recording(model, conditions, **kwargs):
        strengths.append(kwargs["groove_guidance"])
        return sample(model, conditions, **kwargs)

    monkeypatch.setattr(diffbgm.pipeline.windows, "sample", recording)
    (workdir / "guided").mkdir()
    plain = run(grooved, video, workdir / "guided" / "plain.mp4", GenerationOptions(steps=2, seed=3, bpm=120.0,
                                                                                groove_guidance=0.0))
    firm = run(grooved, video, workdir / "guided" / "firm.mp4", GenerationOptions(steps=2, seed=3, bpm=120.0,
                                                                              groove_guidance=4.0))
    assert strengths == [0.0, 0.0, 4.0, 4.0]
    assert json.loads(firm.files["json"].read_text())["options"]["groove_guidance"] == 4.0
    # The first window has no groove to follow, so only the second one changes.
    assert firm.files["mid"].read_bytes() != plain.files["mid"].read_bytes()
    with np.load(plain.files["npz"]) as a, np.load(firm.files["npz"]) as b:
        first = slice(0, (WINDOW_BEATS - DEFAULT_OVERLAP_BEATS) * STEPS_PER_BEAT)
        assert np.array_equal(a["roll"][:, first], b["roll"][:, first])
    strengths.clear()
    regenerate(grooved, video, workdir / "guided" / "firm.mp4", 1.0, 3.0)
    regenerate(grooved, video, workdir / "guided" / "firm.mp4", 1.0, 3.0, overrides={"groove_guidance": 1.0})
    assert strengths == [4.0, 1.0]
    # A manifest from before groove guidance was sampled without it.
    options = GenerationOptions(groove_guidance=4.0).to_dict()
    del options["groove_guidance"]
    assert GenerationOptions.from_dict(options).groove_guidance == 0.0


def test_auto_key_holds_later_windows_to_the_first_windows_key(pipeline, workdir):
    video = two_shot_video(workdir / "twenty_seconds.mp4")
    free = run(pipeline, video, workdir / "free.mp4", GenerationOptions(steps=2, seed=3, bpm=120.0, key="None"))
    auto = run(pipeline, video, workdir / "auto.mp4", GenerationOptions(steps=2, seed=3, bpm=120.0))  # the default
    manifest = json.loads(auto.files["json"].read_text())
    assert manifest["options"]["key"] == "auto" and GenerationOptions(key="Auto").follows_first_key()
    key = Key(manifest["ending"]["key_tonic"], manifest["ending"]["key_mode"])
    second_window = manifest["beats_s"][WINDOW_BEATS] - 1e-6  # 40 beats at 120 BPM: two windows

    def notes(result, late):
        midi = pretty_midi.PrettyMIDI(str(result.files["mid"])).instruments[0].notes
        return sorted((round(n.start, 4), n.pitch) for n in midi if (n.start >= second_window) == late)

    # The first window is the model's free choice, note for note; the key is estimated from it.
    assert notes(auto, late=False) == notes(free, late=False)
    with np.load(auto.files["npz"]) as stored:
        first = stored["roll"][:, : WINDOW_BEATS * STEPS_PER_BEAT].astype(bool)
    assert key_of_roll(PianoRoll(first[0], first[1])) == key
    # Every later note keeps to that key; left alone, this random model leaves it.
    assert notes(auto, late=True) and {p % 12 for _, p in notes(auto, late=True)} <= key.scale
    assert {p % 12 for _, p in notes(free, late=True)} - key.scale
    # Regenerating takes the key of the music it keeps, and holds the new notes to it.
    redone = regenerate(pipeline, video, workdir / "auto.mp4", 1.0, 3.0)
    ending = json.loads(redone.files["json"].read_text())["ending"]
    kept_key = Key(ending["key_tonic"], ending["key_mode"])
    midi = pretty_midi.PrettyMIDI(str(redone.files["mid"])).instruments[0].notes
    assert {n.pitch % 12 for n in midi if 1.0 <= n.start < 3.0} <= kept_key.scale


def test_a_pickup_is_written_after_known_silence_and_its_bar_lines_reach_the_midi(pipeline, workdir):
    # Cuts at 1.0 s and 3.0 s: the plan starts with a pickup, the first bar line lying before the video.
    frames = itertools.chain(solid(hue_colour(0), 24, SIZE), solid(hue_colour(120), 48, SIZE),
                             solid(hue_colour(240), 72, SIZE))
    video = write_video(workdir / "early_cut.mp4", frames, fps=FPS)
    (workdir / "early").mkdir()
    result = run(pipeline, video, workdir / "early" / "scored.mp4")
    plan = result.plan
    assert plan.start_beat > 0 and plan.aligned_fraction == 1.0
    # The beats before 0 s were known silence: the model wrote no note there.
    assert not result.score.roll[:, :plan.start_beat * STEPS_PER_BEAT].any()
    midi = pretty_midi.PrettyMIDI(str(workdir / "early" / "scored.mid"))
    assert [s.numerator for s in midi.time_signature_changes][:2] == [plan.bar_beats[0] - plan.start_beat, 4]
    np.testing.assert_allclose(midi.get_downbeats()[1:4], plan.heard_downbeats_s[:3], atol=2e-3)
    manifest = json.loads((workdir / "early" / "scored.json").read_text())
    assert manifest["bar_beats"] == plan.bar_beats.tolist() and manifest["downbeats_s"][0] < 0.0
