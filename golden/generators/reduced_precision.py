#!/usr/bin/env python3
"""Writes the reduced-precision kernel cases of golden/reduced/ (FORMAT.md, "Reduced-precision and quantized inputs").

Independent of attn4j: NumPy only. Each case stores q/k/v as float16 (<f2), bfloat16 bit patterns (<u2, named in the
case's "bfloat16" list) or int8 (|i1 with k_scale/v_scale [B, kv_heads, kv_len]), made from float32 values by the
storage rule of FORMAT.md's section:

  float16   round to nearest even from float32 (NumPy's float32 -> float16 cast)
  bfloat16  the upper 16 bits of the float32, rounded to nearest even (integer arithmetic on the bits, below)
  int8      per (b, h, t): scale = max|x| / 127 in float32, q = rint(x / scale) in float32 clipped to +-127,
            scale 0 and q 0 for an all-zero row

The expected `out` and `lse` are the attention of the values the stored data stand for (float16/bfloat16 widened,
int8 q * scale, all in float64), computed here in float64 from FORMAT.md's "Shared semantics" (softmax with max
subtraction). Regenerate from the repository root with

    python3 golden/generators/reduced_precision.py

which rewrites golden/reduced/ byte for byte (fixed seeds).
"""
import json
import os
import shutil
import sys

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reduced")
TOLERANCE = {"atol": 1e-5, "rtol": 1e-4}  # FORMAT.md's float32 default: the stored values are exact, so no widening


# ---------------------------------------------------------------- storage rules

def to_f16(x32):
    return x32.astype(np.float16)  # IEEE round to nearest even


def bf16_bits(x32):
    """float32 -> bfloat16 bit patterns, round to nearest even on the discarded 16 bits (finite inputs only)."""
    assert np.all(np.isfinite(x32))
    u = x32.view(np.uint32).astype(np.uint64)
    lsb = (u >> 16) & 1
    return ((u + 0x7FFF + lsb) >> 16).astype(np.uint16)


