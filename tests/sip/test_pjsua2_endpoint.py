"""The pjsua2-python wheel starts and stops cleanly with our base endpoint settings."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.sip

_PROGRAM = textwrap.dedent(
    """
    import socket
    import pjsua2 as pj

    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()

    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.logConfig.level = 0
    cfg.logConfig.consoleLevel = 0
    cfg.medConfig.sndAutoCloseTime = -1
    ep.libInit(cfg)
    ep.audDevManager().setNullDev()
    tc = pj.TransportConfig()
    tc.port = port
    tc.boundAddress = "127.0.0.1"
    tid = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
    ep.libStart()
    info = ep.transportGetInfo(tid)
    print("LISTENING", info.localName, port)
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        taken.bind(("127.0.0.1", port))
        print("PORT-FREE")
    except OSError:
        print("PORT-IN-USE")
    taken.close()
    for _ in range(5):
        ep.libHandleEvents(10)
    ep.libDestroy()
    print("DESTROYED", ep.libGetState())
    """
)


def test_endpoint_starts_with_null_audio_and_udp_on_loopback() -> None:
    """An Endpoint with the null sound device binds UDP on 127.0.0.1 and shuts down cleanly."""
    proc = subprocess.run([sys.executable, "-c", _PROGRAM], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # pjlib prints its banner to stdout before our log settings apply: keep our lines only.
    lines = [line for line in proc.stdout.splitlines()
             if line.split(" ")[0] in ("LISTENING", "PORT-IN-USE", "PORT-FREE", "DESTROYED")]
    listening = lines[0].split()
    assert listening[0] == "LISTENING"
    assert listening[1] == f"127.0.0.1:{listening[2]}"
    assert lines[1] == "PORT-IN-USE"
    assert lines[2] == "DESTROYED 0"  # PJSUA_STATE_NULL
