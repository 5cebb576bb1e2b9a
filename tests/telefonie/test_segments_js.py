"""app/admin/static/segments.js gives the same answers as app/telefonie/segments.py.

Runs the browser script under node (in a vm context with a bare `window`) on the Python vector
table, random bodies and every character from U+0000 to U+04FF.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from app.telefonie.segments import analyze

from .test_segments import VECTORS, part_units, random_bodies

SCRIPT = Path(__file__).resolve().parents[2] / "app" / "admin" / "static" / "segments.js"

RUNNER = r"""
const fs = require("fs");
const vm = require("vm");
const sandbox = { window: {} };
vm.runInNewContext(fs.readFileSync(process.argv[1], "utf8"), sandbox, { filename: "segments.js" });
const bodies = JSON.parse(fs.readFileSync(0, "utf8"));
const out = bodies.map((b) => ({
  info: sandbox.window.smsSegments(b),
  parts: sandbox.window.smsSegments.split(b),
}));
process.stdout.write(JSON.stringify(out));
"""


def utf16(s: str) -> bytes:
    """Python may hold a surrogate pair as two code points; JSON from node joins them: compare UTF-16."""
    return s.encode("utf-16-le", "surrogatepass")


def expected(body: str) -> dict:
    info = analyze(body)
    per = (
        (160 if info.encoding == "GSM-7" else 70)
        if info.num_segments == 1
        else (153 if info.encoding == "GSM-7" else 67)
    )
    return {
        "encoding": info.encoding,
        "segments": info.num_segments,
        "units": info.units,
        "perSegment": per,
        "remaining": per - part_units(info.parts[-1], info.encoding),
    }


def run_node(bodies: list[str]) -> list[dict]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    proc = subprocess.run(
        [node, "-e", RUNNER, str(SCRIPT)],
        input=json.dumps(bodies),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_js_matches_python() -> None:
    bodies = [v[1] for v in VECTORS]
    bodies += ["x" * 66 + "\ud83d\ude00" + "y" * 10, "a\ud83d", "\ude00" * 80]
    bodies += random_bodies(seed=7, count=300)
    bodies += [chr(i) for i in range(0x500)] + ["€", "\u2126", "\U0001f600"]
    results = run_node(bodies)
    assert len(results) == len(bodies)
    mismatches = []
    for body, got in zip(bodies, results, strict=True):
        want = expected(body)
        same_parts = [utf16(p) for p in got["parts"]] == [utf16(p) for p in analyze(body).parts]
        if got["info"] != want or not same_parts:
            mismatches.append((body[:40], want, got["info"], same_parts))
    assert not mismatches, mismatches[:5]


def test_js_remaining_counts_down() -> None:
    got = [r["info"] for r in run_node(["", "a" * 160, "a" * 161, "{", "é" * 3 + "á"])]
    assert got == [
        {"encoding": "GSM-7", "segments": 1, "units": 0, "perSegment": 160, "remaining": 160},
        {"encoding": "GSM-7", "segments": 1, "units": 160, "perSegment": 160, "remaining": 0},
        {"encoding": "GSM-7", "segments": 2, "units": 161, "perSegment": 153, "remaining": 145},
        {"encoding": "GSM-7", "segments": 1, "units": 2, "perSegment": 160, "remaining": 158},
        {"encoding": "UCS-2", "segments": 1, "units": 4, "perSegment": 70, "remaining": 66},
    ]
