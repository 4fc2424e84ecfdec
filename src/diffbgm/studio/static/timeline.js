// The timeline: ruler, thumbnails, shots with captions and moods, cuts, transitions, curves, piano roll,
// the playhead and a selected range. It draws what it is given and reports edits through callbacks.

const LOW_PITCH = 21, HIGH_PITCH = 108;

function niceStep(seconds, pixels) {
  const steps = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300];
  return steps.find((s) => (s / seconds) * pixels >= 70) || 600;
}

function clock(t) {
  const m = Math.floor(t / 60), s = t - 60 * m;
  return m ? `${m}:${s.toFixed(0).padStart(2, "0")}` : `${s.toFixed(s % 1 ? 1 : 0)}s`;
}

export class Timeline {
  constructor(root, callbacks) {
    this.root = root;
    this.on = callbacks; // seek(t), select(range|null), selectShot(i), cutsChanged(cuts), selectCut(i|null)
    this.analysis = null; this.cuts = []; this.userCuts = false; this.moodEdits = {}; this.notes = null;
    this.selectedShot = null; this.selectedCut = null; this.selection = null; this.time = 0;
    this.thumbs = new Image();
    this.thumbs.onload = () => this.drawThumbs();
    this.el = (id) => root.querySelector(`#${id}`);
    this.bindPointer();
    new ResizeObserver(() => this.draw()).observe(this.el("lanes"));
  }

  get width() { return this.el("lanes").clientWidth; }
  get duration() { return this.analysis ? this.analysis.duration_s : 1; }
  x(t) { return (t / this.duration) * this.width; }
  t(x) { return Math.min(this.duration, Math.max(0, (x / this.width) * this.duration)); }

  setAnalysis(analysis, thumbsUrl) {
    this.analysis = analysis;
    this.cuts = analysis.cuts_s.slice();
    this.userCuts = analysis.cuts_given;
    this.selectedCut = null;
    if (thumbsUrl) this.thumbs.src = `${thumbsUrl}?v=${Date.now()}`;
    this.draw();
  }

  setNotes(notes) { this.notes = notes; this.drawRoll(); }
  setTime(t) { this.time = t; this.el("playhead").style.left = `${this.x(t)}px`; }

  setSelection(range) {
    this.selection = range;
    const box = this.el("selection");
    box.hidden = !range;
    if (range) Object.assign(box.style, { left: `${this.x(range[0])}px`, width: `${this.x(range[1]) - this.x(range[0])}px` });
  }

  canvas(id) {
    const canvas = this.el(id), ratio = window.devicePixelRatio || 1;
    canvas.width = Math.max(1, canvas.clientWidth * ratio);
    canvas.height = Math.max(1, canvas.clientHeight * ratio);
    const g = canvas.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    return [g, canvas.clientWidth, canvas.clientHeight];
  }

  draw() {
    this.drawRuler(); this.drawThumbs(); this.drawShots(); this.drawCurves(); this.drawRoll();
    this.setTime(this.time); this.setSelection(this.selection);
  }

  drawRuler() {
    const [g, w, h] = this.canvas("ruler");
    if (!this.analysis) return;
    const step = niceStep(this.duration, w);
    g.fillStyle = "#8a909c"; g.strokeStyle = "#3a404c"; g.font = "10px system-ui, sans-serif";
    for (let t = 0; t <= this.duration + 1e-6; t += step / 2) {
      const x = Math.round(this.x(t)) + 0.5, major = Math.abs(t / step - Math.round(t / step)) < 1e-6;
      g.beginPath(); g.moveTo(x, major ? h - 9 : h - 4); g.lineTo(x, h); g.stroke();
      if (major && x < w - 20) g.fillText(clock(t), x + 3, h - 9);
    }
  }

