#!/usr/bin/env python3
"""Draws the training log (run/log.jsonl) as an SVG loss curve: training loss (mean of each 20 steps) and held-out
loss against tokens seen. Plain SVG, no plotting library. A resumed run repeats the steps after its last
checkpoint; the later record of a step wins.

    /usr/bin/python3 training/plot_loss.py [--log training/run/log.jsonl] [--out docs/default-model-loss.svg]
"""
import argparse
import json
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))

W, H = 720, 400
L, R, T, B = 64, 20, 36, 48


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--log', default=os.path.join(HERE, 'run', 'log.jsonl'))
    ap.add_argument('--out', default=os.path.join(HERE, '..', 'docs', 'default-model-loss.svg'))
    ap.add_argument('--title', default="Trine's default model (BitNet b1.58, 3.4 M parameters): loss in nats per token")
    a = ap.parse_args()
    by_step = {}
    for line in open(a.log):
        if line.strip():
            r = json.loads(line)
            by_step[r['step']] = r
    recs = [by_step[s] for s in sorted(by_step)]
    train, test = [], []
    for i in range(0, len(recs), 20):
        chunk = recs[i:i + 20]
        train.append((chunk[-1]['tokens'], sum(r['loss'] for r in chunk) / len(chunk)))
    test = [(r['tokens'], r['test_loss']) for r in recs if 'test_loss' in r]
    xmax = recs[-1]['tokens']
    ys = [y for _, y in train + test]
    ymin, ymax = math.floor(min(ys) - 0.25), math.ceil(max(ys))

    def px(x):
        return L + (W - L - R) * x / xmax

    def py(y):
        return T + (H - T - B) * (ymax - y) / (ymax - ymin)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="14">{a.title}</text>']
    for y in range(ymin, ymax + 1):
        out.append(f'<line x1="{L}" x2="{W - R}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{L - 8}" y="{py(y) + 4:.1f}" text-anchor="end">{y}</text>')
    step = 10 ** math.floor(math.log10(xmax)) / 2
    x = 0.0
    while x <= xmax:
        out.append(f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{T}" y2="{H - B}" stroke="#eee"/>')
        out.append(f'<text x="{px(x):.1f}" y="{H - B + 16}" text-anchor="middle">{x / 1e6:g} M</text>')
        x += step
    out.append(f'<text x="{(L + W - R) / 2}" y="{H - 10}" text-anchor="middle">training tokens</text>')
    for pts, colour, name, dy in ((train, '#1f77b4', 'train (mean of 20 steps)', 0), (test, '#d62728', 'held-out', 18)):
        if pts:
            path = ' '.join(f'{px(x):.1f},{py(y):.1f}' for x, y in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
            out.append(f'<line x1="{W - R - 190}" x2="{W - R - 170}" y1="{T + 14 + dy}" y2="{T + 14 + dy}" stroke="{colour}" stroke-width="2"/>')
            out.append(f'<text x="{W - R - 164}" y="{T + 18 + dy}">{name}</text>')
    last = test[-1] if test else train[-1]
    out.append(f'<text x="{L + 8}" y="{H - B - 8}" fill="#555">{len(recs)} steps, {xmax / 1e6:.2f} M tokens, '
               f'final held-out loss {last[1]:.3f} (perplexity {math.exp(last[1]):.1f})</text>')
    out.append('</svg>')
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, 'w') as f:
        f.write('\n'.join(out) + '\n')
    print(f'{a.out}: {len(recs)} steps')


if __name__ == '__main__':
    main()
