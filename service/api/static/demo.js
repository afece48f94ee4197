// The Face-LLaVA demo page: send one upload to POST /analyze and show what came back.
// Every text from the API (labels, reasoning, error messages) is inserted as text, never as HTML.
"use strict";

const TASK_TITLES = {
  expression: "Expression",
  action_units: "Action units",
  attributes: "Attributes",
  age: "Age",
  deepfake: "Deepfake",
};
const FACE_COLOURS = ["#00e676", "#ffea00", "#00b0ff", "#ff4081", "#ff9100", "#d500f9"];
const MEDIA_TIMEOUT_MS = 10000;
const VIDEO_EXTENSIONS = /\.(mp4|m4v|mov|webm|mkv|avi)$/i;

const $ = (id) => document.getElementById(id);

// The API key lives only in this input and in the request it is sent with.
let tasksTouched = false;
// {media: HTMLImageElement|HTMLVideoElement|null, url: object URL, result: the API's JSON,
//  frames: [{index, time}] the slider walks, previews: Map frame index -> Promise of a loaded <img> or null}
let shown = null;
let drawing = Promise.resolve(); // draws run one after another: a video seek must finish before the next

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function isVideo(file) {
  return file.type.startsWith("video/") || VIDEO_EXTENSIONS.test(file.name);
}

function chosenFile() {
  const files = $("file").files;
  return files && files.length ? files[0] : null;
}

function onFileChosen() {
  const file = chosenFile();
  $("file-name").textContent = file ? `Chosen: ${file.name} (${Math.round(file.size / 1024)} KiB)` : "";
  // As the API: deepfake is a default task for videos only (unless the user has picked tasks).
  if (file && !tasksTouched) {
    document.querySelector('input[name="tasks"][value="deepfake"]').checked = isVideo(file);
  }
}

function setupDropZone() {
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    if (event.dataTransfer && event.dataTransfer.files.length) {
      $("file").files = event.dataTransfer.files;
      onFileChosen();
    }
  });
}

function setBusy(busy) {
  const button = $("submit");
  button.disabled = busy;
  button.textContent = busy ? "Analysing\u2026" : "Analyse";
  $("analyze-form").setAttribute("aria-busy", String(busy));
  $("results").setAttribute("aria-busy", String(busy));
  document.body.classList.toggle("busy", busy);
}

function showError(code, message, requestId) {
  $("error-code").textContent = code;
  $("error-message").textContent = message;
  $("error-request-id").textContent = requestId || "none";
  $("error").hidden = false;
}

async function readError(response) {
  // The gateway answers every failure with {"error": {"code", "message", "request_id"}}; anything else
  // (a proxy's page, say) is reported by its HTTP status.
  try {
    const body = await response.json();
    if (body && body.error && body.error.code) return body.error;
  } catch (_) {
    // not JSON
  }
  return {
    code: `http_${response.status}`,
    message: response.statusText || "unexpected response",
    request_id: response.headers.get("X-Request-ID"),
  };
}

async function submit(event) {
  event.preventDefault();
  $("error").hidden = true;
  $("results").hidden = true;
  const file = chosenFile();
  const tasks = [...document.querySelectorAll('input[name="tasks"]:checked')].map((box) => box.value);
  if (!file) {
    showError("no_file", "choose an image or video first", null);
    $("file").focus();
    return;
  }
  if (!tasks.length) {
    showError("no_task", "choose at least one task", null);
    return;
  }
  const body = new FormData();
  body.append("file", file, file.name);
  body.append("tasks", tasks.join(","));
  body.append("landmarks", $("landmarks").value);
  // The server's JPEGs of the frames it reports faces on, for when this browser cannot play the video.
  if (isVideo(file)) body.append("frame_previews", "true");
  const headers = {};
  const key = $("api-key").value.trim();
  if (key) headers.Authorization = `Bearer ${key}`;

  setBusy(true);
  const started = performance.now();
  $("status").textContent = "Analysing\u2026 (the model answers each task for each face; this can take a while)";
  try {
    const response = await fetch("analyze", { method: "POST", body, headers });
    if (!response.ok) {
      const error = await readError(response);
      showError(error.code, error.message, error.request_id);
      $("status").textContent = `Failed (HTTP ${response.status}).`;
      return;
    }
    const result = await response.json();
    $("status").textContent = `Done in ${((performance.now() - started) / 1000).toFixed(1)} s.`;
    await showResult(file, result);
  } catch (error) {
    showError("network_error", String(error && error.message ? error.message : error), null);
    $("status").textContent = "Failed.";
  } finally {
    setBusy(false);
  }
}

function formatConfidence(value) {
  return value === null || value === undefined ? "unknown" : `${(value * 100).toFixed(1)} %`;
}

function labelsText(task, outcome) {
  if (task === "age" && outcome.value !== null && outcome.value !== undefined) return `${outcome.value} years`;
  return outcome.labels.length ? outcome.labels.join(", ") : "none";
}

