// Reduced-precision KV caches: the same GQA-8 and MLA layers with their caches stored as float32, bfloat16 and int8.
// A cache element takes 4, 2 or 1 bytes; an int8 cache also keeps one float32 scale per token and KV head (per row
// of K, of V, or of MLA's latent), DType.bytesPerRow. Rounding rules: org.attn4j.api.Quantization.
//
// Run it: ./attn run examples/kv-dtypes.attn.kts     Compare it: ./attn compare --config examples/kv-dtypes.attn.kts

fun gqa8(name: String, block: ModelBuilder.() -> Unit = {}) = model(name) {
    hidden(4096); layers(32); contextLength(32768)
    gqa { heads(query = 32, kv = 8); headDim(128); causal() }
    block()
}

fun deepSeekMla(name: String, block: ModelBuilder.() -> Unit = {}) = model(name) {
    hidden(4096); layers(32); contextLength(32768)
    mla { heads(32); qLoraRank(1536); kvLoraRank(512); nopeDim(128); ropeDim(64); vHeadDim(128) }
    block()
}

val gqaF32 = gqa8("GQA-8 f32") { kvCache { dtype = F32 } }
val gqaBf16 = gqa8("GQA-8 bf16") { kvCache { dtype = BF16 } }
val gqaInt8 = gqa8("GQA-8 int8") { kvCache { dtype = INT8 } }
val mlaBf16 = deepSeekMla("MLA bf16") { kvCache { dtype = BF16 } }
val mlaInt8 = deepSeekMla("MLA int8") { kvCache { dtype("int8") } }

expect("a bf16 cache takes half the bytes of a float32 one: 2·8·128·2 = 4,096 B per token and layer") {
    gqaBf16.kvBytesPerTokenPerLayer shouldBe 4_096L && gqaF32.kvBytesPerTokenPerLayer shouldBe 2 * 4_096L
}
expect("int8 stores 1 B per element plus a 4-byte scale per K and V row: 2·8·(128 + 4) = 2,112 B") {
    gqaInt8.kvBytesPerTokenPerLayer shouldBe 2L * 8 * DType.INT8.bytesPerRow(128)
}
expect("MLA's int8 latent row is c + r = 576 bytes plus one scale: 580 B, vs 1,152 B in bf16") {
    mlaInt8.kvBytesPerTokenPerLayer shouldBe 580L && mlaBf16.kvBytesPerTokenPerLayer shouldBe 1_152L
}
expect("the dtype changes bytes, not the element ratio vs MHA (still g/h = 1/4)") { gqaInt8.kvVsMha shouldBe gqaF32.kvVsMha }
expect("at 32K tokens and 32 layers, MLA int8 needs ~0.6 GB per sequence, GQA-8 bf16 4 GiB") {
    mlaInt8.kvCacheBytes() shouldBe 580L * 32768 * 32 && gqaBf16.kvCacheBytes() shouldBe (4L shl 30)
}

compare(gqaF32, gqaBf16, gqaInt8, mlaBf16, mlaInt8)
