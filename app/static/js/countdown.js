// Counts down to the hold's expiry (from the server's time, so a reload shows the same), then says so.
// What it says then comes from the page (data-ended), in the page's language.
(function () {
  "use strict";
  const el = document.querySelector("[data-testid=countdown]");
  if (!el) return;
  const expires = Date.parse(el.dataset.expires);
  function tick() {
    const left = Math.max(0, Math.round((expires - Date.now()) / 1000));
    el.textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
    if (left === 0) { el.textContent = "0:00 — " + (el.dataset.ended || "the hold has ended and the seats are free again"); return; }
    setTimeout(tick, 1000);
  }
  tick();
})();