function taskRow(task, outcome, video) {
  const row = document.createElement("tr");
  const title = TASK_TITLES[task] || task;
  // On a video, some tasks are answered by the video tower and others on the best frame: say which.
  row.append(element("th", video ? `${title} (${outcome.tower === "video" ? "8 frames" : "best frame"})` : title));
  const labels = element("td", labelsText(task, outcome));
  const perLabel = Object.entries(outcome.label_confidences || {});
  if (perLabel.length > 1) labels.title = perLabel.map(([l, c]) => `${l}: ${formatConfidence(c)}`).join("\n");
  row.append(labels);
  row.append(element("td", formatConfidence(outcome.confidence)));
  row.append(element("td", outcome.uncertain ? "yes" : "no", outcome.uncertain ? "uncertain" : ""));
  const reasoning = element("td", outcome.reasoning === null ? "(reasoning off)" : outcome.reasoning, "reasoning");
  row.append(reasoning);
  row.dataset.task = task;
  return row;
}

function faceSection(face, media) {
  const section = element("section", null, "face");
  section.dataset.face = String(face.index);
  const colour = FACE_COLOURS[face.index % FACE_COLOURS.length];
  const title = element("h3", `Face ${face.index + 1}`);
  const swatch = element("span", null, "swatch");
  swatch.style.backgroundColor = colour;
  title.prepend(swatch);
  section.append(title);
  const box = face.box.map((v) => Math.round(v)).join(", ");
  let details = `detector score ${face.score.toFixed(3)}, box [${box}] px`;
  if (media.type === "video") {
    details += `, track ${face.track_id}, in ${Math.round(face.presence * 100)} % of sampled frames`;
    if (face.span) details += `; the answers cover ${face.span[0].toFixed(2)}\u2013${face.span[1].toFixed(2)} s`;
    if (face.tower === "image") details += " (seen too briefly for the video tower: answered from its best frame)";
  }
  section.append(element("p", details, "hint"));
  const table = element("table");
  table.append(element("caption", `What the model says about face ${face.index + 1}`));
  const head = document.createElement("tr");
  for (const name of ["Task", "Label(s)", "Confidence", "Uncertain", "Reasoning"]) {
    const cell = element("th", name);
    cell.scope = "col";
    head.append(cell);
  }
  table.createTHead().append(head);
  const rows = table.createTBody();
  for (const [task, outcome] of Object.entries(face.tasks)) rows.append(taskRow(task, outcome, media.type === "video"));
  section.append(table);
  return section;
}

function summaryText(result) {
  const m = result.media;
  const faces = result.faces.length;
  const total = result.timings && result.timings.total !== undefined ? `${result.timings.total.toFixed(2)} s` : "?";
  return (
    `${faces} face${faces === 1 ? "" : "s"} in a ${m.width}\u00d7${m.height} ${m.format} ${m.type}. ` +
    `Model ${result.model.name}; landmarks fed to the model: ${result.landmarks_conditioned ? "yes" : "no"}; ` +
    `server time ${total}; request id ${result.request_id}.`
  );
}

function loadMedia(file, video) {
  // Resolves with a loaded <img> or <video>, or null when this browser cannot show the format (e.g. TIFF,
  // or a codec it lacks, such as an iPhone's HEVC .mov): a video is then drawn from the server's frame
  // previews, an image on grey. A video that "loads" without a picture (no decoder for its codec) counts
  // as not shown, so the fallback always triggers.
  const url = URL.createObjectURL(file);
  return new Promise((resolve) => {
    const media = document.createElement(video ? "video" : "img");
    if (video && file.type && media.canPlayType(file.type) === "") {
      URL.revokeObjectURL(url);
      resolve(null);
      return;
    }
    let settled = false;
    const done = (ok) => {
      if (settled) return;
      settled = true;
      if (!ok) URL.revokeObjectURL(url);
      resolve(ok ? { media, url } : null);
    };
    setTimeout(() => done(false), MEDIA_TIMEOUT_MS);
    if (video) {
      media.muted = true;
      media.preload = "auto";
      media.addEventListener("loadeddata", () => done(media.videoWidth > 0), { once: true });
    } else {
      media.addEventListener("load", () => done(media.naturalWidth > 0), { once: true });
    }
    media.addEventListener("error", () => done(false), { once: true });
    media.src = url;
  });
}

function seek(video, time) {
  // A video that cannot seek never says "seeked": draw whatever frame it shows after a while.
  return new Promise((resolve) => {
    video.addEventListener("seeked", () => resolve(), { once: true });
    setTimeout(resolve, MEDIA_TIMEOUT_MS);
    video.currentTime = Math.min(time, Math.max(0, video.duration - 0.001));
  });
}

