"""Concurrent announcements through the front (issue 16): prints the markdown of
docs/benchmarks.md's "Concurrent announcements" section (./scripts/bench announce).

Two measurements, loopback only, bounded in count and time:

1. **Prompt format cost** (`--codec-calls` per cell, sequential): rtpengine alone (its config
   rendered by router/kamailio/rtpengine.py), driven over the ng protocol as Kamailio drives it:
   offer (caller's codec first), answer (the black hole), play media, delete. For each caller
   codec (PCMU, PCMA, G.722) and each prompt file (the 16-bit PCM WAV, the pre-encoded copy
   scripts/make-prompts writes): play-media latency and rtpengine CPU per call.
2. **Concurrent announcements** (`--rate` new calls/s for `--seconds`): `e911-router run` with
   E911_ANNOUNCE_PATH=front (Kamailio, rtpengine, 2 workers) on a fresh store; SIPp callers of
   the unlocated load users (`sipp-scenarios/load/uac-announce-183-403.xml`) whose SDP points at
   RTP receivers here (4 processes sharing one port with SO_REUSEPORT, one RTP stream each a
   caller). A call counts as served when it got 183, every packet of the prompt (length x 50,
   2 of slack) and its 403 + Reason.
3. **Mixed profile with prompts on** (`--mixed-rate`, optional): scripts/loadlib.py's mixed
   profile (10% 911, 80% located, 10% unlocated callers, who now hear the whole prompt from the
   front instead of E911_ANNOUNCE_OVERFLOW=reject's immediate 403), 4 workers, after a 10 s
   warm-up, beside docs/benchmarks.md's figures with prompts off.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import wave
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadlib

from router.kamailio.announce import PROMPT_STEM
from router.kamailio.rtpengine import (
    RtpengineConfig,
    ng_ping,
    ng_request,
    rtpengine_child,
    write_conf,
)
from router.settings_parsers import HostPort
from tests.support.ports import free_port, free_port_block

ROOT = loadlib.ROOT
PROMPTS = ROOT / "config" / "prompts"
LANGUAGE = "en"
"""The unlocated load users' language (scripts/loadlib.py seed_store)."""
CODECS = {"PCMU": ("0", "0 8 101"), "PCMA": ("8", "8 0 101"), "G722": ("9", "9 0 101")}
"""Caller codec -> (its payload type, the m= line's payload types, that codec first)."""
PRE_ENCODED = {"PCMU": "pcmu", "PCMA": "pcma", "G722": "g722"}
RECEIVERS = 4


def prompt_seconds(language: str) -> float:
    with wave.open(str(PROMPTS / language / f"{PROMPT_STEM}.wav"), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


# -- ng (bencode) ------------------------------------------------------------------------------

def bencode(value: object) -> bytes:
    if isinstance(value, dict):
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in value.items()) + b"e"
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    data = str(value).encode()
    return str(len(data)).encode() + b":" + data


def _sdp(port: int, payload_types: str) -> str:
    names = {"0": "PCMU/8000", "8": "PCMA/8000", "9": "G722/8000",
             "101": "telephone-event/8000"}
    lines = ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
             f"m=audio {port} RTP/AVP {payload_types}"]
    lines += [f"a=rtpmap:{pt} {names[pt]}" for pt in payload_types.split()]
    return "\r\n".join(lines) + "\r\n"


@dataclass(frozen=True, slots=True)
class FormatCost:
    codec: str
    file: str
    calls: int
    play_ms_p50: float
    cpu_ms_per_call: float
    sent_payload_type: str


def measure_format(ng: HostPort, pid: int, codec: str, path: Path, calls: int) -> FormatCost:
    _, payload_types = CODECS[codec]
    latencies = []
    cpu0 = loadlib.cpu_seconds(pid)
    sent = ""
    for k in range(calls):
        call_id, tag = f"bench-{codec}-{path.name}-{k}-{os.getpid()}", f"ft{k}"
        offer = ng_request(ng, bencode({"command": "offer", "call-id": call_id,
                                        "from-tag": tag, "sdp": _sdp(20000 + k % 1000,
                                                                     payload_types),
                                        "replace": ["origin", "session-connection"]}))
        match = re.search(rb"m=audio \d+ RTP/AVP ([0-9 ]+)", offer)
        answer_sdp = _sdp(9, payload_types) + "a=sendonly\r\n"  # the black hole, as Kamailio's
        ng_request(ng, bencode({"command": "answer", "call-id": call_id, "from-tag": tag,
                                "to-tag": f"tt{k}", "sdp": answer_sdp}))
        began = time.perf_counter()
        played = ng_request(ng, bencode({"command": "play media", "call-id": call_id,
                                         "from-tag": tag, "file": str(path)}))
        latencies.append((time.perf_counter() - began) * 1000)
        if b"duration" not in played:
            raise RuntimeError(f"rtpengine did not play {path} to a {codec} caller: {played!r}")
        if match and not sent:
            sent = match.group(1).decode().split()[0]
        ng_request(ng, bencode({"command": "delete", "call-id": call_id, "from-tag": tag}))
    cpu_ms = (loadlib.cpu_seconds(pid) - cpu0) * 1000 / calls
    return FormatCost(codec, path.name, calls, loadlib.percentile(latencies, 0.5), cpu_ms, sent)


