# PyTorch peer for `pnpm bench:finetune`: the same stories260K Llama (weights read from the llama2.c
# .bin, q/k rows permuted to Hugging Face's rotate_half layout), the same LoRA (rank, alpha, dropout,
# all attention and MLP linears), AdamW, batch and sequence length; trains on the token batch the
# TypeScript side wrote and prints one JSON line: the initial loss and training tokens/s.
# Runs with Debian's python3-torch (1.13) under /usr/bin/python3.
import json
import math
import struct
import sys
import time

import torch
import torch.nn.functional as F


def load_llama2c(path):
    with open(path, "rb") as f:
        data = f.read()
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = struct.unpack("7i", data[:28])
    shared = vocab > 0
    vocab = abs(vocab)
    hd = dim // heads
    floats = torch.frombuffer(bytearray(data[28:]), dtype=torch.float32)
    offset = 0

    def take(*shape):
        nonlocal offset
        n = math.prod(shape)
        t = floats[offset : offset + n].reshape(*shape).clone()
        offset += n
        return t

    def permute(w, n_heads):
        # interleaved (2j, 2j+1) pairs -> rotate_half (j, j + hd/2), like our loaders.
        return w.view(n_heads, hd // 2, 2, dim).transpose(1, 2).reshape(n_heads * hd, dim)

    emb = take(vocab, dim)
    rms_att = take(layers, dim)
    wq = take(layers, dim, dim)
    wk = take(layers, kv_heads * hd, dim)
    wv = take(layers, kv_heads * hd, dim)
    wo = take(layers, dim, dim)
    rms_ffn = take(layers, dim)
    w1 = take(layers, hidden, dim)
    w2 = take(layers, dim, hidden)
    w3 = take(layers, hidden, dim)
    rms_final = take(dim)
    cfg = dict(dim=dim, hidden=hidden, layers=layers, heads=heads, kv_heads=kv_heads, vocab=vocab, hd=hd)
    layer_weights = []
    for l in range(layers):
        layer_weights.append(
            dict(
                input_layernorm=rms_att[l],
                q_proj=permute(wq[l], heads),
                k_proj=permute(wk[l], kv_heads),
                v_proj=wv[l],
                o_proj=wo[l],
                post_attention_layernorm=rms_ffn[l],
                gate_proj=w1[l],
                down_proj=w2[l],
                up_proj=w3[l],
            )
        )
    assert shared
    return cfg, emb, layer_weights, rms_final


class LoraLinear(torch.nn.Module):
    def __init__(self, weight, rank, alpha, dropout, generator):
        super().__init__()
        self.weight = torch.nn.Parameter(weight, requires_grad=False)
        out_features, in_features = weight.shape
        bound = 1 / math.sqrt(in_features)
        self.lora_A = torch.nn.Parameter((torch.rand(rank, in_features, generator=generator) * 2 - 1) * bound)
        self.lora_B = torch.nn.Parameter(torch.zeros(out_features, rank))
        self.scale = alpha / rank
        self.dropout = torch.nn.Dropout(dropout)

    def forward(self, x):
        return F.linear(x, self.weight) + F.linear(F.linear(self.dropout(x), self.lora_A), self.lora_B) * self.scale


def rms_norm(x, w, eps=1e-5):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Model(torch.nn.Module):
    def __init__(self, cfg, emb, layer_weights, rms_final, rank, alpha, dropout):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.cfg = cfg
        self.emb = torch.nn.Parameter(emb, requires_grad=False)
        self.norms = [(lw["input_layernorm"], lw["post_attention_layernorm"]) for lw in layer_weights]
        self.layers = torch.nn.ModuleList()
        for lw in layer_weights:
            m = torch.nn.ModuleDict(
                {k: LoraLinear(lw[k], rank, alpha, dropout, g) for k in ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]}
            )
            self.layers.append(m)
        self.final = rms_final

    def forward(self, ids):
        B, T = ids.shape
        c = self.cfg
        hd = c["hd"]
        x = F.embedding(ids, self.emb)
        inv = 1.0 / (10000 ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        angles = torch.outer(torch.arange(T, dtype=torch.float32), inv)
        cos = torch.cat((angles.cos(), angles.cos()), -1)
        sin = torch.cat((angles.sin(), angles.sin()), -1)
        mask = torch.full((T, T), float("-inf")).triu(1)
        group = c["heads"] // c["kv_heads"]
        for (n1, n2), m in zip(self.norms, self.layers):
            h = rms_norm(x, n1)
            q = m["q_proj"](h).view(B, T, c["heads"], hd).transpose(1, 2)
            k = m["k_proj"](h).view(B, T, c["kv_heads"], hd).transpose(1, 2)
            v = m["v_proj"](h).view(B, T, c["kv_heads"], hd).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = k.repeat_interleave(group, dim=1)
            v = v.repeat_interleave(group, dim=1)
            scores = q @ k.transpose(-1, -2) / math.sqrt(hd) + mask
            a = torch.softmax(scores, dim=-1) @ v
            x = x + m["o_proj"](a.transpose(1, 2).reshape(B, T, c["heads"] * hd))
            h = rms_norm(x, n2)
            x = x + m["down_proj"](F.silu(m["gate_proj"](h)) * m["up_proj"](h))
        return F.linear(rms_norm(x, self.final), self.emb)


def main():
    spec = json.loads(sys.argv[1])
    torch.manual_seed(0)
    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    cfg, emb, lw, final = load_llama2c(spec["model"])
    model = Model(cfg, emb, lw, final, spec["rank"], spec["alpha"], spec["dropout"])
    with open(spec["batch"]) as f:
        batch = json.load(f)
    ids = torch.tensor(batch["inputIds"], dtype=torch.long).view(spec["batchSize"], spec["seqLen"])
    targets = torch.tensor(batch["targets"], dtype=torch.long).view(-1)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=spec["lr"], weight_decay=0.0)
    model.eval()
    with torch.no_grad():
        initial = F.cross_entropy(model(ids).view(-1, cfg["vocab"]), targets).item()
    model.train()
    times = []
    for step in range(spec["warmup"] + spec["steps"]):
        start = time.perf_counter()
        loss = F.cross_entropy(model(ids).view(-1, cfg["vocab"]), targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - start)
    measured = times[spec["warmup"]:]
    tokens = spec["batchSize"] * spec["seqLen"]
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "initialLoss": initial,
                "tokensPerSecond": tokens * len(measured) / sum(measured),
                "secondsPerStep": sum(measured) / len(measured),
            }
        )
    )


if __name__ == "__main__":
    main()
