"""``--report FILE.html``: one self-contained page showing what a conversion did.

Pure: stats and observations in, HTML text out. Inline CSS and SVG only: no script, no font, no
image or style sheet from the network, so the page opens anywhere, offline, and can be mailed.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from html import escape
from typing import Any

from ga_ee_bridge.convert.results import ConvertStats
from ga_ee_bridge.convert.summary import Observations, summary_record

__all__ = ["PALETTE", "render_report"]

#: Event type colours, in order of first use (colour-blind friendly, after Okabe & Ito / Tableau).
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#17becf", "#bcbd22", "#8c564b")

_CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --card: #ffffff; --bg: #f5f7fa;
  --accent: #4e79a7; --bad: #c0392b; --warn: #b7791f; --good: #2f855a; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif; }
header { background: #1f2933; color: #fff; padding: 28px 40px 24px; }
header h1 { margin: 0 0 4px; font-size: 24px; font-weight: 600; }
header p { margin: 0; color: #cbd2d9; font-size: 13px; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 40px 48px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 14px;
  margin: -44px 0 24px; }
.card { background: var(--card); border-radius: 10px; padding: 14px 16px;
  box-shadow: 0 1px 3px rgba(15, 23, 42, .12); }
.card .n { font-size: 26px; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .l { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card.bad .n { color: var(--bad); } .card.warn .n { color: var(--warn); }
.card.good .n { color: var(--good); }
section { background: var(--card); border-radius: 10px; padding: 20px 24px; margin: 0 0 20px;
  box-shadow: 0 1px 3px rgba(15, 23, 42, .12); }
section h2 { margin: 0 0 4px; font-size: 18px; font-weight: 600; }
section p.sub { margin: 0 0 14px; color: var(--muted); font-size: 13px; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 16px; margin: 10px 0 0; font-size: 13px; }
.legend span::before { content: ""; display: inline-block; width: 11px; height: 11px;
  border-radius: 3px; margin-right: 6px; vertical-align: -1px; background: var(--c); }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th { text-align: left; color: var(--muted); font-weight: 600; font-size: 12px;
  text-transform: uppercase; letter-spacing: .04em; border-bottom: 1px solid var(--line);
  padding: 6px 8px; }
td { border-bottom: 1px solid var(--line); padding: 7px 8px; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; width: 1%; }
.bar { height: 10px; border-radius: 5px; background: var(--c, var(--accent)); min-width: 2px; }
td.barcell { width: 34%; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  background: #f0f2f5; border-radius: 4px; padding: 1px 5px; word-break: break-all; }
ul.ex { margin: 4px 0 0; padding-left: 18px; color: var(--muted); font-size: 13px; }
ul.ex li { margin: 2px 0; }
.none { color: var(--good); font-weight: 600; }
.split { display: grid; grid-template-columns: 1fr 1fr; gap: 20px; }
.stack { display: flex; height: 22px; border-radius: 6px; overflow: hidden; margin: 8px 0; }
.stack div { background: var(--c); }
footer { color: var(--muted); font-size: 12px; text-align: center; }
svg text { font: 11px system-ui, sans-serif; fill: var(--muted); }
"""


def _n(value: int) -> str:
    return f"{value:,}"


def _colours(types: list[str]) -> dict[str, str]:
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(types)}


def _card(value: int, label: str, tone: str = "") -> str:
    return (f'<div class="card {tone}"><div class="n">{_n(value)}</div>'
            f'<div class="l">{escape(label)}</div></div>')


def _legend(colours: dict[str, str], counts: Counter[str]) -> str:
    items = "".join(f'<span style="--c:{colour}">{escape(name)} ({_n(counts[name])})</span>'
                    for name, colour in colours.items())
    return f'<div class="legend">{items}</div>'


