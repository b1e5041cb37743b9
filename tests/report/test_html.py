"""Tests of replearn.report.html: run report, claims report, tour index.

Pages are parsed with :class:`html.parser.HTMLParser` rather than matched as text,
so the assertions are about the document a browser would see.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from replearn.report import plot_curves, write_claims_report, write_index, write_run_report

EVIL = "<script>alert('x')</script> & \"quoted\""


class PageParser(HTMLParser):
    """Collects the title, image sources, links, table cells and all visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.h1 = ""
        self.imgs: list[str] = []
        self.links: list[str] = []
        self.cells: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []
        self._stack: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        attributes = dict(attrs)
        if tag == "img":
            self.imgs.append(attributes["src"] or "")
            return  # void element
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"] or "")
        if tag in ("td", "th"):
            self._cell = []
        self._stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append("".join(self._cell).strip())
            self._cell = None
        if self._stack and self._stack[-1] == tag:
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if "title" in self._stack:
            self.title += data
        if "h1" in self._stack:
            self.h1 += data


def parse(path: Path) -> PageParser:
    parser = PageParser()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


def make_run(run_dir: Path, experiment: str = "fundamentals.mlp_digits") -> Path:
    """A fake run folder: config, metrics (truncated last line), result with claims, env."""
    run_dir.mkdir(parents=True)
    config = {
        "experiment": experiment,
        "seed": 0,
        "optim": {"name": "adam", "lr": 1e-3, "betas": [0.9, 0.999]},
        "note": EVIL,
    }
    (run_dir / "config.json").write_text(json.dumps(config))
    rows = []
    for step in range(1, 31):
        rows.append({"step": step, "epoch": step // 10, "train_loss": 3.0 / step, "lr": 1e-3})
        if step % 10 == 0:
            rows.append({"step": step, "val_loss": 2.0 / step, "val_accuracy": 0.7 + step / 200})
    text = "".join(json.dumps(r) + "\n" for r in rows) + '{"step": 31, "train_lo'
    (run_dir / "metrics.jsonl").write_text(text)
    result = {
        "test_accuracy": 0.9123,
        "test_loss": 0.2875,
        "wall_time_s": 12.5,
        "claims": [
            {
                "id": "beats_linear",
                "statement": "the MLP beats a linear model",
                "holds": True,
                "evidence": "0.912 > 0.871",
                "plot": "accuracy.png",
            },
            {
                "id": "no_overfit",
                "statement": "val loss < 2 × train loss",
                "holds": False,
                "evidence": "0.31 vs 0.12",
            },
        ],
    }
    (run_dir / "result.json").write_text(json.dumps(result))
    env = {"python": "3.12.1", "torch": "2.13.0", "device": "cpu", "world_size": 1}
    (run_dir / "env.json").write_text(json.dumps(env))
    return run_dir


def test_run_report(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run")
    pngs = plot_curves(
        [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()[:-1]],
        run_dir,
    )
    assert {p.name for p in pngs} == {"loss.png", "accuracy.png"}  # the lr is constant
    report = write_run_report(run_dir)
    assert report == run_dir / "report.html"
    page = parse(report)

    assert "fundamentals.mlp_digits" in page.title
    assert "fundamentals.mlp_digits" in page.h1
    assert sorted(page.imgs) == sorted(p.name for p in pngs)
    for src in page.imgs:
        assert (report.parent / unquote(src)).is_file(), src
    for value in ("0.9123", "0.2875", "12.5"):
        assert value in page.cells
    assert "holds" in page.cells and "fails" in page.cells
    assert "the MLP beats a linear model" in page.cells
    assert "val loss < 2 × train loss" in page.cells  # round-trips through escaping
    assert {"3.12.1", "2.13.0", "cpu"} <= set(page.cells)  # environment
    assert "adam" in page.cells and "0.9, 0.999" in page.cells  # nested config
    assert "30" in page.cells  # last metrics rows reach the last complete step
    assert "accuracy.png" in page.links  # a claim's plot

    raw = report.read_text(encoding="utf-8")
    assert "<script>" not in raw and "script" not in page.tags
    assert "&lt;script&gt;" in raw
    assert EVIL in page.text  # shown to the reader as text, intact
    assert "<style>" in raw and "<link" not in raw  # self-contained


def test_run_report_tolerates_missing_files(tmp_path: Path) -> None:
    run_dir = tmp_path / "bare"
    run_dir.mkdir()
    (run_dir / "result.json").write_text("{not json")
    page = parse(write_run_report(run_dir))
    text = " ".join(page.text)
    assert "bare" in page.title  # folder name when no config names the experiment
    for name in ("config.json: missing", "metrics.jsonl: missing", "env.json: missing"):
        assert name in text
    assert "result.json: unreadable" in text
    assert page.imgs == []
    with pytest.raises(NotADirectoryError):
        write_run_report(tmp_path / "nope")


CLAIM_ROWS = [
    {
        "topic": "optim",
        "experiment": "optim.ill_conditioned",
        "id": "adam_faster",
        "statement": "Adam converges faster than SGD | on an ill-conditioned quadratic",
        "holds": True,
        "evidence": "steps to 1e-3: adam 120, sgd 900",
        "plot": "optim/loss.png",
        "run_dir": None,
    },
    {
        "topic": "vae",
        "experiment": "vae.iwae",
        "id": "iwae_tighter",
        "statement": "the IWAE bound is tighter than the <ELBO>",
        "holds": False,
        "evidence": "iwae -95.1, elbo -94.8",
        "plot": None,
        "run_dir": None,
    },
]


def test_claims_report(tmp_path: Path) -> None:
    (tmp_path / "optim").mkdir()
    plot_curves([{"step": s, "train_loss": 1.0 / s} for s in range(1, 5)], tmp_path / "optim")
    md_path, html_path = write_claims_report(CLAIM_ROWS, tmp_path)
    assert (md_path.name, html_path.name) == ("claims.md", "claims.html")

    lines = md_path.read_text(encoding="utf-8").splitlines()
    table = [line for line in lines if line.startswith("|")]
    assert table[0] == "| topic | experiment | claim | measured | verdict | plot |"
    assert set(table[1]) <= set("|-")
    body = table[2:]
    assert len(body) == 2
    for row, claim in zip(body, CLAIM_ROWS, strict=True):
        cells = [c.strip() for c in row.replace("\\|", "\x00").strip("|").split("|")]
        assert len(cells) == 6
        assert cells[0] == claim["topic"] and cells[1] == claim["experiment"]
        assert claim["id"] in cells[2] and claim["evidence"] == cells[3]
        assert cells[4] == ("**holds**" if claim["holds"] else "**fails**")
    assert body[0].endswith("[plot](optim/loss.png) |")
    assert "<ELBO>" not in md_path.read_text()

    page = parse(html_path)
    assert page.title == "replearn claims"
    assert page.imgs == ["optim/loss.png"]
    assert all((tmp_path / unquote(src)).is_file() for src in page.imgs)
    assert "holds" in page.cells and "fails" in page.cells
    assert "steps to 1e-3: adam 120, sgd 900" in page.cells
    assert "the IWAE bound is tighter than the <ELBO>" in " ".join(page.text)
    assert "ELBO" not in page.tags


def test_claims_report_plot_relative_to_run_dir(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "vae"
    plot_curves([{"step": 1, "elbo": -90.0}], run_dir)
    row = dict(CLAIM_ROWS[1], plot="metrics.png", run_dir=str(run_dir))
    _, html_path = write_claims_report([row], tmp_path / "report")
    page = parse(html_path)
    assert page.imgs == ["../runs/vae/metrics.png"]
    assert (html_path.parent / page.imgs[0]).is_file()


def test_write_index(tmp_path: Path) -> None:
    tour = tmp_path / "tour"
    runs = [make_run(tour / "01 mlp"), make_run(tour / "02-vae", experiment="vae.gaussian")]
    for run_dir in runs:
        plot_curves([{"step": s, "train_loss": 1.0 / s} for s in range(1, 5)], run_dir)
    write_run_report(runs[0])
    index = write_index([*runs, tour / "missing"], tmp_path / "index.html")
    page = parse(index)

    assert page.title == "replearn tour"
    assert page.imgs == ["tour/01%20mlp/loss.png", "tour/02-vae/loss.png"]
    for src in page.imgs:
        assert (index.parent / unquote(src)).is_file(), src
    assert "tour/01%20mlp/report.html" in page.links
    assert "tour/02-vae/accuracy.png" in page.links  # claim plot, relative to the index
    text = " ".join(page.text)
    assert "vae.gaussian" in text and "fundamentals.mlp_digits" in text
    assert "0.9123" in page.cells and "holds" in page.cells and "fails" in page.cells
    assert "missing" in text


def _anchors(path: Path) -> set[str]:
    import re

    return set(re.findall(r'id="([^"]+)"', path.read_text(encoding="utf-8")))


def test_run_report_structure_headline_context_reproduce_samples(tmp_path: Path) -> None:
    """What a reader needs first: verdict headline with links, preset/data/seed, the command."""
    from replearn.cli import main

    out = tmp_path / "r"
    args = ["run", "mlp", "--preset", "tiny", "--no-progress", "--seed", "2", "--out", str(out)]
    assert main([*args, "--set", "hidden=24", "lr=0.01"]) == 0
    (out / "samples.txt").write_text("ROMEO: a <sample>\n")
    result = json.loads((out / "result.json").read_text())
    result["claims"] = [
        {"id": "ok", "statement": "it works", "holds": True, "evidence": "1", "plot": "loss.png"},
        {"id": "bad", "statement": "it flies", "holds": False, "evidence": "0", "plot": None},
    ]
    (out / "result.json").write_text(json.dumps(result))
    page_path = write_run_report(out)
    page = parse(page_path)
    text = " ".join(" ".join(page.text).split())
    assert "2 claims: 1 holds, 1 fails — not holding: bad" in text
    assert "#claim-bad" in page.links and "claim-bad" in _anchors(page_path)
    assert "preset tiny · data digits · seed 2" in text
    assert "a smoke check that the code runs" in text
    assert "replearn run mlp --preset tiny --seed 2 --set hidden=24 lr=0.01 --out" in text
    assert "ROMEO: a <sample>" in text  # escaped in the HTML, shown as text
    captions = [t.strip() for t in page.text if "(loss.png)" in t or "(accuracy.png)" in t]
    assert "Claim: it works (loss.png)" in captions
    assert "Accuracy during training (accuracy.png)" in captions
    assert all(f'<a href="{src}">' in page_path.read_text() for src in page.imgs)  # enlarge


def test_tour_index_headline_names_failures(tmp_path: Path) -> None:
    a, b = make_run(tmp_path / "a"), make_run(tmp_path / "b", experiment="other")
    plot_curves([{"step": s, "loss": 1.0 / s} for s in range(1, 5)], a)
    page_path = write_index([a, b], tmp_path / "index.html")
    page = parse(page_path)
    text = " ".join(" ".join(page.text).split())
    assert text.count("not holding") >= 1 and "fundamentals.mlp_digits: no_overfit" in text
    anchors = _anchors(page_path)
    assert "run-0-claim-no_overfit" in anchors and "run-1-claim-no_overfit" in anchors
    assert "#run-1-claim-no_overfit" in page.links
    assert page.imgs == ["a/loss.png"] and 'width="480"' in page_path.read_text()


def test_wide_figures_get_wider_thumbnails(tmp_path) -> None:
    from replearn.report import html as report_html
    from replearn.report.plots import PANEL_FIGSIZE, _plot_panels

    series = {f"m{i}": ([0, 1, 2], [float(i), i + 1.0, i + 0.5]) for i in range(5)}
    wide = _plot_panels(series, tmp_path / "metrics.png")
    native = report_html._png_width(wide)
    assert native == round(3 * PANEL_FIGSIZE[0] * report_html.DPI)
    assert report_html._thumb_width(wide, 480) == min(native, 960)
    assert report_html._thumb_width(tmp_path / "missing.png", 480) == 480
    assert report_html._thumb_width(wide, None) is None
