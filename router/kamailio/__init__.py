"""The SIP front: Kamailio in front of the workers, configured from the router's own settings.

`front.front_config(settings)` gathers what Kamailio needs (pure), `patterns` turns the dial plan
into whole-string match expressions, `render` writes `kamailio.cfg` + `dispatcher.list` from the
commented template `kamailio.cfg.tmpl` and checks them with `kamailio -c`. docs/kamailio.md is
the operator's page.
"""
