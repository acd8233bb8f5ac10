"""The floor for the concurrent-stream rows: N streams read straight from the server, in one
process, with what the plugin itself uses (httpx on gevent greenlets) and nothing of the SDK.

`python benchmarks/direct.py URL N` prints one JSON object: chunks, errors, seconds from the
first request to the last stream's end, each chunk's latency in ms (receipt minus the send time
the server wrote into it) and this process's CPU seconds.
"""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402 - after patching, as the SDK does it
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import httpx  # noqa: E402
from loopback import sent_ns  # noqa: E402


def read_stream(client: httpx.Client, url: str, latencies: list[float]) -> int:
    payload = {"model": "chat-model", "messages": [{"role": "user", "content": "go"}], "stream": True}
    count = 0
    with client.stream("POST", url, json=payload) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data:") or line == "data: [DONE]":
                continue
            event = json.loads(line[5:])
            received = time.monotonic_ns()
            content = (event.get("choices") or [{}])[0].get("delta", {}).get("content")
            if content:
                latencies.append((received - sent_ns(content)) / 1e6)
                count += 1
    return count


def main() -> None:
    base, streams = sys.argv[1], int(sys.argv[2])
    limits = httpx.Limits(max_connections=max(streams, 1), max_keepalive_connections=8)
    latencies: list[float] = []
    errors = 0
    with httpx.Client(limits=limits, timeout=120) as client:
        start = time.perf_counter()
        jobs = [gevent.spawn(read_stream, client, f"{base}/v1/chat/completions", latencies) for _ in range(streams)]
        gevent.joinall(jobs)
        wall = time.perf_counter() - start
    chunks = sum(job.value or 0 for job in jobs)
    errors = sum(1 for job in jobs if job.exception is not None)
    cpu = os.times()
    print(
        json.dumps(
            {"chunks": chunks, "errors": errors, "wall": wall, "latencies": latencies, "cpu": cpu.user + cpu.system}
        )
    )


if __name__ == "__main__":
    main()
