"""A closed-loop HTTP/1.1 load generator, run in its own process so it never shares the server's GIL.

`drive()` (in the bench process) writes pre-built raw requests to a file and starts
`python -m bench.loadgen IN OUT`; that process opens CONCURRENCY keep-alive connections, each
sending its next request as soon as the previous answer is read, and times every request with
time.perf_counter. The first `warmup` requests are sent but not timed; the timed part stops at the
end of the list or after `seconds`, whichever comes first (requests left over are not sent).
One asyncio loop with minimal response parsing keeps the generator cheap (the server and the
generator share 2 cores), and the same generator drives the baseline and the service, so their ratio is fair.

Every request is sent at most once (no retries): a transport failure is status 0, a request not
sent is status -1.
"""

from __future__ import annotations

import asyncio
import json
import pickle
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CONCURRENCY = 32


@dataclass
class LoadResult:
    statuses: list[int]  # per request, in the order given; 0 = transport error, -1 = not sent
    latencies_ms: list[float]  # timed (post-warmup) requests only
    elapsed: float  # seconds for the timed part
    timed: int
    error_samples: list[str]

    @property
    def rps(self) -> float:
        return self.timed / self.elapsed if self.elapsed else 0.0

    def errors(self, ok: int = 204) -> int:
        return sum(1 for s in self.statuses if s not in (ok, -1))


def build_request(method: str, path: str, host: str, port: int, headers: dict[str, str] | None = None,
                  body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method != "GET":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def drive(host: str, port: int, requests: list[bytes], warmup: int, seconds: float,
          concurrency: int = CONCURRENCY) -> LoadResult:
    """Run the requests from a separate process and return what it measured."""
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        spec, out = Path(tmp) / "in.pickle", Path(tmp) / "out.json"
        spec.write_bytes(pickle.dumps({"host": host, "port": port, "requests": requests, "warmup": warmup,
                                       "seconds": seconds, "concurrency": concurrency}))
        subprocess.run([sys.executable, "-m", "bench.loadgen", str(spec), str(out)], check=True,
                       cwd=Path(__file__).resolve().parent.parent)
        return LoadResult(**json.loads(out.read_text()))


class _Run:
    def __init__(self, host: str, port: int, requests: list[bytes], warmup: int, seconds: float):
        self.host, self.port, self.requests, self.warmup, self.seconds = host, port, requests, warmup, seconds
        self.statuses = [-1] * len(requests)
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.next = 0
        self.timed_start = 0.0
        self.deadline = float("inf")
        self.warm_done = asyncio.Event()
        self.warmed = 0

    def take(self, timed: bool) -> int | None:
        limit = len(self.requests) if timed else self.warmup
        if self.next >= limit or (timed and time.perf_counter() > self.deadline):
            return None
        index, self.next = self.next, self.next + 1
        return index

    async def connection(self, concurrency: int) -> None:
        """One keep-alive connection: warm-up requests, wait for all connections to finish, timed ones."""
        conn = None
        try:
            conn = await self._send_all(conn, timed=False)
            self.warmed += 1
            if self.warmed == concurrency:
                self.timed_start = time.perf_counter()
                self.deadline = self.timed_start + self.seconds
                self.warm_done.set()
            await self.warm_done.wait()
            conn = await self._send_all(conn, timed=True)
        finally:
            if conn is not None:
                conn[1].close()

    async def _send_all(self, conn, timed: bool):
        while (index := self.take(timed)) is not None:
            started = time.perf_counter()
            try:
                if conn is None:
                    conn = await asyncio.open_connection(self.host, self.port)
                reader, writer = conn
                writer.write(self.requests[index])
                status, close = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                self.statuses[index] = 0
                self._error(f"{type(exc).__name__}: {exc}")
                if conn is not None:
                    conn[1].close()
                conn = None
                continue
            if timed:
                self.latencies.append((time.perf_counter() - started) * 1000)
            self.statuses[index] = status
            if close:
                writer.close()
                conn = None
        return conn

    def _error(self, text: str) -> None:
        if len(self.errors) < 10:
            self.errors.append(text)

    async def run(self, concurrency: int) -> float:
        await asyncio.gather(*(self.connection(concurrency) for _ in range(concurrency)))
        return time.perf_counter() - self.timed_start


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, close = 0, head.startswith(b"HTTP/1.0")
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        key = key.strip().lower()
        if key == b"content-length":
            length = int(value)
        elif key == b"connection":
            close = value.strip().lower() == b"close"
        elif key == b"transfer-encoding":
            raise ValueError("chunked answers are not supported by the load generator")
    if length:
        await reader.readexactly(length)
    return status, close


def main(spec_path: str, out_path: str) -> None:
    spec = pickle.loads(Path(spec_path).read_bytes())  # noqa: S301 (our own file, just written)
    run = _Run(spec["host"], spec["port"], spec["requests"], spec["warmup"], spec["seconds"])
    elapsed = asyncio.run(run.run(spec["concurrency"]))
    Path(out_path).write_text(json.dumps({
        "statuses": run.statuses, "latencies_ms": run.latencies, "elapsed": elapsed,
        "timed": sum(1 for s in run.statuses[spec["warmup"]:] if s != -1), "error_samples": run.errors,
    }))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
