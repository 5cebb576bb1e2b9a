"""Tables for the terminal and for bench/RESULTS.md, plus the machine facts the numbers belong to."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 8,000 samples is the 7,920th smallest)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([str(c) for c in cells])

    def note(self, text: str) -> None:
        self.notes.append(text)

    def text(self) -> str:
        widths = [max(len(c), *(len(r[i]) for r in self.rows)) if self.rows else len(c)
                  for i, c in enumerate(self.columns)]
        line = "  ".join(c.ljust(w) for c, w in zip(self.columns, widths, strict=True))
        out = [f"== {self.title}", line, "  ".join("-" * w for w in widths)]
        out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in self.rows]
        out += [f"  {n}" for n in self.notes]
        return "\n".join(out)

    def markdown(self) -> str:
        out = [f"### {self.title}", "", "| " + " | ".join(self.columns) + " |",
               "|" + "|".join(" --- " for _ in self.columns) + "|"]
        out += ["| " + " | ".join(r) + " |" for r in self.rows]
        if self.notes:
            out.append("")
            out += [f"- {n}" for n in self.notes]
        return "\n".join(out)


def ms(value: float) -> str:
    return f"{value:.1f}"


def ratio(value: float, target: float | None = None, at_least: bool = True) -> str:
    text = f"{value:.2f}"
    if target is None:
        return text
    ok = value >= target if at_least else value <= target
    return f"{text} ({'meets' if ok else 'MISSES'} {'≥' if at_least else '≤'} {target})"


def busy_elsewhere(seconds: float = 1.0) -> float:
    """The share of all CPUs busy over `seconds` while the benchmark itself is idle: other people's work."""
    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields[:8]) - idle, sum(fields[:8])

    try:
        busy0, total0 = sample()
        time.sleep(seconds)
        busy1, total1 = sample()
    except (OSError, ValueError, IndexError):
        return float("nan")
    return (busy1 - busy0) / max(1, total1 - total0)


def machine_facts() -> dict[str, str]:
    from bench.servers import postgres_version

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        nproc = str(os.cpu_count())
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": nproc,
        "cpu": cpu,
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "postgresql": postgres_version(),
        "CPU busy with other work at start": f"{busy_elsewhere():.0%}",
    }


def write_results(tables: list[Table], facts: dict[str, str], command: str, elapsed: float,
                  path: Path = RESULTS) -> None:
    lines = [
        "# Benchmark results",
        "",
        "Written by the run itself (`bench/report.py`); numbers are from one run on the machine below.",
        "Benchmarks measure, they do not assert: targets are shown next to each number.",
        "The load generator (one asyncio process, closed loop) runs on the same machine as gunicorn and",
        "PostgreSQL, so all three share its CPUs; ratios against baselines from the same run cancel",
        "most of that. With 32 connections always busy, latency follows throughput (Little's law):",
        "mean latency ≈ 32 / req/s.",
        "",
        f"- command: `{command}` (took {elapsed:.0f} s)",
        *(f"- {key}: {value}" for key, value in facts.items()),
        "",
    ]
    for table in tables:
        lines += [table.markdown(), ""]
    path.write_text("\n".join(lines))
