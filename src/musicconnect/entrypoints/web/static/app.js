// Music Connect's pages: navigation that keeps the player playing, the player, uploads, charts.
// Every page works without this script except listening, uploading and drawing charts.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
const NAV_HEADER = "X-MusicConnect-Nav";

// --- navigation: swap <main> and the header, keep the player ----------------------------------

function sameOrigin(url) {
  return url.origin === location.origin && !url.pathname.startsWith("/listen/");
}

async function navigate(url, init = {}, push = true) {
  let response;
  try {
    response = await fetch(url, { ...init, headers: { ...(init.headers || {}), [NAV_HEADER]: "1" } });
  } catch (error) {
    location.assign(url);
    return;
  }
  const type = response.headers.get("content-type") || "";
  if (!type.includes("text/html")) {
    const text = await response.text();
    let detail = text;
    try { detail = JSON.parse(text).detail || text; } catch (_) { /* plain text */ }
    showAlert(detail);
    return;
  }
  const doc = new DOMParser().parseFromString(await response.text(), "text/html");
  const main = document.getElementById("main");
  main.innerHTML = doc.getElementById("main").innerHTML;
  document.querySelector("header.top").replaceWith(doc.querySelector("header.top"));
  document.querySelector('meta[name="csrf-token"]').content = doc.querySelector('meta[name="csrf-token"]').content;
  document.title = doc.title;
  if (push) history.pushState({}, "", response.url);
  main.focus({ preventScroll: true });
  window.scrollTo(0, 0);
  pageReady(new URL(response.url));
}

function showAlert(text) {
  const main = document.getElementById("main");
  const alert = document.createElement("p");
  alert.setAttribute("role", "alert");
  alert.className = "error";
  alert.textContent = text;
  main.prepend(alert);
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href]");
  if (!link || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || link.target || link.hasAttribute("download")) return;
  const url = new URL(link.href, location.href);
  if (!sameOrigin(url) || (url.hash && url.pathname === location.pathname)) return;
  event.preventDefault();
  navigate(url.href);
});

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    return;
  }
  if (form.hasAttribute("data-no-nav") || event.defaultPrevented) return;
  const url = new URL(form.action, location.href);
  if (!sameOrigin(url)) return;
  event.preventDefault();
  const data = new URLSearchParams(new FormData(form, event.submitter));
  if ((form.method || "get").toLowerCase() === "get") {
    url.search = data.toString();
    navigate(url.href);
  } else {
    navigate(url.href, { method: "POST", body: data, headers: { "X-CSRFToken": csrf() } });
  }
});

window.addEventListener("popstate", () => navigate(location.href, {}, false));

// --- the player ----------------------------------------------------------------------------

const audio = document.getElementById("audio");
const bar = document.getElementById("player");
const menu = document.getElementById("quality");
const bitrate = document.getElementById("bitrate");
const toggle = document.getElementById("play-toggle");
const seek = document.getElementById("seek");
// ``ahead``: seconds to buffer ahead (a short read-ahead reaches segments after their URLs expired).
// ``live``: a live session is playing (its master comes from /listen/live/, and plays are not counted).
const player = { track: null, title: "", live: false, hls: null, levels: [], reloads: 0, errors: [], counted: new Set(), ahead: 30 };
window.mcPlayer = player;

function rungOf(level) {
  const url = level.uri || level.url || "";
  const found = /\/(\d+)k?\/[^/]*$/.exec(url.split("?")[0]);
  return found ? `${found[1]}k` : `${Math.round(level.bitrate / 1000)}k`;
}

function errorCode(details) {
  const body = details && details.response;
  try {
    const text = typeof body === "string" ? body : new TextDecoder().decode(body);
    return JSON.parse(text).error;
  } catch (_) {
    return null;
  }
}

function fillMenu(levels, keep) {
  menu.replaceChildren(new Option("auto", "-1"));
  levels.forEach((level, index) => menu.add(new Option(`${rungOf(level).replace("k", "")} kbps`, String(index))));
  const kept = keep ? levels.findIndex((level) => rungOf(level) === keep) : -1;
  menu.value = String(kept);
  if (kept >= 0) player.hls.currentLevel = kept;
}

