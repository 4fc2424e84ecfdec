// The studio page: open a video, analyse it, edit cuts and moods, score, follow the job, keep takes.
import { ApiError, followJob, get, post, upload } from "./api.js";
import { Timeline } from "./timeline.js";

const $ = (id) => document.getElementById(id);
const STAGE_NAMES = {
  "loading the model": "Load the model", analyze: "Analyse the picture", timing: "Plan the timing",
  conditions: "Conditions", diffusion: "Write the music", midi: "MIDI", audio: "Render the audio",
  write: "Write the video",
};
const SCORE_STAGES = ["loading the model", "analyze", "timing", "conditions", "diffusion", "midi", "audio", "write"];
const KEYS = ["auto", "none", ...["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
  .flatMap((tonic) => [`${tonic} major`, `${tonic} minor`])];

const state = { video: null, analysis: null, takes: [], current: null, selection: null, shot: null, busy: false };
let timeline;

function say(text, kind = "") {
  const message = $("message");
  message.textContent = text; message.className = `message ${kind}`;
}

function fail(error) {
  say(error instanceof ApiError ? error.message : String(error), "error");
}

function formatSeconds(s) { return `${s.toFixed(1)} s`; }

function showVideoMeta() {
  const v = state.video;
  $("video-meta").textContent = v
    ? `${v.name} · ${formatSeconds(v.duration_s)} · ${v.width}×${v.height} · ${+v.fps.toFixed(2)} fps`
    : "No video open — drop one here";
  $("video-meta").classList.toggle("dim", !v);
  $("drop-hint").hidden = !!v;
}

function setBusy(busy) {
  state.busy = busy;
  for (const id of ["score", "open-video", "open-cutlist", "use-example", "cut-add", "cut-reset"]) $(id).disabled = busy || (id !== "open-video" && id !== "use-example" && !state.analysis);
  $("cancel").hidden = !busy;
  updateRegenerate();
}

function updateRegenerate() {
  const ok = !state.busy && state.current !== null && state.selection;
  $("regenerate").disabled = !ok;
  $("selection-label").textContent = state.selection
    ? `Selected ${state.selection[0].toFixed(2)}–${state.selection[1].toFixed(2)} s${state.current === null ? " (score first)" : ` of take ${state.current}`}`
    : "Drag on the timeline to select a range";
}

function play(url, label) {
  const player = $("player"), at = player.currentTime || 0;
  player.src = url;
  player.addEventListener("loadedmetadata", () => { player.currentTime = Math.min(at, player.duration || 0); }, { once: true });
  $("player-label").textContent = label;
}

function showProgress(status) {
  const box = $("progress");
  box.hidden = false;
  const stages = status.kind === "analyze" ? ["loading the model", "analyze"] : SCORE_STAGES.filter((s) => status.kind !== "regenerate" || !["analyze", "timing", "conditions"].includes(s));
  const reached = stages.indexOf(status.stage);
  box.replaceChildren(...stages.filter((s) => s !== "loading the model" || status.stages.includes(s)).map((stage) => {
    const row = document.createElement("div"), index = stages.indexOf(stage);
    const finished = status.state === "done" || index < reached || (index === reached && status.total && status.done >= status.total);
    const running = !finished && index === reached && status.state === "running";
    row.className = `stage-row${finished ? " done" : running ? " running" : ""}`;
    row.dataset.stage = stage;
    const windows = stage === "diffusion" && status.stage === "diffusion" && status.total > 1 ? `window ${Math.min(status.done + 1, status.total)}/${status.total}` : "";
    row.innerHTML = `<span class="mark">${finished ? "✓" : running ? "●" : "·"}</span><span></span><span class="dim">${windows}</span>`;
    row.children[1].textContent = STAGE_NAMES[stage] || stage;
    if (running) {
      const meter = document.createElement("div");
      meter.className = "meter";
      meter.innerHTML = `<div style="width:${status.total ? (100 * status.done) / status.total : 8}%"></div>`;
      row.append(meter);
    }
    return row;
  }));
}

async function runJob(start, what) {
  setBusy(true);
  say(`${what}…`);
  $("progress").replaceChildren();
  try {
    await start();
    const status = await followJob((status) => {
      showProgress(status);
      if (status.state === "queued") say(`${what}: waiting for another job to finish…`);
      else if (status.state === "running") say(`${what}…`);
    });
    if (status.state === "failed") throw new ApiError(status.error);
    if (status.state === "cancelled") { say(`${what}: cancelled; nothing was written`); return null; }
    say(`${what}: done in ${formatSeconds(status.seconds)}`, "ok");
    return status;
  } catch (error) { fail(error); return null; } finally { setBusy(false); }
}

async function analyse(cuts = null) {
  const status = await runJob(() => post("api/analyze", { cuts }), "Analysing");
  if (!status) return;
  state.analysis = await get("api/analysis");
  timeline.moodEdits = keepMoodEdits(timeline.moodEdits, state.analysis.shots);
  timeline.setAnalysis(state.analysis, state.analysis.thumbnails && `files/${state.analysis.thumbnails}`);
  state.shotKeys = state.analysis.shots.map(shotKey);
  selectShot(null);
  setBusy(false);
}

const shotKey = (shot) => `${shot.start_s.toFixed(2)}-${shot.end_s.toFixed(2)}`;

// Mood edits stay with the shots that keep their span when the cuts change.
function keepMoodEdits(edits, shots) {
  const byKey = {};
  for (const [i, words] of Object.entries(edits)) if (state.shotKeys?.[i]) byKey[state.shotKeys[i]] = words;
  const kept = {};
  shots.forEach((shot, i) => { if (byKey[shotKey(shot)]) kept[i] = byKey[shotKey(shot)]; });
  return kept;
}

async function openVideo(promise) {
  try {
    setBusy(true);
    const session = await promise;
    state.video = session.video; state.takes = []; state.current = null; state.analysis = null;
    timeline.moodEdits = {}; timeline.setNotes(null); state.shotKeys = null;
    showVideoMeta(); renderTakes();
    play(session.video.url, "Source");
    setBusy(false);
    await analyse();
  } catch (error) { fail(error); setBusy(false); }
}

function options() {
  const value = (id) => $(id).value.trim();
  const low = value("opt-tempo-low"), high = value("opt-tempo-high");
  if (!!low !== !!high) throw new ApiError("give both tempo bounds, or neither");
  return { key: value("opt-key"), guidance: value("opt-guidance") || null, seed: value("opt-seed") || null,
           tempo_range: low ? [Number(low), Number(high)] : null };
}

async function score() {
  let request;
  try {
    const moods = state.analysis.shots.map((_, i) => timeline.moodEdits[i] || null);
    request = { options: options(), cuts: timeline.userCuts ? timeline.cuts : null,
                shot_moods: moods.some(Boolean) ? moods : null };
  } catch (error) { fail(error); return; }
  const status = await runJob(() => post("api/score", request), "Scoring");
  if (status) await refreshTakes(status.result.take);
}

async function regenerate() {
  const [start_s, end_s] = state.selection;
  const status = await runJob(() => post("api/regenerate", { take: state.current, start_s, end_s }), `Regenerating ${start_s.toFixed(1)}–${end_s.toFixed(1)} s`);
  if (status) await refreshTakes(status.result.take);
}

async function refreshTakes(show) {
  const session = await get("api/state");
  state.takes = session.takes;
  if (show !== undefined) await showTake(show);
  renderTakes();
}

async function showTake(number) {
  const take = state.takes.find((t) => t.number === number);
  state.current = number;
  play(`files/${take.files.video}`, `Take ${number}`);
  timeline.regenerated = take.regenerated;
  timeline.setNotes(await get(`api/takes/${number}/notes`));
  renderTakes(); updateRegenerate();
}

function renderTakes() {
  const list = $("takes");
  if (!state.takes.length) { list.innerHTML = `<li class="dim empty">No takes yet</li>`; return; }
  list.replaceChildren(...state.takes.slice().reverse().map((take) => {
    const item = document.createElement("li");
    item.className = `take${take.number === state.current ? " current" : ""}`;
    item.dataset.take = take.number;
    const origin = take.parent ? `from take ${take.parent}, ${take.regenerated.map((t) => t.toFixed(1)).join("–")} s new` : "";
    const facts = [`seed ${take.seed}`, take.key, `${Math.round(take.tempo_bpm)} BPM`,
      take.cuts_on_downbeats != null ? `${Math.round(100 * take.cuts_on_downbeats)} % cuts on downbeats` : null,
      `guidance ${take.guidance}`].filter(Boolean).join(" · ");
    item.innerHTML = `<div class="head"><span>Take ${take.number}</span><span class="dim"></span></div><div class="facts"></div><div class="downloads"></div>`;
    item.querySelector(".head .dim").textContent = origin;
    item.querySelector(".facts").textContent = facts;
    for (const [kind, label] of [["video", "MP4"], ["midi", "MIDI"], ["wav", "WAV"], ["manifest", "Manifest"]]) {
      const link = document.createElement("a");
      link.href = `files/${take.files[kind]}?download=1`; link.textContent = label; link.dataset.kind = kind;
      link.setAttribute("download", ""); link.addEventListener("click", (event) => event.stopPropagation());
      item.querySelector(".downloads").append(link);
    }
    item.addEventListener("click", () => showTake(take.number).catch(fail));
    return item;
  }));
}

function selectShot(index) {
  state.shot = index;
  timeline.selectedShot = index;
  timeline.drawShots();
  $("shot-panel").hidden = index === null;
  if (index === null) return;
  const shot = state.analysis.shots[index];
  $("shot-title").textContent = `${index + 1} · ${shot.start_s.toFixed(2)}–${shot.end_s.toFixed(2)} s`;
  $("shot-caption").textContent = shot.caption;
  $("shot-mood").value = timeline.moodEdits[index] || shot.mood.join(", ");
}

function setShotMood(words) {
  if (state.shot === null) return;
  if (words) timeline.moodEdits[state.shot] = words; else delete timeline.moodEdits[state.shot];
  selectShot(state.shot);
}

function bind() {
  timeline = new Timeline(document.querySelector(".timeline-panel"), {
    seek: (t) => { $("player").currentTime = t; timeline.setTime(t); },
    select: (range) => { state.selection = range; updateRegenerate(); },
    selectShot,
    selectCut: (i) => { $("cut-delete").disabled = i === null || state.busy; },
    cutsChanged: (cuts) => analyse(cuts),
  });
  $("player").addEventListener("timeupdate", () => timeline.setTime($("player").currentTime));
  $("open-video").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (file) openVideo(upload("api/video", file, (f) => say(`Uploading ${file.name}: ${Math.round(100 * f)} %`)));
    event.target.value = "";
  });
  $("use-example").addEventListener("click", () => openVideo(post("api/example")));
  $("open-cutlist").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    if (!file) return;
    try { await analyse((await upload("api/cutlist", file)).cuts); } catch (error) { fail(error); }
  });
  $("score").addEventListener("click", score);
  $("cancel").addEventListener("click", () => post("api/job/cancel").catch(fail));
  $("regenerate").addEventListener("click", regenerate);
  $("cut-add").addEventListener("click", () => timeline.addCut($("player").currentTime));
  $("cut-delete").addEventListener("click", () => timeline.deleteSelectedCut());
  $("cut-reset").addEventListener("click", () => analyse(null));
  $("shot-mood-apply").addEventListener("click", () => setShotMood($("shot-mood").value.trim()));
  $("shot-mood").addEventListener("keydown", (event) => event.key === "Enter" && setShotMood($("shot-mood").value.trim()));
  $("shot-mood-reset").addEventListener("click", () => setShotMood(""));
  document.addEventListener("keydown", (event) => {
    if ((event.key === "Delete" || event.key === "Backspace") && event.target === document.body) timeline.deleteSelectedCut();
  });
  for (const type of ["dragenter", "dragover"]) document.addEventListener(type, (event) => { event.preventDefault(); document.body.classList.add("dragging"); });
  document.addEventListener("dragleave", (event) => { if (!event.relatedTarget) document.body.classList.remove("dragging"); });
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    document.body.classList.remove("dragging");
    const file = event.dataTransfer.files[0];
    if (file && !state.busy) openVideo(upload("api/video", file, (f) => say(`Uploading ${file.name}: ${Math.round(100 * f)} %`)));
  });
}

