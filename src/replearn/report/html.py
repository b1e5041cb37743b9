"""HTML and markdown reports of run folders, claims, and the tour.

A run folder (``replearn run NAME --out DIR``) holds ``config.json``,
``metrics.jsonl``, ``result.json`` (final metrics, optionally a ``"claims"``
list), ``env.json`` and PNG plots. :func:`write_run_report` turns one into a
self-contained ``report.html`` (inline CSS, images linked by relative name);
:func:`write_claims_report` writes the table of ``replearn claims`` as
``claims.md`` and ``claims.html``; :func:`write_index` writes the one page of
``replearn tour`` with a section per sub-run.

Pages are plain f-strings; every piece of text that comes from a file goes
through :func:`html.escape` and every link through :func:`urllib.parse.quote`.
Missing or unreadable files are tolerated and said on the page. Files are
written atomically (temp file, fsync, rename).
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from replearn import runfolder
from replearn.report.plots import CURVE_FIGSIZE, DPI, _atomic_open, read_metrics

__all__ = ["RunFiles", "load_run", "write_claims_report", "write_index", "write_run_report"]

LAST_METRIC_ROWS = 10
"""How many of the last ``metrics.jsonl`` rows a run report shows."""

THUMB_WIDTH = 480
"""Width in CSS pixels of plot thumbnails in the claims and tour pages (click: full size)."""

SAMPLES_FILE = runfolder.SAMPLES
"""Generated samples an experiment writes into its run folder; shown inline in the report."""

MAX_SAMPLE_CHARS = 4000
"""How much of ``samples.txt`` the report shows."""

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .2em; }
h2 { margin-top: 1.6em; border-bottom: 1px solid #eee; }
table { border-collapse: collapse; margin: .5em 0; font-size: .92em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f5f5f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.nested { margin: 0; font-size: 1em; }
.holds { color: #1a7f37; font-weight: bold; }
.fails { color: #cf222e; font-weight: bold; }
.unknown { color: #9a6700; font-weight: bold; }
.note { color: #9a6700; }
.muted { color: #777; }
figure { display: inline-block; margin: .5em; text-align: center; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .85em; color: #555; }
pre { background: #f6f8fa; padding: .6em; overflow-x: auto; }
section.run { margin-bottom: 2.5em; }
p.headline { font-size: 1.15em; padding: .4em .6em; background: #f6f8fa; border-left: 4px solid
             #888; }
p.headline.allhold { border-left-color: #1a7f37; }
p.headline.somefail { border-left-color: #cf222e; }
p.smoke { background: #fff8c5; padding: .3em .6em; }
figure img { cursor: zoom-in; }
"""


# --------------------------------------------------------------------------- loading


@dataclass
class RunFiles:
    """The parsed content of a run folder; ``None`` for what is missing or unreadable.

    Attributes:
        run_dir: The folder.
        config: ``config.json``.
        result: ``result.json``.
        env: ``env.json``.
        metrics: Rows of ``metrics.jsonl``.
        pngs: File names of the PNGs in the folder root, sorted.
        notes: One human-readable line per missing or unreadable file.
    """

    run_dir: Path
    config: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    env: dict[str, Any] | None = None
    metrics: list[dict[str, Any]] | None = None
    pngs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def experiment(self) -> str:
        """The experiment name from the config (or result), else the folder name."""
        for source in (self.config, self.result):
            if source and isinstance(source.get("experiment"), str):
                return source["experiment"]
        return self.run_dir.name

    @property
    def claims(self) -> list[dict[str, Any]]:
        """The claims of ``result.json`` (those that are JSON objects)."""
        claims = (self.result or {}).get("claims")
        if not isinstance(claims, list):
            return []
        return [c for c in claims if isinstance(c, dict)]


def _read_json_object(path: Path, notes: list[str]) -> dict[str, Any] | None:
    """Parse a JSON object file, or note why it could not be read and return None."""
    if not path.is_file():
        notes.append(f"{path.name}: missing")
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        notes.append(f"{path.name}: unreadable ({err})")
        return None
    if not isinstance(value, dict):
        notes.append(f"{path.name}: expected a JSON object, got {type(value).__name__}")
        return None
    return value