// ``src``: a playlist URL the page was given (a backstage clip's, signed for this reader), played as is.
function start(trackId, title, position, keepRung, live = player.live, src = null) {
  if (player.hls) player.hls.destroy();
  player.track = trackId;
  player.title = title;
  player.live = live;
  player.src = src;
  bar.hidden = false;
  document.getElementById("now-playing").textContent = title;
  const hls = new Hls({ startPosition: position, maxBufferLength: player.ahead, maxMaxBufferLength: player.ahead });
  player.hls = hls;
  hls.on(Hls.Events.MANIFEST_PARSED, (_, data) => {
    player.levels = data.levels.map((level) => level.uri || level.url);
    fillMenu(data.levels, keepRung);
    audio.play().catch(() => { toggle.textContent = "Play"; });
  });
  hls.on(Hls.Events.LEVEL_SWITCHED, (_, data) => {
    const level = hls.levels[data.level];
    if (level) bitrate.textContent = `now ${rungOf(level).replace("k", "")} kbps`;
  });
  hls.on(Hls.Events.ERROR, (_, data) => {
    const status = data.response ? data.response.code : null;
    const code = status === 403 ? errorCode(data.networkDetails) : null;
    player.errors.push({ details: data.details, fatal: data.fatal, status, code });
    if (code === "url_expired" && !player.src) {
      // Signed URLs ran out mid-listen: a fresh master, from where we were. (A clip's URL came
      // with its page, which has to be loaded again for a fresh one.)
      player.reloads += 1;
      refresh();
    } else if (data.fatal) {
      document.getElementById("now-playing").textContent = `${title}: cannot play (${status || data.details})`;
    }
  });
  hls.loadSource(src || `/listen/${live ? "live/" : ""}${encodeURIComponent(trackId)}`);
  hls.attachMedia(audio);
}

function chosenRung() {
  const index = Number(menu.value);
  return index >= 0 && player.hls && player.hls.levels[index] ? rungOf(player.hls.levels[index]) : null;
}

// A fresh master at the same position: after expired URLs, or a tier change that alters the rungs.
function refresh() {
  if (!player.track) return;
  start(player.track, player.title, audio.currentTime, chosenRung(), player.live, player.src);
}
player.refresh = refresh;

menu.addEventListener("change", () => {
  if (player.hls) player.hls.currentLevel = Number(menu.value);
});
toggle.addEventListener("click", () => (audio.paused ? audio.play() : audio.pause()));
audio.addEventListener("play", () => { toggle.textContent = "Pause"; toggle.setAttribute("aria-label", "Pause"); });
audio.addEventListener("pause", () => { toggle.textContent = "Play"; toggle.setAttribute("aria-label", "Play"); });
audio.addEventListener("timeupdate", () => {
  if (audio.duration) seek.value = String(Math.round((audio.currentTime / audio.duration) * 100));
});
seek.addEventListener("input", () => {
  if (audio.duration) audio.currentTime = (Number(seek.value) / 100) * audio.duration;
});
audio.addEventListener("playing", () => {
  if (!player.track || player.live || player.src || player.counted.has(player.track)) return;  // tracks only
  player.counted.add(player.track);
  fetch(`/listen/${encodeURIComponent(player.track)}/play`, { method: "POST", headers: { "X-CSRFToken": csrf() } });
});

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-play]");
  if (!button) return;
  start(button.dataset.play, button.dataset.title, -1, null, button.dataset.live === "1", button.dataset.src || null);
});

// --- uploads, with progress, then the transcode's status --------------------------------------

