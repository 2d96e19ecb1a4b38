"""Charts of the classifier on a labelled CSV: the reliability diagram
(calibration) and the abstain-threshold trade-off, as SVG files.

    python bench/classifier_charts.py --data ../shared/data/complaints/dev.csv [--out docs]

Uses `python -m classifier evaluate --json`'s figures; plain SVG, no plotting
library needed.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
W, H, PAD = 420, 320, 50


def _axes(title: str, xlabel: str, ylabel: str) -> list[str]:
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="Noto Sans CJK SC, sans-serif" font-size="11">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="18" text-anchor="middle" font-size="13">{title}</text>',
           f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - 20}" y2="{H - PAD}" stroke="#333"/>',
           f'<line x1="{PAD}" y1="{H - PAD}" x2="{PAD}" y2="30" stroke="#333"/>',
           f'<text x="{(W + PAD) / 2}" y="{H - 12}" text-anchor="middle">{xlabel}</text>',
           f'<text x="14" y="{H / 2}" text-anchor="middle" transform="rotate(-90 14 {H / 2})">{ylabel}</text>']
    for i in range(0, 11, 2):
        v = i / 10
        x, y = _x(v), _y(v)
        out += [f'<text x="{x}" y="{H - PAD + 14}" text-anchor="middle">{v:.1f}</text>',
                f'<text x="{PAD - 6}" y="{y + 4}" text-anchor="end">{v:.1f}</text>',
                f'<line x1="{PAD}" y1="{y}" x2="{W - 20}" y2="{y}" stroke="#eee"/>']
    return out


def _x(v: float) -> float:
    return PAD + v * (W - 20 - PAD)


def _y(v: float) -> float:
    return H - PAD - v * (H - PAD - 30)


def reliability_svg(bins: list[dict], ece: float) -> str:
    out = _axes(f"可靠性图（ECE {ece:.3f}）", "平均置信度", "实际准确率")
    out.append(f'<line x1="{_x(0)}" y1="{_y(0)}" x2="{_x(1)}" y2="{_y(1)}" stroke="#999" stroke-dasharray="4 3"/>')
    pts = [(b["mean_confidence"], b["accuracy"], b["n"]) for b in bins if b["n"]]
    out.append('<polyline fill="none" stroke="#b71c1c" stroke-width="2" points="'
               + " ".join(f"{_x(c):.1f},{_y(a):.1f}" for c, a, _ in pts) + '"/>')
    for c, a, n in pts:
        out.append(f'<circle cx="{_x(c):.1f}" cy="{_y(a):.1f}" r="{2 + min(8, n ** 0.5 / 2):.1f}" fill="#b71c1c" '
                   f'fill-opacity="0.6"><title>n={n}</title></circle>')
    return "\n".join(out + ["</svg>"])


def tradeoff_svg(rows: list[dict], chosen: float) -> str:
    out = _axes(f"弃权阈值取舍（采用 {chosen:.2f}）", "阈值", "比例")
    rows = sorted(rows, key=lambda r: r["threshold"])
    for key, colour, label, dy in (("auto_routed_share", "#1d4ed8", "自动派单占比", 0),
                                   ("auto_routed_accuracy", "#15803d", "自动派单准确率", 14)):
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                   + " ".join(f"{_x(r['threshold']):.1f},{_y(r[key]):.1f}" for r in rows) + '"/>')
        out.append(f'<text x="{PAD + 10}" y="{H - PAD - 40 + dy}" fill="{colour}">{label}</text>')
    out.append(f'<line x1="{_x(chosen):.1f}" y1="30" x2="{_x(chosen):.1f}" y2="{H - PAD}" stroke="#b71c1c" '
               'stroke-dasharray="4 3"/>')
    return "\n".join(out + ["</svg>"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", default=str(ROOT / "docs"))
    args = ap.parse_args()
    print("evaluating the default model…", flush=True)
    r = subprocess.run([sys.executable, "-m", "classifier", "evaluate", "--data", args.data, "--json"],
                       cwd=ROOT, capture_output=True, text=True, check=True)
    d = json.loads(r.stdout)
    out = Path(args.out)
    (out / "classifier-reliability.svg").write_text(reliability_svg(d["reliability"], d["ece"]), encoding="utf-8")
    (out / "classifier-threshold.svg").write_text(tradeoff_svg(d["threshold_trade_off"], d["threshold"]),
                                                  encoding="utf-8")
    print(f"macro-F1 {d['macro_f1']:.4f}  accuracy {d['accuracy']:.4f}  ECE {d['ece']:.4f}  "
          f"auto-routed {d['auto_routed_share']:.1%} at {d['auto_routed_accuracy']:.1%}")
    print(f"wrote {out / 'classifier-reliability.svg'} and {out / 'classifier-threshold.svg'}")


if __name__ == "__main__":
    main()
