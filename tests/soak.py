"""A soak of a baked plugin over stdio, as the Dify daemon drives it; prints its figures as JSON.

Run with the plugin directory as the working directory and the soak's length in seconds as the
argument. The plugin runs against its own loopback server (tests/fake_server.py) through its own
stdio driver (scripts/check/plugin.py). Before and after the load: the plugin process's open
descriptors, its resident memory, and the median time of a probe call (one small embedding).
After a warm-up of one call of each kind, the load, one call after another: chats streamed to
the end, streams abandoned unread (the daemon never tells a plugin that Dify stopped listening),
server faults (errors, dropped connections, malformed streams, a server slower than
request_timeout), embeddings, reranks and, every 25th call, a 5 MB prompt.
"""

import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path[:0] = [os.getcwd(), os.path.join(os.getcwd(), "tests")]

from conftest import FakeServer  # noqa: E402
from scripts.check.plugin import PROVIDER, PluginProcess  # noqa: E402

CHAT = "/v1/chat/completions"
ROUNDS, PROBES = 4, 10  # probe calls before and after the load: the lowest of the rounds' medians,
# as other jobs on the machine slow some rounds down
SETTLE = 15.0  # seconds the abandoned streams get to end after the load


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Soak:
    def __init__(self, plugin: PluginProcess, server: FakeServer) -> None:
        self.plugin, self.server = plugin, server
        self.calls = self.failures = self.abandoned = 0
        self.abandoned_ids: list[str] = []

    def credentials(self, uid: str, timeout: str = "5") -> dict[str, str]:
        return {"server_url": self.server.url, "model_uid": uid, "request_timeout": timeout, "max_retries": "0"}

    def chat(self, content: str, stream: bool = True, timeout: str = "5") -> dict | None:
        _, error = self.plugin.call(
            "invoke_llm",
            model_type="llm",
            model="chat-model",
            credentials=self.credentials("chat-model", timeout),
            prompt_messages=[{"role": "user", "content": content}],
            model_parameters={},
            stop=None,
            tools=None,
            stream=stream,
        )
        return error

    def probe(self) -> float:
        started = time.perf_counter()
        _, error = self.plugin.call(
            "invoke_text_embedding",
            model_type="text-embedding",
            model="embed-model",
            credentials=self.credentials("embed-model"),
            texts=["a probe"],
            input_type="query",
        )
        assert error is None, error
        return time.perf_counter() - started

    def latency(self) -> tuple[float, float]:
        """A probe call's latency in ms, the lowest median of ROUNDS rounds of PROBES calls, and
        the plugin's CPU time per probe call in ms."""
        cpu = cpu_seconds(self.plugin.process.pid)
        lowest = min(statistics.median(self.probe() for _ in range(PROBES)) for _ in range(ROUNDS))
        return lowest * 1000, (cpu_seconds(self.plugin.process.pid) - cpu) / (ROUNDS * PROBES) * 1000

    def abandon(self) -> None:
        """A stream request whose answer nobody reads: the driver skips its lines."""
        session = uuid.uuid4().hex
        self.server.fault(CHAT, reply={"content": " ".join(["word"] * 20)}, chunk_delay=0.05)
        request = {
            "session_id": session,
            "event": "request",
            "data": {
                "type": "model",
                "action": "invoke_llm",
                "user_id": "soak",
                "provider": PROVIDER,
                "model_type": "llm",
                "model": "chat-model",
                "credentials": self.credentials("chat-model"),
                "prompt_messages": [{"role": "user", "content": "never read"}],
                "model_parameters": {},
                "stop": None,
                "tools": None,
                "stream": True,
            },
        }
        self.plugin.process.stdin.write(json.dumps(request).encode() + b"\n")
        self.plugin.process.stdin.flush()
        self.abandoned_ids.append(session)

    def one(self, number: int) -> None:
        """Call number `number` of the load."""
        kind = number % 10
        error: dict | None = None
        if number % 25 == 24:
            self.server.fault(CHAT, reply={"content": "read it all", "no_usage": True})
            error = self.chat("many words " * 500_000, stream=False, timeout="60")  # 5.5 MB
        elif kind in (0, 1, 2):
            error = self.chat(f"question {number}")
        elif kind == 3:
            self.abandon()
            return
        elif kind == 4:
            self.server.fault(CHAT, status=500, body={"detail": "overloaded"})
            error = self.chat("fails")
        elif kind == 5:
            self.server.fault(CHAT, drop=True)
            error = self.chat("dropped")
        elif kind == 6:
            self.server.fault(CHAT, lines=["data: {not json", "data: [DONE]"])
            error = self.chat("malformed")
        elif kind == 7:
            self.server.fault(CHAT, delay=2)
            error = self.chat("too slow", timeout="1")
        elif kind == 8:
            _, error = self.plugin.call(
                "invoke_rerank",
                model_type="rerank",
                model="rerank-model",
                credentials=self.credentials("rerank-model"),
                query="which?",
                docs=[f"document {i}" for i in range(20)],
                score_threshold=None,
                top_n=5,
            )
        else:
            _, error = self.plugin.call(
                "invoke_text_embedding",
                model_type="text-embedding",
                model="embed-model",
                credentials=self.credentials("embed-model"),
                texts=[f"text {number} {i}" for i in range(32)],
                input_type="document",
            )
        self.calls += 1
        self.failures += error is not None

    def ended(self) -> bool:
        """Whether every abandoned stream's session has ended (its end line was written)."""
        written = b"".join(self.plugin.stdout)
        ends = [f'"session_id":"{session}","data":{{"type":"end"'.encode() for session in self.abandoned_ids]
        return all(end in written for end in ends)


def main(seconds: float) -> None:
    server = FakeServer()
    plugin = PluginProcess()
    try:
        soak = Soak(plugin, server)
        pid = plugin.process.pid
        for number in range(25):  # every kind of call once, the 5 MB prompt included: what is
            soak.one(number)  # allocated once (pools, imports, the allocator's arenas) is not a leak
        before = {
            **dict(zip(("probe_ms", "probe_cpu_ms"), soak.latency(), strict=True)),
            "descriptors": descriptors(pid),
            "rss_mib": resident_mib(pid),
        }
        peak = before["rss_mib"]
        started, number = time.monotonic(), 25
        while time.monotonic() - started < seconds:
            soak.one(number)
            number += 1
            peak = max(peak, resident_mib(pid))
        load = time.monotonic() - started
        deadline = time.monotonic() + SETTLE
        while not soak.ended() and time.monotonic() < deadline:
            time.sleep(0.2)
        after = {
            **dict(zip(("probe_ms", "probe_cpu_ms"), soak.latency(), strict=True)),
            "descriptors": descriptors(pid),
            "rss_mib": resident_mib(pid),
        }
        report = {
            "seconds": round(load, 1),
            "calls": soak.calls + len(soak.abandoned_ids),
            "failed_as_intended": soak.failures,
            "abandoned": len(soak.abandoned_ids),
            "abandoned_ended": soak.ended(),
            "peak_rss_mib": round(peak, 1),
            "alive": plugin.process.poll() is None,
            "before": {k: round(v, 2) for k, v in before.items()},
            "after": {k: round(v, 2) for k, v in after.items()},
        }
        print(json.dumps(report))
    finally:
        plugin.stop()
        server.stop()


if __name__ == "__main__":
    main(float(sys.argv[1]))