function watchTrack(trackId, row) {
  const poll = async () => {
    const response = await fetch(`/studio/tracks/${encodeURIComponent(trackId)}`);
    if (!response.ok) return;
    const track = await response.json();
    const status = row.querySelector(".status");
    status.textContent = track.status;
    if (track.status === "processing") {
      // The worker stores the transcode's progress in 5 % steps; before its first report, the bar is indeterminate.
      const bar = document.createElement("progress");
      bar.setAttribute("aria-label", `Transcoding ${track.title}`);
      bar.max = 100;
      if (track.progress_percent !== null) {
        bar.value = track.progress_percent;
        status.append(` ${track.progress_percent} %`);
      }
      status.append(" ", bar);
    }
    row.querySelector(".rungs").textContent = track.rungs_kbps.join(" / ");
    row.querySelector(".measured").textContent = track.measured_kbps.join(" / ");
    if (track.status === "processing" && document.body.contains(row)) setTimeout(poll, 1000);
  };
  poll();
}

function setUpUpload() {
  const form = document.getElementById("upload");
  if (!form) return;
  const progress = document.getElementById("upload-progress");
  const status = document.getElementById("upload-status");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("X-CSRFToken", csrf());
    request.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) progress.value = Math.round((e.loaded / e.total) * 100);
    });
    request.addEventListener("load", () => {
      let body = {};
      try { body = JSON.parse(request.responseText); } catch (_) { /* not JSON */ }
      if (request.status !== 202) {
        status.textContent = `Upload refused: ${body.detail || request.status}`;
        return;
      }
      progress.value = 100;
      status.textContent = "Uploaded; transcoding…";
      const tbody = document.querySelector("#tracks tbody");
      const row = tbody.insertRow(0);
      row.dataset.track = body.track_id;
      const title = row.insertCell();
      title.className = "title";
      title.textContent = form.elements.title.value;
      for (const name of ["status", "rungs", "measured", "tier"]) row.insertCell().className = name;
      const edit = row.insertCell().appendChild(document.createElement("a"));
      edit.href = `/studio/tracks/${encodeURIComponent(body.track_id)}/edit`;
      edit.textContent = "Edit";
      watchTrack(body.track_id, row);
      form.reset();
    });
    request.addEventListener("error", () => { status.textContent = "Upload failed: network error"; });
    const data = new FormData(form);
    // A datetime-local field has no zone: send the instant the artist meant, in UTC.
    const release = data.get("release_at");
    if (release) data.set("release_at", new Date(release).toISOString());
    request.send(data);
  });
}

// --- charts (chart.js, loaded only on pages that draw one) -----------------------------------

function loadChartJs() {
  if (window.Chart) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "/vendor/chart.umd.min.js";
    script.onload = resolve;
    script.onerror = reject;
    document.head.append(script);
  });
}

async function drawCharts() {
  const canvases = document.querySelectorAll("canvas[data-chart]");
  if (!canvases.length) return;
  await loadChartJs();
  const rows = [...document.querySelectorAll("#plays-table tbody tr")].map((tr) => [...tr.cells].map((c) => c.textContent));
  const days = rows.map((r) => r[0].slice(5));
  const series = { plays: rows.map((r) => Number(r[1])), revenue: rows.map((r) => Number(r[2])) };
  for (const canvas of canvases) {
    const kind = canvas.dataset.chart;
    canvas.chart = new Chart(canvas, {
      type: kind === "plays" ? "bar" : "line",
      data: { labels: days, datasets: [{ label: kind, data: series[kind], backgroundColor: "#4b3fb5", borderColor: "#4b3fb5" }] },
      options: { animation: false, responsive: true, plugins: { legend: { display: false } } },
    });
  }
}

// --- after every page -----------------------------------------------------------------------

function pageReady(url) {
  const leave = document.querySelector("[data-leave]");
  if (leave) { location.assign(leave.href); return; }
  setUpUpload();
  document.querySelectorAll("tr[data-track]").forEach((row) => {
    if (row.querySelector(".status").textContent.trim().startsWith("processing")) watchTrack(row.dataset.track, row);
  });
  drawCharts();
  // A tier change: the same track, a richer (or poorer) master, at the same position.
  if (url.searchParams.has("changed")) refresh();
}

pageReady(new URL(location.href));
