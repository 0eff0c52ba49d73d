package org.attn4j.api

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain

/** 0, 1, 2, ... as a contiguous float64 tensor of [shape]. */
private fun arange(vararg shape: Int): DoubleTensor =
    DoubleTensor.of(DoubleArray(Tensor.elementCount(*shape)) { it.toDouble() }, *shape)

class TensorTest : StringSpec({

    "contiguous strides and row-major element order" {
        Tensor.contiguousStrides(2, 3, 4).toList() shouldBe listOf(12, 4, 1)
        val t = arange(2, 3, 4)
        t.isContiguous shouldBe true
        t.get(1, 2, 3) shouldBe 23.0            // 1*12 + 2*4 + 3
        t.get(0, 1, 0) shouldBe 4.0
        t.elementCount() shouldBe 24
    }

    "permute reorders axes as a view over the same storage" {
        val t = arange(2, 3, 4)
        val p = t.permute(2, 0, 1)              // p[k, i, j] = t[i, j, k]
        p.shape().toList() shouldBe listOf(4, 2, 3)
        for (i in 0 until 2) for (j in 0 until 3) for (k in 0 until 4) {
            p.get(k, i, j) shouldBe (i * 12 + j * 4 + k).toDouble()
        }
        p.isContiguous shouldBe false
        p.set(-1.0, 3, 1, 2)                    // writes through to t[1, 2, 3]
        t.get(1, 2, 3) shouldBe -1.0
    }

    "permute rejects what is not a permutation" {
        val t = arange(2, 3, 4)
        shouldThrow<AttentionException> { t.permute(0, 0, 1) }.argument() shouldBe "axes"
        shouldThrow<AttentionException> { t.permute(0, 1) }.argument() shouldBe "axes"
        shouldThrow<AttentionException> { t.permute(0, 1, 3) }.argument() shouldBe "axes"
    }

    "slice takes a range of one axis" {
        val t = arange(2, 3, 4)
        val s = t.slice(1, 1, 2)                // rows j = 1, 2
        s.shape().toList() shouldBe listOf(2, 2, 4)
        for (i in 0 until 2) for (j in 0 until 2) for (k in 0 until 4) {
            s.get(i, j, k) shouldBe (i * 12 + (j + 1) * 4 + k).toDouble()
        }
        t.slice(2, 4, 0).elementCount() shouldBe 0   // an empty slice at the end is fine
        shouldThrow<AttentionException> { t.slice(1, 2, 2) }.argument() shouldBe "slice"
        shouldThrow<AttentionException> { t.slice(1, -1, 1) }.argument() shouldBe "slice"
        shouldThrow<AttentionException> { t.slice(3, 0, 1) }.argument() shouldBe "axis"
    }

    "select drops an axis at an index" {
        val t = arange(2, 3, 4)
        val s = t.select(1, 2)                  // s[i, k] = t[i, 2, k]
        s.shape().toList() shouldBe listOf(2, 4)
        for (i in 0 until 2) for (k in 0 until 4) s.getDouble(i, k) shouldBe (i * 12 + 8 + k).toDouble()
        shouldThrow<AttentionException> { t.select(1, 3) }.argument() shouldBe "index"
        shouldThrow<AttentionException> { t.select(-1, 0) }.argument() shouldBe "axis"
    }

    "broadcastTo follows NumPy: trailing alignment, size-1 axes stretch" {
        val col = DoubleTensor.of(doubleArrayOf(10.0, 20.0, 30.0), 3, 1)
        val b = col.broadcastTo(2, 3, 4)        // b[x, j, k] = col[j, 0]
        b.shape().toList() shouldBe listOf(2, 3, 4)
        b.strides().toList() shouldBe listOf(0, 1, 0)
        for (x in 0 until 2) for (j in 0 until 3) for (k in 0 until 4) b.get(x, j, k) shouldBe (j + 1) * 10.0
        Tensor.broadcastable(intArrayOf(4), intArrayOf(2, 3, 4)) shouldBe true
        Tensor.broadcastable(intArrayOf(3), intArrayOf(2, 3, 4)) shouldBe false
        Tensor.broadcastable(intArrayOf(1, 2, 3, 4), intArrayOf(2, 3, 4)) shouldBe false
        shouldThrow<AttentionException> { col.broadcastTo(2, 4, 4) }.message!! shouldContain "broadcastable to [2, 4, 4]"
    }

    "reshape needs the same element count and a contiguous tensor" {
        val t = arange(2, 3, 4)
        val r = t.reshape(6, 4)
        r.get(5, 3) shouldBe 23.0
        shouldThrow<AttentionException> { t.reshape(5, 5) }.argument() shouldBe "shape"
        shouldThrow<AttentionException> { t.permute(1, 0, 2).reshape(24) }.message!! shouldContain "not contiguous"
        // size-1 axes do not break contiguity: a selected row reshapes fine
        t.slice(0, 1, 1).reshape(3, 4).get(2, 3) shouldBe 23.0
    }

    "copy of a strided view is contiguous, equal and independent" {
        val t = arange(2, 3, 4)
        val view = t.permute(2, 0, 1).slice(0, 1, 2)   // [2, 2, 3], view[k, i, j] = t[i, j, k + 1]
        val c = view.copy()
        c.isContiguous shouldBe true
        c.offset() shouldBe 0
        c.toDoubleArray().toList() shouldBe view.toDoubleArray().toList()
        c.toDoubleArray().toList() shouldBe listOf(1, 5, 9, 13, 17, 21, 2, 6, 10, 14, 18, 22).map { it.toDouble() }
        c.set(99.0, 0, 0, 0)
        t.get(0, 0, 1) shouldBe 1.0
    }

    "float32 widens exactly and copies between dtypes" {
        val f = FloatTensor.of(floatArrayOf(0.1f, -3.5f, 1e-30f), 3)
        DoubleTensor.copyOf(f).toDoubleArray().toList() shouldBe listOf(0.1f.toDouble(), -3.5, 1e-30f.toDouble())
        val d = DoubleTensor.zeros(3)
        Tensors.copyInto(f, d)
        d.get(0) shouldBe 0.1f.toDouble()
        shouldThrow<AttentionException> { Tensors.copyInto(f, DoubleTensor.zeros(4)) }.argument() shouldBe "dst.shape"
    }

    "copyInto walks any strides: permuted, sliced, broadcast and rank-0 views, across dtypes" {
        val base = FloatTensor.of(FloatArray(2 * 3 * 4) { it * 0.5f - 3f }, 2, 3, 4)
        val sources = listOf<Tensor>(
            base,
            base.permute(2, 0, 1),                         // [4, 2, 3], innermost stride 4
            base.slice(2, 1, 2).select(0, 1),              // [3, 2], offset view
            FloatTensor.of(floatArrayOf(7f), 1).broadcastTo(3, 5),   // zero strides
            DoubleTensor.copyOf(base).permute(1, 2, 0),
            base.select(0, 1).select(0, 2).select(0, 3),   // rank 0
        )
        for (src in sources) {
            for (dst in listOf(FloatTensor.zeros(*src.shape()), DoubleTensor.zeros(*src.shape()),
                DoubleTensor.zeros(*(src.shape() + 2)).let { if (src.rank() == 0) it.select(0, 1) else it.slice(src.rank(), 1, 1).select(src.rank(), 0) })) {
                Tensors.copyInto(src, dst)
                // element by element through the logical index, as a reader would see it
                dst.toDoubleArray().toList() shouldBe src.toDoubleArray().map { if (dst is FloatTensor) it.toFloat().toDouble() else it }
            }
        }
        // into a permuted destination: the logical layout decides, not the storage order
        val dst = FloatTensor.zeros(4, 3, 2)
        Tensors.copyInto(base.permute(2, 1, 0), dst.permute(0, 1, 2))
        dst.getDouble(3, 1, 0) shouldBe base.getDouble(0, 1, 3)
        val into = FloatTensor.zeros(2, 3, 4)
        Tensors.copyInto(base.permute(2, 1, 0), into.permute(2, 1, 0))
        into.toDoubleArray().toList() shouldBe base.toDoubleArray().toList()
        shouldThrow<AttentionException> { Tensors.copyInto(base, BoolTensor.of(BooleanArray(24), 2, 3, 4)) }.argument() shouldBe "dst.dtype"
    }

    "views outside their storage and bad data lengths are rejected" {
        shouldThrow<AttentionException> {
            DoubleTensor(DoubleArray(5), intArrayOf(2, 3), intArrayOf(3, 1), 0)
        }.argument() shouldBe "view"
        shouldThrow<AttentionException> {
            DoubleTensor(DoubleArray(6), intArrayOf(2, 3), intArrayOf(3, 1), -1)
        }.argument() shouldBe "view"
        shouldThrow<AttentionException> { DoubleTensor.of(DoubleArray(5), 2, 3) }.argument() shouldBe "data.length"
        shouldThrow<AttentionException> { DoubleTensor.zeros(2, -1) }.argument() shouldBe "shape"
        shouldThrow<AttentionException> { DoubleTensor(DoubleArray(6), intArrayOf(2, 3), intArrayOf(3), 0) }
            .argument() shouldBe "strides"
        shouldThrow<AttentionException> { Tensor.elementCount(1 shl 16, 1 shl 16) }.argument() shouldBe "shape"
        // an empty view needs no storage at all
        DoubleTensor(DoubleArray(0), intArrayOf(0, 3), intArrayOf(3, 1), 0).elementCount() shouldBe 0
    }

    "element access checks every index" {
        val t = arange(2, 3)
        shouldThrow<AttentionException> { t.get(1, 3) }.argument() shouldBe "index[1]"
        shouldThrow<AttentionException> { t.get(1) }.argument() shouldBe "index"
        shouldThrow<AttentionException> { t.requireShape("w", 3, 2) }.message shouldBe "w.shape: expected [3, 2], got [2, 3]"
    }

    "requireFinite names the argument and the first bad index" {
        val t = DoubleTensor.of(doubleArrayOf(1.0, 2.0, Double.NaN, Double.POSITIVE_INFINITY), 2, 2)
        Tensors.firstNonFinite(t)!!.toList() shouldBe listOf(1, 0)
        shouldThrow<AttentionException> { Tensors.requireFinite("k", t) }.message shouldBe
            "k[1, 0]: expected a finite value, got NaN"
        Tensors.firstNonFinite(arange(2, 2)) shouldBe null
    }
    "a negative size after a zero-size axis is rejected" {
        shouldThrow<AttentionException> { DoubleTensor(DoubleArray(0), intArrayOf(0, -1), intArrayOf(1, 1), 0) }
            .argument() shouldBe "shape"
    }

    "slice bounds near Int.MAX_VALUE do not overflow into a misleading error" {
        shouldThrow<AttentionException> { arange(4).slice(0, Int.MAX_VALUE, 2) }.argument() shouldBe "slice"
    }

    "a problem listing an optional input twice is an AttentionException, not IllegalArgumentException" {
        val p = AttentionProblem.of(AttentionSpec.of(2, 1, 4), 1, 1, 1, OptionalInput.BIAS, OptionalInput.BIAS)
        p.inputs() shouldBe setOf(OptionalInput.BIAS)
    }
    "firstNonFinite finds NaN and infinities through strided, broadcast and empty views" {
        val data = FloatArray(24) { it.toFloat() }
        val t = FloatTensor.of(data, 2, 3, 4)
        Tensors.firstNonFinite(t) shouldBe null
        data[1 * 12 + 2 * 4 + 3] = Float.NaN                        // element [1, 2, 3]
        Tensors.firstNonFinite(t)!!.toList() shouldBe listOf(1, 2, 3)
        Tensors.firstNonFinite(t.permute(2, 0, 1))!!.toList() shouldBe listOf(3, 1, 2)
        Tensors.firstNonFinite(t.slice(0, 0, 1)) shouldBe null      // the NaN is outside this view
        val d = DoubleTensor.of(doubleArrayOf(1.0, Double.NEGATIVE_INFINITY), 2)
        Tensors.firstNonFinite(d.broadcastTo(3, 2))!!.toList() shouldBe listOf(0, 1)
        Tensors.firstNonFinite(DoubleTensor.zeros(0, 5)) shouldBe null
        shouldThrow<AttentionException> { Tensors.requireFinite("k", t) }.message!! shouldContain "k[1, 2, 3]"
    }
})