def _read_metrics_noted(path: Path, notes: list[str]) -> list[dict[str, Any]] | None:
    """:func:`read_metrics`, or note why the file could not be read and return None."""
    if not path.is_file():
        notes.append(f"{path.name}: missing")
        return None
    try:
        return read_metrics(path)
    except (OSError, UnicodeDecodeError, ValueError) as err:
        notes.append(f"{path.name}: unreadable ({err})")
        return None


def load_run(run_dir: str | os.PathLike[str]) -> RunFiles:
    """Read the files of a run folder, tolerating missing and unreadable ones.

    Args:
        run_dir: The run folder.

    Returns:
        A :class:`RunFiles`; what could not be read is ``None`` and noted in ``notes``.

    Raises:
        NotADirectoryError: If ``run_dir`` is not a folder.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise NotADirectoryError(f"not a run folder: {run_dir}")
    notes: list[str] = []
    return RunFiles(
        run_dir=run_dir,
        config=_read_json_object(run_dir / runfolder.CONFIG, notes),
        result=_read_json_object(run_dir / runfolder.RESULT, notes),
        env=_read_json_object(run_dir / runfolder.ENV, notes),
        metrics=_read_metrics_noted(run_dir / runfolder.METRICS, notes),
        pngs=sorted(p.name for p in run_dir.glob("*.png") if p.is_file()),
        notes=notes,
    )


# --------------------------------------------------------------------------- building blocks


def _e(value: Any) -> str:
    """HTML-escape the text of ``value`` (quotes included)."""
    return html.escape(str(value), quote=True)


def _fmt(value: Any) -> str:
    """Plain text for a scalar: floats to 6 significant digits, JSON for the rest."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    if isinstance(value, (int, str)):
        return str(value)
    return json.dumps(value, default=str)


def _cell(value: Any) -> str:
    """A ``<td>`` for a scalar, right-aligned when it is a number."""
    is_num = isinstance(value, (int, float)) and not isinstance(value, bool)
    css = ' class="num"' if is_num else ""
    return f"<td{css}>{_e(_fmt(value))}</td>"


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table from header texts (escaped here) and rows of ready-made ``<td>`` cells."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(f"<tr>{''.join(cells)}</tr>\n" for cells in rows)
    return f"<table>\n<tr>{head}</tr>\n{body}</table>\n"


def _kv_table(mapping: Mapping[str, Any], headers: Sequence[str] = ("key", "value")) -> str:
    """A two-column key/value table of scalars."""
    return _table(headers, ([f"<th>{_e(k)}</th>", _cell(v)] for k, v in mapping.items()))


def _nested(value: Any) -> str:
    """HTML for a JSON value: objects as nested tables, lists of scalars joined."""
    if isinstance(value, dict):
        if not value:
            return '<span class="muted">{}</span>'
        rows = "".join(f"<tr><th>{_e(k)}</th><td>{_nested(v)}</td></tr>" for k, v in value.items())
        return f'<table class="nested">{rows}</table>'
    if isinstance(value, list) and not any(isinstance(v, (dict, list)) for v in value):
        return _e(", ".join(_fmt(v) for v in value)) if value else '<span class="muted">[]</span>'
    if isinstance(value, list):
        return f"<pre>{_e(json.dumps(value, indent=2, default=str))}</pre>"
    return _e(_fmt(value))


def _verdict(holds: Any) -> tuple[str, str]:
    """``(word, css class)`` for a claim's ``holds``: holds, fails, or unknown."""
    if holds is True:
        return "holds", "holds"
    if holds is False:
        return "fails", "fails"
    return "unknown", "unknown"


def _claims_table(claims: Sequence[Mapping[str, Any]], run_dir: Path, base_dir: Path) -> str:
    """The claims of one run: id, statement, verdict, evidence, and plot links if any.

    A claim's ``plot`` is a file name relative to ``run_dir``; links are relative to ``base_dir``.
    """
    with_plots = any(claim.get("plot") for claim in claims)
    rows = []
    for claim in claims:
        word, css = _verdict(claim.get("holds"))
        anchor = f'id="claim-{_e(claim.get("id", ""))}"'
        cells = [
            f"<td {anchor}>{_e(claim.get('id', ''))}</td>",
            f"<td>{_e(claim.get('statement', ''))}</td>",
            f'<td class="{css}">{word}</td>',
            f"<td>{_e(claim.get('evidence', ''))}</td>",
        ]
        if with_plots:
            plot = claim.get("plot")
            href = _href(run_dir / str(plot), base_dir) if plot else ""
            cells.append(f'<td><a href="{_e(href)}">{_e(plot)}</a></td>' if plot else "<td></td>")
        rows.append(cells)
    headers = ["id", "claim", "verdict", "evidence"] + (["plot"] if with_plots else [])
    return _table(headers, rows)


