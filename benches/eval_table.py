#!/usr/bin/env python3
"""Markdown tables of `gridsleuth eval` results, one column per method, every per-kind row.

    python benches/eval_table.py NAME=eval.json [NAME=eval.json ...]

Rows: ROC AUC, AP, precision among the top k (k = number of rigs), recall at 1% FPR, recall per
rig kind at 1% FPR, false positives per negative kind at 1% FPR, then the same recall and false
positives at the tool's own flag (scores.csv `flagged`, where the run has one), and onset
dating of the flagged rigs with a mid-window onset.
"""
import json
import sys


def main():
    runs = []
    for a in sys.argv[1:]:
        name, path = a.split("=", 1)
        runs.append((name, json.load(open(path))))
    f = lambda v: "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))
    at = lambda d, n: next((x for x in d["at_fpr"] if x["name"] == n), None)
    head = "| | " + " | ".join(n for n, _ in runs) + " |"
    print(head)
    print("|---|" + "---|" * len(runs))

    def row(label, get):
        vals = []
        for _, d in runs:
            try:
                vals.append(f(get(d)))
            except (KeyError, TypeError, StopIteration):
                vals.append("-")
        print(f"| {label} | " + " | ".join(vals) + " |")

    d0 = runs[0][1]
    row("rigs / negatives", lambda d: f"{d['positives']} / {d['negatives']}")
    row("ROC AUC", lambda d: d["roc_auc"])
    row("average precision", lambda d: d["average_precision"])
    row("precision among the top k", lambda d: next(x for x in d["precision_at_k"] if x["name"] == "npos")["precision"])
    row("recall, all rigs @1% FPR", lambda d: at(d, "FPR 1%")["recall"]["rate"])
    for k in sorted(d0["positives_by_kind"]):
        row(f"recall, {k} (n={d0['positives_by_kind'][k]}) @1% FPR", lambda d, k=k: at(d, "FPR 1%")["recall_by_kind"][k]["rate"])
    for k in sorted(d0["negatives_by_kind"]):
        row(f"false positives, {k} (of {d0['negatives_by_kind'][k]}) @1% FPR", lambda d, k=k: at(d, "FPR 1%")["false_positives_by_kind"][k])
    row("recall, all rigs, flagged", lambda d: d["flagged"]["recall"]["rate"])
    for k in sorted(d0["positives_by_kind"]):
        row(f"recall, {k}, flagged", lambda d, k=k: d["flagged"]["recall_by_kind"][k]["rate"])
    for k in sorted(d0["negatives_by_kind"]):
        row(f"false positives, {k}, flagged", lambda d, k=k: d["flagged"]["false_positives_by_kind"][k])
    row("registered miners flagged", lambda d: d["flagged"]["registered_flagged"])
    row("mid-window onsets of flagged rigs within 1 day", lambda d: d["onset"]["mid_window"]["within_1_day"])


if __name__ == "__main__":
    main()
