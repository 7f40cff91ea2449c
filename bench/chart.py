#!/usr/bin/env python3
"""Draws hello_bench.py's medians: server CPU per request, a panel per
pipeline depth with a bar per server, the value written on each bar.

    build/bench-venv/bin/python bench/chart.py bench/results/hello.json bench/results/cpu_per_request.png

Needs matplotlib (`make build/bench-venv/bin/python` installs it).
"""
import json
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

def color(server):
    if server == "floor":
        return "#9a9a9a"
    return "#4c72b0" if server.startswith("fastserve") else "#dd8452"


def main(src, dst):
    doc = json.load(open(src))
    rows = doc["medians"]
    servers = list(dict.fromkeys(r["server"] for r in rows))
    depths = sorted({r["depth"] for r in rows})
    value = {(r["server"], r["depth"]): r["cpu_ns"] for r in rows}
    # one panel per depth: depth 1 costs several times depth 16
    fig, axes = plt.subplots(1, len(depths), figsize=(5.2 * len(depths), 4.6), dpi=100, squeeze=False)
    for ax, depth in zip(axes[0], depths):
        names = [s for s in servers if (s, depth) in value]
        ys = [value[(s, depth)] for s in names]
        # an outlier would flatten the rest: cut its bar, keep its number
        cap = min(max(ys), 4 * statistics.median(ys))
        bars = ax.bar(range(len(names)), [min(y, cap) for y in ys], 0.7, color=[color(s) for s in names])
        ax.bar_label(bars, labels=[f"{y:.0f}" + ("\n(cut)" if y > cap else "") for y in ys],
                     fontsize=8, padding=2)
        ax.set_ylim(0, cap * 1.12)
        ax.set_xticks(range(len(names)), names, rotation=35, ha="right", fontsize=9)
        ax.set_title(f"depth {depth}", fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
    axes[0][0].set_ylabel("server CPU per request (ns), lower is better")
    s = doc["settings"]
    fig.suptitle(f"Hello world, {s['conns']} connections: median of {s['rounds']} rounds of "
                 f"{s['duration_s']:g} s ({doc['date'][:10]}); fastserve blue, peers orange, no-HTTP floor grey",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(dst)
    print(f"wrote {dst}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: chart.py RESULTS.json OUT.png")
    main(sys.argv[1], sys.argv[2])