def _claims_summary(holds: Sequence[Any]) -> str:
    """``"3 claims: 2 hold, 1 fails"`` (plus the unknowns, if any)."""
    n_hold = sum(h is True for h in holds)
    n_fail = sum(h is False for h in holds)
    n_unknown = len(holds) - n_hold - n_fail
    text = f"{len(holds)} claim{'' if len(holds) == 1 else 's'}: "
    text += f"{n_hold} hold{'s' if n_hold == 1 else ''}, {n_fail} fail{'s' if n_fail == 1 else ''}"
    return text + (f", {n_unknown} unknown" if n_unknown else "")


def _href(target: Path, base_dir: Path) -> str:
    """A URL for ``target`` relative to ``base_dir`` (absolute ``file:`` URL if impossible)."""
    try:
        rel = os.path.relpath(target, base_dir)
    except ValueError:  # another drive on Windows
        return Path(target).resolve().as_uri()
    return quote(Path(rel).as_posix())


def _figure(src: str, caption: str, *, width: int | None = None) -> str:
    """A ``<figure>`` with a linked image; ``src`` is an already quoted URL."""
    size = f' width="{width}"' if width else ""
    img = f'<img src="{_e(src)}" alt="{_e(caption)}" loading="lazy"{size}>'
    return f'<figure><a href="{_e(src)}">{img}</a><figcaption>{_e(caption)}</figcaption></figure>'


def _caption(name: str, claims: Sequence[Mapping[str, Any]]) -> str:
    """A figure's caption: the claims it shows, a curve title, or its name in words."""
    from replearn.report.plots import CURVE_TITLES

    shown = [str(c.get("statement", "")) for c in claims if c.get("plot") == name]
    stem = Path(name).stem
    words = stem.replace("_", " ").replace("-", " ")
    group = {"lr": "learning rate"}.get(stem.rsplit("_", 1)[-1], stem.rsplit("_", 1)[-1])
    title = CURVE_TITLES.get(group, words[:1].upper() + words[1:])
    if shown:
        title = "Claim: " + "; ".join(shown)
    return f"{title} ({name})"


def _png_width(path: Path) -> int | None:
    """Pixel width from a PNG's header (None if the file is not a readable PNG)."""
    try:
        with path.open("rb") as f:
            head = f.read(24)
    except OSError:
        return None
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return int.from_bytes(head[16:20], "big")


def _thumb_width(path: Path, width: int | None) -> int | None:
    """Thumbnail width: wide figures (small multiples) get up to twice ``width``.

    A grid of panels drawn at the size of one curve figure per panel would otherwise shrink
    to the width of a single plot, and its labels could not be read.
    """
    native = _png_width(path)
    if width is None or native is None:
        return width
    single = int(CURVE_FIGSIZE[0] * DPI)
    return min(native, 2 * width) if native > 1.2 * single else width


def _figures(run: RunFiles, base_dir: Path, *, width: int | None = None) -> str:
    """Every PNG of a run, linked relative to ``base_dir`` (click: full size), captioned."""
    return "\n".join(
        _figure(
            _href(run.run_dir / name, base_dir),
            _caption(name, run.claims),
            width=_thumb_width(run.run_dir / name, width),
        )
        for name in run.pngs
    )


def _is_timing(key: str) -> bool:
    """Whether a result key is a timing or throughput (``wall_time_s``, ``samples_per_s``)."""
    return key.endswith(("_s", "_sec", "_seconds", "_ms")) or "time" in key


def _split_result(result: Mapping[str, Any] | None) -> tuple[dict, dict]:
    """Split ``result.json`` into ``(final metrics, timings)``, dropping ``claims``."""
    metrics, timings = {}, {}
    for key, value in (result or {}).items():
        if key in ("claims", "context"):
            continue  # shown as the verdict table and the preset/data/seed line
        (timings if _is_timing(key) else metrics)[key] = value
    return metrics, timings


