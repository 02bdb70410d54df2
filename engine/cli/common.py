"""What every command shares: where the log is, JSON arguments, and a started engine."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from ..client import Client
from ..config import EngineConfig, connect_log, default_data_dir
from ..errors import LogloomError
from ..runtime.worker import Worker
from ..store import StoreMemory
from . import exits
from .output import add_output_option

DEFAULT_TIMEOUT_NOTE = "(seconds; default: wait for ever)"


def add_log_options(p: argparse.ArgumentParser, output: bool = True) -> None:
    """Where the log is, how loud to be, and the output format."""
    where = p.add_argument_group("where the log is")
    where.add_argument("--kafka", metavar="HOST:PORT", help="a Kafka cluster's bootstrap (default: the embedded log)")
    where.add_argument("--namespace", help="journal namespace (default: logloom, or $LOGLOOM_NAMESPACE)")
    where.add_argument(
        "--data-dir",
        metavar="DIR",
        help=f"local state: the embedded log and the workers' stores (default: $LOGLOOM_DATA_DIR, else "
        f"{_shown(default_data_dir())})",
    )
    where.add_argument(
        "--connect-timeout",
        metavar="SECONDS",
        type=float,
        help="Kafka: fail if the cluster does not answer this soon (default 5, or $LOGLOOM_KAFKA_CONNECT_TIMEOUT_S)",
    )
    add_logging_options(p)
    if output:
        add_output_option(p)


def add_logging_options(p: argparse.ArgumentParser) -> None:
    """How loud to be: for every command, those that reach no log too."""
    loud = p.add_argument_group("logging")
    loud.add_argument("-v", "--verbose", action="count", default=0, help="log more: -v info, -vv debug")
    loud.add_argument("-q", "--quiet", action="store_true", help="log errors only")


def _shown(path: Path) -> str:
    home = str(Path.home())
    return str(path).replace(home, "~", 1) if str(path).startswith(home) else str(path)


def epilog(examples: list[str], codes: list[exits.Exit]) -> str:
    """A command's help ends with examples and its exit codes."""
    return "examples:\n" + "\n".join(f"  {e}" for e in examples) + "\n\nexit codes:\n" + exits.table(codes)


def command(sub, name: str, help_: str, examples: list[str], codes: list[exits.Exit], **kwargs):
    return sub.add_parser(
        name,
        help=help_,
        description=help_[0].upper() + help_[1:] + ".",
        epilog=epilog(examples, codes),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        **kwargs,
    )


def json_argument(text: str, what: str) -> Any:
    """A JSON argument: the text itself, ``@FILE`` for a file's contents, or ``-`` for stdin."""
    if text == "-":
        source, raw = "stdin", sys.stdin.read()
    elif text.startswith("@"):
        source = text[1:]
        try:
            raw = Path(source).read_text()
        except OSError as exc:
            raise LogloomError(f"{what}: cannot read {source}: {exc.strerror}") from None
    else:
        source, raw = "the command line", text
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise LogloomError(f"{what} from {source} is not JSON: {exc}") from None


def config_from(args) -> EngineConfig:
    return EngineConfig.from_env(
        namespace=args.namespace,
        data_dir=args.data_dir,
        partitions=getattr(args, "partitions", None),
        kafka=args.kafka,
        instance_id=getattr(args, "instance_id", None),
        connect_timeout_s=getattr(args, "connect_timeout", None),
        store_cache_mb=getattr(args, "store_cache_mb", None),
        store_write_buffer_mb=getattr(args, "store_write_buffer_mb", None),
    )


@contextlib.asynccontextmanager
async def engine(
    args, *, worker: bool = False, read_only: bool = False, create: bool | None = None, interceptors: tuple = ()
):
    """A started log and client, and with ``worker`` a worker on it (with ``interceptors``);
    stopped afterwards.

    Only a command that hosts a worker creates a log by default; ``create`` overrides it
    (``publish`` may create the topic it publishes to)."""
    config = config_from(args)
    log = await connect_log(config, need_worker=worker, read_only=read_only, create=create)
    running = None
    try:
        if worker:
            cache = {
                name: getattr(args, name)
                for name in (
                    "max_idle_runs",
                    "evict_after_idle_s",
                    "max_runs_in_memory",
                    "max_deferred_in_memory",
                    "malloc_arenas",
                )
                if getattr(args, name, None) is not None
            }
            memory = StoreMemory(config.store_cache_mb, config.store_write_buffer_mb)
            running = await Worker(
                log,
                data_dir=config.data_dir,
                worker_id=getattr(args, "worker_id", None),
                store_memory=memory,
                status_file=getattr(args, "status_file", None),
                interceptors=interceptors,
                **cache,
            ).start()
        async with Client(log) as client:
            yield client, running
    finally:
        if running is not None:
            await running.stop()
        await log.close()


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


DRAIN_TIMEOUT_S = 30.0


def add_drain_option(p: argparse.ArgumentParser) -> None:
    """``--drain-timeout``: how long a stopping worker lets its steps in flight finish."""
    p.add_argument(
        "--drain-timeout",
        type=float,
        default=DRAIN_TIMEOUT_S,
        metavar="SECONDS",
        help=f"on SIGTERM, wait this long for steps in flight to finish and be recorded (default {DRAIN_TIMEOUT_S:g})",
    )


def note(message: str) -> None:
    print(message, file=sys.stderr)