  drawThumbs() {
    const [g, w, h] = this.canvas("thumbs");
    const a = this.analysis;
    if (!a || !this.thumbs.complete || !this.thumbs.naturalWidth || !a.thumbnail_times.length) return;
    const [tw, th] = a.thumbnail_size, drawW = (tw / th) * h;
    // One thumbnail per slot of the lane, each the picture at the slot's start.
    for (let x = 0; x < w; x += drawW) {
      const t = this.t(x);
      let i = a.thumbnail_times.findIndex((s) => s > t) - 1;
      if (i < 0) i = t >= a.thumbnail_times[a.thumbnail_times.length - 1] ? a.thumbnail_times.length - 1 : 0;
      g.drawImage(this.thumbs, i * tw, 0, tw, th, x, 0, drawW, h);
    }
    g.fillStyle = "rgba(0,0,0,.35)";
    for (const cut of this.cuts) g.fillRect(this.x(cut) - 1, 0, 2, h);
  }

  drawShots() {
    const lane = this.el("shots");
    lane.replaceChildren();
    const a = this.analysis;
    if (!a) return;
    a.shots.forEach((shot, i) => {
      const box = document.createElement("div");
      box.className = `shot${i === this.selectedShot ? " selected" : ""}`;
      Object.assign(box.style, { left: `${this.x(shot.start_s) + 2}px`, width: `${Math.max(0, this.x(shot.end_s) - this.x(shot.start_s) - 4)}px` });
      const edited = this.moodEdits[i];
      const words = edited ? edited.split(/[,;]+/).map((s) => s.trim()).filter(Boolean) : shot.mood;
      box.innerHTML = `<div class="cap"></div><div class="moods"></div>`;
      box.querySelector(".cap").textContent = shot.caption;
      box.title = `${shot.start_s.toFixed(2)}–${shot.end_s.toFixed(2)} s: ${shot.caption}`;
      for (const word of words) {
        const chip = document.createElement("span");
        chip.className = `chip${edited ? " edited" : ""}`;
        chip.textContent = word;
        box.querySelector(".moods").append(chip);
      }
      box.addEventListener("click", (event) => { event.stopPropagation(); this.on.selectShot(i); });
      box.addEventListener("dblclick", (event) => {
        event.stopPropagation();
        this.addCut(this.t(event.clientX - lane.getBoundingClientRect().left));
      });
      box.addEventListener("pointerdown", (event) => event.stopPropagation());
      lane.append(box);
    });
    for (const tr of a.transitions) {
      const box = document.createElement("div");
      box.className = "transition";
      box.title = `${tr.kind.replaceAll("_", " ")} ${tr.start_s.toFixed(2)}–${tr.end_s.toFixed(2)} s`;
      Object.assign(box.style, { left: `${this.x(tr.start_s)}px`, width: `${Math.max(2, this.x(tr.end_s) - this.x(tr.start_s))}px` });
      lane.append(box);
    }
    this.cuts.forEach((cut, i) => lane.append(this.cutHandle(cut, i)));
  }

  cutHandle(cut, i) {
    const handle = document.createElement("div");
    handle.className = `cut${this.userCuts ? " user" : ""}${i === this.selectedCut ? " selected" : ""}`;
    handle.style.left = `${this.x(cut)}px`;
    handle.title = `cut at ${cut.toFixed(2)} s — drag to move, Del to delete`;
    handle.dataset.cut = String(i);
    handle.addEventListener("pointerdown", (event) => {
      event.stopPropagation();
      handle.setPointerCapture(event.pointerId);
      const left = this.el("shots").getBoundingClientRect().left;
      let moved = false;
      const move = (e) => { moved = true; handle.style.left = `${e.clientX - left}px`; };
      const up = (e) => {
        handle.removeEventListener("pointermove", move);
        handle.removeEventListener("pointerup", up);
        this.selectedCut = i;
        this.on.selectCut(i);
        if (moved) {
          const cuts = this.cuts.slice();
          cuts[i] = this.t(e.clientX - left);
          this.commitCuts(cuts);
        } else this.drawShots();
      };
      handle.addEventListener("pointermove", move);
      handle.addEventListener("pointerup", up);
    });
    return handle;
  }

  addCut(t) { this.commitCuts([...this.cuts, t]); }

  deleteSelectedCut() {
    if (this.selectedCut === null) return;
    this.commitCuts(this.cuts.filter((_, i) => i !== this.selectedCut));
  }

