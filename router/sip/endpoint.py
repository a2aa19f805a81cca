"""The one pjsua2 `Endpoint` of a worker process: library setup, transports and the two accounts.

Measured limits of the `pjsua2-python` 2.15.1 wheel (docs/sip-worker.md, "Measured facts")
shape everything here:

- `threadCnt=0` + `mainThreadOnly=True`: every callback runs on the thread that calls
  `libHandleEvents`; any other thread touching PJSUA aborts the process.
- `sndAutoCloseTime=-1` + `setNullDev()`: without both, every call after the 253rd gets 488.
- The RTP sockets of an incoming call are made before `onIncomingCall` but after
  `onSelectAccount`; a burst of quick calls on a media account exhausts the 64-handle `select`
  ioqueue and aborts. So calls we play no audio to land on the *loop* account
  (`useLoopMedTp=True`: no sockets), chosen per INVITE in `onSelectAccount`.
- Accounts are bound to the UDP transport (`sipConfig.transportId`), else an INVITE over
  1,300 bytes (ours with a PIDF-LO) switches to TCP (RFC 3261 s18.1.1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pjsua2 as pj

MAX_CALLS = 4
"""PJSUA_MAX_CALLS of the wheel: `maxCalls` above 4 is clamped."""

SelectAccount = Callable[[str, str], str]


class AccountKind:
    """Which of the two accounts an INVITE lands on."""

    LOOP = "loop"
    """No media sockets: redirects, rejects and signalling-only bridges."""
    MEDIA = "media"
    """Real RTP sockets: only calls we play an announcement to."""


class RouterEndpoint(pj.Endpoint):  # type: ignore[misc]
    """`onSelectAccount` sees the whole INVITE before any socket is made and picks the account."""

    def __init__(self, select: SelectAccount) -> None:
        super().__init__()
        self._select = select
        self.account_ids: dict[str, int] = {}

    def onSelectAccount(self, prm: pj.OnSelectAccountParam) -> None:
        kind = self._select(prm.rdata.wholeMsg, prm.rdata.srcAddress)
        prm.accountIndex = self.account_ids[kind]


class RouterAccount(pj.Account):  # type: ignore[misc]
    """An account never named after a dialled number: its URI is the router's own."""

    def __init__(self, kind: str, on_incoming: Callable[[RouterAccount, int, str], None]) -> None:
        super().__init__()
        self.kind = kind
        self._on_incoming = on_incoming

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        self._on_incoming(self, prm.callId, prm.rdata.wholeMsg)


@dataclass(frozen=True, slots=True)
class EndpointSetup:
    host: str
    port: int
    tcp: bool = True
    log_level: int = 0
    user_agent: str = "e911-router"
    routes: tuple[str, ...] = ()
    """Loose routes (`<sip:trunk;lr>`) of the NG911 trunks: one more loop account each whose
    route set it is. PJSUA sends an INVITE to a service URN (urn:service:sos) only from an
    account with a route set: with none, or with a Route header in the call's own headers,
    makeCall fails PJSIP_ENOROUTESET (measured, wheel 2.15.1)."""


@dataclass(slots=True)
class Started:
    endpoint: RouterEndpoint
    loop_account: RouterAccount
    media_account: RouterAccount
    udp_transport: int
    route_accounts: dict[str, RouterAccount] = field(default_factory=dict)
    """`EndpointSetup.routes` -> its loop account (never chosen for an incoming INVITE)."""


def start_endpoint(
    setup: EndpointSetup,
    select: SelectAccount,
    on_incoming: Callable[[RouterAccount, int, str], None],
) -> Started:
    """Create, configure and start the library; return the live objects (keep references)."""
    ep = RouterEndpoint(select)
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.uaConfig.maxCalls = MAX_CALLS
    cfg.uaConfig.userAgent = setup.user_agent
    cfg.medConfig.threadCnt = 0
    cfg.medConfig.sndAutoCloseTime = -1
    cfg.medConfig.clockRate = 8000
    cfg.medConfig.sndClockRate = 8000
    cfg.medConfig.noVad = True
    cfg.logConfig.level = setup.log_level
    cfg.logConfig.consoleLevel = setup.log_level
    ep.libInit(cfg)

    tcfg = pj.TransportConfig()
    tcfg.boundAddress = setup.host
    tcfg.port = setup.port
    udp = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
    if setup.tcp:
        tcp_cfg = pj.TransportConfig()
        tcp_cfg.boundAddress = setup.host
        tcp_cfg.port = setup.port
        ep.transportCreate(pj.PJSIP_TRANSPORT_TCP, tcp_cfg)
    ep.libStart()
    ep.audDevManager().setNullDev()
    _prefer_pcmu(ep)

    loop = _make_account(AccountKind.LOOP, setup, udp, on_incoming, loop_media=True)
    media = _make_account(AccountKind.MEDIA, setup, udp, on_incoming, loop_media=False)
    ep.account_ids = {AccountKind.LOOP: loop.getId(), AccountKind.MEDIA: media.getId()}
    routed = {route: _make_account(AccountKind.LOOP, setup, udp, on_incoming, loop_media=True,
                                   route=route, label=f"{AccountKind.LOOP}-route{n}")
              for n, route in enumerate(setup.routes, start=1)}
    return Started(ep, loop, media, udp, routed)


def _make_account(
    kind: str,
    setup: EndpointSetup,
    udp: int,
    on_incoming: Callable[[RouterAccount, int, str], None],
    *,
    loop_media: bool,
    route: str = "",
    label: str = "",
) -> RouterAccount:
    acc_cfg = pj.AccountConfig()
    host = f"[{setup.host}]" if ":" in setup.host else setup.host
    acc_cfg.idUri = f"sip:e911-router-{label or kind}@{host}:{setup.port}"
    if route:
        # RFC 3261 s8.1.2: the first hop of a request whose Request-URI is a service URN.
        acc_cfg.sipConfig.proxies.append(route)
    acc_cfg.sipConfig.transportId = udp
    acc_cfg.mediaConfig.useLoopMedTp = loop_media
    # A signalling-only bridge passes SDP through; a codec lock would send an extra re-INVITE.
    acc_cfg.mediaConfig.lockCodecEnabled = False
    acc_cfg.mediaConfig.transportConfig.boundAddress = setup.host
    acc_cfg.mediaConfig.transportConfig.port = 0
    acc_cfg.regConfig.registerOnAdd = False
    acc = RouterAccount(kind, on_incoming)
    acc.create(acc_cfg, kind == AccountKind.LOOP)
    return acc


def _prefer_pcmu(ep: RouterEndpoint) -> None:
    """Offer/answer G.711 only (PCMU first): our prompts are 8 kHz and trunks want one codec."""
    for codec in ep.codecEnum2():
        name = codec.codecId
        priority = 255 if name.startswith("PCMU/") else 254 if name.startswith("PCMA/") else 0
        ep.codecSetPriority(name, priority)


def stop_endpoint(started: Started, calls_left: Callable[[], int],
                  release_calls: Callable[[], None], drain_seconds: float = 2.0) -> None:
    """SIGTERM path: hang every call up, let the BYEs/CANCELs go out and the calls end,
    drop every Python `Call` while the library still lives (a `Call` destroyed after
    `libDestroy` trips a PJ_DEBUG assertion: exit 134), then destroy the library."""
    ep = started.endpoint
    ep.hangupAllCalls()
    rounds = int(drain_seconds / 0.01)
    for _ in range(rounds):
        ep.libHandleEvents(10)
        if calls_left() == 0:
            break
    release_calls()
    for _ in range(10):
        ep.libHandleEvents(10)
    ep.libDestroy()
