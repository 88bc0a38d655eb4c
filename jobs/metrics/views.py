"""The Metrics page: throughput and wait/run percentiles of all jobs, a queue or an actor over
1 h, 24 h, 7 d or 30 d, from the rollups; server-rendered SVG like the overview's charts."""

from django.contrib.auth.decorators import login_required
from django.utils.html import escape
from django.utils.safestring import mark_safe

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


def bars_svg(chart: dict, *, label: str) -> str:
    """templates/jobs/_chart.html's SVG, written here: up to 120 bars through the template engine
    cost more than every query of the page."""
    width, height = chart["width"], chart["height"]
    parts = [
        f'<svg class="chart" viewBox="0 -4 {width} {height + 22}" role="img" aria-label="{escape(label)}"'
        ' preserveAspectRatio="none">',
        f"<title>{escape(label)} (peak {chart['peak']})</title>",
        f'<line x1="0" y1="{height}" x2="{width}" y2="{height}" stroke="#cbd2d9"/>',
        f'<text x="2" y="8">{chart["peak"]}</text>',
    ]
    for bar in chart["bars"]:
        parts.append(f"<g><title>{escape(bar['title'])}</title>")
        if bar["ok_h"]:
            parts.append(
                f'<rect class="ok-bar" x="{bar["x"]}" y="{bar["ok_y"]}" width="{bar["width"]}" height="{bar["ok_h"]}"/>'
            )
        if bar["fail_h"]:
            parts.append(
                f'<rect class="fail-bar" x="{bar["x"]}" y="{bar["fail_y"]}" width="{bar["width"]}"'
                f' height="{bar["fail_h"]}"/>'
            )
        parts.append("</g>")
        if bar["label"]:
            parts.append(
                f'<text x="{bar["label_x"]}" y="{height + 14}" text-anchor="{bar["label_anchor"]}">'
                f"{escape(bar['label'])}</text>"
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 (every interpolated text is escaped above)


@login_required
def metrics_page(request):
    window = request.GET.get("window", selectors.DEFAULT_WINDOW)
    if window not in selectors.WINDOWS:
        window = selectors.DEFAULT_WINDOW
    queue = request.GET.get("queue", ALL)[:100]
    actor = request.GET.get("actor", ALL)[:200]
    spec = selectors.WINDOWS[window]
    data = selectors.metrics_page(window=window, queue=queue, actor=actor)
    series = data["series"]
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
        "chart_svg": bars_svg(chart, label="Jobs finished per step of the window"),
        "latency_chart": line_chart(series["points"]),
        "queues": data["queues"],
        "actors": data["actors"],
    }
    return _render(request, "jobs/metrics.html", context)