def _day_chart(days: Counter[tuple[str, str]], colours: dict[str, str]) -> str:
    """A stacked bar chart: one bar a day, one colour an event type."""
    dates = sorted({day for day, _ in days})
    if not dates:
        return '<p class="sub">No events.</p>'
    totals = {day: sum(n for (d, _), n in days.items() if d == day) for day in dates}
    top = max(totals.values())
    width, height, left, bottom, top_pad = 1000, 260, 48, 34, 10
    plot_w, plot_h = width - left - 10, height - bottom - top_pad
    slot = plot_w / len(dates)
    bar = max(2.0, min(48.0, slot * 0.72))
    parts = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" '
             f'aria-label="events per type per day" xmlns="http://www.w3.org/2000/svg">']
    for step in range(5):  # grid lines and their values
        value = top * step / 4
        y = top_pad + plot_h - plot_h * step / 4
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#e4e7eb"/><text x="{left - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{_n(round(value))}</text>')
    label_every = max(1, round(len(dates) / 12))
    for i, day in enumerate(dates):
        x = left + slot * i + (slot - bar) / 2
        y = top_pad + plot_h
        for event_type, colour in colours.items():
            count = days.get((day, event_type), 0)
            if not count:
                continue
            h = plot_h * count / top
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{colour}"><title>{escape(day)}: {escape(event_type)} '
                         f'{_n(count)}</title></rect>')
        if i % label_every == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - 12}" text-anchor="middle">'
                         f'{escape(day)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _bars_table(rows: list[tuple[str, int, str]], heading: str) -> str:
    top = max((n for _, n, _ in rows), default=1) or 1
    body = "".join(
        f'<tr><td><code>{escape(name)}</code></td><td class="n">{_n(n)}</td>'
        f'<td class="barcell"><div class="bar" style="--c:{colour};width:{100 * n / top:.1f}%">'
        "</div></td></tr>"
        for name, n, colour in rows
    )
    return (f"<table><tr><th>{escape(heading)}</th><th>count</th><th></th></tr>{body}</table>")


def _rejects(stats: ConvertStats, observations: Observations) -> str:
    if not stats.rejects:
        return '<p class="none">No push was rejected.</p>'
    top = max(stats.rejects.values())
    rows = []
    for reason, count in stats.rejects.most_common():
        examples = "".join(
            f"<li><code>{escape(example.where)}</code> "
            + "; ".join(
                (f"<code>{escape(path)}</code>: " if path else "") + escape(_short(message))
                for path, message in example.details[:3])
            + "</li>"
            for example in observations.rejects.get(reason, [])
        )
        rows.append(
            f'<tr><td><b>{escape(reason)}</b><ul class="ex">{examples}</ul></td>'
            f'<td class="n">{_n(count)}</td><td class="barcell"><div class="bar" '
            f'style="--c:var(--bad);width:{100 * count / top:.1f}%"></div></td></tr>')
    return ("<table><tr><th>reason, first examples (file:line path: message)</th>"
            f"<th>pushes</th><th></th></tr>{''.join(rows)}</table>")


def _short(text: str, limit: int = 180) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _warnings(stats: ConvertStats) -> str:
    rows = [
        (f"<code>{escape(path)}</code>", count, "not an Enhanced Ecommerce field: left out",
         stats.dropped_first.get(path, ""))
        for path, count in stats.dropped.most_common(20)
    ] + [
        (f"<code>{escape(name)}</code>", count, "no UA Enhanced Ecommerce counterpart: skipped",
         stats.unsupported_first.get(name, ""))
        for name, count in stats.unsupported.most_common()
    ]
    if not rows:
        return '<p class="none">No warnings.</p>'
    body = "".join(
        f'<tr><td>{what}<ul class="ex"><li>{escape(why)}; first at '
        f"<code>{escape(first)}</code></li></ul></td><td class=\"n\">{_n(count)}</td></tr>"
        for what, count, why, first in rows
    )
    more = len(stats.dropped) - 20
    extra = f'<p class="sub">and {more} more keys left out</p>' if more > 0 else ""
    return f"<table><tr><th>key or event</th><th>pushes</th></tr>{body}</table>{extra}"