async function start() {
  bind();
  $("opt-key").replaceChildren(...KEYS.map((key) => new Option(key, key)));
  const session = await get("api/state");
  $("use-example").hidden = !session.example;
  $("opt-guidance").value = session.defaults.guidance;
  state.video = session.video; state.takes = session.takes;
  showVideoMeta(); renderTakes(); setBusy(false);
  if (session.video) {
    play(session.video.url, "Source");
    if (session.analysis) {
      state.analysis = await get("api/analysis");
      timeline.setAnalysis(state.analysis, state.analysis.thumbnails && `files/${state.analysis.thumbnails}`);
      setBusy(false);
    }
    if (state.takes.length) await showTake(state.takes.at(-1).number);
    // A job still running when the page was reloaded: follow it to its end.
    if (session.job && ["queued", "running"].includes(session.job.state)) {
      const what = { analyze: "Analysing", score: "Scoring", regenerate: "Regenerating" }[session.job.kind];
      runJob(async () => {}, what).then(async (status) => {
        if (!status) return;
        if (session.job.kind === "analyze") {
          state.analysis = await get("api/analysis");
          timeline.setAnalysis(state.analysis, state.analysis.thumbnails && `files/${state.analysis.thumbnails}`);
          setBusy(false);
        } else await refreshTakes(status.result.take);
      });
    }
  }
  document.body.dataset.ready = "1";
}

start().catch(fail);
