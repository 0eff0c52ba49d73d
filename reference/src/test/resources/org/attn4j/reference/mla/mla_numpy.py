"""Independent NumPy MLA layer (written after Hugging Face's DeepSeek-V2 modeling code, not after attn4j's Java):
produces the expected `y` values pasted into MlaNumpyCrossCheckTest.kt. Run: python3 mla_numpy.py

Weights and inputs are deterministic: det(seed, shape)[i] = 0.5 * sin(0.37 * (i + 1) + 1.91 * seed) in row-major order;
norm gains are 1 + 0.2 * sin(...). RoPE as HF DeepSeek: inv_freq = 1 / theta^(arange(0, r, 2) / r), cos/sin of
cat(freqs, freqs), rotate_half; the interleaved checkpoint layout is first de-interleaved (view(..., r/2, 2).transpose).
"""
import numpy as np

np.set_printoptions(precision=17)


def det(seed, shape, gain=False):
    n = int(np.prod(shape))
    v = np.sin(0.37 * (np.arange(n) + 1) + 1.91 * seed)
    v = 1 + 0.2 * v if gain else 0.5 * v
    return v.reshape(shape)


def rms(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)


def rope(x, pos, r, theta, interleaved):
    # x [..., L, r], pos [L]
    inv = 1.0 / (theta ** (np.arange(0, r, 2, dtype=np.float64) / r))
    freqs = np.outer(pos, inv)
    emb = np.concatenate([freqs, freqs], axis=-1)
    if interleaved:
        s = x.shape
        x = x.reshape(s[:-1] + (r // 2, 2)).swapaxes(-1, -2).reshape(s)
    return x * np.cos(emb) + rotate_half(x) * np.sin(emb)


def mla(B, L, d, H, qlora, c, n, r, v, theta, interleaved, eps, offset, causal, softcap, key_keep):
    qk = n + r
    x = det(1, (B, L, d))
    if qlora == 0:
        q = x @ det(2, (H * qk, d)).T
    else:
        q = rms(x @ det(3, (qlora, d)).T, det(4, (qlora,), True), eps) @ det(5, (H * qk, qlora)).T
    q = q.reshape(B, L, H, qk).transpose(0, 2, 1, 3)
    q_nope, q_pe = q[..., :n], q[..., n:]
    ckv = x @ det(6, (c + r, d)).T
    c_kv, k_pe = ckv[..., :c], ckv[..., c:]
    kv = rms(c_kv, det(7, (c,), True), eps) @ det(8, (H * (n + v), c)).T
    kv = kv.reshape(B, L, H, n + v).transpose(0, 2, 1, 3)
    k_nope, val = kv[..., :n], kv[..., n:]
    pos = offset + np.arange(L)
    q_pe = rope(q_pe, pos, r, theta, interleaved)
    k_pe = rope(k_pe[:, None, :, :], pos, r, theta, interleaved)
    Q = np.concatenate([q_nope, q_pe], axis=-1)
    K = np.concatenate([k_nope, np.broadcast_to(k_pe, (B, H, L, r))], axis=-1)
    s = Q @ K.swapaxes(-1, -2) / np.sqrt(qk)
    if softcap > 0:
        s = softcap * np.tanh(s / softcap)
    if causal:
        s = np.where(np.tril(np.ones((L, L), dtype=bool)), s, -np.inf)
    if key_keep is not None:
        s = np.where(key_keep[:, None, None, :], s, -np.inf)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    p = p / p.sum(axis=-1, keepdims=True)
    o = (p @ val).transpose(0, 2, 1, 3).reshape(B, L, H * v)
    return o @ det(9, (d, H * v)).T


keep = np.array([[True, True, True, True], [True, False, True, True]])
print("case A (q_lora 3, interleaved, theta 100, offset 5, causal, key padding)")
print(repr(mla(2, 4, 6, 2, 3, 4, 2, 4, 3, 100.0, True, 1e-6, 5, True, 0.0, keep).ravel()))
print("case B (q_lora 0, halves, theta 10000, offset 0, not causal, softcap 0.7)")
print(repr(mla(2, 4, 6, 2, 0, 4, 2, 4, 3, 10000.0, False, 1e-6, 0, False, 0.7, None).ravel()))
