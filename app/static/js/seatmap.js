// Seat map: the whole show's map drawn from the seat-map JSON (a form with data-layout), or a
// section's seats as the page lists them; then the running total, and seat states refreshed every
// two seconds without touching the fan's selection (a selected seat someone else takes is
// unselected, and the fan is told). No framework: each seat is a real checkbox with a label, in
// the same markup the server writes for a section (templates/site/_show_body.html).
(function () {
  "use strict";
  const form = document.getElementById("seat-form");
  if (!form) return;
  const map = form.querySelector(".seatmap");
  let boxes = [];
  let byId = new Map();
  const currency = form.dataset.currency;
  const max = Number(form.dataset.max);
  const statusNames = { A: "AVAILABLE", H: "HELD", B: "BOOKED" };
  // What the script writes comes from the page, in its language (site/_show_submit.html,
  // data-seatmap-texts); English when a page has none. "{name}" marks where a value goes.
  const given = (document.querySelector("[data-seatmap-texts]") || { dataset: {} }).dataset;
  const texts = {
    seat: given.seat || "{section}, row {row}, seat {number}, {price}, {status}",
    accessible: given.accessible || "wheelchair accessible",
    AVAILABLE: given.available || "available",
    HELD: given.held || "held",
    BOOKED: given.booked || "booked",
    takenOne: given.takenOne || "Sorry, {seats} was just taken. The rest of your selection is kept.",
    takenMany: given.takenMany || "Sorry, {seats} were just taken. The rest of your selection is kept.",
    failed: given.failed || "The seat map could not be loaded. Open a section above to list its seats, or reload the page.",
  };
  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
  }
  // A seat's status as its label says it: the page's word, or the English of a label the server wrote.
  const statusWords = new Set(["available", "held", "booked", texts.AVAILABLE, texts.HELD, texts.BOOKED]);
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
    form.querySelector("[data-testid=count]").textContent = String(chosen.length);
    form.querySelector("[data-testid=total]").textContent = money.format(total / 10 ** exponent);
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

  // The seats a row at a time, left to right: the focus order a screen reader and Tab follow. As the
  // server lays out a section (app/site/routes.py, _rows): a gap per empty cell of a dense layout, one
  // gap per run of empty cells otherwise (a layout spread over a huge area costs what its seats do).
  function rows(seats) {
    const byY = new Map();
    for (const seat of seats) {
      if (!byY.has(seat.y)) byY.set(seat.y, []);
      byY.get(seat.y).push(seat);
    }
    const xs = seats.map((s) => s.x);
    const minX = Math.min(...xs);
    const width = Math.max(...xs) - minX + 1;
    const cellByCell = byY.size * width <= 4 * seats.length + 1000;
    return Array.from(byY.keys()).sort((a, b) => a - b).map((y) => {
      const row = [];
      let lastX = minX - 1;
      for (const seat of byY.get(y).sort((a, b) => a.x - b.x)) {
        const missing = seat.x - lastX - 1;
        for (let i = 0; i < (cellByCell ? missing : Math.min(missing, 1)); i++) row.push(null);
        row.push(seat);
        lastX = seat.x;
      }
      return row;
    });
  }

  function seatLabel(seat, tierIndex, selected) {
    const label = document.createElement("label");
    const taken = seat.status !== "AVAILABLE";
    label.className = "seat tier-" + (tierIndex.get(seat.tier) || 0) + (seat.accessible ? " accessible" : "") + (taken ? " taken" : "");
    label.title = seat.seatId;
    const box = document.createElement("input");
    box.type = "checkbox";
    box.name = "seat";
    box.value = seat.seatId;
    box.dataset.price = String(seat.price);
    box.checked = !taken && selected.has(seat.seatId);
    box.disabled = taken;
    box.setAttribute("aria-label", fill(texts.seat, {
      section: seat.section, row: seat.row, number: seat.number,
      price: money.format(seat.price / 10 ** exponent), status: texts[seat.status] || seat.status.toLowerCase(),
    }) + (seat.accessible ? ", " + texts.accessible : ""));
    const number = document.createElement("span");
    number.setAttribute("aria-hidden", "true");
    number.textContent = String(seat.number);
    label.append(box, number);
    return label;
  }

  async function draw() {
    const response = await fetch(form.dataset.layout, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error("seat map " + response.status);
    // A standing section's places are not drawn: the page offers them by quantity.
    const seats = (await response.json()).seats.filter((s) => !s.standing);
    // Colours as the legend the page wrote lists the tiers.
    const tierIndex = new Map(Array.from(document.querySelectorAll(".legend [data-tier]"), (k, i) => [k.dataset.tier, i + 1]));
    const selected = new Set(JSON.parse(form.dataset.selected || "[]"));
    const drawn = document.createDocumentFragment();
    for (const row of rows(seats)) {
      const line = document.createElement("div");
      line.className = "seat-row";
      for (const seat of row) {
        if (seat) {
          line.append(seatLabel(seat, tierIndex, selected));
        } else {
          const gap = document.createElement("span");
          gap.className = "gap";
          gap.setAttribute("aria-hidden", "true");
          line.append(gap);
        }
      }
      drawn.append(line);
    }
    map.replaceChildren(drawn);
    // On a page answering a failed hold: the asked-for seats' states as read then, newer than the map's.
    for (const [id, status] of Object.entries(JSON.parse(form.dataset.states || "{}"))) {
      const box = map.querySelector("input[value=\"" + CSS.escape(id) + "\"]");
      if (box && setStatus(box, status)) box.checked = false;
    }
    map.removeAttribute("aria-busy");
    form.querySelector("[data-testid=map-controls]").hidden = false;
  }

  function setStatus(box, status) {
    const taken = status !== "AVAILABLE";
    box.dataset.taken = taken ? "1" : "";
    box.closest("label").classList.toggle("taken", taken);
    box.disabled = taken; // a free seat may still be disabled by the cap: updateTotal, next, decides
    const parts = box.getAttribute("aria-label").split(", ");
    const at = parts.findIndex((part) => statusWords.has(part));
    if (at >= 0) parts[at] = texts[status] || status.toLowerCase();
    box.setAttribute("aria-label", parts.join(", "));
    return taken;
  }

  // The compact map (the whole show: seatIds and one status letter each) or a section's seats.
  async function refresh() {
    try {
      const response = await fetch(form.dataset.seatmap, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const answer = await response.json();
      const states = answer.seatIds
        ? answer.seatIds.map((id, i) => [id, statusNames[answer.status[i]]])
        : answer.seats.map((seat) => [seat.seatId, seat.status]);
      const lost = [];
      for (const [id, status] of states) {
        const box = byId.get(id);
        if (!box) continue;
        const wasChecked = box.checked;
        if (setStatus(box, status) && wasChecked) { box.checked = false; lost.push(id); }
      }
      if (lost.length) tell(fill(lost.length === 1 ? texts.takenOne : texts.takenMany, { seats: lost.join(", ") }));
      updateTotal();
    } catch (e) { /* the next refresh tries again */ }
  }

  function start() {
    boxes = Array.from(form.querySelectorAll("input[name=seat]"));
    byId = new Map(boxes.map((b) => [b.value, b]));
    boxes.forEach((b) => { b.dataset.taken = b.disabled ? "1" : ""; b.addEventListener("change", updateTotal); });
    updateTotal();
    setInterval(refresh, 2000);
  }

  if (form.dataset.layout) {
    draw().then(start, () => {
      map.removeAttribute("aria-busy");
      const note = form.querySelector("[data-testid=map-fallback]");
      if (note) note.textContent = texts.failed;
    });
  } else {
    start();
  }
})();
