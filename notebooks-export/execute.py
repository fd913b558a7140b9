"""Executes every notebook in notebooks-export/ top to bottom and exports it to HTML.

Called by run.sh inside its virtual environment (see run.sh for the inputs the notebooks read).

    python execute.py [--out DIR] [NOTEBOOK ...]

Without --out, each executed notebook replaces its source in notebooks-export/ (the committed
copies) and its HTML is written beside it; with --out DIR, both go to DIR and the sources are
left alone. Without NOTEBOOK arguments, every *.ipynb in notebooks-export/ runs, in name order.

The kernel starts in notebooks-export/ with this process's environment, so the notebooks'
parameters (GRIDSLEUTH_* variables) come from run.sh. Any cell error stops the run and exits 1.
Outputs are made deterministic: no execution timings are recorded, and the metadata a kernel
or a Jupyter front end adds per run (timings, collapsed/scrolled state, widget state) is removed.
The HTML uses the `offline` template beside this file: nbconvert's lab template without its
require.js, MathJax and Mermaid scripts from a CDN, and with a content security policy that
forbids any network fetch, so the page opens offline exactly as it was exported.
"""

import argparse
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import HTMLExporter

HERE = Path(__file__).resolve().parent
# Set only for the separate run on third-party data, whose outputs are never committed.
SHARED_ENV = "GRIDSLEUTH_TETOUAN_DROP_DIR"


def clean(nb):
    """Removes what changes from one execution to the next without the results changing."""
    nb.metadata.pop("widgets", None)
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        for key in ("execution", "collapsed", "scrolled", "papermill", "ExecuteTime"):
            cell.metadata.pop(key, None)
        for out in cell.get("outputs", []):
            out.get("metadata", {}).pop("execution", None)


def export_html(nb, path):
    exporter = HTMLExporter(extra_template_basedirs=[str(HERE / "templates")], template_name="offline")
    exporter.exclude_input_prompt = False
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
    path.write_text(body, encoding="utf-8")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, help="write executed notebooks and HTML here instead of in place")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    ap.add_argument("notebooks", nargs="*", type=Path)
    args = ap.parse_args()

    if args.out is None and os.environ.get(SHARED_ENV):
        sys.exit(f"error: {SHARED_ENV} is set: the committed notebooks run on the committed samples "
                 "only; give --out DIR (run.sh --shared does) for a run on third-party data")
    notebooks = args.notebooks or sorted(HERE.glob("*.ipynb"))
    if not notebooks:
        sys.exit(f"error: no notebooks in {HERE}")
    out_dir = args.out.resolve() if args.out else HERE
    out_dir.mkdir(parents=True, exist_ok=True)

    failed = []
    for src in notebooks:
        src = src.resolve()
        nb = nbformat.read(src, as_version=4)
        client = NotebookClient(nb, timeout=args.timeout, kernel_name="python3", record_timing=False,
                                resources={"metadata": {"path": str(HERE)}})
        print(f"== {src.name}", flush=True)
        try:
            client.execute()
        except CellExecutionError as e:
            print(f"FAIL: {src.name}: a cell raised an error:\n{e}", file=sys.stderr)
            failed.append(src.name)
            continue
        clean(nb)
        nbformat.validate(nb)
        images = sum(1 for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            failed.append(src.name)
            print(f"FAIL: {src.name}: {len(errors)} error output(s)", file=sys.stderr)
            continue
        target = out_dir / src.name
        nbformat.write(nb, target)
        export_html(nb, target.with_suffix(".html"))
        print(f"   {len(nb.cells)} cells, {images} images -> {target} (+ .html)", flush=True)
    if failed:
        sys.exit(f"error: {len(failed)} notebook(s) failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
