"""The runtime: workers, partition processors, execution runs, timers and messages.

It implements ``engine.workflow.port``: user code asks it to append and wait, and it
acts on the fold's effects.
"""

from .worker import Worker

__all__ = ["Worker"]
