"""Record one ``replearn run`` in ``benchmarks/results/`` as JSON and a markdown table.

For runs that are not timing benchmarks but whose numbers the README or an issue quotes (a
non-default data set, a long configuration): the run's own ``result.json`` and ``env.json``
are copied into ``results/NAME.json`` with the command that produced them, and ``NAME.md``
is rendered from that file (never typed): one row per variant, one column per metric, then
the run's claims with their verdicts and evidence.

    python benchmarks/record_run.py /tmp/runs/gan-fashion gan_images_fashion_mnist \\
        --command "REPLEARN_DATA=../shared/data replearn run gan-images --set data=fashion-mnist" \\
        --rows dcgan,wgan-gp,sagan,biggan,stylegan \\
        --columns fid,kid,inception_score,precision,recall,train_s
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def record(
    run_dir: Path, command: str, title: str, rows: list[str], columns: list[str]
) -> dict[str, Any]:
    """The JSON record of a run folder: its result, its environment, the command and the
    table's rows and columns (so that :func:`render` of the record gives the markdown)."""
    result = json.loads((run_dir / "result.json").read_text(encoding="utf-8"))
    env = json.loads((run_dir / "env.json").read_text(encoding="utf-8"))
    return {"title": title, "command": command, "rows": rows, "columns": columns,
            "env": env, "result": result}  # fmt: skip


def _cell(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-" if value is None else str(value)
    return f"{value:.4g}"


def render(rec: dict[str, Any]) -> str:
    """Markdown: header, the rows x columns table of ``result[f"{row}_{column}"]``, claims."""
    res, env, rows, columns = rec["result"], rec["env"], rec["rows"], rec["columns"]
    lines = [
        f"# {rec['title']}",
        "",
        f"git {env.get('git_commit')} · torch {env.get('torch')} · {env.get('torch_threads')} "
        f"torch thread(s) · {env.get('cpu_count')} CPUs · load average (1 min) at the start "
        f"{env.get('load_average_1min')} · wall {_cell(res.get('wall_time_s'))} s, "
        f"CPU {_cell(res.get('cpu_time_s'))} s",
        "",
        "| variant | " + " | ".join(columns) + " |",
        "| --- | " + " | ".join("---:" for _ in columns) + " |",
    ]
    for row in rows:
        cells = " | ".join(_cell(res.get(f"{row}_{c}")) for c in columns)
        lines.append(f"| {row} | {cells} |")
    if res.get("claims"):
        lines += ["", "| claim | verdict | evidence |", "| --- | --- | --- |"]
        for c in res["claims"]:
            verdict = "holds" if c["holds"] else "fails"
            lines.append(f"| `{c['id']}` | {verdict} | {c['evidence'].replace('|', '/')} |")
    lines += ["", "Reproduce:", "", "```sh", rec["command"], "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path)
    p.add_argument("name", help="file name in benchmarks/results/ (no extension)")
    p.add_argument("--command", required=True, help="the command that made the run")
    p.add_argument("--title", default=None)
    p.add_argument("--rows", required=True, help="comma-separated metric prefixes")
    p.add_argument("--columns", required=True, help="comma-separated metric suffixes")
    p.add_argument("--out", type=Path, default=RESULTS)
    a = p.parse_args(argv)
    if not (a.run_dir / "result.json").is_file():
        p.error(f"{a.run_dir} has no result.json")
    rec = record(a.run_dir, a.command, a.title or a.name, a.rows.split(","), a.columns.split(","))
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / f"{a.name}.json").write_text(json.dumps(rec, indent=1) + "\n", encoding="utf-8")
    md = render(rec)
    (a.out / f"{a.name}.md").write_text(md, encoding="utf-8")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