def _metric_rows_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The given metric rows as one table; columns in order of first appearance, step first."""
    columns: dict[str, None] = {"step": None} if any("step" in r for r in rows) else {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    body = ([_cell(row[c]) if c in row else "<td></td>" for c in columns] for row in rows)
    return _table(list(columns), body)


def _section(title: str, content: str, *, level: int = 2) -> str:
    """A heading of the given level followed by ``content``."""
    return f"<h{level}>{_e(title)}</h{level}>\n{content}\n"


def _missing(what: str) -> str:
    """A short note that ``what`` is not there."""
    return f'<p class="note">{_e(what)}</p>'


def _page(title: str, body: str) -> str:
    """A complete HTML document with the inline stylesheet."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
        f"<body>\n<h1>{_e(title)}</h1>\n{body}</body>\n</html>\n"
    )


def _write_text(path: Path, text: str) -> Path:
    """Write UTF-8 text atomically."""
    with _atomic_open(path) as f:
        f.write(text.encode("utf-8"))
    return path


# --------------------------------------------------------------------------- run report


def _headline(claims: Sequence[Mapping[str, Any]], href_prefix: str = "") -> str:
    """``N claims: X hold, Y fail`` with a link to each failing claim's row."""
    if not claims:
        return ""
    holds = [c.get("holds") for c in claims]
    failing = [c for c in claims if c.get("holds") is not True]
    links = ", ".join(
        f'<a href="{href_prefix}#claim-{_e(c.get("id", ""))}">{_e(c.get("id", ""))}</a>'
        for c in failing
    )
    css = "somefail" if failing else "allhold"
    tail = f" &mdash; not holding: {links}" if failing else ""
    return f'<p class="headline {css}">{_e(_claims_summary(holds))}{tail}</p>\n'


def run_context(run: RunFiles) -> dict[str, Any]:
    """Preset, seed and data of a run (``result.json``'s context, else ``config.json``)."""
    context = dict((run.result or {}).get("context") or {})
    for key in ("preset", "seed"):
        if key not in context and run.config and key in run.config:
            context[key] = run.config[key]
    return context


def _set_items(base: Any, actual: Any, prefix: str = "") -> list[str]:
    """``key=value`` items (``--set`` syntax) turning config ``base`` into ``actual``."""
    items: list[str] = []
    if isinstance(base, dict) and isinstance(actual, dict):
        for key, value in actual.items():
            items += _set_items(base.get(key), value, f"{prefix}{key}.")
        return items
    if base != actual:
        value = ",".join(map(str, actual)) if isinstance(actual, list) else actual
        items.append(f"{prefix[:-1]}={'none' if value is None else value}")
    return items


def reproduce_command(run: RunFiles) -> str | None:
    """The ``replearn run`` command that repeats this run (None without config.json)."""
    config = run.config or {}
    name = config.get("experiment")
    if not isinstance(name, str):
        return None
    preset = config.get("preset")
    words = ["replearn", "run", name]
    if preset:
        words += ["--preset", str(preset)]
    words += ["--seed", str(config.get("seed", 0))]
    try:
        import dataclasses

        from replearn.experiments.base import get_experiment

        base = dataclasses.asdict(get_experiment(name).make_config(preset))
        sets = _set_items(json.loads(json.dumps(base)), config.get("config", {}))
    except (ImportError, LookupError, ValueError, TypeError):  # experiment changed or gone
        sets = []
    if sets:
        words += ["--set", *sets]
    words += ["--out", "runs/" + name + "-again"]
    import shlex

    return " ".join(shlex.quote(w) for w in words)


def _context_html(run: RunFiles) -> str:
    context = run_context(run)
    facts = []
    for key in ("preset", "data", "seed"):
        value = context.get(key)
        shown = "default" if key == "preset" and value is None else value
        if shown is not None:
            facts.append(f"{key} <code>{_e(_fmt(shown))}</code>")
    text = f"<p>{' &middot; '.join(facts)}</p>\n" if facts else ""
    if context.get("preset") == "tiny":
        text += (
            '<p class="smoke">Preset <code>tiny</code>: a smoke check that the code runs. Its '
            "verdicts do not evaluate the claims; run the default config (or "
            "<code>--preset quick</code>) for that.</p>\n"
        )
    if context.get("data_fixtures"):
        files = ", ".join(map(str, context["data_fixtures"]))
        text += (
            f'<p class="smoke">Computed on test stand-ins, not the real data: {_e(files)}.</p>\n'
        )
    return text