@contextlib.contextmanager
def rtpengine_alone(workdir: Path) -> Iterator[tuple[HostPort, int]]:
    ng = HostPort("127.0.0.1", free_port_block(2))
    low = free_port_block(64)
    config = RtpengineConfig("rtpengine", ng, (low, low + 63), 2000, workdir / "rtpengine")
    write_conf(config)
    proc = subprocess.Popen(rtpengine_child(config).argv, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        loadlib.wait_for(lambda: ng_ping(ng), 20, "rtpengine answering ng")
        yield ng, proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


def format_costs(workdir: Path, calls: int) -> list[FormatCost]:
    found = []
    with rtpengine_alone(workdir) as (ng, pid):
        for codec in CODECS:
            for suffix in ("", f".{PRE_ENCODED[codec]}"):
                path = PROMPTS / LANGUAGE / f"{PROMPT_STEM}{suffix}.wav"
                found.append(measure_format(ng, pid, codec, path, calls))
    return found


# -- RTP receivers -----------------------------------------------------------------------------

def _receive(port: int, stop_at: float, out: Connection) -> None:
    """One receiver process: (source, SSRC) -> [packets, first, last] until `stop_at`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind(("127.0.0.1", port))
    sock.settimeout(0.5)
    streams: dict[tuple[int, int], list[float]] = {}
    out.send("ready")
    while time.time() < stop_at:
        try:
            data, source = sock.recvfrom(2048)
        except TimeoutError:
            continue
        if len(data) < 12:
            continue
        key = (source[1], int.from_bytes(data[8:12], "big"))
        now = time.time()
        stream = streams.get(key)
        if stream is None:
            streams[key] = [1, now, now]
        else:
            stream[0] += 1
            stream[2] = now
    out.send(streams)


@dataclass
class Receivers:
    port: int
    procs: Sequence[mp.process.BaseProcess]
    pipes: list[Connection]

    def collect(self) -> list[list[float]]:
        streams: list[list[float]] = []
        for pipe, proc in zip(self.pipes, self.procs, strict=True):
            found = pipe.recv()
            streams += list(found.values())
            proc.join(10)
        return streams


def start_receivers(stop_at: float) -> Receivers:
    port = free_port()
    ctx = mp.get_context("fork")
    procs, pipes = [], []
    for _ in range(RECEIVERS):
        ours, theirs = ctx.Pipe()
        proc = ctx.Process(target=_receive, args=(port, stop_at, theirs), daemon=True)
        proc.start()
        procs.append(proc)
        pipes.append(ours)
    for pipe in pipes:
        if not pipe.poll(10) or pipe.recv() != "ready":
            raise loadlib.LoadError("an RTP receiver did not start")
    return Receivers(port, procs, pipes)


# -- the concurrent run ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RunFigures:
    rate: float
    seconds: float
    offered: int
    successful: int
    failed: int
    full_prompt: int
    streams: int
    packets: int
    expected_packets: int
    peak_concurrent: int
    setup_p50_ms: float
    setup_p95_ms: float
    setup_max_ms: float
    prompt_to_403_p50_ms: float
    fallback: int
    capped: int
    cpu: dict[str, float]
    rss: dict[str, float]
    machine_busy: float
    load_average: str


def _front_counters(metrics_url: str) -> dict[str, int]:
    with contextlib.suppress(OSError):
        with urllib.request.urlopen(f"{metrics_url}/metrics", timeout=5) as response:  # noqa: S310
            text = response.read().decode()
        return {m.group(1): int(float(m.group(2))) for m in re.finditer(
            r'^e911_front_announcements_total\{result="([a-z]+)"\} ([0-9.e+]+)$', text, re.M)}
    return {}


def _peak(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    peak = current = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


def concurrent_run(workdir: Path, rate: float, seconds: float) -> RunFigures:
    loadlib.check_bounds(rate, seconds, "127.0.0.1")
    prompt = prompt_seconds(LANGUAGE)
    calls = round(rate * seconds)
    expected = round(prompt * 50)
    ng = free_port_block(2)
    with loadlib.trunks(workdir) as trunks_:
        router = loadlib.start_router(workdir, trunks_, workers=2, extra={
            "E911_ANNOUNCE_PATH": "front",
            "E911_ANNOUNCE_MAX": str(int(rate * (prompt + 2)) + 200),
            "E911_RTPENGINE_NG": f"127.0.0.1:{ng}",
            "E911_RTPENGINE_PORTS": "20000-29999",
            "E911_KAMAILIO_WORKER_CPS": str(max(100, int(rate))),
        })
        try:
            metrics = f"http://{_router_env(router)['E911_METRICS_LISTEN']}"
            stop_at = time.time() + seconds + prompt + 40
            receivers = start_receivers(stop_at)
            meter = loadlib.UsageMeter(router.pids())
            tag = workdir / "announce"
            args = [loadlib.SIPP, f"127.0.0.1:{router.port}",
                    "-sf", str(loadlib.LOAD / "uac-announce-183-403.xml"),
                    "-inf", str(loadlib.LOAD / "callers-unlocated.csv"),
                    "-set", "rtp_port", str(receivers.port),
                    "-r", str(round(rate)), "-rp", "1000", "-m", str(calls),
                    "-l", str(int(rate * (prompt + 5)) + 100),
                    "-i", "127.0.0.1", "-p", str(free_port()),
                    "-mp", str(free_port()), "-nostdin", "-recv_timeout", "40000",
                    "-timeout", f"{int(seconds + prompt + 60)}s", "-timeout_error",
                    "-trace_stat", "-stf", f"{tag}-stat.csv", "-fd", "1",
                    "-trace_rtt", "-rtt_freq", "1", "-trace_err", "-error_file",
                    f"{tag}.err"]
            caller = subprocess.Popen(args, cwd=workdir, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while caller.poll() is None and time.time() < stop_at:
                meter.sample()
                time.sleep(1.0)
            if caller.poll() is None:
                caller.kill()
            caller.wait()
            usage = meter.finish()
            counters = _front_counters(metrics)
            streams = receivers.collect()
        finally:
            router.stop()
    row = loadlib._last_stat_row(Path(f"{tag}-stat.csv"))
    successful = int(row.get("SuccessfulCall(C)", "0") or 0)
    rtt_file = workdir / f"uac-announce-183-403_{caller.pid}_rtt.csv"
    setup: list[float] = []
    prompt_to_403: list[float] = []
    if rtt_file.exists():
        for line in rtt_file.read_text(errors="replace").splitlines()[1:]:
            parts = line.split(";")
            with contextlib.suppress(IndexError, ValueError):
                (setup if parts[2].strip() == "1" else prompt_to_403).append(float(parts[1]))
    full = sum(1 for s in streams if s[0] >= expected - 2)
    return RunFigures(
        rate=rate, seconds=seconds, offered=calls, successful=successful,
        failed=calls - successful, full_prompt=full, streams=len(streams),
        packets=int(sum(s[0] for s in streams)), expected_packets=expected,
        peak_concurrent=_peak([(s[1], s[2]) for s in streams]),
        setup_p50_ms=loadlib.percentile(setup, 0.5),
        setup_p95_ms=loadlib.percentile(setup, 0.95),
        setup_max_ms=max(setup) if setup else float("nan"),
        prompt_to_403_p50_ms=loadlib.percentile(prompt_to_403, 0.5),
        fallback=counters.get("fallback", -1), capped=counters.get("capped", -1),
        cpu=usage.cpu_core_share, rss=usage.rss_peak_mb,
        machine_busy=usage.machine_busy_share, load_average=usage.load_average)


def _router_env(router: loadlib.Router) -> dict[str, str]:
    """The settings the run gave the router (its first JSON line does not carry them): read
    back from its children's environment (the supervisor's /proc entry)."""
    text = Path(f"/proc/{router.proc.pid}/environ").read_bytes().split(b"\0")
    return {k: v for k, _, v in (e.decode(errors="replace").partition("=") for e in text)
            if k.startswith("E911_")}


# -- markdown ----------------------------------------------------------------------------------

def markdown(costs: list[FormatCost], runs: list[RunFigures], argv: list[str],
             mixed: str = "") -> str:
    command = " ".join(["python", "scripts/bench_announce.py", *argv])
    prompt = prompt_seconds(LANGUAGE)
    lines = ["### Concurrent announcements", "",
             "E911_ANNOUNCE_PATH=front (issue 16, docs/announcements.md): the worker answers an "
             "unlocated caller's ordinary call with a 302 naming the prompt's language; Kamailio "
             "answers 183 with rtpengine's SDP, rtpengine plays the prompt, Kamailio sends 403 + "
             "Reason at its end. Everything (SIPp callers, RTP receivers, router, rtpengine) on "
             "this one machine, loopback only.", "",
             f"Command: `./scripts/bench announce` (= `{command}`).", ""]
    if costs:
        lines += ["**Prompt format** (rtpengine alone over ng, sequential; play media = the ng "
                  "command's latency; CPU = rtpengine's, per call, offer to delete):", "",
                  "| caller codec | prompt file | first PT of the offer | play media p50 (ms) | "
                  "rtpengine CPU / call (ms) |", "|---|---|---|---:|---:|"]
        lines += [f"| {c.codec} | `{c.file}` | {c.sent_payload_type} | {c.play_ms_p50:.2f} | "
                  f"{c.cpu_ms_per_call:.2f} |" for c in costs]
        lines.append("")
    for run in runs:
        kam = run.cpu.get("kamailio", 0.0) * 100
        rtp = run.cpu.get("rtpengine", 0.0) * 100
        lines += [f"**{run.rate:g} new announcements/s for {run.seconds:g} s** "
                  f"({prompt:.2f} s prompt = {run.expected_packets} packets, PCMU):", "",
                  "| offered | 183 + 403 + Reason | full prompt received | failed | "
                  "peak at once | packets received | INVITE->183 p50 / p95 / max (ms) | "
                  "183->403 p50 (ms) | capped | fallback |",
                  "|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
                  f"| {run.offered} | {run.successful} | {run.full_prompt} | {run.failed} | "
                  f"{run.peak_concurrent} | {run.packets} of {run.offered * run.expected_packets}"
                  f" | {run.setup_p50_ms:.0f} / {run.setup_p95_ms:.0f} / {run.setup_max_ms:.0f}"
                  f" | {run.prompt_to_403_p50_ms:.0f} | {run.capped} | {run.fallback} |", "",
                  f"CPU (share of one core): rtpengine {rtp:.0f}%, Kamailio {kam:.0f}%, "
                  f"machine {run.machine_busy * 100:.0f}% busy (load1 at start "
                  f"{run.load_average}); peak RSS rtpengine "
                  f"{run.rss.get('rtpengine', 0.0):.0f} MB, Kamailio "
                  f"{run.rss.get('kamailio', 0.0):.0f} MB.", ""]
    if mixed:
        lines += ["**Mixed profile with prompts on** (E911_ANNOUNCE_PATH=front; the unlocated "
                  "10% get 183, the whole prompt, then 403):", "", "```", mixed, "```", ""]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, action="append",
                        help="new announcements a second (repeat for several runs; "
                             "default 100)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each run")
    parser.add_argument("--codec-calls", type=int, default=200,
                        help="calls per prompt-format cell (0: skip)")
    parser.add_argument("--mixed-rate", type=float, default=0.0,
                        help="also the mixed profile with prompts on at this rate (0: skip)")
    parser.add_argument("--mixed-seconds", type=float, default=90.0)
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (SIPp errors, logs) and say where")
    args = parser.parse_args(argv)
    rates = args.rate or [100.0]
    parser_keep = args.keep
    with contextlib.ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="e911-announce-")) if parser_keep else \
            Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="e911-announce-")))
        print(f"[bench announce] work directory {workdir}", file=sys.stderr)
        costs = format_costs(workdir, args.codec_calls) if args.codec_calls > 0 else []
        runs = []
        for k, rate in enumerate(rates):
            run_dir = workdir / f"run-{k}"
            run_dir.mkdir()
            runs.append(concurrent_run(run_dir, rate, args.seconds))
        mixed = ""
        if args.mixed_rate > 0:
            result = loadlib.run_once(
                "router", "mixed", rate=args.mixed_rate, seconds=args.mixed_seconds,
                hold_ms=1000, workers=4, workdir=workdir / "mixed",
                extra_env={"E911_ANNOUNCE_PATH": "front",
                           "E911_RTPENGINE_NG": f"127.0.0.1:{free_port_block(2)}",
                           "E911_RTPENGINE_PORTS": "20000-29999"},
                warmup_seconds=10)
            mixed = loadlib.summary(result)
    sys.stdout.write(markdown(costs, runs, argv, mixed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
