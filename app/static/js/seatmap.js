// Seat map: running total, and seat states refreshed every two seconds without touching the
// fan's selection (a selected seat someone else takes is unselected, and the fan is told).
(function () {
  "use strict";
  const form = document.getElementById("seat-form");
  if (!form) return;
  const boxes = Array.from(form.querySelectorAll("input[name=seat]"));
  const byId = new Map(boxes.map((b) => [b.value, b]));
  const currency = form.dataset.currency;
  const max = Number(form.dataset.max);
  // Prices are in minor units: 10^-exponent of the currency (2 for pence, 0 for yen, 3 for fils).
  const exponent = Number(form.dataset.exponent || 2);
  let money;
  try {
    money = new Intl.NumberFormat((form.dataset.locale || "en").replace("_", "-"),
      { style: "currency", currency: currency, minimumFractionDigits: exponent, maximumFractionDigits: exponent });
  } catch (e) {
    money = { format: (n) => currency + " " + n.toFixed(exponent) };
  }

  function updateTotal() {
    const chosen = boxes.filter((b) => b.checked);
    const total = chosen.reduce((sum, b) => sum + Number(b.dataset.price), 0);
    document.querySelector("[data-testid=count]").textContent = String(chosen.length);
    document.querySelector("[data-testid=total]").textContent = money.format(total / 10 ** exponent);
    boxes.forEach((b) => { if (!b.checked && !b.dataset.taken) b.disabled = chosen.length >= max; });
  }

  function tell(text) {
    let note = document.querySelector("[data-testid=message]");
    if (!note) {
      note = document.createElement("p");
      note.className = "notice";
      note.setAttribute("role", "alert");
      note.dataset.testid = "message";
      form.parentNode.insertBefore(note, form);
    }
    note.textContent = text;
  }

  async function refresh() {
    try {
      const response = await fetch(form.dataset.seatmap, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const lost = [];
      for (const seat of (await response.json()).seats) {
        const box = byId.get(seat.seatId);
        if (!box) continue;
        const taken = seat.status !== "AVAILABLE";
        if (taken && box.checked) { box.checked = false; lost.push(seat.seatId); }
        box.dataset.taken = taken ? "1" : "";
        box.closest("label").classList.toggle("taken", taken);
        if (taken) box.disabled = true;
        box.setAttribute("aria-label", box.getAttribute("aria-label").replace(/, (available|held|booked)/, ", " + seat.status.toLowerCase()));
      }
      if (lost.length) tell("Sorry, " + lost.join(", ") + (lost.length === 1 ? " was" : " were") + " just taken. The rest of your selection is kept.");
      updateTotal();
    } catch (e) { /* the next refresh tries again */ }
  }

  boxes.forEach((b) => { b.dataset.taken = b.disabled ? "1" : ""; b.addEventListener("change", updateTotal); });
  updateTotal();
  setInterval(refresh, 2000);
})();
