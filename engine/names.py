"""The one owner of names: topics, consumer groups, routing keys and derived ids.

Nothing else formats a topic name, a group id or a routing key. A run's records are
keyed by its *routing key*, which picks its journal partition: the session id when the
run belongs to a session (so a session's runs and its state share one partition), its
schedule's for a run a schedule started, else the execution id.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

# -- topics and their configs ------------------------------------------------------------


def journal_topic(namespace: str) -> str:
    """All transitions and commands of a namespace, keyed by routing key."""
    return f"{namespace}.journal"


def dead_letter_topic(namespace: str) -> str:
    """Events that could not be routed, with the reason."""
    return f"{namespace}.dead-letter"


def stream_topic(namespace: str) -> str:
    """What runs stream to whoever watches them live (token deltas, tool calls), keyed by
    the root execution id; never read by recovery, partitioned like the journal."""
    return f"{namespace}.run-stream"


def webhook_topic(namespace: str, source: str) -> str:
    """The verified deliveries of one webhook source (``stripe``, ``github``, ...), each
    as received (``wire/webhooks.py``), keyed by its delivery id."""
    return f"{namespace}.webhooks.{source}"


# The journal is the source of truth: Kafka must never delete it by age or size.
# Records carry up to 1 MB of workflow state plus a step result: allow 8 MB records.
MAX_RECORD_BYTES = 8 * 1024 * 1024

JOURNAL_TOPIC_CONFIG = {
    "cleanup.policy": "delete",
    "retention.ms": "-1",
    "retention.bytes": "-1",
    "max.message.bytes": str(MAX_RECORD_BYTES),
}

# -- consumer groups ---------------------------------------------------------------------


def worker_group(namespace: str) -> str:
    """The consumer group whose members own the journal's partitions."""
    return f"{namespace}.workers"


def router_group(namespace: str) -> str:
    """The group whose committed offsets say how far the router read each domain topic."""
    return f"{namespace}.router"


def reader_group(namespace: str, unique: str) -> str:
    """A group-less reader's private group id (Kafka needs one; it never commits)."""
    return f"{namespace}.reader.{unique}"


def metadata_group(namespace: str, unique: str) -> str:
    """The private group id of the consumer that asks for watermarks and offsets by time."""
    return f"{namespace}.meta.{unique}"


# -- routing keys ------------------------------------------------------------------------

# Key of partition-level records (claims, delivery confirmations). Execution ids never
# start with a NUL byte.
PARTITION_KEY = b"\x00partition"

# Key of the awaited-topics records (TopicAwaited), which always go to partition 0,
# where the router runs.
TOPICS_KEY = "\x00topics"
ROUTER_PARTITION = 0

# Key of the workers' announcements (WorkerAnnounced), which also go to partition 0.
WORKERS_KEY = "\x00workers"


def routing_key(execution_id: str, session_id: str | None = None) -> str:
    """A run's routing key: its session id if it has one; a scheduled run's, its
    schedule's (so the schedule sees its runs end); else its own id."""
    if session_id:
        return session_id
    if _SCHEDULED_MARK in execution_id:
        schedule_id = scheduled_run_schedule(execution_id)
        if schedule_id is not None:
            return schedule_routing_key(schedule_id)
    return execution_id


def row_routing_key(row: dict) -> str:
    """The routing key of an execution row: a queued run's is its queue key's."""
    return row.get("routing") or routing_key(row["id"], row.get("session_id"))


def invocation_routing_key(execution_id: str, session_id: str | None, queue: dict | None) -> str:
    """Where a new run goes: its queue key's partition (``queue``: an invocation's
    {name, key, ...}), else its session's, its schedule's or its own id's."""
    if queue is not None:
        return queue_routing_key(queue["name"], queue.get("key"))
    return routing_key(execution_id, session_id)


def queue_routing_key(queue: str, key: str | None) -> str:
    """Where a (queue, concurrency key) and the runs on it live: one fold counts its slots."""
    return f"\x00queue/{queue}/{key or ''}"


def schedule_id(workflow: str, key: str) -> str:
    """A schedule's id: one per (workflow, key)."""
    return f"{workflow}/{key}"


def schedule_routing_key(schedule_id_: str) -> str:
    """Where a schedule and its runs live: one partition sees its ticks and its runs end."""
    return f"\x00sched/{schedule_id_}"


_SCHEDULED_MARK = "@"
_SCHEDULED_RUN = re.compile(r"^(?P<schedule>.+)@(?:tick-\d{8}T\d{6}Z|trigger-[0-9a-f]{1,32})$")


def tick_execution_id(schedule_id_: str, tick_ms: int) -> str:
    """The one run of a schedule's tick: ``<schedule>@tick-<UTC time of the tick>``."""
    stamp = datetime.fromtimestamp(tick_ms / 1000, UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{schedule_id_}@tick-{stamp}"


def trigger_execution_id_of_schedule(schedule_id_: str, trigger_id: str) -> str:
    """The run a manual trigger of a schedule starts (``trigger_id``: lowercase hex)."""
    return f"{schedule_id_}@trigger-{trigger_id}"


def scheduled_run_schedule(execution_id: str) -> str | None:
    """The schedule a run's id says started it, or None."""
    match = _SCHEDULED_RUN.match(execution_id)
    return match.group("schedule") if match else None


def event_routing_key(topic: str, event_key: str | None) -> str:
    """Where the waits on one topic/key are matched with its events (the *event partition*)."""
    return f"\x00ev/{topic}/{event_key or ''}"


# -- ids derived from other ids ----------------------------------------------------------


def child_execution_id(parent_id: str, step_key: str) -> str:
    """A child run's id: a replay of the parent asks for the same child."""
    return f"{parent_id}:{step_key}"


def trigger_execution_id(workflow: str, topic: str, partition: int, offset: int) -> str:
    """The run an event starts: one per (workflow, event), however often it is read."""
    return f"{workflow}:{topic}:{partition}:{offset}"


def webhook_execution_id(workflow: str, source: str, endpoint: str, delivery_id: str) -> str:
    """The run a webhook delivery starts: one per (workflow, endpoint, delivery id), however
    often the provider sends it or the delivery is written to its topic."""
    return f"{workflow}:webhook:{source}:{endpoint}:{delivery_id}"


# -- local paths ---------------------------------------------------------------------------


def store_path(data_dir: str | os.PathLike, namespace: str, partition: int) -> Path:
    """A worker's RocksDB store of one journal partition."""
    return Path(data_dir) / namespace / str(partition)


def start_queue_path(data_dir: str | os.PathLike, namespace: str) -> Path:
    """Where workers keep the ids of runs waiting to start, past what memory holds."""
    return Path(data_dir) / namespace / "start-queue"


def embedded_log_path(data_dir: str | os.PathLike, namespace: str) -> Path:
    """The embedded log's RocksDB."""
    return Path(data_dir) / namespace / "log"