function drawFace(context, face, colour, scale) {
  const [x0, y0, x1, y1] = face.box;
  context.strokeStyle = colour;
  context.fillStyle = colour;
  context.lineWidth = 2 * scale;
  context.setLineDash(face.interpolated ? [6 * scale, 4 * scale] : []);
  context.strokeRect(x0, y0, x1 - x0, y1 - y0);
  const radius = 1.6 * scale;
  for (const [x, y] of face.landmarks) {
    context.beginPath();
    context.arc(x, y, radius, 0, 2 * Math.PI);
    context.fill();
  }
}

function frameList(result) {
  // Every frame the response reports faces on, in time order: the clip's sampled frames and each face's own
  // frames (a face that comes and goes is sampled inside the span where it is present).
  const frames = new Map();
  result.media.sampled_frames.forEach((index, n) => frames.set(index, result.media.sampled_times[n]));
  for (const face of result.faces) for (const f of face.frames || []) frames.set(f.frame_index, f.time);
  return [...frames.entries()].sort((a, b) => a[0] - b[0]).map(([index, time]) => ({ index, time }));
}

function previewImage(preview) {
  // The data URL becomes a blob: URL, which the page's Content-Security-Policy allows for images.
  const bytes = Uint8Array.from(atob(preview.image.split(",")[1]), (c) => c.charCodeAt(0));
  const url = URL.createObjectURL(new Blob([bytes], { type: "image/jpeg" }));
  return new Promise((resolve) => {
    const picture = new Image();
    picture.addEventListener("load", () => resolve(picture), { once: true });
    picture.addEventListener("error", () => resolve(null), { once: true });
    picture.src = url;
  });
}

function previewFor(index) {
  if (!shown.previews.has(index)) {
    const preview = (shown.result.media.previews || []).find((p) => p.frame_index === index);
    shown.previews.set(index, preview ? previewImage(preview) : Promise.resolve(null));
  }
  return shown.previews.get(index);
}

async function drawShown() {
  // The canvas has the upload's pixel size (the API's coordinates) and CSS scales it to the page, so the
  // strokes are widened by the same factor to stay visible.
  const { media, result, frames } = shown;
  const canvas = $("canvas");
  const video = result.media.type === "video";
  const frame = video ? frames[Number($("frame").value)] : null;
  canvas.width = result.media.width;
  canvas.height = result.media.height;
  const context = canvas.getContext("2d");
  let picture = media;
  if (video && media) await seek(media, frame.time);
  else if (video) picture = await previewFor(frame.index);
  if (picture) context.drawImage(picture, 0, 0, canvas.width, canvas.height);
  else {
    context.fillStyle = "#333";
    context.fillRect(0, 0, canvas.width, canvas.height);
  }
  const scale = Math.max(1, canvas.width / Math.max(1, canvas.clientWidth));
  let filledIn = false;
  let drawn = 0;
  for (const face of result.faces) {
    const where = video ? (face.frames || []).find((f) => f.frame_index === frame.index) : face;
    if (!where) continue;
    drawFace(context, where, FACE_COLOURS[face.index % FACE_COLOURS.length], scale);
    filledIn = filledIn || Boolean(where.interpolated);
    drawn += 1;
  }
  canvas.dataset.drawn = String(drawn);
  let caption = "";
  if (!media && picture) caption = "This browser cannot play this file; the faces are drawn on the frames the server decoded. ";
  else if (!media) caption = "This browser cannot show this file's format; the faces are drawn on grey. ";
  if (video) {
    $("frame-label").textContent = `${Number($("frame").value) + 1} of ${frames.length} (frame ${frame.index}, ${frame.time.toFixed(2)} s)`;
    if (filledIn) caption += "Dashed boxes: face not detected in this frame, filled in between its detections.";
  }
  $("canvas-caption").textContent = caption;
}

async function showResult(file, result) {
  if (shown && shown.url) URL.revokeObjectURL(shown.url);
  const video = result.media.type === "video";
  const loaded = await loadMedia(file, video);
  const frames = video ? frameList(result) : [];
  shown = { media: loaded && loaded.media, url: loaded && loaded.url, result, frames, previews: new Map() };
  $("summary").textContent = summaryText(result);
  $("frame-picker").hidden = !video;
  if (video) {
    // Start on the first face's best frame.
    const first = result.faces[0];
    const best = first && first.frames ? first.frames[first.best_frame].frame_index : frames[0].index;
    $("frame").max = String(frames.length - 1);
    $("frame").value = String(Math.max(0, frames.findIndex((f) => f.index === best)));
  }
  const faces = $("faces");
  faces.replaceChildren(...result.faces.map((face) => faceSection(face, result.media)));
  $("results").hidden = false;
  await redraw();
}

function redraw() {
  drawing = drawing.then(drawShown);
  return drawing;
}

document.addEventListener("DOMContentLoaded", () => {
  $("analyze-form").addEventListener("submit", submit);
  $("file").addEventListener("change", onFileChosen);
  for (const box of document.querySelectorAll('input[name="tasks"]')) {
    box.addEventListener("change", () => {
      tasksTouched = true;
    });
  }
  $("frame").addEventListener("input", () => shown && redraw());
  setupDropZone();
});
