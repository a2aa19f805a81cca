"""The test kit: helpers shared by several test packages and by the bench scripts (ports,
processes, SIPp, SIP messages, the PIDF-LO/INVITE checker, the router/worker/API harnesses).

Fixtures stay in conftest.py files; a conftest may import from here. Nothing here imports a
test module or a conftest (tests/unit/test_test_kit_imports.py checks it).
"""
