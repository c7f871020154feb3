#!/usr/bin/env python3
"""Trains the default model (bitnet.py) on data/train.bin, resumable: every --ckpt-every seconds it saves model,
optimizer, step and RNG state to --out/ckpt.pt (written to a temporary file and renamed, so a kill never leaves a
half-written checkpoint), and appends train / held-out loss to --out/log.jsonl. Rerunning the same command resumes.

    nice -n 19 /usr/bin/python3 training/train.py            # defaults: the committed model's config
"""
import argparse
import json
import math
import os
import signal
import time

import numpy as np
import torch
import torch.nn.functional as F

from bitnet import BitNet, Config

HERE = os.path.dirname(os.path.abspath(__file__))


def args():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default=os.path.join(HERE, 'data'))
    ap.add_argument('--out', default=os.path.join(HERE, 'run'))
    ap.add_argument('--hidden', type=int, default=256)
    ap.add_argument('--layers', type=int, default=3)
    ap.add_argument('--heads', type=int, default=4)
    ap.add_argument('--kv-heads', type=int, default=2)
    ap.add_argument('--ffn', type=int, default=768)
    ap.add_argument('--context', type=int, default=256)
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--steps', type=int, default=100000, help='stop after this many steps')
    ap.add_argument('--decay-start', type=int, default=None, help='step where the learning rate starts its linear decay')
    ap.add_argument('--lr', type=float, default=3e-3)
    ap.add_argument('--min-lr', type=float, default=3e-4)
    ap.add_argument('--warmup', type=int, default=50)
    ap.add_argument('--weight-decay', type=float, default=0.05)
    ap.add_argument('--seed', type=int, default=1234)
    # One thread: on a shared, loaded machine two BLAS threads wait on each other whenever one is descheduled;
    # measured here under load, one thread trained 4.5x faster (370 against 80 tokens/s) for the same CPU time.
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--ckpt-every', type=float, default=240.0, help='seconds between checkpoints')
    ap.add_argument('--eval-every', type=int, default=25, help='steps between held-out evaluations')
    ap.add_argument('--eval-windows', type=int, default=16)
    return ap.parse_args()


def lr_at(step: int, a) -> float:
    """Warmup, then constant, then (from --decay-start) linear decay to --min-lr at --steps: a warmup-stable-decay
    schedule, so a run whose length is not known in advance can be ended well by restarting it with a decay."""
    if step < a.warmup:
        return a.lr * (step + 1) / a.warmup
    if a.decay_start is None or step < a.decay_start:
        return a.lr
    t = min(1.0, (step - a.decay_start) / max(1, a.steps - a.decay_start))
    return a.lr + (a.min_lr - a.lr) * t


def batch(data: np.ndarray, n: int, ctx: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    starts = torch.randint(0, len(data) - ctx - 1, (n,), generator=gen).tolist()
    x = torch.from_numpy(np.stack([data[s:s + ctx + 1] for s in starts]).astype(np.int64))
    return x[:, :-1], x[:, 1:]


@torch.no_grad()
def held_out_loss(model: BitNet, test: np.ndarray, ctx: int, windows: int) -> float:
    """Mean loss over fixed, evenly spaced windows of the test split (the same windows every time)."""
    model.eval()
    step = max(1, (len(test) - ctx - 1) // windows)
    starts = [i * step for i in range(windows)]
    x = torch.from_numpy(np.stack([test[s:s + ctx + 1] for s in starts]).astype(np.int64))
    total = 0.0
    for i in range(0, windows, 8):
        xb = x[i:i + 8]
        logits = model(xb[:, :-1])
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), xb[:, 1:].reshape(-1), reduction='sum').item()
    model.train()
    return total / (windows * ctx)


def main() -> None:
    a = args()
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    tok = json.load(open(os.path.join(a.data, 'tokenizer.json')))
    cfg = Config(vocab=len(tok['tokens']), hidden=a.hidden, layers=a.layers, heads=a.heads, kv_heads=a.kv_heads,
                 ffn=a.ffn, context=a.context)
    train = np.fromfile(os.path.join(a.data, 'train.bin'), dtype=np.uint16)
    test = np.fromfile(os.path.join(a.data, 'test.bin'), dtype=np.uint16)

    torch.manual_seed(a.seed)
    model = BitNet(cfg)
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and 'token_embd' not in n]
    other = [p for n, p in model.named_parameters() if not (p.dim() == 2 and 'token_embd' not in n)]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': a.weight_decay}, {'params': other, 'weight_decay': 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=1e-8)
    gen = torch.Generator().manual_seed(a.seed)
    step, tokens_seen, train_seconds = 0, 0, 0.0
    ckpt_path = os.path.join(a.out, 'ckpt.pt')
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path)
        model.load_state_dict(ck['model'])
        opt.load_state_dict(ck['opt'])
        gen.set_state(ck['gen'])
        step, tokens_seen, train_seconds = ck['step'], ck['tokens'], ck['seconds']
        print(f'resumed at step {step} ({tokens_seen} tokens, {train_seconds:.0f} s)')
    print(f'{model.param_count()} parameters, config {cfg.to_dict()}, {len(train)} train / {len(test)} test tokens')

    def save() -> None:
        tmp = ckpt_path + '.tmp'
        torch.save({'model': model.state_dict(), 'opt': opt.state_dict(), 'gen': gen.get_state(), 'step': step,
                    'tokens': tokens_seen, 'seconds': train_seconds, 'config': cfg.to_dict(), 'args': vars(a)}, tmp)
        os.replace(tmp, ckpt_path)

    log = open(os.path.join(a.out, 'log.jsonl'), 'a')
    last_save = time.time()
    # SIGTERM (kill PID) ends the run after the current step with a checkpoint, so a restart with new arguments
    # (a decay schedule once the run's length is known) loses nothing.
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    while step < a.steps and not stop:
        t0 = time.time()
        for g in opt.param_groups:
            g['lr'] = lr_at(step, a)
        x, y = batch(train, a.batch, cfg.context, gen)
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, cfg.vocab), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens_seen += x.numel()
        train_seconds += time.time() - t0
        rec = {'step': step, 'tokens': tokens_seen, 'seconds': round(train_seconds, 1), 'lr': lr_at(step - 1, a),
               'loss': round(loss.item(), 4)}
        if step % a.eval_every == 0 or step == a.steps:
            rec['test_loss'] = round(held_out_loss(model, test, cfg.context, a.eval_windows), 4)
        log.write(json.dumps(rec) + '\n')
        log.flush()
        if step % 10 == 0 or 'test_loss' in rec:
            print(rec, flush=True)
        if time.time() - last_save > a.ckpt_every or step == a.steps or stop:
            save()
            last_save = time.time()
    print('stopped by SIGTERM' if stop else 'done', flush=True)


if __name__ == '__main__':
    main()
