"""schemathesis against the service's own GET /api/v1/openapi.json, over real HTTP, with a real
API key: the coverage, fuzzing and stateful phases (links carry ids from real answers).

What must hold: no 5xx, every status code documented, every answer matching its schema and
content type, `$ref`s resolvable, invalid data refused, unsupported methods answered 405 with
`Allow`, no answer without the key. One check is left out: `positive_data_acceptance`, because
a schema cannot say everything the server checks (a `filter` value must name a known filter, a
rule's regex must compile, a campaign must not be resumed while running), so some data valid by
the schema is rightly refused with a 4xx.

Deterministic (fixed seed, deterministic generation) and bounded: MAX_EXAMPLES per operation
keeps a run under about a minute per database on a busy 2-core machine. The case counts of the
last run are in the README ("API fuzzing").
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))


def test_own_api_conforms_to_its_openapi_document(live_server, api_key, tmp_path):
    cli = Path(sys.executable).with_name("schemathesis")
    command = [
        str(cli),
        "run",
        f"{live_server.url}/api/v1/openapi.json",
        "--header",
        f"X-API-Key: {api_key}",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--checks",
        "all",
        "--exclude-checks",
        "positive_data_acceptance",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        "20261129",
        "--generation-deterministic",
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    if os.environ.get("SCHEMATHESIS_OUTPUT"):  # to read the whole report (case counts, failures)
        Path(os.environ["SCHEMATHESIS_OUTPUT"]).write_text(output)
    assert result.returncode == 0, output[-20000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", output)
    assert counts and counts.group(1) == counts.group(2), output[-4000:]
    assert int(counts.group(1)) > 1000  # the run really generated cases for every operation
