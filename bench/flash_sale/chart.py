"""flash_sale.png: seats, the waiting room and browsing latency over the sale (matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bench.flash_sale.report import browse_windows

if TYPE_CHECKING:
    from bench.flash_sale.fans import Simulation


def chart(sim: Simulation, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    opens = sim.opens_mono
    tl = sim.timeline
    t = [s["t"] - opens for s in tl]
    fig, (a1, a2, a3) = plt.subplots(3, 1, figsize=(11, 10), sharex=True)
    a1.plot(t, [s["booked"] for s in tl], label="booked", color="tab:green", lw=2)
    a1.plot(t, [s["held"] for s in tl], label="held (in a live hold)", color="tab:orange")
    a1.plot(t, [s["paying"] for s in tl], label="held, payment under way", color="tab:red", lw=1, ls="--")
    a1.plot(t, [s["total"] - s["booked"] - s["held"] for s in tl], label="available", color="tab:blue", lw=1)
    a1.set_ylabel("seats")
    a1.legend(loc="center right")
    a1.set_title(title)
    a2.plot(t, [s["admitted"] for s in tl], label="admitted (cumulative)", color="tab:purple", lw=2)
    a2.plot(t, [s["active"] for s in tl], label="counting against the cap", color="tab:gray")
    a2.plot(t, [s["shopping"] for s in tl], label="admitted fans shopping now", color="tab:brown")
    a2.set_ylabel("fans")
    a2.legend(loc="upper left")
    a2b = a2.twinx()
    a2b.plot(t, [s["waiting"] for s in tl], color="tab:cyan", lw=1, ls=":", label="in the waiting room")
    a2b.set_ylabel("in the waiting room", color="tab:cyan")
    rows = browse_windows(sim)
    a3.step(
        [r["t"] for r in rows], [r["p95"] * 1000 for r in rows], where="mid", label="browse p95 (all)", color="tab:red"
    )
    a3.step(
        [r["t"] for r in rows], [r["p50"] * 1000 for r in rows], where="mid", label="browse p50 (all)", color="tab:blue"
    )
    a3.step(
        [r["t"] for r in rows],
        [r["eps"]["browse-listing"] * 1000 for r in rows],
        where="mid",
        label="listing p95",
        color="tab:olive",
        lw=1,
    )
    a3.set_ylabel("browse latency, ms per 10-s window")
    a3b = a3.twinx()
    a3b.step(
        [r["t"] for r in rows],
        [r["gate_rps"] for r in rows],
        where="mid",
        color="tab:gray",
        lw=1,
        ls=":",
        label="fans' gate requests/s",
    )
    a3b.set_ylabel("gate requests/s (join + status)", color="tab:gray")
    a3b.set_ylim(bottom=0)
    a3.set_xlabel("seconds from the sale's opening")
    a3.set_ylim(bottom=0)
    a3.legend(loc="upper left")
    for ax in (a1, a2, a3):
        ax.axvline(0, color="black", lw=0.8)
        if sim.sold_out_at is not None:
            ax.axvline(sim.sold_out_at - opens, color="tab:green", lw=0.8, ls="--")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
