// The live ticket page (README "Rotating codes"): draws each ticket's QR code in the browser, a new
// one every 15 s at a show with rotating codes, with a countdown; follows the server's clock (the
// offset measured when the data last came from the network); saves the page, its data and its files
// in the cache for the service worker, so the ticket opens offline once it has been seen.
(function () {
  "use strict";

  var CACHE = "seatline-live-v1";
  var root = document.getElementById("live-ticket");
  if (!root) return;
  var dataUrl = root.getAttribute("data-src");
  var offsetKey = "seatline-live-offset:" + dataUrl;
  var offset = 0;
  var live = null;
  var shownStep = null;

  function text(id, value) {
    var el = document.getElementById(id);
    if (el) el.textContent = value;
  }

  function save() {
    if (!("caches" in window)) return Promise.resolve();
    var urls = [location.pathname, dataUrl];
    document.querySelectorAll("script[src], link[rel=stylesheet], link[rel=manifest]").forEach(function (el) {
      urls.push(el.getAttribute("src") || el.getAttribute("href"));
    });
    return caches.open(CACHE).then(function (cache) { return cache.addAll(urls); }).then(function () {
      root.setAttribute("data-saved", "1");
    }).catch(function () {});
  }

  function draw(nowMs) {
    var step = Math.floor(nowMs / 1000 / live.stepSeconds);
    var left = live.stepSeconds - Math.floor((nowMs / 1000) % live.stepSeconds);
    text("live-countdown", live.rotating ? root.getAttribute("data-countdown").replace("%s", String(left)) : "");
    if (step === shownStep) return Promise.resolve();
    shownStep = step;
    return Promise.all(live.tickets.map(function (ticket) {
      return ticket.secret
        ? window.SeatlineRotating.liveText(ticket.code, ticket.secret, nowMs, live)
        : Promise.resolve(ticket.code);
    })).then(function (texts) {
      texts.forEach(function (qrText, i) {
        var box = document.querySelector('[data-seat="' + CSS.escape(live.tickets[i].seatId) + '"] .qr');
        if (!box) return;
        var qr = window.qrcode(0, "M");
        qr.addData(qrText, "Alphanumeric");
        qr.make();
        box.innerHTML = qr.createSvgTag({ cellSize: 4, margin: 4, scalable: true, alt: { text: box.getAttribute("data-alt"), id: "qr-alt-" + i } });
        box.setAttribute("data-text", qrText);
      });
    });
  }

  function tick() {
    var now = Date.now() + offset;
    draw(now).then(function () {
      setTimeout(tick, 1000 - (now % 1000) + 5);
    });
  }

  function start(response, sentAt) {
    if (response.status === 404) {
      root.querySelectorAll(".ticket").forEach(function (el) { el.remove(); });
      text("live-status", root.getAttribute("data-gone"));
      return;
    }
    var saved = response.headers.get("X-Seatline-Saved") === "1";
    return response.json().then(function (data) {
      live = data;
      if (saved) {
        offset = Number(localStorage.getItem(offsetKey) || 0);
        text("live-status", root.getAttribute("data-offline"));
      } else {
        offset = data.serverTimeMs - Math.round((sentAt + Date.now()) / 2);
        localStorage.setItem(offsetKey, String(offset));
        save();
      }
      root.setAttribute("data-ready", "1");
      tick();
    });
  }

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(root.getAttribute("data-worker"), { scope: root.getAttribute("data-scope") }).catch(function () {});
  }
  var sentAt = Date.now();
  fetch(dataUrl, { credentials: "same-origin" }).then(function (response) { return start(response, sentAt); }, function () {
    text("live-status", root.getAttribute("data-gone"));
  });
})();
