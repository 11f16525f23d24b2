// The web app's small player: hls.js plays the fan's master playlist from the API's origin.
// The bearer token goes on API requests only (media URLs carry their own signature), and when
// signed URLs expire mid-track the API answers 403 `url_expired`: the player then fetches a
// fresh master and resumes where it was, as hls.js alone would retry the dead URL and stall.
// Settings come in the page's fragment: api, track, token, and buffer (seconds to read ahead).
"use strict";

const params = new URLSearchParams(location.hash.slice(1));
const api = params.get("api");
const token = params.get("token");
const master = `${api}/tracks/${params.get("track")}/stream`;
const ahead = Number(params.get("buffer") || 30);
const audio = document.querySelector("audio");
const player = { reloads: 0, errors: [], levels: [], hls: null };
window.player = player;

function errorCode(details) {
  // hls.js reports the status; the reason is in the body, text or bytes depending on the file.
  const body = details && details.response;
  try {
    const text = typeof body === "string" ? body : new TextDecoder().decode(body);
    return JSON.parse(text).error;
  } catch (_) {
    return null;
  }
}

function start(position) {
  const hls = new Hls({
    startPosition: position,
    maxBufferLength: ahead,
    maxMaxBufferLength: ahead,
    xhrSetup(xhr, url) {
      if (url.startsWith(`${api}/tracks/`)) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    },
  });
  hls.on(Hls.Events.MANIFEST_PARSED, (_, data) => {
    player.levels = data.levels.map((level) => level.uri || level.url);
    audio.play();
  });
  hls.on(Hls.Events.ERROR, (_, data) => {
    const status = data.response ? data.response.code : null;
    const code = status === 403 ? errorCode(data.networkDetails) : null;
    player.errors.push({ details: data.details, fatal: data.fatal, status, code });
    if (code === "url_expired") {
      const at = audio.currentTime;
      hls.destroy();
      player.reloads += 1;
      start(at);
    }
  });
  hls.loadSource(master);
  hls.attachMedia(audio);
  player.hls = hls;
}

start(-1);
