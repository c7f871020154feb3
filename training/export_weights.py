#!/usr/bin/env python3
"""Dumps a checkpoint's weights as Trine will store them, for export.ts to write with Trine's GGUF writer:
ternary codes (int8, row-major [out, in]) with their per-tensor absmean scale for every projection, f32 norms, and
the f32 token embedding (export.ts rounds it to f16). Tensors carry their GGUF names.

    /usr/bin/python3 training/export_weights.py [--ckpt training/run/ckpt.pt] [--out training/run/weights]

Writes <out>.json (config, and per tensor: name, kind, shape, byte offset, scale) and <out>.bin.
"""
import argparse
import json
import os

import numpy as np
import torch

from bitnet import BitLinear, BitNet, Config, RMSNorm, weight_quant

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--ckpt', default=os.path.join(HERE, 'run', 'ckpt.pt'))
    ap.add_argument('--out', default=os.path.join(HERE, 'run', 'weights'))
    a = ap.parse_args()
    ck = torch.load(a.ckpt)
    cfg = Config(**ck['config'])
    model = BitNet(cfg)
    model.load_state_dict(ck['model'])
    entries, blobs, offset = [], [], 0

    def add(name: str, kind: str, arr: np.ndarray, scale: float | None = None) -> None:
        nonlocal offset
        data = np.ascontiguousarray(arr).tobytes()
        entries.append({'name': name, 'kind': kind, 'shape': list(arr.shape), 'offset': offset, 'scale': scale})
        blobs.append(data)
        offset += len(data)

    with torch.no_grad():
        add('token_embd.weight', 'f32', model.token_embd.weight.float().numpy())
        add('output_norm.weight', 'f32', model.output_norm.weight.float().numpy())
        for l, b in enumerate(model.blocks):
            for short, mod in b.named_children():
                name = f'blk.{l}.{short}.weight'
                if isinstance(mod, BitLinear):
                    codes, scale = weight_quant(mod.weight.float())
                    add(name, 'ternary', codes.to(torch.int8).numpy(), float(scale))
                elif isinstance(mod, RMSNorm):
                    add(name, 'f32', mod.weight.float().numpy())
    meta = {'config': cfg.to_dict(), 'step': ck['step'], 'tokens': ck['tokens'], 'seconds': ck['seconds'],
            'params': model.param_count(), 'tensors': entries}
    with open(a.out + '.bin', 'wb') as f:
        for blob in blobs:
            f.write(blob)
    with open(a.out + '.json', 'w') as f:
        json.dump(meta, f, indent=1)
    print(f"step {ck['step']}: {len(entries)} tensors, {offset} bytes -> {a.out}.bin")


if __name__ == '__main__':
    main()
