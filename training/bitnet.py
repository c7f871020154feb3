"""BitNet b1.58 in PyTorch, written to be the graph Trine runs (packages/core/src/model/bitnet.ts, blocks/*.ts):

    n = attn_norm(x);  x += attn_output(attn_sub_norm(Attention(RoPE(q(n)), RoPE(k(n)), v(n))))
    m = ffn_norm(x);   x += ffn_down(ffn_sub_norm(relu(ffn_gate(m))² · ffn_up(m)))
    logits = token_embd · output_norm(x)                                   (tied embeddings, no output.weight)

Every projection is a BitLinear: weights ternarised by their absmean (one scale per tensor, as I2_S stores it),
inputs quantised per token to int8 by their absmax (bitnet.cpp's quantize_row_i8_s: s = 127 / max(max|x|, 1e-5),
round half to even, clamp to [-128, 127]); both with straight-through estimators, so the forward pass computes
exactly what the exported file computes, and gradients flow to the latent f32 weights. RMSNorm eps 1e-5, RoPE in
the rotate-half form, GQA with query head h reading KV head h // (heads / kv_heads), as Trine's kernels do.
Torch 1.13 (Debian) has neither nn.RMSNorm nor scaled_dot_product_attention, so both are written out.
"""
from dataclasses import asdict, dataclass
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    vocab: int = 4096
    hidden: int = 256
    layers: int = 6
    heads: int = 4
    kv_heads: int = 2
    ffn: int = 768
    context: int = 256
    rope_theta: float = 10000.0
    rms_eps: float = 1e-5

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    def to_dict(self) -> dict:
        return asdict(self)


def weight_quant(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Ternary codes in {-1, 0, 1} and the per-tensor scale mean|w| (the values the exporter writes)."""
    scale = w.abs().mean().clamp(min=1e-5)
    codes = (w / scale).round().clamp(-1, 1)
    return codes, scale


def act_quant(x: torch.Tensor) -> torch.Tensor:
    """Per-token int8 fake quantisation: what Trine's per_token quantizeActs feeds the ternary matmul."""
    s = 127.0 / x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5)
    return (x * s).round().clamp(-128, 127) / s


class BitLinear(nn.Linear):
    def __init__(self, inp: int, out: int):
        super().__init__(inp, out, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        codes, scale = weight_quant(self.weight)
        w = self.weight + (codes * scale - self.weight).detach()
        xq = x + (act_quant(x) - x).detach()
        return F.linear(xq, w)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(cfg: Config, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    d = cfg.head_dim
    inv = cfg.rope_theta ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    ang = positions.double()[:, None] * inv[None, :]
    ang = torch.cat([ang, ang], dim=-1)
    return ang.cos().float(), ang.sin().float()


def rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x [B, H, T, D]: pairs (i, i + D/2) turn by pos · θ^(-2i/D) (HF Llama's rotate_half)."""
    half = x.shape[-1] // 2
    rot = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rot * sin


class Block(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        D, Dh = cfg.hidden, cfg.head_dim
        self.attn_norm = RMSNorm(D, cfg.rms_eps)
        self.attn_q = BitLinear(D, cfg.heads * Dh)
        self.attn_k = BitLinear(D, cfg.kv_heads * Dh)
        self.attn_v = BitLinear(D, cfg.kv_heads * Dh)
        self.attn_sub_norm = RMSNorm(cfg.heads * Dh, cfg.rms_eps)
        self.attn_output = BitLinear(cfg.heads * Dh, D)
        self.ffn_norm = RMSNorm(D, cfg.rms_eps)
        self.ffn_gate = BitLinear(D, cfg.ffn)
        self.ffn_up = BitLinear(D, cfg.ffn)
        self.ffn_sub_norm = RMSNorm(cfg.ffn, cfg.rms_eps)
        self.ffn_down = BitLinear(cfg.ffn, D)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        c = self.cfg
        B, T, _ = x.shape
        n = self.attn_norm(x)
        q = self.attn_q(n).view(B, T, c.heads, c.head_dim).transpose(1, 2)
        k = self.attn_k(n).view(B, T, c.kv_heads, c.head_dim).transpose(1, 2)
        v = self.attn_v(n).view(B, T, c.kv_heads, c.head_dim).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        group = c.heads // c.kv_heads
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
        att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(c.head_dim))
        att = att.masked_fill(mask[:T, :T], float('-inf')).softmax(-1)
        a = (att @ v).transpose(1, 2).reshape(B, T, c.heads * c.head_dim)
        x = x + self.attn_output(self.attn_sub_norm(a))
        m = self.ffn_norm(x)
        h = F.relu(self.ffn_gate(m)).square() * self.ffn_up(m)
        return x + self.ffn_down(self.ffn_sub_norm(h))


class BitNet(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.token_embd = nn.Embedding(cfg.vocab, cfg.hidden)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.output_norm = RMSNorm(cfg.hidden, cfg.rms_eps)
        self.register_buffer('mask', torch.ones(cfg.context, cfg.context, dtype=torch.bool).triu(1), persistent=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, tokens: torch.Tensor, start: int = 0) -> torch.Tensor:
        T = tokens.shape[1]
        cos, sin = rope_tables(self.cfg, torch.arange(start, start + T))
        x = self.token_embd(tokens)
        for b in self.blocks:
            x = b(x, cos, sin, self.mask)
        return F.linear(self.output_norm(x), self.token_embd.weight)

    def param_count(self) -> int:
        return sum(p.numel() for p in self.parameters())
