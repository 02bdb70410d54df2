"""``python -m benchmarks --profile pyinstrument|cprofile``: profile W1's 64-in-flight phase on
the embedded log (worker and client share the process, so one profile sees the whole engine).

Writes ``<out dir>/profile-w1-embedded-<profiler>.txt`` (pyinstrument: also an HTML in /tmp)
and prints the top functions by self time (time spent in the function's own code, not in
what it calls), as % of the total. Set-up and warm-up are inside the profile too.
The embedded log's RocksDB write + fsync runs on a worker thread (``asyncio.to_thread``):
pyinstrument samples the main thread only, so it shows up as waiting in the event loop.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from .envs import ROOT, EmbeddedEnv
from .workloads import WORKLOADS

TOP = 15
PREFIX = f"{ROOT}/"


def _params(args) -> dict:
    """The 64-in-flight phase only: the one-at-a-time phase mostly waits for fsync."""
    return {**WORKLOADS["w1"].variants(args)[0], "sequential": 0}


def _print_top(rows: list[tuple[float, str]], total: float, title: str, out: io.StringIO, column: str = "self") -> None:
    out.write(f"\n{title}\n{column + ' %':>7}  {column + ' s':>7}  function\n")
    for seconds, name in sorted(rows, reverse=True)[:TOP]:
        out.write(f"{100 * seconds / total:6.1f}%  {seconds:7.2f}  {name}\n")


def _with_pyinstrument(env, params) -> tuple[str, str]:
    try:
        from pyinstrument import Profiler
    except ImportError:
        sys.exit("pyinstrument is not installed: pip install -r benchmarks/requirements.txt")
    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    metrics = asyncio.run(WORKLOADS["w1"].run(env, params))
    profiler.stop()
    session = profiler.last_session
    html = Path(tempfile.gettempdir()) / "profile-w1-embedded.html"  # ~1.5 MB: kept out of results/
    html.write_text(profiler.output_html())
    print(f"interactive profile: {html}")
    selfs: dict[str, float] = defaultdict(float)
    stack = [profiler.last_session.root_frame()]
    while stack:
        frame = stack.pop()
        stack.extend(frame.children)
        if not frame.is_synthetic and frame.total_self_time > 0:  # [self] children are included
            selfs[f"{frame.function}  ({frame.file_path_short}:{frame.line_no})"] += frame.total_self_time
    text = io.StringIO()
    text.write(
        f"W1 on the embedded log under pyinstrument: {metrics['wf_per_s']:.0f} wf/s "
        f"(profiled; overhead included), {session.duration:.1f} s sampled\n"
    )
    _print_top([(s, n) for n, s in selfs.items()], session.duration, "top by self time (main thread)", text)
    return text.getvalue(), profiler.output_text(unicode=False, color=False, show_all=False)


def _with_cprofile(env, params) -> tuple[str, str]:
    profiler = cProfile.Profile()
    profiler.enable()
    metrics = asyncio.run(WORKLOADS["w1"].run(env, params))
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt
    rows = [
        (tt, f"{func}  ({file.replace(PREFIX, '')}:{line})")
        for (file, line, func), (_, _, tt, _, _) in stats.stats.items()
    ]
    text = io.StringIO()
    text.write(
        f"W1 on the embedded log under cProfile: {metrics['wf_per_s']:.0f} wf/s "
        f"(profiled; overhead included), {total:.1f} s of profiled time\n"
    )
    _print_top(rows, total, "top by self time (tottime)", text)
    engine = [
        (ct, f"{func}  ({file.replace(PREFIX, '')}:{line})")
        for (file, line, func), (_, _, _, ct, _) in stats.stats.items()
        if "/engine/" in file
    ]
    _print_top(engine, total, "engine functions by inclusive time (cumtime; nested calls overlap)", text, "incl")
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(40)
    return text.getvalue(), stream.getvalue()


def profile_w1(args) -> int:
    out_dir = args.out.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    env, params = EmbeddedEnv(), _params(args)
    summary, detail = _with_pyinstrument(env, params) if args.profile == "pyinstrument" else _with_cprofile(env, params)
    path = out_dir / f"profile-w1-embedded-{args.profile}.txt"
    path.write_text(summary + "\n" + detail)
    print(summary)
    print(f"\nfull profile: {path}")
    return 0
