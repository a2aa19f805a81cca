"""The SIP side of a worker. Only this package imports pjsua2 (in `endpoint`, `legs`, `worker`);
`inbound`, `admission`, `sdp`, `outcome` and `route` are pure and usable from `tests/unit`."""
