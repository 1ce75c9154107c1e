"""`duncall asterisk up|down|restart|reload|status|cli` — the embedded Asterisk sandbox."""

from __future__ import annotations

import argparse
import json
from typing import Any

from duncall.sandbox import runtime


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("asterisk", help="manage the embedded Asterisk 22 sandbox")
    asub = p.add_subparsers(dest="action", required=True)
    up = asub.add_parser("up", help="build (first time), configure and start; idempotent")
    down = asub.add_parser("down", help="stop Asterisk")
    for q in (up, down):
        q.add_argument(
            "--node",
            type=int,
            default=1,
            help="another Asterisk from the same chroot on ports of its own (2: ARI on 8188); "
            "1, the default, is the primary sandbox",
        )
    up.set_defaults(func=_up)
    down.set_defaults(func=_down)
    asub.add_parser("restart", help="stop, then start").set_defaults(func=_restart)
    asub.add_parser(
        "reload", help="install the configuration and reload the dialplan; calls up stay up"
    ).set_defaults(func=_reload)
    asub.add_parser("status", help="print the sandbox's state as JSON").set_defaults(func=_status)
    r = asub.add_parser("render-config", help="write the configuration for your own Asterisk into a folder")
    r.add_argument("out", help="folder to write (e.g. deploy/asterisk)")
    r.add_argument("--user", default="duncall", help="ARI user name (password from DUNCALL_ARI_PASSWORD)")
    r.set_defaults(func=_render)
    t = asub.add_parser(
        "trunk",
        help="render the carrier trunk (PJSIP/{number}@carrier) from DUNCALL_TRUNK_* and reload PJSIP",
    )
    t.add_argument("--out", help="write the trunk's PJSIP include to this file instead (your own Asterisk)")
    t.set_defaults(func=_trunk)
    n = asub.add_parser(
        "nodes", help="the nodes of DUNCALL_ASTERISK_NODES: live calls over every dialer, down, drained"
    )
    d = asub.add_parser(
        "drain", help="keep new calls off a node of DUNCALL_ASTERISK_NODES (its calls go on); --undo lifts it"
    )
    d.add_argument("name", help="the node's name in DUNCALL_ASTERISK_NODES")
    d.add_argument("--undo", action="store_true", help="let new calls go to the node again")
    for q in (n, d):
        q.add_argument("--guard-prefix", default=None, help="Redis key prefix the dialers run with")
    n.set_defaults(func=_nodes)
    d.set_defaults(func=_drain)
    c = asub.add_parser("cli", help="run one Asterisk CLI command")
    c.add_argument("command")
    c.set_defaults(func=_cli)


def _trunk(args: argparse.Namespace) -> int:
    from pathlib import Path

    from duncall.sandbox import trunk

    if args.out:
        trunk.write_include(Path(args.out), trunk.trunk_config())
        print(f"asterisk: trunk {trunk.TRUNK} written to {args.out} (include it from pjsip.conf)")
        return 0
    print(f"asterisk: {trunk.apply_sandbox()}")
    return 0


def _up(args: argparse.Namespace) -> int:
    if args.node != 1:
        from duncall.sandbox import nodes

        print(f"asterisk: {nodes.up(args.node)}")
        return 0
    print(f"asterisk: {runtime.up()}")
    return 0


def _down(args: argparse.Namespace) -> int:
    if args.node != 1:
        from duncall.sandbox import nodes

        print("asterisk: stopped" if nodes.stop(args.node) else "asterisk: was not running")
        return 0
    print("asterisk: stopped" if runtime.stop(runtime.sandbox()) else "asterisk: was not running")
    return 0


def _restart(args: argparse.Namespace) -> int:
    runtime.stop(runtime.sandbox())
    print(f"asterisk: {runtime.up()}")
    return 0


def _configured_nodes() -> list[Any]:
    from foundation.errors import ConfigError
    from foundation.settings import asterisk_nodes, get_settings

    if get_settings().asterisk_nodes is None:
        raise ConfigError(
            "DUNCALL_ASTERISK_NODES is not set: there is one Asterisk, nothing to list or drain",
            "set DUNCALL_ASTERISK_NODES (docs/configuration.md)",
        )
    return asterisk_nodes()


def _nodes(args: argparse.Namespace) -> int:
    from dialer.dial.nodes import node_states
    from dialer.guards.guard import DEFAULT_PREFIX
    from duncall.compose import parts

    nodes = _configured_nodes()
    for st in node_states(parts.redis_client(), nodes, prefix=args.guard_prefix or DEFAULT_PREFIX):
        limit = st.max_channels or "no limit"
        marks = [m for m, on in (("down", st.down), ("drained", st.drained)) if on]
        print(f"{st.name}  {st.url}  calls {st.calls} of {limit}  {' '.join(marks) or 'up'}")
    return 0


def _drain(args: argparse.Namespace) -> int:
    from dialer.dial.nodes import set_drained
    from dialer.guards.guard import DEFAULT_PREFIX
    from duncall.compose import parts

    nodes = _configured_nodes()
    set_drained(
        parts.redis_client(), nodes, args.name, not args.undo, prefix=args.guard_prefix or DEFAULT_PREFIX
    )
    print(
        f"asterisk: node {args.name} {'takes new calls again' if args.undo else 'drained: no new calls go to it'}"
    )
    return 0


def _reload(args: argparse.Namespace) -> int:
    print(f"asterisk: {runtime.reload()}")
    return 0


def _status(args: argparse.Namespace) -> int:
    st = runtime.status()
    print(json.dumps(st))
    return 0 if st["ari"] else 1


def _render(args: argparse.Namespace) -> int:
    from pathlib import Path

    from foundation.errors import ConfigError
    from foundation.settings import get_settings

    secret = get_settings().ari_password
    password = secret.get_secret_value() if secret else ""
    if len(password) < 12:
        raise ConfigError(
            "DUNCALL_ARI_PASSWORD is unset or shorter than 12 characters",
            "export a long random password (e.g. `openssl rand -base64 24`) and run again",
        )
    names = runtime.render_config(Path(args.out), args.user, password)
    print(f"wrote {len(names)} files to {args.out}")
    return 0


def _cli(args: argparse.Namespace) -> int:
    print(runtime.cli(runtime.sandbox(), args.command), end="")
    return 0
