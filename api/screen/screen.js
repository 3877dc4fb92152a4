// The alert wall screen: one EventSource on /api/v1/live (snapshot, then changes, heartbeats),
// the perimeter map re-fetched on every coverage change, acknowledgement through the API, a WebAudio
// alarm and a flash while any critical alert is open. Vanilla JS, no build step.
"use strict";

(() => {
  const API = "/api/v1";
  const I18N = window.VIGIL_I18N;
  const SEVERITY_RANK = { critical: 0, major: 1, minor: 2, info: 3 };
  const $ = (sel) => document.querySelector(sel);

  const state = {
    seq: -1,
    site: null,
    cameras: {},
    coverage: null,
    coverageMonitor: null, // the monitor's liveness verdict (server side); null: not heard of
    serverOffsetMs: 0, // server clock - this browser's clock
    alerts: {},
    gateways: {},
    mqtt: true,
    heartbeatS: 5,
    lastEventMs: 0,
    connected: false,
    lang: localStorage.getItem("vigil.lang") || "zh",
    energy: null,
  };
  let source = null;
  let reconnectTimer = null;
  let audio = null; // the WebAudio context of the alarm, made on first need

  // -- i18n ---------------------------------------------------------------------------------------

  function t(key, args) {
    let text = (I18N[state.lang] && I18N[state.lang][key]) || I18N.en[key] || key;
    for (const [k, v] of Object.entries(args || {})) text = text.replaceAll(`{${k}}`, v);
    return text;
  }

  function applyLang() {
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    $("#lang").textContent = state.lang === "zh" ? "EN" : "中文";
    $("#sound").textContent = t(audio && audio.state === "running" ? "sound_on" : "enable_sound");
    renderAll();
  }

  $("#lang").addEventListener("click", () => {
    state.lang = state.lang === "zh" ? "en" : "zh";
    localStorage.setItem("vigil.lang", state.lang);
    applyLang();
  });

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("data-")) node.setAttribute(k, v);
      else node[k] = v;
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  function ago(ms) {
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 60) return t("ago_s", { n: s });
    if (s < 3600) return t("ago_m", { n: Math.floor(s / 60) });
    return t("ago_h", { n: Math.floor(s / 3600) });
  }

  // -- the stream -----------------------------------------------------------------------------------

  function connect() {
    clearTimeout(reconnectTimer);
    if (source) source.close();
    source = new EventSource(`${API}/live`);
    source.addEventListener("snapshot", (e) => { touch(); applySnapshot(JSON.parse(e.data)); });
    source.addEventListener("change", (e) => { touch(); applyChange(JSON.parse(e.data)); });
    source.addEventListener("heartbeat", (e) => {
      touch();
      const hb = JSON.parse(e.data);
      state.mqtt = hb.mqtt;
      if (hb.seq > state.seq) resync(); // a change went missing: fetch the whole state
      updateConn();
    });
    source.addEventListener("resync", () => { source.close(); scheduleReconnect(200); });
    source.onopen = () => { state.connected = true; updateConn(); };
    source.onerror = () => {
      state.connected = false;
      updateConn();
      if (source.readyState === EventSource.CLOSED) {
        checkLogin().then((ok) => { if (ok) scheduleReconnect(3000); });
      }
    };
  }

  function scheduleReconnect(ms) {
    clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(connect, ms);
  }

  function touch() {
    state.lastEventMs = Date.now();
    state.connected = true;
  }

  async function resync() {
    try {
      const r = await fetch(`${API}/screen/state`, { cache: "no-store" });
      if (r.ok) applySnapshot(await r.json());
    } catch (err) { /* the stream's own reconnection will bring the state */ }
  }

  async function checkLogin() {
    try {
      const r = await fetch(`${API}/whoami`, { cache: "no-store" });
      if (r.status === 401) { $("#login-dialog").showModal(); return false; }
    } catch (err) { /* server down: keep trying */ }
    return true;
  }

  function applySnapshot(s) {
    state.seq = s.seq;
    state.site = s.site_info || state.site;
    state.cameras = s.cameras;
    state.coverage = s.coverage;
    state.coverageMonitor = s.coverage_monitor || null;
    if (s.server_ms) state.serverOffsetMs = s.server_ms - Date.now();
    state.alerts = s.alerts;
    state.gateways = s.gateways;
    state.mqtt = s.mqtt;
    state.heartbeatS = s.heartbeat_s || 5;
    renderAll();
    refreshMap();
  }

  function applyChange(c) {
    if (c.seq <= state.seq) return; // already in the snapshot
    state.seq = c.seq;
    if (c.kind === "alert") {
      if (c.value === null) delete state.alerts[c.key];
      else state.alerts[c.key] = c.value;
      renderAlerts();
    } else if (c.kind === "camera") {
      state.cameras[c.key] = c.value;
      renderCameras();
    } else if (c.kind === "coverage") {
      state.coverage = c.value;
      renderCoverage();
      refreshMap();
    } else if (c.kind === "coverage_monitor") {
      state.coverageMonitor = c.value;
      renderCoverage();
    } else if (c.kind === "gateway") {
      state.gateways[c.key] = c.value;
      renderGateways();
    } else if (c.kind === "reset") { // the API's broker session restarted: retained state follows
      state.cameras = {};
      state.coverage = null;
      state.coverageMonitor = null;
      state.alerts = {};
      state.gateways = {};
      renderAll();
    } else if (c.kind === "mqtt") {
      state.mqtt = c.value;
      updateConn();
    }
  }

  // -- connection state: live, reconnecting, stale ------------------------------------------------------

  function connState() {
    if (!state.lastEventMs) return "connecting";
    const silentS = (Date.now() - state.lastEventMs) / 1000;
    if (!state.connected) return "reconnecting";
    if (silentS > 2 * state.heartbeatS) return "stale";
    if (!state.mqtt) return "mqtt_down";
    return "live";
  }

  function updateConn() {
    const s = connState();
    const conn = $("#conn");
    conn.dataset.state = s;
    conn.textContent = t(`conn_${s}`);
    document.body.dataset.conn = s;
  }

  // -- map --------------------------------------------------------------------------------------------

  let mapBusy = false;
  let mapAgain = false;

  async function refreshMap() {
    if (mapBusy) { mapAgain = true; return; }
    mapBusy = true;
    try {
      const box = $("#map");
      const size = `width=${Math.round(box.clientWidth)}&height=${Math.round(box.clientHeight)}`;
      const r = await fetch(`${API}/perimeter/map.svg?${size}`, { cache: "no-store" });
      if (r.ok) {
        box.innerHTML = await r.text();
        box.dataset.blind = String(box.querySelectorAll('polyline[stroke="#e53935"]').length);
        box.dataset.single = String(box.querySelectorAll('polyline[stroke="#fb8c00"]').length);
        box.dataset.seq = String(state.seq);
      }
    } catch (err) { /* shown as stale by the stream */ }
    mapBusy = false;
    if (mapAgain) { mapAgain = false; refreshMap(); }
  }

  // Why the coverage report cannot be trusted now ("offline", "silent", "none"), or null when it is current.
  // The server says so when the monitor's status changes; a monitor that falls silent sends nothing, so the
  // age of its last heartbeat is also checked here against the server's clock.
  function coverageStale() {
    if (state.site && !(state.site.cameras || []).length) return null; // no perimeter cameras, no monitor
    const m = state.coverageMonitor;
    if (!m || m.reason === "no status") return "none";
    if (m.stale) return m.reason === "offline" ? "offline" : "silent";
    const age = Date.now() + state.serverOffsetMs - m.last_beat_ms;
    return m.last_beat_ms && age > m.stale_after_s * 1000 ? "silent" : null;
  }

  function renderCoverage() {
    const c = state.coverage;
    const summary = $("#coverage-summary");
    const stale = coverageStale();
    document.body.dataset.coverage = stale ? "stale" : "current";
    const warning = $("#coverage-stale");
    warning.hidden = !stale;
    if (stale) {
      const m = state.coverageMonitor || {};
      const since = stale === "offline" ? m.offline_since_ms : m.last_beat_ms;
      warning.textContent = t(`coverage_stale_${stale}`, { since: since ? ago(since - state.serverOffsetMs) : "?" });
      warning.dataset.reason = stale;
    }
    if (!c) { summary.textContent = t("no_coverage"); return; }
    const sum = (xs) => xs.reduce((a, s) => a + s.length_m, 0);
    summary.textContent = t("coverage_summary", {
      len: c.perimeter_length_m.toFixed(0),
      blind: sum(c.blind).toFixed(1),
      n: c.blind.length,
      single: sum(c.single).toFixed(1),
    });
  }

  // -- alerts -----------------------------------------------------------------------------------------

  function activeAlerts() {
    return Object.values(state.alerts)
      .filter((a) => a.state !== "resolved")
      .sort((a, b) => (SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity])
        || ((a.state === "open" ? 0 : 1) - (b.state === "open" ? 0 : 1))
        || (b.opened_ms - a.opened_ms));
  }

  function zoneName(id) {
    const z = state.site && state.site.zones.find((x) => x.id === id);
    return z ? z.name : id;
  }

  function detail(a) {
    const ev = a.evidence || {};
    if (a.kind === "blind_spot") {
      const parts = [t("blind_detail", { start: (+ev.start_m).toFixed(1), end: (+ev.end_m).toFixed(1), len: (+ev.length_m).toFixed(1) })];
      if (ev.zones && ev.zones.length) parts.push(`${t("zones")}: ${ev.zones.map(zoneName).join("、")}`);
      if (ev.cameras && ev.cameras.length) parts.push(`${t("cams")}: ${ev.cameras.join("、")}`);
      return parts.join(" · ");
    }
    if (ev.camera) return `${ev.name || ev.camera} · ${t(`cam_${ev.state}`)}`;
    return a.title;
  }

  function renderAlerts() {
    const list = $("#alerts");
    const alerts = activeAlerts();
    list.replaceChildren(...alerts.map((a) => {
      const acked = a.state === "acknowledged";
      const item = el("li", { class: `alert sev-${a.severity} state-${a.state}`, "data-alert-id": a.id, "data-state": a.state, "data-kind": a.kind },
        el("div", { class: "alert-head" },
          el("span", { class: "sev" }, t(`sev_${a.severity}`)),
          el("span", { class: "kind" }, t(`kind_${a.kind}`)),
          el("span", { class: "state" }, t(`state_${a.state}`))),
        el("div", { class: "detail" }, detail(a)),
        el("div", { class: "meta" },
          `${t("opened")} ${ago(a.opened_ms)}`,
          acked ? ` · ${t("acked_by", { who: a.acked_by })}${a.note ? `：${a.note}` : ""}` : ""));
      if (!acked) {
        const btn = el("button", { class: "ack", type: "button" }, t("acknowledge"));
        btn.addEventListener("click", () => openAck(a));
        item.append(btn);
      }
      return item;
    }));
    $("#alert-count").textContent = String(alerts.length);
    $("#no-alerts").hidden = alerts.length > 0;
    updateAlarm();
  }

  let ackTarget = null;

  function openAck(a) {
    ackTarget = a;
    $("#ack-what").textContent = `${t(`kind_${a.kind}`)} · ${detail(a)}`;
    $("#ack-note").value = "";
    $("#ack-error").textContent = "";
    $("#ack-dialog").showModal();
    $("#ack-note").focus();
  }

  $("#ack-cancel").addEventListener("click", () => $("#ack-dialog").close());
  $("#ack-confirm").addEventListener("click", async () => {
    if (!ackTarget) return;
    const note = $("#ack-note").value.trim() || null;
    try {
      const r = await fetch(`${API}/alerts/${encodeURIComponent(ackTarget.id)}/ack`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ note }),
      });
      if (!r.ok && r.status !== 409) {
        const body = await r.json().catch(() => ({}));
        $("#ack-error").textContent = `${r.status} ${body.detail || ""}`;
        return;
      }
      if (r.ok) {
        const alert = await r.json();
        const known = state.alerts[alert.id];
        if (!known || known.version < alert.version) state.alerts[alert.id] = alert;
        renderAlerts();
      }
      $("#ack-dialog").close();
    } catch (err) {
      $("#ack-error").textContent = String(err);
    }
  });

  // -- alarm: a beep loop and a flash while a critical alert is open ---------------------------------

  let beepTimer = null;

  function ensureAudio() {
    if (!audio) audio = new (window.AudioContext || window.webkitAudioContext)();
    if (audio.state === "suspended") audio.resume();
    $("#sound").textContent = t(audio.state === "running" ? "sound_on" : "enable_sound");
    return audio;
  }

  $("#sound").addEventListener("click", () => { ensureAudio(); updateAlarm(); });

  function beep() {
    const ctx = ensureAudio();
    if (ctx.state !== "running") return;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = "square";
    osc.frequency.value = 880;
    gain.gain.value = 0.2;
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.35);
  }

  function updateAlarm() {
    const ringing = activeAlerts().some((a) => a.severity === "critical" && a.state === "open");
    document.body.dataset.alarm = ringing ? "on" : "off";
    if (ringing && !beepTimer) {
      beep();
      beepTimer = setInterval(beep, 1000);
    } else if (!ringing && beepTimer) {
      clearInterval(beepTimer);
      beepTimer = null;
    }
    window.vigilAlarm = { ringing, audio: audio ? audio.state : "none" };
  }

  // -- cameras, gateways, energy -----------------------------------------------------------------------

  function renderCameras() {
    const cams = state.site ? state.site.cameras : Object.keys(state.cameras).map((id) => ({ id, name: id }));
    $("#cameras").replaceChildren(...cams.map((c) => {
      const h = state.cameras[c.id] || {};
      const s = h.state || "unknown";
      const snap = h.snapshot && /^(https?:\/\/|\/)/.test(h.snapshot)
        ? el("img", { class: "snap", src: h.snapshot, alt: c.id })
        : el("div", { class: "snap none" }, h.snapshot ? h.snapshot.split("/").pop() : "—");
      return el("div", { class: `tile cam-${s}`, "data-camera": c.id, "data-state": s },
        snap,
        el("div", { class: "name" }, `${c.id} ${c.name && c.name !== c.id ? c.name : ""}`),
        el("div", { class: "cstate" }, t(`cam_${s}`), h.since_ms ? el("small", {}, ` ${ago(h.since_ms)}`) : null));
    }));
  }

  function renderGateways() {
    const ids = state.site ? state.site.gateways : Object.keys(state.gateways);
    $("#gateways").replaceChildren(...ids.map((id) => {
      const s = (state.gateways[id] && state.gateways[id].status) || "unknown";
      return el("div", { class: `gw gw-${s}`, "data-gateway": id }, el("span", { class: "dot" }), `${id} `, t(`gw_${s}`));
    }));
  }

  async function refreshEnergy() {
    try {
      const r = await fetch(`${API}/screen/energy`, { cache: "no-store" });
      if (r.ok) { state.energy = await r.json(); renderEnergy(); }
    } catch (err) { /* keep the last figures */ }
  }

  function renderEnergy() {
    const e = state.energy;
    const box = $("#energy");
    if (!e || e.today === null) { box.replaceChildren(el("p", { class: "muted" }, t("no_energy"))); return; }
    const max = Math.max(e.today, e.usual || 0, 1e-9);
    const bar = (label, v, cls) => el("div", { class: `ebar ${cls}` },
      el("span", { class: "elabel" }, label),
      el("span", { class: "etrack" }, el("span", { class: "efill", style: `width:${(100 * (v || 0)) / max}%` })),
      el("span", { class: "evalue" }, v === null ? "—" : `${v.toFixed(0)} ${e.unit}`));
    const pct = e.ratio ? el("div", { class: `ratio ${e.ratio > 1.1 ? "high" : ""}` }, `${(e.ratio * 100).toFixed(0)}%`) : null;
    box.replaceChildren(bar(t("today"), e.today, "today"), bar(t("usual"), e.usual, "usual"), pct,
      el("p", { class: "muted" }, t("usual_note", { until: e.until, weeks: e.weeks })));
  }

  function renderAll() {
    $("#site-name").textContent = state.site ? state.site.name : "";
    renderCoverage();
    renderAlerts();
    renderCameras();
    renderGateways();
    renderEnergy();
    updateConn();
  }

  function tick() {
    const now = new Date();
    $("#clock").textContent = now.toLocaleTimeString(state.lang === "zh" ? "zh-CN" : "en-GB", { hour12: false });
    updateConn();
    renderCoverage(); // a monitor falling silent sends nothing: its heartbeat ages here
  }

  applyLang();
  setInterval(tick, 1000);
  setInterval(refreshEnergy, 300000);
  setInterval(() => { renderAlerts(); renderCameras(); }, 30000); // refresh the "minutes ago"
  checkLogin().then((ok) => { if (ok) { connect(); refreshEnergy(); } });
})();
