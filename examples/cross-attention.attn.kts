// Cross-attention: queries come from x [B, q_len, hidden], keys and values from a memory kv_x [B, kv_len, hidden]
// (an encoder's output), so q_len and kv_len differ and there is no causal mask.
// Run it: ./attn run examples/cross-attention.attn.kts

// The source article's GQA cross-attention layer: hidden 64, 8 query heads, 4 KV heads (golden seed004-gqa-cross-g4-fixed).
val gqaCross = gqa { hidden(64); heads(query = 8, kv = 4) }

expectMatchesReference(gqaCross, backend = "cpu", batch = 2, qLen = 5, memoryLen = 11)
expectMatchesReference(mha { hidden(64); heads(8); bias() }, backend = "cpu", batch = 3, qLen = 4, memoryLen = 9)
expectMatchesReference(mqa { hidden(64); heads(8) }, backend = "cpu", batch = 2, qLen = 6, memoryLen = 1)
// Cross-attention with a padded memory: sequence 0 keeps 11 memory tokens, sequence 1 only 3.
expectMatchesReference(gqaCross, backend = "cpu", batch = 2, qLen = 5, memoryLen = 11, keepLens = intArrayOf(11, 3))

// Kernel view of the same thing: 8 queries over 23 keys, no mask.
expectMatchesReference(attention { heads(query = 8, kv = 4); headDim(8) }, backend = "cpu", batch = 2, qLen = 8, kvLen = 23)

expectGolden("../golden/cases/seed004-gqa-cross-g4-fixed", backend = "reference")
expectGolden("../golden/cases/seed004-gqa-cross-g4-fixed", backend = "cpu")
// The published class verbatim with one KV group (MQA), where its broadcasting happens to be right.
expectGolden("../golden/cases/seed004-gqa-cross-g1-verbatim", backend = "cpu")