def _samples_section(run: RunFiles) -> str:
    path = run.run_dir / SAMPLES_FILE
    if not path.is_file():
        return ""
    text = path.read_text(encoding="utf-8", errors="replace")
    cut = f"\n[... {len(text) - MAX_SAMPLE_CHARS} more characters in {SAMPLES_FILE}]"
    shown = text[:MAX_SAMPLE_CHARS] + (cut if len(text) > MAX_SAMPLE_CHARS else "")
    return _section("Generated samples", f"<pre>{_e(shown)}</pre>")


def _run_header(run: RunFiles) -> str:
    """Headline, preset/data/seed, reproduce command, run folder, notes on missing files."""
    header = _headline(run.claims) + _context_html(run)
    command = reproduce_command(run)
    if command:
        header += f'<p>Reproduce:</p>\n<pre class="reproduce">{_e(command)}</pre>\n'
    header += f"<p>run folder <code>{_e(run.run_dir)}</code></p>\n"
    if run.notes:
        items = "".join(f"<li>{_e(n)}</li>" for n in run.notes)
        header += f'<ul class="note">{items}</ul>\n'
    return header


def _results_sections(run: RunFiles, base_dir: Path, *, thumb: int | None, level: int = 2) -> str:
    """Claims, final metrics, timings and plots: what a run report and the tour share."""
    metrics, timings = _split_result(run.result)
    no_result = "no result.json" if run.result is None else "none recorded"
    parts = []
    if run.claims:
        summary = _claims_summary([c.get("holds") for c in run.claims])
        claims = f"<p>{_e(summary)}</p>\n{_claims_table(run.claims, run.run_dir, base_dir)}"
        parts.append(_section("Claims", claims, level=level))
    final = _kv_table(metrics) if metrics else _missing(no_result)
    parts.append(_section("Final metrics", final, level=level))
    timing = _kv_table(timings) if timings else _missing(no_result)
    parts.append(_section("Timings", timing, level=level))
    plots = _figures(run, base_dir, width=thumb) if run.pngs else _missing("no PNG plots")
    parts.append(_section("Plots", plots, level=level))
    return "".join(parts)


def _last_rows_section(run: RunFiles) -> str:
    """The last ``LAST_METRIC_ROWS`` rows of ``metrics.jsonl``."""
    if run.metrics is None:
        return _section("Last metrics rows", _missing("no readable metrics.jsonl"))
    if not run.metrics:
        return _section("Last metrics rows", _missing("metrics.jsonl is empty"))
    last = run.metrics[-LAST_METRIC_ROWS:]
    intro = f"<p>last {len(last)} of {len(run.metrics)} rows</p>\n"
    return _section("Last metrics rows", intro + _metric_rows_table(last))


def write_run_report(run_dir: str | os.PathLike[str]) -> Path:
    """Write ``run_dir/report.html``, a self-contained page about one run.

    Sections: title (the experiment name), run folder and seed, notes on
    missing files, claims with their verdicts, final metrics and timings from
    ``result.json``, every PNG of the folder (linked by relative name, with its
    name as caption), the last rows of ``metrics.jsonl``, the config as nested
    tables, and the environment.

    Args:
        run_dir: The run folder.

    Returns:
        The path of ``report.html``.

    Raises:
        NotADirectoryError: If ``run_dir`` is not a folder.
    """
    run = load_run(run_dir)
    body = _run_header(run) + _results_sections(run, run.run_dir, thumb=None)
    body += _samples_section(run)
    body += _last_rows_section(run)
    config = _nested(run.config) if run.config is not None else _missing("no config.json")
    body += _section("Config", config)
    env = _kv_table(run.env) if run.env else _missing("no env.json")
    body += _section("Environment", env)
    page = _page(f"{run.experiment} — replearn run", body)
    return _write_text(run.run_dir / runfolder.REPORT, page)


# --------------------------------------------------------------------------- claims report


def _plot_target(row: Mapping[str, Any], out_dir: Path) -> Path | None:
    """Where a claim's plot is: absolute, relative to ``out_dir``, or to the row's ``run_dir``."""
    plot = row.get("plot")
    if not plot:
        return None
    plot = Path(plot)
    if plot.is_absolute() or (out_dir / plot).exists():
        return out_dir / plot
    run_dir = row.get("run_dir")
    if run_dir and (Path(run_dir) / plot).exists():
        return Path(run_dir) / plot
    return out_dir / plot


