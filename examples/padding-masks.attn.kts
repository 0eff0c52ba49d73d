// Padding masks: in a batch of sequences of different lengths, padded keys must get no attention weight.
// Three ways to say it: a layer's key_padding_mask [B, kv_len] (true = keep), a kernel's kv_lens [B],
// or a kernel's bool mask broadcast to [B, q_heads, q_len, kv_len].
// Run it: ./attn run examples/padding-masks.attn.kts

val layer = gqa { hidden(64); heads(query = 8, kv = 4); bias() }

// Layer key padding: sequence 0 keeps all 9 keys, sequence 1 the first 4, sequence 2 only 1.
expectMatchesReference(layer, backend = "cpu", batch = 3, qLen = 9, keepLens = intArrayOf(9, 4, 1))
expectMatchesReference(mha { hidden(48); heads(6); bias() }, backend = "cpu", batch = 2, qLen = 6, keepLens = intArrayOf(6, 2))

// Kernel kv_lens, including a sequence with no visible key at all (its rows must come out 0, never NaN).
expectMatchesReference(attention { heads(query = 8, kv = 2); headDim(16) }, backend = "cpu", batch = 3, qLen = 5, kvLen = 12,
    kvLens = intArrayOf(12, 7, 0))
expectMatchesReference(attention { heads(query = 8, kv = 2); headDim(16); causal() }, backend = "cpu", batch = 2, qLen = 5, kvLen = 12,
    kvLens = intArrayOf(12, 6))

// A bool key mask [B, 1, 1, kv_len] that hides every third key of sequence 1.
val kvLen = 10
val keep = BooleanArray(2 * kvLen) { i -> i < kvLen || (i - kvLen) % 3 != 0 }
expectMatchesReference(attention { heads(4); headDim(8) }, backend = "cpu", batch = 2, qLen = 3, kvLen = kvLen,
    mask = BoolTensor.of(keep, 2, 1, 1, kvLen))

// Golden cases: the source articles' MHA, MQA and GQA layers with key padding masks.
for (case in listOf("seed003-mha-keypad", "seed003-mqa-keypad", "seed003-gqa-keypad")) {
    expectGolden("../golden/cases/$case", backend = "cpu")
}
