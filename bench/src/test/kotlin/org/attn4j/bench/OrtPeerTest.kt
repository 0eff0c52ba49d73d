package org.attn4j.bench

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.doubles.shouldBeLessThan
import io.kotest.matchers.shouldBe
import org.attn4j.api.AttentionInputs
import org.attn4j.api.FloatTensor
import org.attn4j.reference.ReferenceAttention
import kotlin.math.abs
import kotlin.math.max

/** The in-memory ONNX models run by ONNX Runtime agree with the float64 reference on small shapes. */
class OrtPeerTest : StringSpec({

    val peer = OrtPeer.open(2)

    afterSpec { peer.peer()?.close() }

    fun maxErrVsReference(w: Workload): Double {
        val data = BenchData.random(w, 11)
        val ort = peer.peer().prepare(data).output()
        val spec = w.spec()
        val inputs = AttentionInputs.of(
            FloatTensor.of(data.q(), w.batch(), w.qHeads(), w.qLen(), w.headDim()),
            FloatTensor.of(data.k(), w.batch(), w.kvHeads(), w.kvLen(), w.headDim()),
            FloatTensor.of(data.v(), w.batch(), w.kvHeads(), w.kvLen(), w.vHeadDim()),
        )
        val ref = ReferenceAttention.attend(spec, inputs).out().toDoubleArray()
        ort.size shouldBe ref.size
        var err = 0.0
        for (i in ref.indices) err = max(err, abs(ort[i] - ref[i]))
        return err
    }

    "ONNX Runtime loads" {
        peer.reason() shouldBe null
        peer.available() shouldBe true
    }

    "GQA causal prefill (B2 4q/2kv d16 L7) matches the reference" {
        maxErrVsReference(Workload.prefill("t", 2, 4, 2, 16, 7, true)) shouldBeLessThan 1e-6
    }

    "non-causal prefill (B2 4q/4kv d16 L7) matches the reference" {
        maxErrVsReference(Workload.prefill("t", 2, 4, 4, 16, 7, false)) shouldBeLessThan 1e-6
    }

    "GQA decode over a whole cache (B2 4q/2kv d16 Lk 9) matches the reference" {
        maxErrVsReference(Workload.decode("t", 2, 4, 2, 16, 9)) shouldBeLessThan 1e-6
    }

    "MLA absorbed decode (MQA, Dv != D, scale attribute) matches the reference" {
        maxErrVsReference(Workload.mlaDecode("t", 1, 3, Workload.Mla(8, 4, 6, 5), 13)) shouldBeLessThan 1e-6
    }

    // Hand-encoded protobuf: tag = field << 3 | wire type; varint 300 = 0xAC 0x02; 1.0f = 0x3F800000 little-endian.
    "the protobuf writer encodes varints, strings, floats and nested messages" {
        OnnxModels.Proto().varint(1, 10).bytes().toList() shouldBe listOf<Byte>(0x08, 0x0A)
        OnnxModels.Proto().varint(2, 300).bytes().toList() shouldBe listOf(0x10, 0xAC, 0x02).map { it.toByte() }
        OnnxModels.Proto().string(2, "ab").bytes().toList() shouldBe listOf<Byte>(0x12, 0x02, 0x61, 0x62)
        OnnxModels.Proto().float32(2, 1.0f).bytes().toList() shouldBe listOf(0x15, 0x00, 0x00, 0x80, 0x3F).map { it.toByte() }
        OnnxModels.Proto().message(7, OnnxModels.Proto().varint(1, 1)).bytes().toList() shouldBe
            listOf<Byte>(0x3A, 0x02, 0x08, 0x01)
    }
})
