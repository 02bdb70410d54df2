"""``logloom serve``: the HTTP API, beside a worker of the app (docs/http.md).

The CLI finds this command through the ``logloom.commands`` entry point, so ``engine``
never imports the connectors. Nothing heavy is imported until the command runs: without
the ``http`` extra, ``logloom serve`` says what to install.

1. load the app (its workflows are the server's registry), the webhook secrets, and check
   the auth flags;
2. start the log, a worker of the app (unless ``--no-worker``) and a client that lists
   from a run index (the workers' stores on the embedded log, a store of its own on Kafka);
3. serve until SIGTERM or Ctrl-C; then stop taking requests, drain the worker, exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import signal

from engine.cli.common import add_drain_option, add_log_options, command, config_from, note
from engine.cli.exits import Exit
from engine.errors import LogloomError

DEFAULT_PORT = 8080


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = command(
        sub,
        "serve",
        "serve the HTTP API (docs/http.md) beside a worker of APP; needs the http extra",
        [
            "logloom serve examples/orders.py --no-auth",
            "logloom serve myapp.workflows --kafka kafka:9092 --host 0.0.0.0 --tokens-file /etc/logloom/tokens",
        ],
        [Exit.OK, Exit.USAGE, Exit.UNAVAILABLE],
    )
    p.add_argument("app", metavar="APP", help="module path or .py file: its workflows are the API's registry")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT})")
    p.add_argument(
        "--tokens-file",
        metavar="PATH",
        help="SHA-256 digests of the accepted bearer tokens, one per line (or $LOGLOOM_HTTP_TOKENS)",
    )
    p.add_argument(
        "--webhook-secrets",
        metavar="PATH",
        help="webhook secrets: lines 'SOURCE/NAME SECRET...' (or $LOGLOOM_WEBHOOK_SECRETS; docs/webhooks.md)",
    )
    p.add_argument("--no-auth", action="store_true", help="no tokens: only when listening on loopback")
    p.add_argument("--no-worker", action="store_true", help="serve only: workers elsewhere run the workflows")
    p.add_argument("--partitions", type=int, metavar="N", help="partition count when the journal is created")
    p.add_argument("--max-body-bytes", type=int, metavar="BYTES", help="largest request body (default 1 MiB)")
    add_drain_option(p)
    add_log_options(p, output=False)
    p.set_defaults(func=cmd_serve)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host).is_loopback
    return False


async def cmd_serve(args) -> int:
    try:
        from connectors.webhooks import load_webhook_secrets

        from .server import serve
        from .tokens import load_tokens
    except ImportError as exc:
        raise LogloomError(f"logloom serve needs the http extra: pip install 'logloom[http]' ({exc})") from None
    from engine import Client, Worker
    from engine.config import connect_log
    from engine.store import StoreMemory
    from engine.workflow.loading import load_app
    from engine.workflow.registry import registry

    load_app(args.app)  # 1.
    webhook_secrets = load_webhook_secrets(args.webhook_secrets)
    if args.no_auth:
        if not _loopback(args.host):
            raise ValueError(f"--no-auth serves anyone who reaches {args.host}: only on loopback (127.0.0.1)")
        tokens = None
    else:
        tokens = load_tokens(args.tokens_file)
        if not tokens:
            raise ValueError("no tokens: give --tokens-file or $LOGLOOM_HTTP_TOKENS, or --no-auth on loopback")

    config = config_from(args)  # 2.
    log = await connect_log(config, need_worker=not args.no_worker)
    worker = None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        if not args.no_worker:
            memory = StoreMemory(config.store_cache_mb, config.store_write_buffer_mb)
            worker = await Worker(log, data_dir=config.data_dir, store_memory=memory).start()
        listing = (
            {"worker_data_dir": config.data_dir}
            if config.kafka is None
            else {"store_dir": config.data_dir / "http-client" / (getattr(log, "cluster_id", None) or "cluster")}
        )
        async with Client(log, **listing) as client:
            await serve(  # 3.
                client, args.host, args.port, tokens, registry,
                max_body_bytes=args.max_body_bytes, webhook_secrets=webhook_secrets, stop=stop,
                log_level="error" if args.quiet else "info",
                started=lambda port: note(f"serving the HTTP API on http://{args.host}:{port} (docs: /docs; UI: /ui)"),
            )  # fmt: skip
            if worker is not None:
                note("stopping: the worker's steps in flight finish and are recorded first")
                await worker.drain(args.drain_timeout)
    finally:
        if worker is not None:
            await worker.stop()
        await log.close()
    return Exit.OK
