// FlexAttention-style score and mask mods: Kotlin lambdas that the `reference` and `cpu` backends run inside
// their kernels. A scoreMod rewrites each score at the end of FORMAT.md's step 3 (after scale, softcap, bias,
// ALiBi); a maskMod is one more visibility rule of step 4. The opencl backend declines them with a reason.
// Run it: ./attn run examples/flex-mods.attn.kts

// A T5-style relative-position bias per head, and document packing: three documents in one sequence.
val relativeBias = scoreMod { score, _, h, i, j -> score - 0.1 * (h + 1) * kotlin.math.abs(i - j) }
val documentOf = IntArray(24) { pos -> if (pos < 7) 0 else if (pos < 15) 1 else 2 }
val sameDocument = MaskMods.documents(documentOf)

val llamaLike = attention { heads(query = 8, kv = 2); headDim(32); causal() }

expectMatchesReference(llamaLike, backend = "cpu", qLen = 24, scoreMod = relativeBias,
    description = "relative-position bias as a scoreMod: cpu matches the reference")
expectMatchesReference(llamaLike, backend = "cpu", qLen = 24, maskMod = sameDocument,
    description = "document packing as a maskMod: cpu matches the reference")
expectMatchesReference(attention { heads(4); headDim(16) }, backend = "cpu", qLen = 12, maskMod = MaskMods.prefixLm(4),
    scoreMod = relativeBias, description = "prefix-LM mask and relative bias together: cpu matches the reference")

// A mask mod is just another visibility rule: causal written as a mask mod is the causal spec, exactly.
expect("causal as a maskMod is the causal spec (reference, float64)") {
    val spec = attention { heads(4); headDim(8) }
    val rnd = java.util.Random(5)
    fun t(vararg s: Int) = DoubleTensor.of(DoubleArray(Tensor.elementCount(*s)) { rnd.nextGaussian() }, *s)
    val inputs = AttentionInputs.of(t(1, 4, 9, 8), t(1, 4, 9, 8), t(1, 4, 9, 8))
    val viaMod = org.attn4j.reference.ReferenceAttention.attend(spec, inputs.withMaskMod(maskMod { _, _, i, j -> j <= i }))
    val viaSpec = org.attn4j.reference.ReferenceAttention.attend(spec.toBuilder().causal().build(), inputs)
    viaMod.out().toDoubleArray().toList() shouldBe viaSpec.out().toDoubleArray().toList()
}