def _customers(observations: Observations) -> str:
    known, anonymous = len(observations.identified), len(observations.anonymous)
    total = known + anonymous
    if not total:
        return '<p class="sub">No events, so no customers.</p>'
    share = 100 * known / total
    return (
        '<div class="stack">'
        f'<div style="--c:#59a14f;width:{share:.2f}%"></div>'
        f'<div style="--c:#bab0ac;width:{100 - share:.2f}%"></div></div>'
        '<div class="legend">'
        f'<span style="--c:#59a14f">identified: {_n(known)} customer(s), '
        f"{_n(observations.identified_events)} event(s)</span>"
        f'<span style="--c:#bab0ac">anonymous (cookie only): {_n(anonymous)} customer(s), '
        f"{_n(observations.anonymous_events)} event(s)</span></div>"
        '<p class="sub">A customer is a distinct set of ids. Identified customers carry an id '
        "besides <code>cookie</code> (<code>--id registered=PATH</code>); anonymous ones "
        "merge into a profile only once identified.</p>"
    )


def render_report(stats: ConvertStats, observations: Observations, *, inputs: list[str],
                  seconds: float, now: dt.datetime | None = None,
                  generator: str = "ga-ee-bridge") -> str:
    """The whole HTML page for one conversion; ``generator`` names the program (and version)."""
    summary: dict[str, Any] = summary_record(stats, inputs=inputs, seconds=seconds)
    colours = _colours([name for name, _ in stats.events.most_common()])
    events = sum(stats.events.values())
    when = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    pushes = stats.pushes or 1
    split = [("ecommerce", stats.ecommerce, "#4e79a7"), ("without ecommerce", stats.skipped,
             "#bab0ac"), ("no UA counterpart", summary["unsupported"], "#edc948")]
    stack = "".join(f'<div style="--c:{c};width:{100 * n / pushes:.2f}%"></div>'
                    for _, n, c in split if n)
    stack_legend = "".join(f'<span style="--c:{c}">{escape(name)} {_n(n)}</span>'
                           for name, n, c in split)
    names = ", ".join(escape(os.path.basename(name) or name) for name in inputs[:5]) + (
        f" and {len(inputs) - 5} more" if len(inputs) > 5 else "")
    duplicates = (
        f"<p><b>{_n(stats.duplicates)}</b> purchase(s) repeated the transaction id of an earlier "
        "one (a reloaded thank-you page) and were left out; <code>--keep-duplicates</code> keeps "
        "them.</p>" if stats.duplicates else '<p class="none">No duplicate purchases.</p>'
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ga-ee-bridge report: {names}</title>
<meta name="generator" content="{escape(generator)}">
<style>{_CSS}</style></head>
<body>
<header><h1>Conversion report</h1>
<p>{names} &middot; {_n(stats.pages)} page(s) &middot; {seconds:.2f} s &middot; {when}
&middot; {escape(generator)}</p></header>
<main>
<div class="cards">
{_card(stats.pushes, "pushes read")}
{_card(events, "events written", "good")}
{_card(stats.rejected, "pushes rejected", "bad" if stats.rejected else "good")}
{_card(stats.duplicates, "duplicates dropped", "warn" if stats.duplicates else "")}
{_card(len(stats.dropped) + len(stats.unsupported), "kinds of warning",
       "warn" if stats.dropped or stats.unsupported else "")}
{_card(len(observations.identified), "identified customers")}
</div>
<section><h2>Events per day</h2>
<p class="sub">{_n(events)} event(s) by UTC day of their timestamp, one colour per event type.</p>
{_day_chart(observations.days, colours)}
{_legend(colours, stats.events)}
</section>
<div class="split">
<section><h2>Pushes</h2><p class="sub">What each push read was.</p>
<div class="stack">{stack}</div><div class="legend">{stack_legend}</div></section>
<section><h2>Customers</h2>{_customers(observations)}</section>
</div>
<section><h2>Events by type</h2>
{_bars_table([(n, c, colours[n]) for n, c in stats.events.most_common()], "event type")}
</section>
<section><h2>Rejects</h2><p class="sub">Pushes that were not converted, by reason; every one is
in the rejects file with its errors and the push itself.</p>{_rejects(stats, observations)}
</section>
<section><h2>Warnings</h2><p class="sub">Converted, but something was left out.</p>
{_warnings(stats)}</section>
<section><h2>Duplicates</h2>{duplicates}</section>
<footer>Generated by {escape(generator)}. The same numbers as JSON:
<code>--summary-json FILE</code>.</footer>
</main></body></html>
"""
