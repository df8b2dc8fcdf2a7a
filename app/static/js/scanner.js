// The door scanner (README "The scanner page"). A plain script, no build step: the camera (jsQR over
// a canvas) or the typed code, checked by the server while it answers, else checked here against the
// show's check-in bundle and queued until the upload (POST …/checkins/batch) succeeds.
//
// Code formats are pluggable: `codeFormats` is tried in order; each `verify(text, bundle, nowMs)`
// resolves to `{ticket: {bookingId, showId, seatId, version}, format}`, to `{error: CODE}`, or to
// `null` when the text is not a code of that format. The static signed codes (app/tickets/codes.py)
// come first; a rotating code (README "Rotating codes") is checked by `window.SeatlineRotating.verify`
// (app/static/js/rotating-codes.js, loaded before this script).
(function () {
  "use strict";

  const root = document.querySelector("[data-scanner]");
  if (!root) return;
  const T = JSON.parse(root.dataset.text);
  const showId = root.dataset.showId;
  const zone = root.dataset.timezone;
  const base = `/door/shows/${showId}`;
  const locale = document.documentElement.lang || "en";
  const BATCH = 200;
  const REFRESH_MS = 60000;

  // ------------------------------------------------------------ storage (this device, this show)

  const key = (name) => `seatline.door.${showId}.${name}`;
  const load = (name, fallback) => {
    try {
      const raw = localStorage.getItem(name);
      return raw === null ? fallback : JSON.parse(raw);
    } catch (_) {
      return fallback;
    }
  };
  const save = (name, value) => localStorage.setItem(name, JSON.stringify(value));
  const GATE = "seatline.door.gate";
  const bundle = () => load(key("bundle"), null);
  const queue = () => load(key("queue"), []);
  // Tickets this device admitted (online or offline) since its bundle was made: "bookingId|seatId" → {at, gate}.
  const admittedHere = () => load(key("admitted"), {});
  const conflicts = () => load(key("conflicts"), []);

  // ------------------------------------------------------------ words

  const say = (template, values) =>
    template.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : `{${name}}`));
  const clock = (iso) =>
    new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone }).format(
      new Date(iso),
    );
  const REASONS = {
    WRONG_SHOW: () => T.wrongShow,
    TICKET_REVOKED: () => T.revoked,
    TICKET_INVALID: () => T.invalid,
    VALIDATION_FAILED: () => T.invalid,
    CHECKIN_CLOSED: () => T.closed,
    TICKET_CODE_EXPIRED: () => T.codeExpired,
    TICKET_STATIC_NOT_ALLOWED: () => T.staticNotAllowed,
  };
  // A seat by its id; a place of a standing section (its id `{prefix}-0001`, the bundle's `standing`) by its section.
  const placeName = (seatId) => {
    const data = bundle();
    const prefix = seatId.split("-")[0];
    const section = ((data && data.standing) || []).find((s) => s.prefix === prefix && /^[^-]+-\d+$/.test(seatId));
    return section ? say(T.standing, { section: section.section, seat: seatId }) : say(T.seat, { seat: seatId });
  };
  const reason = (code, details) =>
    code === "ALREADY_CHECKED_IN"
      ? say(T.alreadyAdmitted, { time: clock(details.at), gate: details.gate })
      : (REASONS[code] || (() => T.failed))();

  // ------------------------------------------------------------ the static code format

  const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

  function base32(text) {
    let bits = 0;
    let value = 0;
    const out = [];
    for (const ch of text) {
      const v = B32.indexOf(ch);
      if (v < 0) return null;
      value = (value << 5) | v;
      bits += 5;
      if (bits >= 8) {
        bits -= 8;
        out.push((value >> bits) & 0xff);
      }
    }
    // Only the one way Seatline writes the bytes is a code: no leftover bits set, no stray character.
    if (bits >= 5 || (value & ((1 << bits) - 1)) !== 0) return null;
    return new Uint8Array(out);
  }

  function varint(bytes, at) {
    let value = 0;
    let shift = 0;
    for (;;) {
      if (at >= bytes.length || shift > 49) return null;
      const b = bytes[at];
      value += (b & 0x7f) * 2 ** shift;
      at += 1;
      shift += 7;
      if (!(b & 0x80)) return [value, at];
    }
  }

  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const uuid = (bytes) => {
    const h = hex(bytes);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };
  const fromBase64url = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));

  // format | kid | booking | show varint | version varint | seat length | seat | signature (README "Tickets and transfer")
  function readStatic(text) {
    const raw = base32(text);
    if (raw === null || raw.length < 1 + 4 + 16 + 3 + 64 || raw[0] !== 1) return null;
    const payload = raw.slice(0, raw.length - 64);
    const signature = raw.slice(raw.length - 64);
    const show = varint(payload, 21);
    if (!show) return null;
    const version = varint(payload, show[1]);
    if (!version) return null;
    const at = version[1];
    if (at >= payload.length || at + 1 + payload[at] !== payload.length) return null;
    let seat;
    try {
      seat = new TextDecoder("utf-8", { fatal: true }).decode(payload.slice(at + 1));
    } catch (_) {
      return null;
    }
    const ticket = { kid: hex(payload.slice(1, 5)), bookingId: uuid(payload.slice(5, 21)), showId: String(show[0]) };
    return { ticket: { ...ticket, version: version[0], seatId: seat }, payload, signature };
  }

  let ed25519 = null;
  const loadEd25519 = () => (ed25519 = ed25519 || import(root.dataset.ed25519));

  const staticCodes = {
    name: "static",
    async verify(text, data) {
      if (!/^[A-Z2-7]+$/.test(text)) return null;
      const read = readStatic(text);
      if (read === null) return { error: "TICKET_INVALID" };
      const jwk = data.keys[read.ticket.kid];
      if (!jwk || jwk.crv !== "Ed25519" || !jwk.x) return { error: "TICKET_INVALID" };
      const ed = await loadEd25519();
      let good = false;
      try {
        good = await ed.verifyAsync(read.signature, read.payload, fromBase64url(jwk.x), { zip215: false });
      } catch (_) {
        good = false;
      }
      return good ? { ticket: read.ticket, format: "static" } : { error: "TICKET_INVALID" };
    },
  };

  // Rotating codes (README "Rotating codes"): the static code, the separator and the one-time value,
  // checked by window.SeatlineRotating (signature, show, the value at the scan's time). Its refusals that
  // name a ticket (wrong show, revoked, admitted) come back as the ticket, so this page's own checks below
  // word them with their details, as for a static code; the others (a stale value) are the answer.
  const NAMED_TICKET = new Set(["WRONG_SHOW", "TICKET_REVOKED", "ALREADY_CHECKED_IN"]);
  const rotatingCodes = {
    name: "rotating",
    async verify(text, data, nowMs) {
      const rotating = window.SeatlineRotating;
      const separator = (data.rotation && data.rotation.separator) || ":";
      if (!rotating || typeof rotating.verify !== "function" || !text.includes(separator)) return null;
      const found = await rotating.verify(text, data, nowMs);
      if (found.ticket && (found.ok || NAMED_TICKET.has(found.reason))) return { ticket: found.ticket, format: "rotating" };
      return { error: found.reason || "TICKET_INVALID" };
    },
  };

  const codeFormats = [staticCodes, rotatingCodes];

  // ------------------------------------------------------------ judging a scan offline

  async function judgeOffline(text, scan) {
    const data = bundle();
    if (!data) return { refused: T.noBundle };
    const now = Date.parse(scan.scannedAt);
    if ((data.checkinOpensAt && now < Date.parse(data.checkinOpensAt)) || now >= Date.parse(data.checkinClosesAt)) {
      return { code: "CHECKIN_CLOSED" };
    }
    let found = null;
    for (const format of codeFormats) {
      found = await format.verify(text, data, now);
      if (found) break;
    }
    if (!found || found.error || !found.ticket) return { code: (found && found.error) || "TICKET_INVALID" };
    const t = found.ticket;
    if (String(t.showId) !== String(data.showId)) return { code: "WRONG_SHOW" };
    if (found.format === "static" && data.ticketCodes === "ROTATING" && !data.staticCodesAllowed) {
      return { code: "TICKET_STATIC_NOT_ALLOWED" };
    }
    const same = (r) => r.bookingId === t.bookingId;
    // A revoked version revokes every earlier one (versions only grow); a later version admitted proves this one old.
    const revoked =
      data.revoked.some((r) => same(r) && r.version >= t.version && (r.seatId === t.seatId || r.version > t.version)) ||
      data.checkins.some((c) => same(c) && c.version > t.version);
    if (revoked) return { code: "TICKET_REVOKED" };
    const ticketKey = `${t.bookingId}|${t.seatId}`;
    const earlier = data.checkins.find((c) => same(c) && c.seatId === t.seatId) || admittedHere()[ticketKey];
    if (earlier) return { code: "ALREADY_CHECKED_IN", details: { at: earlier.at, gate: earlier.gate, seatId: t.seatId } };
    const here = admittedHere();
    here[ticketKey] = { at: scan.scannedAt, gate: scan.gate };
    save(key("admitted"), here);
    save(key("queue"), [...queue(), scan]);
    return { admitted: t };
  }

  // ------------------------------------------------------------ the server

  const csrfHeaders = { "Content-Type": "application/json", "X-CSRFToken": root.dataset.csrf };
  let reachable = navigator.onLine;

  async function post(path, body) {
    return fetch(`${base}${path}`, {
      method: "POST",
      headers: csrfHeaders,
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
  }

  async function refreshBundle() {
    if (!navigator.onLine) return false;
    try {
      const r = await fetch(`${base}/checkin-bundle`, { credentials: "same-origin", cache: "no-store" });
      if (!r.ok) return false;
      const data = await r.json();
      save(key("bundle"), data);
      // What this device admitted offline stays until uploaded; online admissions are in the bundle now.
      const waiting = new Set(queue().map((s) => s.ticketKey));
      const here = admittedHere();
      for (const k of Object.keys(here)) if (!waiting.has(k)) delete here[k];
      save(key("admitted"), here);
      setReachable(true);
      return true;
    } catch (_) {
      setReachable(false);
      return false;
    }
  }

  let uploading = false;
  async function upload() {
    if (uploading || !navigator.onLine || queue().length === 0) return;
    uploading = true;
    try {
      while (queue().length > 0) {
        const scans = queue().slice(0, BATCH);
        const r = await post("/checkins/batch", {
          scans: scans.map((s) => ({ ticket: s.ticket, gate: s.gate, nonce: s.nonce, scannedAt: s.scannedAt })),
        });
        if (r.status !== 200) break;
        const answer = await r.json();
        const byNonce = new Map(scans.map((s) => [s.nonce, s]));
        const found = conflicts();
        for (const result of answer.results) {
          const scan = byNonce.get(result.nonce);
          if (!scan || result.status === 201) continue;
          const err = result.body.error || {};
          found.push(
            result.result === "ALREADY_CHECKED_IN"
              ? say(T.conflict, { time: clock(scan.scannedAt), gate: err.gate, admittedTime: clock(err.at) })
              : say(T.refusedLater, { time: clock(scan.scannedAt), seat: scan.seatId, reason: reason(result.result, err) }),
          );
        }
        save(key("conflicts"), found);
        const done = new Set(answer.results.map((x) => x.nonce));
        save(key("queue"), queue().filter((s) => !done.has(s.nonce)));
        setReachable(true);
      }
    } catch (_) {
      setReachable(false);
    } finally {
      uploading = false;
      showStatus();
      showConflicts();
    }
    if (queue().length === 0) await refreshBundle();
  }

  // ------------------------------------------------------------ one scan

  let busy = false;
  let lastText = null; // the camera does not read the code just answered again until "Next ticket"

  async function check(rawText, fromCamera) {
    const text = rawText.trim().toUpperCase();
    if (!text || busy || (fromCamera && text === lastText)) return;
    const gate = localStorage.getItem(GATE);
    if (!gate) {
      if (!fromCamera) askGate(); // the gate's form is on screen already; the camera waits for it
      return;
    }
    busy = true;
    lastText = text;
    const scan = { ticket: text, gate, nonce: crypto.randomUUID(), scannedAt: new Date().toISOString() };
    try {
      if (navigator.onLine) {
        try {
          const r = await post("/checkins", { ticket: text, gate, nonce: scan.nonce });
          if (r.status === 401 || r.status === 403) return showAnswer(false, T.signIn);
          if (r.status < 500) {
            setReachable(true);
            const body = await r.json();
            if (r.status === 201) return admitted(body, false);
            const err = body.error || {};
            // A page kept from an earlier session carries a stale CSRF token: sign in again.
            const stale = (err.fields || []).some((f) => f.field === "X-CSRFToken");
            const seat = err.seatId ? placeName(err.seatId) : "";
            return showAnswer(false, stale ? T.signIn : reason(err.code, err), "", seat);
          }
        } catch (_) {
          // no answer: checked here instead
        }
      }
      setReachable(false);
      // A rotating code's static part names the ticket (README "Rotating codes").
      const read = readStatic(text.split(":")[0]);
      const result = await judgeOffline(text, {
        ...scan,
        ticketKey: read ? `${read.ticket.bookingId}|${read.ticket.seatId}` : null,
        seatId: read ? read.ticket.seatId : null,
      });
      if (result.admitted) return admitted(result.admitted, true);
      const details = result.details || {};
      const seat = details.seatId ? placeName(details.seatId) : "";
      showAnswer(false, result.refused || reason(result.code, details), T.checkedOffline, seat);
    } finally {
      busy = false;
      showStatus();
    }
  }

  function admitted(ticket, offline) {
    showAnswer(
      true,
      T.admitted,
      offline ? T.checkedOffline : "",
      placeName(ticket.seatId),
      say(T.booking, { reference: ticket.bookingId }),
    );
    if (!offline) {
      const here = admittedHere();
      here[`${ticket.bookingId}|${ticket.seatId}`] = { at: ticket.at, gate: ticket.gate };
      save(key("admitted"), here);
    }
  }

  // ------------------------------------------------------------ what the steward sees

  const answerBox = root.querySelector("[data-answer]");
  let answerTimer = null;

  function showAnswer(ok, title, note, detail, extra) {
    answerBox.classList.toggle("refused", !ok);
    answerBox.dataset.result = ok ? "admitted" : "refused";
    root.querySelector("[data-answer-title]").textContent = title;
    root.querySelector("[data-answer-detail]").textContent = detail || note || "";
    root.querySelector("[data-answer-extra]").textContent = [detail ? note : "", extra || ""].filter(Boolean).join(" · ");
    answerBox.hidden = false;
    answerBox.querySelector("[data-next]").focus();
    clearTimeout(answerTimer);
    answerTimer = setTimeout(hideAnswer, 5000);
  }

  function hideAnswer() {
    clearTimeout(answerTimer);
    answerBox.hidden = true;
  }

  root.querySelector("[data-next]").addEventListener("click", () => {
    hideAnswer();
    lastText = null;
    root.querySelector("#ticket-code").focus();
  });

  function setReachable(value) {
    reachable = value;
    showStatus();
  }

  function showStatus() {
    const badge = root.querySelector("[data-testid=connection]");
    const n = queue().length;
    const waiting = n ? say(n === 1 ? T.waitingOne : T.waitingMany, { n }) : "";
    const online = navigator.onLine && reachable;
    badge.classList.toggle("offline", !online);
    badge.textContent = online ? [T.online, waiting].filter(Boolean).join(" — ") : [T.offline, waiting].filter(Boolean).join(" — ");
    badge.dataset.waiting = String(n);
  }

  function showConflicts() {
    const list = root.querySelector("[data-conflicts]");
    const found = conflicts();
    list.replaceChildren(
      ...found.map((line) => {
        const li = document.createElement("li");
        li.textContent = line;
        return li;
      }),
    );
    root.querySelector("[data-conflicts-section]").hidden = found.length === 0;
  }

  root.querySelector("[data-clear-conflicts]").addEventListener("click", () => {
    save(key("conflicts"), []);
    showConflicts();
  });

  // ------------------------------------------------------------ the gate

  const gateForm = root.querySelector("[data-gate-form]");
  const changeGate = root.querySelector("[data-change-gate]");

  function showGate() {
    const gate = localStorage.getItem(GATE);
    root.querySelector("[data-testid=gate-name]").textContent = gate || "";
    gateForm.hidden = Boolean(gate);
    changeGate.hidden = !gate;
  }

  function askGate() {
    gateForm.hidden = false;
    gateForm.querySelector("input").focus();
  }

  gateForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = gateForm.querySelector("input").value.trim().slice(0, 40);
    if (!value) return;
    localStorage.setItem(GATE, value);
    showGate();
  });
  changeGate.addEventListener("click", () => {
    gateForm.querySelector("input").value = localStorage.getItem(GATE) || "";
    askGate();
  });

  // ------------------------------------------------------------ manual entry

  root.querySelector("[data-manual]").addEventListener("submit", (event) => {
    event.preventDefault();
    const field = event.target.querySelector("input");
    const text = field.value;
    field.value = "";
    check(text, false);
  });

  // ------------------------------------------------------------ the camera

  async function startCamera() {
    const note = root.querySelector("[data-camera-note]");
    const video = root.querySelector("[data-video]");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || typeof window.jsQR !== "function") {
      note.textContent = T.cameraOff;
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: "environment" } }, audio: false });
    } catch (_) {
      note.textContent = T.cameraOff;
      return;
    }
    video.srcObject = stream;
    await video.play().catch(() => {});
    video.dataset.live = "true";
    const canvas = document.createElement("canvas");
    const context = canvas.getContext("2d", { willReadFrequently: true });
    const frame = () => {
      if (video.readyState >= 2 && answerBox.hidden && !busy) {
        const scale = Math.min(1, 640 / Math.max(video.videoWidth, video.videoHeight));
        canvas.width = Math.round(video.videoWidth * scale);
        canvas.height = Math.round(video.videoHeight * scale);
        context.drawImage(video, 0, 0, canvas.width, canvas.height);
        const image = context.getImageData(0, 0, canvas.width, canvas.height);
        const code = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
        if (code && code.data) check(code.data, true);
      }
      setTimeout(() => requestAnimationFrame(frame), 150);
    };
    requestAnimationFrame(frame);
  }

  // ------------------------------------------------------------ going offline and back

  async function keepForOffline() {
    if (!("serviceWorker" in navigator)) return;
    try {
      await navigator.serviceWorker.register(root.dataset.sw, { scope: "/door/" });
      const ready = await navigator.serviceWorker.ready;
      const cache = await caches.open("seatline-door-1");
      if (navigator.onLine) await cache.add(location.pathname);
      return ready;
    } catch (_) {
      return undefined;
    }
  }

  window.addEventListener("online", () => {
    reachable = true;
    upload().then(refreshBundle);
  });
  window.addEventListener("offline", () => setReachable(false));

  showGate();
  showStatus();
  showConflicts();
  startCamera();
  Promise.all([keepForOffline(), refreshBundle(), loadEd25519().catch(() => null)]).then(() => {
    root.dataset.offlineReady = String(Boolean(bundle()));
    upload();
  });
  setInterval(() => {
    if (navigator.onLine) upload().then(refreshBundle);
  }, REFRESH_MS);

  window.SeatlineScanner = { codeFormats, readStatic };
})();
