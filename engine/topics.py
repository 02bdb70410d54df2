"""The one owner of topic names, group names and special keys."""

from __future__ import annotations


def journal(namespace: str) -> str:
    """All transitions and commands of a namespace, keyed by routing key."""
    return f"{namespace}.journal"


def dead_letter(namespace: str) -> str:
    """Records that could not be processed, with the reason in a header."""
    return f"{namespace}.dead-letter"


def worker_group(namespace: str) -> str:
    """The consumer group whose members own the journal's partitions."""
    return f"{namespace}.workers"


# Key of partition-level records (claims). Execution ids never start with a NUL byte.
PARTITION_KEY = b"\x00partition"

# Key of the awaited-topics records (TopicAwaited), which always go to partition 0, where
# the router runs.
TOPICS_KEY = "\x00topics"

# The journal is the source of truth: Kafka must never delete it by age or size.
# Records carry up to 1 MB of workflow state plus a step result: allow 8 MB records.
MAX_RECORD_BYTES = 8 * 1024 * 1024

JOURNAL_TOPIC_CONFIG = {
    "cleanup.policy": "delete",
    "retention.ms": "-1",
    "retention.bytes": "-1",
    "max.message.bytes": str(MAX_RECORD_BYTES),
}
