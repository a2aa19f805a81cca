"""A real softphone (Debian baresip 1.0) driven over ctrl_tcp (netstring JSON), on loopback.

No sound card: the microphone is a 60 s 440 Hz WAV made by sox (`aufile`, 8 kHz like the
call; when the file ends, baresip ends the call; `ausine` only runs at 48 kHz and baresip 1.0
here has no resampler, so it ends the call at once), the speaker a bridge to nowhere
(`aubridge`), and `sndfile` records every decoded stream to `<workdir>/rec/*-dec.wav`.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.ports import free_port
from tests.support.processes import stop_process, wait_until

_CONFIG = """\
poll_method\t\tpoll
sip_listen\t\t{address}:{sip_port}
net_interface\t\t{address}
audio_player\t\taubridge,nowhere
audio_alert\t\taubridge,nowhere
audio_source\t\taufile,{microphone}
module_path\t\t/usr/lib/baresip/modules
module\t\t\tg711.so
module\t\t\taubridge.so
module\t\t\taufile.so
module\t\t\tsndfile.so
module\t\t\taccount.so
module\t\t\tmenu.so
module\t\t\tctrl_tcp.so
ctrl_tcp_listen\t\t127.0.0.1:{ctrl_port}
snd_path\t\t{rec}
"""


@dataclass
class Baresip:
    proc: subprocess.Popen[str]
    sock: socket.socket
    workdir: Path
    output: list[str] = field(default_factory=list)
    events: list[dict[str, object]] = field(default_factory=list)
    reader: threading.Thread | None = None

    @classmethod
    def start(cls, workdir: Path, user: str, *, address: str = "127.0.0.1",
              account: str | None = None) -> Baresip:
        """`account`: a whole baresip account line (e.g. one that registers with a PBX);
        default, `user` at 127.0.0.1 with no registration."""
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "rec").mkdir(exist_ok=True)
        ctrl_port = free_port()
        microphone = workdir / "microphone.wav"
        subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(microphone),
                        "synth", "60", "sine", "440", "vol", "0.3"], check=True)
        (workdir / "config").write_text(_CONFIG.format(
            address=address, sip_port=free_port(address), ctrl_port=ctrl_port,
            rec=workdir / "rec", microphone=microphone))
        (workdir / "accounts").write_text(
            (account or f"<sip:{user}@127.0.0.1>;regint=0") + "\n")
        proc = subprocess.Popen(["baresip", "-f", str(workdir)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        client = cls(proc, socket.socket(), workdir)
        client.reader = threading.Thread(target=client._read_output, daemon=True)
        client.reader.start()
        wait_until(lambda: any("baresip is ready" in line for line in client.output)
                   or proc.poll() is not None, 10, "baresip ready")
        client.sock.close()  # the placeholder the dataclass was built with
        client.sock = socket.create_connection(("127.0.0.1", ctrl_port), timeout=5)
        threading.Thread(target=client._read_events, daemon=True).start()
        return client

    def _read_output(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line.rstrip())

    def _read_events(self) -> None:
        buffer = b""
        self.sock.settimeout(None)
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                return
            if not data:
                return
            buffer += data
            while b":" in buffer:
                size, rest = buffer.split(b":", 1)
                if len(rest) < int(size) + 1:
                    break
                self.events.append(json.loads(rest[: int(size)]))
                buffer = rest[int(size) + 1:]

    def command(self, command: str, params: str = "") -> None:
        body = json.dumps({"command": command, "params": params, "token": "t"}).encode()
        self.sock.sendall(str(len(body)).encode() + b":" + body + b",")

    def wait_event(self, kind: str, timeout: float = 30) -> dict[str, object]:
        wait_until(lambda: any(e.get("type") == kind for e in self.events), timeout,
                   f"baresip {kind}")
        return next(e for e in self.events if e.get("type") == kind)

    def recordings(self) -> list[Path]:
        return sorted((self.workdir / "rec").glob("*-dec.wav"))

    def stop(self) -> None:
        self.sock.close()
        stop_process(self.proc, 5)
        # the reader sees the pipe's end once baresip has exited; then the pipe is closed
        if self.reader is not None:
            self.reader.join(5)
        if self.proc.stdout is not None and (self.reader is None or not self.reader.is_alive()):
            self.proc.stdout.close()


def audio_stats(wav: Path) -> tuple[float, float]:
    """(seconds, RMS amplitude 0..1) of a WAV file, from `sox FILE -n stat`."""
    text = subprocess.run(["sox", str(wav), "-n", "stat"], capture_output=True, text=True,
                          check=True).stderr
    values = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        values[name.strip()] = value.strip()
    return float(values["Length (seconds)"]), float(values["RMS     amplitude"])