  commitCuts(cuts) {
    const frame = 1 / (this.analysis.fps || 25);
    const kept = cuts.filter((c) => c > frame && c < this.duration - frame).sort((p, q) => p - q);
    this.cuts = kept; this.userCuts = true; this.selectedCut = null;
    this.on.selectCut(null);
    this.drawShots(); this.drawThumbs();
    this.on.cutsChanged(kept);
  }

  drawCurves() {
    const [g, w, h] = this.canvas("curves");
    const a = this.analysis;
    if (!a) return;
    const plot = (values, colour, fill) => {
      if (!values || !values.length) return;
      const top = Math.max(...values, 1e-6);
      g.beginPath();
      values.forEach((v, i) => {
        const x = this.x(a.frame_times[i]), y = h - 3 - (v / top) * (h - 8);
        i ? g.lineTo(x, y) : g.moveTo(x, y);
      });
      g.strokeStyle = colour; g.lineWidth = 1.3; g.stroke();
      if (fill) { g.lineTo(this.x(a.frame_times.at(-1)), h); g.lineTo(this.x(a.frame_times[0]), h); g.fillStyle = fill; g.fill(); }
    };
    plot(a.curves.motion, "#58c4dc", "rgba(88,196,220,.14)");
    plot(a.curves.brightness, "#c9b458", null);
    g.fillStyle = "rgba(245,165,36,.7)";
    for (const cut of this.cuts) g.fillRect(Math.round(this.x(cut)), 0, 1, h);
  }

  drawRoll() {
    const [g, w, h] = this.canvas("roll");
    if (!this.analysis) return;
    if (!this.notes) {
      g.fillStyle = "#5d6470"; g.font = "12px system-ui, sans-serif";
      g.fillText("Score the video to see its music here", 12, h / 2 + 4);
      return;
    }
    const { notes, downbeats_s: downbeats } = this.notes;
    g.fillStyle = "rgba(255,255,255,.06)";
    for (const t of downbeats) g.fillRect(Math.round(this.x(t)), 0, 1, h);
    const pitches = notes.map((n) => n[2]);
    const low = Math.max(LOW_PITCH, Math.min(...pitches) - 2), high = Math.min(HIGH_PITCH, Math.max(...pitches) + 2);
    const row = h / Math.max(12, high - low + 1);
    for (const [start, end, pitch, velocity] of notes) {
      const light = 45 + (velocity / 127) * 30;
      g.fillStyle = `hsl(${210 - (pitch - low) * 2}, 75%, ${light}%)`;
      g.fillRect(this.x(start), h - (pitch - low + 1) * row, Math.max(1.5, this.x(end) - this.x(start) - 0.5), Math.max(1.5, row - 0.5));
    }
    if (this.regenerated) {
      g.strokeStyle = "rgba(79,156,249,.9)"; g.setLineDash([4, 3]);
      const [a, b] = this.regenerated;
      g.strokeRect(this.x(a) + 0.5, 0.5, this.x(b) - this.x(a) - 1, h - 1);
      g.setLineDash([]);
    }
  }

  // Drag on the ruler, pictures, curves or music to select a range; a click moves the playhead.
  bindPointer() {
    const lanes = this.el("lanes");
    lanes.addEventListener("pointerdown", (event) => {
      if (!this.analysis || event.button !== 0) return;
      const left = lanes.getBoundingClientRect().left, start = this.t(event.clientX - left);
      let dragged = false;
      lanes.setPointerCapture(event.pointerId);
      const move = (e) => {
        const t = this.t(e.clientX - left);
        if (Math.abs(this.x(t) - this.x(start)) > 4) dragged = true;
        if (dragged) this.setSelection([Math.min(start, t), Math.max(start, t)]);
      };
      const up = () => {
        lanes.removeEventListener("pointermove", move);
        lanes.removeEventListener("pointerup", up);
        if (dragged) this.on.select(this.selection);
        else { this.setSelection(null); this.on.select(null); this.on.seek(start); }
      };
      lanes.addEventListener("pointermove", move);
      lanes.addEventListener("pointerup", up);
    });
  }
}
