#!/usr/bin/env python3
"""Writes the PyTorch model's logits (its quantised forward, the graph the GGUF encodes) for the first --n tokens of
the held-out split, for parity.ts to compare with Trine's: <out>.json holds the token ids, <out>.f32 the logits
[n, vocab] little-endian f32.

    /usr/bin/python3 training/logits.py [--ckpt training/run/ckpt.pt] [--n 64] [--out training/run/parity]
"""
import argparse
import json
import os

import numpy as np
import torch

from bitnet import BitNet, Config

HERE = os.path.dirname(os.path.abspath(__file__))

ap = argparse.ArgumentParser()
ap.add_argument('--ckpt', default=os.path.join(HERE, 'run', 'ckpt.pt'))
ap.add_argument('--data', default=os.path.join(HERE, 'data'))
ap.add_argument('--n', type=int, default=64)
ap.add_argument('--out', default=os.path.join(HERE, 'run', 'parity'))
a = ap.parse_args()
torch.set_num_threads(1)
ck = torch.load(a.ckpt)
model = BitNet(Config(**ck['config']))
model.load_state_dict(ck['model'])
model.eval()
# The f16 embedding Trine reads: round the table the same way so the comparison isolates the graph.
with torch.no_grad():
    model.token_embd.weight.copy_(model.token_embd.weight.half().float())
tokens = np.fromfile(os.path.join(a.data, 'test.bin'), dtype=np.uint16)[:a.n].astype(np.int64)
with torch.no_grad():
    logits = model(torch.from_numpy(tokens)[None])[0].float().numpy()
logits.astype('<f4').tofile(a.out + '.f32')
json.dump({'step': ck['step'], 'tokens': tokens.tolist(), 'vocab': int(logits.shape[1])}, open(a.out + '.json', 'w'))
print(f"step {ck['step']}: logits for {len(tokens)} tokens -> {a.out}.f32")