def _md(text: Any) -> str:
    """Text safe inside a markdown table cell: one line, pipes and ``<`` escaped."""
    one_line = " ".join(str(text).split())
    return one_line.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")


def _row_context(row: Mapping[str, Any]) -> str:
    """``preset quick, data digits, seed 0`` of a claims row (what is known of it)."""
    if not any(k in row for k in ("preset", "data", "seed")):
        return ""
    preset = row.get("preset") or "default"
    text = f"preset {preset}"
    if row.get("data"):
        text += f", data {row['data']}"
    if row.get("seed") is not None:
        text += f", seed {row['seed']}"
    return text


def _claim_anchor(row: Mapping[str, Any]) -> str:
    return f"claim-{row.get('experiment', '')}-{row.get('id', '')}"


def _claims_markdown(rows: Sequence[Mapping[str, Any]], out_dir: Path, title: str) -> str:
    """The markdown table of ``claims.md``."""
    lines = [
        f"# {_md(title)}",
        "",
        _claims_summary([r.get("holds") for r in rows]) + ".",
        "",
        "| topic | experiment | claim | measured | verdict | plot |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        target = _plot_target(row, out_dir)
        link = f"[plot]({_href(target, out_dir)})" if target else ""
        claim = f"{_md(row.get('statement', ''))} (`{_md(row.get('id', ''))}`)"
        context = _row_context(row)
        cells = [
            _md(row.get("topic", "")),
            _md(row.get("experiment", "")) + (f" ({_md(context)})" if context else ""),
            claim,
            _md(row.get("evidence", "")),
            f"**{_verdict(row.get('holds'))[0]}**",
            link,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _claims_html(rows: Sequence[Mapping[str, Any]], out_dir: Path, title: str) -> str:
    """The page of ``claims.html``: the same table with plot thumbnails."""
    body_rows = []
    for row in rows:
        word, css = _verdict(row.get("holds"))
        target = _plot_target(row, out_dir)
        plot = _figure(_href(target, out_dir), target.name, width=THUMB_WIDTH) if target else ""
        context = _row_context(row)
        anchor = _claim_anchor(row)
        body_rows.append(
            [
                f"<td>{_e(row.get('topic', ''))}</td>",
                f'<td id="{_e(anchor)}">{_e(row.get("experiment", ""))}'
                + (f'<br><span class="muted">{_e(context)}</span>' if context else "")
                + "</td>",
                f"<td>{_e(row.get('statement', ''))}<br>"
                f'<code class="muted">{_e(row.get("id", ""))}</code></td>',
                f"<td>{_e(row.get('evidence', ''))}</td>",
                f'<td class="{css}">{word}</td>',
                f"<td>{plot}</td>",
            ]
        )
    headers = ("topic", "experiment", "claim", "measured", "verdict", "plot")
    summary = _claims_summary([r.get("holds") for r in rows])
    failing = [r for r in rows if r.get("holds") is not True]
    links = ", ".join(
        f'<a href="#{_e(_claim_anchor(r))}">'
        f"{_e(r.get('experiment', ''))}: {_e(r.get('id', ''))}</a>"
        for r in failing
    )
    css = "somefail" if failing else "allhold"
    tail = f" &mdash; not holding: {links}" if failing else ""
    head = f'<p class="headline {css}">{_e(summary)}{tail}</p>\n'
    return _page(title, head + _table(headers, body_rows))


def write_claims_report(
    rows: Sequence[Mapping[str, Any]],
    out_dir: str | os.PathLike[str],
    *,
    title: str = "replearn claims",
) -> tuple[Path, Path]:
    """Write the claims table of ``replearn claims`` as ``claims.md`` and ``claims.html``.

    Each row is a dict with keys ``topic``, ``experiment``, ``id``,
    ``statement``, ``holds`` (bool), ``evidence`` (the measured numbers),
    ``plot`` (a path relative to ``out_dir`` or to ``run_dir``, absolute, or
    ``None``) and ``run_dir``. The verdict reads **holds** or **fails**
    (**unknown** when ``holds`` is not a bool). Rows keep their order.

    Args:
        rows: One dict per claim.
        out_dir: Folder for both files (created if missing).
        title: Heading of both files.

    Returns:
        ``(claims.md, claims.html)``.
    """
    out_dir = Path(out_dir)
    md_path = _write_text(out_dir / "claims.md", _claims_markdown(rows, out_dir, title))
    html_path = _write_text(out_dir / "claims.html", _claims_html(rows, out_dir, title))
    return md_path, html_path


# --------------------------------------------------------------------------- tour index


def _index_summary(runs: Sequence[RunFiles], base_dir: Path) -> str:
    """One row per sub-run: link to its section, report, claims, wall time."""
    rows = []
    for i, run in enumerate(runs):
        report = run.run_dir / runfolder.REPORT
        link = f'<a href="{_e(_href(report, base_dir))}">report</a>' if report.is_file() else ""
        claims = _claims_summary([c.get("holds") for c in run.claims]) if run.claims else ""
        wall = (run.result or {}).get("wall_time_s")
        name = run.experiment
        if run.run_dir.name != name:
            name += f" ({run.run_dir.name})"
        failing = [c for c in run.claims if c.get("holds") is not True]
        fails = ", ".join(
            f'<a href="#run-{i}-claim-{_e(c.get("id", ""))}">{_e(c.get("id", ""))}</a>'
            for c in failing
        )
        rows.append(
            [
                f'<td><a href="#run-{i}">{_e(name)}</a></td>',
                f"<td>{_e(claims)}</td>",
                f"<td>{fails}</td>",
                _cell(wall) if wall is not None else "<td></td>",
                f"<td>{link}</td>",
            ]
        )
    return _table(("run", "claims", "not holding", "wall_time_s", "report"), rows)


def _index_section(i: int, run: RunFiles, base_dir: Path) -> str:
    """The section of one sub-run (headings one level down from a run report)."""
    inner = _results_sections(run, base_dir, thumb=THUMB_WIDTH, level=3)
    inner = inner.replace('id="claim-', f'id="run-{i}-claim-')  # unique anchors on the page
    inner = _context_html(run) + inner
    notes = "".join(f"<li>{_e(n)}</li>" for n in run.notes)
    notes = f'<ul class="note">{notes}</ul>\n' if notes else ""
    heading = run.experiment
    if run.run_dir.name != heading:
        heading += f" ({run.run_dir.name})"
    return f'<section class="run" id="run-{i}">\n<h2>{_e(heading)}</h2>\n{notes}{inner}</section>\n'


def write_index(
    run_dirs: Iterable[str | os.PathLike[str]],
    out_path: str | os.PathLike[str],
    *,
    title: str = "replearn tour",
) -> Path:
    """Write one HTML page over several runs (the ``replearn tour`` page).

    A summary table, then one section per run with its claims, final metrics,
    timings and plot thumbnails; images and links are relative to the page.
    Run folders that do not exist get a note instead of a section.

    Args:
        run_dirs: The sub-run folders, in the order to show them.
        out_path: The HTML file to write (its folder is created if missing).
        title: Page title.

    Returns:
        ``out_path`` as a :class:`~pathlib.Path`.
    """
    out_path = Path(out_path)
    base_dir = out_path.parent
    runs, missing = [], []
    for run_dir in run_dirs:
        if Path(run_dir).is_dir():
            runs.append(load_run(run_dir))
        else:
            missing.append(str(run_dir))
    every = [c for run in runs for c in run.claims]
    body = ""
    if every:
        failing = [
            f'<a href="#run-{i}-claim-{_e(c.get("id", ""))}">{_e(run.experiment)}: '
            f"{_e(c.get('id', ''))}</a>"
            for i, run in enumerate(runs)
            for c in run.claims
            if c.get("holds") is not True
        ]
        css = "somefail" if failing else "allhold"
        tail = " &mdash; not holding: " + ", ".join(failing) if failing else ""
        summary = _claims_summary([c.get("holds") for c in every])
        presets = sorted({str(run_context(run).get("preset") or "default") for run in runs})
        summary += f" (preset{'s' * (len(presets) > 1)} {', '.join(presets)}"
        summary += "; tiny: smoke checks, not evaluations)" if "tiny" in presets else ")"
        body += f'<p class="headline {css}">{_e(summary)}{tail}</p>\n'
    body += _index_summary(runs, base_dir) if runs else _missing("no runs")
    if missing:
        body += _missing("missing run folders: " + ", ".join(missing))
    body += "".join(_index_section(i, run, base_dir) for i, run in enumerate(runs))
    return _write_text(out_path, _page(title, body))
