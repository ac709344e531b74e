// The page of `crossmodal serve`: upload a condition file, poll its job, show what it made.
// Files are shown by media type: image/* as images, audio/* the browser can play as players,
// every file as a download link. Nothing is loaded from anywhere but this server.
"use strict";

const POLL_MS = 300;  // time between two status requests of a running job, in milliseconds
const $ = (id) => document.getElementById(id);
let uploadLimit = Infinity;  // bytes, from /info

function say(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

function chosenFile() {
  return $("file").files.length ? $("file").files[0] : null;
}

function showChosen() {
  const file = chosenFile();
  $("chosen").textContent = file ? `${file.name} (${(file.size / 1024).toFixed(0)} KiB)`
                                 : "Choose a condition file, or drop it on this page";
}

async function loadInfo() {
  const info = await (await fetch("/info")).json();
  $("recipe").textContent = info.recipe;
  $("model").textContent = `${info.source}` + (info.renderer ? ` · audio: ${info.renderer}` : "");
  $("samples").max = info.max_samples;
  uploadLimit = info.upload_limit_bytes;
}

function stemOf(name) {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(0, dot) : name;
}

function element(tag, properties = {}) {
  return Object.assign(document.createElement(tag), properties);
}

function showResults(job) {
  $("results").hidden = false;
  $("condition").hidden = !job.preview;
  if (job.preview) $("preview").src = job.preview.url;
  const groups = new Map();  // stem -> files of one sample (NAME-0.png, NAME-0.wav...)
  for (const file of job.files) {
    const stem = stemOf(file.name);
    if (!groups.has(stem)) groups.set(stem, []);
    groups.get(stem).push(file);
  }
  const out = $("samples-out");
  out.replaceChildren();
  const player = document.createElement("audio");
  for (const [stem, files] of groups) {
    const card = element("article", {className: "sample"});
    card.append(element("h2", {textContent: stem}));
    const links = element("ul");
    for (const file of files) {
      if (file.type.startsWith("image/")) {
        card.append(element("img", {src: file.url, alt: file.name, title: file.name}));
      } else if (file.type.startsWith("audio/") && player.canPlayType(file.type)) {
        const audio = element("audio", {controls: true, preload: "auto", title: file.name});
        audio.append(element("source", {src: file.url, type: file.type}));
        card.append(audio);
      }
      const item = element("li");
      item.append(element("a", {href: file.url, download: file.name, textContent: `Download ${file.name}`}));
      links.append(item);
    }
    card.append(links);
    out.append(card);
  }
}

async function follow(id) {
  for (;;) {
    const response = await fetch(`/jobs/${id}`);
    const job = await response.json();
    if (!response.ok) throw new Error(job.error);
    if (job.state === "queued") {
      say(`Queued: ${job.ahead} request(s) before yours (${job.seconds.toFixed(0)} s)`);
    } else if (job.state === "generating") {
      say(`Generating… ${job.seconds.toFixed(1)} s`);
    } else if (job.state === "error") {
      say(job.error, true);
      return;
    } else {
      say(`Done in ${job.seconds.toFixed(1)} s: ${job.files.length} file(s)`);
      showResults(job);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function submit(event) {
  event.preventDefault();
  const file = chosenFile();
  if (!file) return say("Choose a file first.", true);
  if (file.size > uploadLimit) {
    return say(`${file.name} is larger than ${uploadLimit / 2 ** 20} MiB, the limit of this server`, true);
  }
  const form = new FormData();
  form.append("file", file);
  form.append("seed", $("seed").value);
  form.append("samples", $("samples").value);
  $("generate").disabled = true;
  $("results").hidden = true;
  say("Uploading…");
  try {
    const response = await fetch("/jobs", {method: "POST", body: form, headers: {"X-Crossmodal-Request": "1"}});
    const job = await response.json();
    if (!response.ok) throw new Error(job.error);
    await follow(job.id);
  } catch (error) {
    say(error.message, true);
  } finally {
    $("generate").disabled = false;
  }
}

function acceptDrops() {
  let depth = 0;  // dragenter/dragleave fire for every child element crossed
  document.addEventListener("dragenter", (e) => {
    e.preventDefault();
    depth++;
    document.body.classList.add("dragging");
  });
  document.addEventListener("dragleave", () => { if (--depth <= 0) document.body.classList.remove("dragging"); });
  document.addEventListener("dragover", (e) => e.preventDefault());
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    depth = 0;
    document.body.classList.remove("dragging");
    if (e.dataTransfer.files.length) {
      $("file").files = e.dataTransfer.files;
      showChosen();
    }
  });
}

$("file").addEventListener("change", showChosen);
$("form").addEventListener("submit", submit);
acceptDrops();
loadInfo().catch((error) => say(`Could not reach the server: ${error.message}`, true));
