"""The Metrics page: throughput and wait/run percentiles of all jobs, a queue or an actor over
1 h, 24 h, 7 d or 30 d, from the rollups; server-rendered SVG like the overview's charts."""

from django.contrib.auth.decorators import login_required

from jobs.metrics import selectors
from jobs.metrics.models import ALL
from jobs.views import CHART_HEIGHT, CHART_WIDTH, _render, bar_chart

LINES = (("run_seconds", "p95", "#2b6cb0"), ("run_seconds", "p50", "#90cdf4"), ("wait_seconds", "p95", "#dd6b20"))


def line_chart(points: list[dict]) -> dict:
    """Polylines of run p50/p95 and wait p95 (seconds) in a CHART_WIDTH × CHART_HEIGHT box; a point
    without jobs breaks its line."""
    values = [p[group][name] for p in points for group, name, _ in LINES if p[group][name] is not None]
    peak = max(values, default=0.0)
    scale = (CHART_HEIGHT - 20) / peak if peak else 0
    slot = CHART_WIDTH / max(len(points), 1)
    lines = []
    for group, name, colour in LINES:
        segments, current = [], []
        for index, point in enumerate(points):
            value = point[group][name]
            if value is None:
                if current:
                    segments.append(current)
                current = []
                continue
            current.append(f"{round(index * slot + slot / 2, 2)},{round(CHART_HEIGHT - value * scale, 2)}")
        if current:
            segments.append(current)
        label = f"{group.split('_')[0]} {name}"
        lines.append({"label": label, "colour": colour, "segments": [" ".join(s) for s in segments if len(s) > 1]})
    return {"lines": lines, "peak": round(peak, 3), "width": CHART_WIDTH, "height": CHART_HEIGHT}


@login_required
def metrics_page(request):
    window = request.GET.get("window", selectors.DEFAULT_WINDOW)
    if window not in selectors.WINDOWS:
        window = selectors.DEFAULT_WINDOW
    queue = request.GET.get("queue", ALL)[:100]
    actor = request.GET.get("actor", ALL)[:200]
    spec = selectors.WINDOWS[window]
    series = selectors.metric_series(window=window, queue=queue, actor=actor)
    chart = bar_chart(series["points"], label_format=spec.label_format, label_every=spec.label_every)
    for bar, point in zip(chart["bars"], series["points"], strict=True):
        bar["title"] = f"{point['start']:%d %b %H:%M}: {point['succeeded']} succeeded, {point['failed']} failed"
    context = {
        "window": window,
        "windows": list(selectors.WINDOWS),
        "queue": queue,
        "actor": actor,
        "names": selectors.metric_names(),
        "series": series,
        "chart": chart,
        "latency_chart": line_chart(series["points"]),
        "queues": selectors.metric_breakdown(by="queue", window=window),
        "actors": selectors.metric_breakdown(by="actor", window=window, limit=50),
    }
    return _render(request, "jobs/metrics.html", context)