def bf16_value(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def quantize_int8(x32):
    """Per row of the last axis: (int8 data, float32 scales of the leading shape)."""
    amax = np.max(np.abs(x32), axis=-1)
    scale = (amax / np.float32(127)).astype(np.float32)
    safe = np.where(scale == 0, np.float32(1), scale).astype(np.float32)
    q = np.rint((x32 / safe[..., None]).astype(np.float32))
    q = np.clip(q, -127, 127)
    q = np.where(scale[..., None] == 0, 0, q)
    return q.astype(np.int8), scale


# ---------------------------------------------------------------- FORMAT.md semantics, float64

def attention(q, k, v, scale=None, causal=False, alignment="bottom_right", window=None, softcap=0.0,
              mask=None, kv_lens=None):
    """out [B, Hq, Lq, Dv] and lse [B, Hq, Lq] in float64 (FORMAT.md "Shared semantics")."""
    B, Hq, Lq, D = q.shape
    Hkv, Lk = k.shape[1], k.shape[2]
    group = Hq // Hkv
    scale = 1.0 / np.sqrt(D) if scale is None else scale
    out = np.zeros((B, Hq, Lq, v.shape[3]), dtype=np.float64)
    lse = np.full((B, Hq, Lq), -np.inf, dtype=np.float64)
    mask_b = None if mask is None else np.broadcast_to(mask, (B, Hq, Lq, Lk))
    j = np.arange(Lk)
    for b in range(B):
        lk_b = Lk if kv_lens is None else int(kv_lens[b])
        for h in range(Hq):
            kh = h // group
            s = scale * (q[b, h] @ k[b, kh].T)  # [Lq, Lk]
            if softcap > 0:
                s = softcap * np.tanh(s / softcap)
            for i in range(Lq):
                d = i + (lk_b - Lq) if alignment == "bottom_right" else i
                vis = j < lk_b
                if causal:
                    vis &= j <= d
                if window is not None:
                    left, right = window
                    if left >= 0:
                        vis &= j >= d - left
                    if right >= 0:
                        vis &= j <= d + right
                if mask_b is not None:
                    vis &= mask_b[b, h, i]
                if not vis.any():
                    continue  # out 0, lse -inf
                row = np.where(vis, s[i], -np.inf)
                m = row.max()
                e = np.exp(row - m)
                den = e.sum()
                out[b, h, i] = (e @ v[b, kh]) / den
                lse[b, h, i] = m + np.log(den)
    return out, lse


# ---------------------------------------------------------------- cases

def stored(kind, x32):
    """(arrays to save: {suffix: array}, the float64 values they stand for)."""
    if kind == "f32":
        return {"": x32}, x32.astype(np.float64)
    if kind == "f16":
        h = to_f16(x32)
        return {"": h}, h.astype(np.float64)
    if kind == "bf16":
        bits = bf16_bits(x32)
        return {"": bits}, bf16_value(bits).astype(np.float64)
    if kind == "int8":
        data, scale = quantize_int8(x32)
        return {"": data, "_scale": scale}, data.astype(np.float64) * scale.astype(np.float64)[..., None]
    raise ValueError(kind)


def write_case(name, seed, description, shape, types, spec_extra=None, kv_lens=None, mask=None, zero_rows=()):
    """shape = (B, Hq, Hkv, Lq, Lk, D, Dv); types = (q, k, v) storage kinds; zero_rows = [(tensor, b, h, t)]."""
    B, Hq, Hkv, Lq, Lk, D, Dv = shape
    rng = np.random.default_rng(seed)
    raw = {
        "q": rng.standard_normal((B, Hq, Lq, D)).astype(np.float32),
        "k": rng.standard_normal((B, Hkv, Lk, D)).astype(np.float32),
        "v": rng.standard_normal((B, Hkv, Lk, Dv)).astype(np.float32),
    }
    for (t, b, h, i) in zero_rows:  # an all-zero token: int8 scale 0
        raw[t][b, h, i] = 0
    folder = os.path.join(OUT, name)
    os.makedirs(folder)
    inputs, values, bfloat16 = {}, {}, []
    for key, kind in zip(("q", "k", "v"), types):
        arrays, values[key] = stored(kind, raw[key])
        for suffix, arr in arrays.items():
            np.save(os.path.join(folder, key + suffix + ".npy"), arr)
            inputs[key + suffix] = key + suffix + ".npy"
        if kind == "bf16":
            bfloat16.append(key)
    spec = {"q_heads": Hq, "kv_heads": Hkv, "head_dim": D}
    if Dv != D:
        spec["v_head_dim"] = Dv
    spec.update(spec_extra or {})
    if kv_lens is not None:
        np.save(os.path.join(folder, "kv_lens.npy"), np.asarray(kv_lens, dtype=np.int32))
        inputs["kv_lens"] = "kv_lens.npy"
    if mask is not None:
        np.save(os.path.join(folder, "mask.npy"), mask)
        inputs["mask"] = "mask.npy"
    out, lse = attention(values["q"], values["k"], values["v"], scale=spec.get("scale"), causal=spec.get("causal", False),
                         alignment=spec.get("alignment", "bottom_right"), window=spec.get("window"),
                         softcap=spec.get("softcap", 0.0), mask=mask, kv_lens=kv_lens)
    np.save(os.path.join(folder, "out.npy"), out)
    np.save(os.path.join(folder, "lse.npy"), lse)
    case = {
        "format": "attention-golden/1",
        "name": name,
        "source": ("golden/generators/reduced_precision.py (NumPy only, not attn4j), seed %d: %s; q/k/v stored as %s "
                   "from float32 standard normals by FORMAT.md's storage rule; out and lse in float64 from the exact "
                   "stored values" % (seed, description, "/".join(types))),
        "kind": "kernel",
    }
    if bfloat16:
        case["bfloat16"] = bfloat16
    case.update({"spec": spec, "inputs": inputs, "expected": {"out": "out.npy", "lse": "lse.npy"}, "tolerance": TOLERANCE})
    with open(os.path.join(folder, "case.json"), "w") as f:
        json.dump(case, f, indent=2)
        f.write("\n")


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    # B, Hq, Hkv, Lq, Lk, D, Dv
    write_case("rp-f16-mha", 1801, "MHA, float16 q/k/v", (2, 4, 4, 5, 7, 16, 16), ("f16", "f16", "f16"))
    write_case("rp-f16-gqa-causal", 1802, "GQA 8/2, causal bottom-right, float16 q/k/v", (1, 8, 2, 6, 9, 32, 32),
               ("f16", "f16", "f16"), {"causal": True})
    write_case("rp-bf16-kv-gqa-kvlens", 1803, "GQA 6/3, kv_lens [12, 7], float32 q, bfloat16 k/v",
               (2, 6, 3, 4, 12, 64, 64), ("f32", "bf16", "bf16"), kv_lens=[12, 7])
    mask = np.random.default_rng(18040).random((1, 1, 3, 10)) < 0.6
    mask[..., 0] = True  # every query row sees at least one key
    write_case("rp-bf16-mqa-mask", 1804, "MQA 4/1, bool mask [1, 1, q_len, kv_len] (broadcast over heads), bfloat16 q/k/v",
               (1, 4, 1, 3, 10, 8, 8), ("bf16", "bf16", "bf16"), mask=mask)
    write_case("rp-int8-kv-gqa-causal", 1805, "GQA 8/2, causal bottom-right, float32 q, int8 k/v with per-token scales "
               "(k[0,1,3] and v[1,0,5] all zero: scale 0)", (2, 8, 2, 5, 11, 32, 32), ("f32", "int8", "int8"),
               {"causal": True}, zero_rows=[("k", 0, 1, 3), ("v", 1, 0, 5)])
    write_case("rp-int8-kv-window", 1806, "GQA 4/2, causal with window [3, 0], top-left, float16 q, int8 k/v",
               (1, 4, 2, 8, 8, 16, 16), ("f16", "int8", "int8"), {"causal": True, "alignment": "top_left", "window": [3, 0]})
    write_case("rp-mixed-dv", 1807, "MHA 2/2, v_head_dim 8 != head_dim 16, custom scale 0.3, bfloat16 q, float16 k, "
               "int8 v", (1, 2, 2, 4, 8, 16, 8), ("bf16", "f16", "int8"), {"scale": 0.3})
    write_case("rp-int8-decode-split", 1808, "decode (q_len 1) over 640 keys, kv_lens [640, 601], MQA 4/1, head_dim "
               "128, float32 q, int8 k/v", (2, 4, 1, 1, 640, 128, 128), ("f32", "int8", "int8"), kv_lens=[640, 601])
    write_case("rp-bf16-decode-split", 1809, "decode (q_len 1) over 700 keys, MQA 4/1, head_dim 128, bfloat16 q/k/v",
               (1, 4, 1, 1, 700, 128, 128), ("bf16", "bf16", "bf16"))
    write_case("rp-f16-decode-split", 1810, "decode (q_len 1) over 613 keys, GQA 4/2, head_dim 128, float16 q/k/v",
               (1, 4, 2, 1, 613, 128, 128), ("f16", "f16", "f16"))
    print("wrote", len(os.listdir(OUT)), "cases to", os.path.normpath(OUT), file=sys.stderr)


if __name__ == "__main__":
    main()
