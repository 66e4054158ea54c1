"""The HTML reports' jinja2 templates: a run (``simstack report RUN``) and a sweep
(``simstack report SWEEP``), on one base page.

Autoescaping is on, so names and text from the scenario can never become markup; the
pages load nothing from elsewhere (no scripts, fonts or style sheets; charts are data:
URIs), so they open the same in any browser, offline.
"""
from __future__ import annotations

import base64

import jinja2

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto; max-width: 1100px;
       padding: 1.5em; color: #1b1f23; background: #fff; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.25em; margin-top: 1.6em;
     border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.meta { color: #555; } .warn { background: #fff4d6; border: 1px solid #e6c200; padding: 0.5em 0.8em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { border: 1px solid #d0d7de; padding: 0.25em 0.6em; text-align: right; }
thead th { background: #f3f5f7; } td:first-child, th:first-child { text-align: left; }
table.headline td:last-child { text-align: left; color: #555; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
pre { background: #f6f8fa; padding: 0.8em; overflow-x: auto; font-size: 0.85em; border: 1px solid #eee; }
"""

BASE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title><style>{{ css }}</style></head><body>
<h1>{{ title }}</h1>
{% block body %}{% endblock %}
{% if scenario %}<h2>{{ scenario_heading }}</h2>
<pre>{{ scenario }}</pre>{% endif %}
<p class="meta">Written by simstack {{ version }} on {{ stamp }}.</p>
</body></html>
"""

MACROS = """{% macro table(t) -%}
<table class="{{ t.cls }}"><thead><tr>{% for c in t.header %}<th>{{ c }}</th>{% endfor %}</tr></thead><tbody>
{% for row in t.rows %}<tr>{% for c in row %}{% if loop.first and t.index %}<th>{{ c }}</th>{% else %}<td>{{ c }}</td>{% endif %}{% endfor %}</tr>
{% endfor %}</tbody></table>
{%- endmacro %}
{% macro figure(f) -%}
<figure{% if f.id %} id="{{ f.id }}"{% endif %}><img alt="{{ f.alt }}" src="data:image/png;base64,{{ f.png }}">
<figcaption>{{ f.caption }}</figcaption></figure>
{%- endmacro %}
"""

RUN = """{% extends "base.html" %}{% from "macros.html" import table, figure %}
{% block body %}
<p class="meta">{{ meta | join(" · ") }}</p>
{% for w in warnings %}<p class="warn">{{ w }}</p>
{% endfor %}
<h2>Headline figures</h2>
{{ table(headline) }}
<h2>Charts</h2>
{% for f in charts %}{% if f.error %}<p class="warn">{{ f.id }}: {{ f.error }}</p>{% else %}{{ figure(f) }}{% endif %}
{% endfor %}
{% if classes %}<h2>Goroutine classes</h2>
{{ table(classes) }}{% endif %}
{% if checkpoints %}<h2>Checkpoints</h2>
{{ table(checkpoints) }}{% endif %}
{% if gc %}<h2>GC cycles</h2>
<p>{{ gc.note }}</p>
{{ table(gc.table) }}
{% if gc.more %}<p class="meta">{{ gc.more }}</p>{% endif %}{% endif %}
{% endblock %}
"""

SWEEP = """{% extends "base.html" %}{% from "macros.html" import table, figure %}
{% block body %}
<p class="meta">{{ meta | join(" · ") }}</p>
{% for w in warnings %}<p class="warn">{{ w }}</p>
{% endfor %}
<h2>Statistics per point</h2>
<p>Mean over the replications ± half the 95 % confidence interval of the mean (Student's t), and the
standard deviation. Replication r of every point runs on the same seed (common random numbers), so the
intervals of two points are not independent.</p>
{{ table(statistics) }}
<h2>Charts</h2>
{% for f in charts %}{{ figure(f) }}
{% endfor %}
<h2>Runs</h2>
{{ table(runs) }}
{% endblock %}
"""

ENV = jinja2.Environment(loader=jinja2.DictLoader({"base.html": BASE, "macros.html": MACROS, "run.html": RUN,
                                                   "sweep.html": SWEEP}),
                         autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True)


def render(template: str, **context) -> str:
    """``template`` ("run.html" or "sweep.html") rendered with ``context`` and the page style."""
    return ENV.get_template(template).render(css=CSS, **context)


def png_data(png: bytes) -> str:
    """A PNG as the base64 text of a data: URI."""
    return base64.b64encode(png).decode("ascii")


def table(header, rows, cls: str = "", index: bool = False) -> dict:
    """A table for the ``table`` macro: ``header`` and ``rows`` of strings; with ``index`` the
    first cell of each row is a row header."""
    return {"header": [str(h) for h in header], "rows": [[str(c) for c in r] for r in rows], "cls": cls,
            "index": index}
