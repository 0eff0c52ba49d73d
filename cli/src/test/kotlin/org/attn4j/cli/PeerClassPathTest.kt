package org.attn4j.cli

import com.fasterxml.jackson.databind.ObjectMapper
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.collections.shouldBeEmpty
import io.kotest.matchers.doubles.shouldBeGreaterThan
import io.kotest.matchers.doubles.shouldBeLessThan
import io.kotest.matchers.nulls.shouldNotBeNull
import io.kotest.matchers.shouldBe
import io.kotest.matchers.shouldNotBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldNotBeBlank
import org.attn4j.api.AttentionInputs
import org.attn4j.api.FloatTensor
import org.attn4j.bench.BenchData
import org.attn4j.bench.Peers
import org.attn4j.bench.Workload
import org.attn4j.reference.ReferenceAttention
import java.io.File
import java.nio.file.Files
import kotlin.math.abs
import kotlin.math.max

/**
 * ONNX Runtime and JMH stay off the CLI's class path (surefire builds this class path from cli's pom, as the
 * dependency plugin fills the launcher's `target/lib` from it), while `attn bench --peer ort` still finds ONNX Runtime
 * in `target/peers/ort` and loads it in a class loader of its own.
 */
class PeerClassPathTest : StringSpec({

    val appLoader = PeerClassPathTest::class.java.classLoader

    "ONNX Runtime and JMH are not loadable from the CLI's class path" {
        for (name in listOf("ai.onnxruntime.OrtEnvironment", "org.openjdk.jmh.Main", "org.openjdk.jmh.annotations.Benchmark")) {
            shouldThrow<ClassNotFoundException> { Class.forName(name, false, appLoader) }
        }
        val entries = System.getProperty("java.class.path").split(File.pathSeparator).map { File(it).name }
        entries.filter { it.startsWith("onnxruntime") || it.startsWith("jmh-") }.shouldBeEmpty()
    }

    "the build puts the ONNX Runtime jar in the peer folder next to the CLI" {
        val folder = BenchCommand.ortPeerFolder()
        folder.toString() shouldContain "peers"
        Peers.holdsOrt(folder) shouldBe true
    }

    "the peer loader runs ONNX Runtime from the folder, in a loader of its own, and it agrees with the reference" {
        val availability = Peers.ortFrom(BenchCommand.ortPeerFolder(), 1)
        availability.reason() shouldBe null
        val peer = availability.peer().shouldNotBeNull()
        peer.version().shouldNotBeBlank()
        peer.javaClass.name shouldBe "org.attn4j.bench.OrtPeer"
        peer.javaClass.classLoader shouldNotBe appLoader
        // the class path itself still has no ONNX Runtime after the peer was loaded
        shouldThrow<ClassNotFoundException> { Class.forName("ai.onnxruntime.OrtEnvironment", false, appLoader) }

        val w = Workload.decode("t", 2, 4, 2, 16, 9)
        val data = BenchData.random(w, 5)
        val ort = peer.prepare(data).use { it.output() }
        val inputs = AttentionInputs.of(
            FloatTensor.of(data.q(), w.batch(), w.qHeads(), w.qLen(), w.headDim()),
            FloatTensor.of(data.k(), w.batch(), w.kvHeads(), w.kvLen(), w.headDim()),
            FloatTensor.of(data.v(), w.batch(), w.kvHeads(), w.kvLen(), w.vHeadDim()),
        )
        val ref = ReferenceAttention.attend(w.spec(), inputs).out().toDoubleArray()
        ort.size shouldBe ref.size
        var err = 0.0
        for (i in ref.indices) err = max(err, abs(ort[i] - ref[i]))
        err shouldBeLessThan 1e-6
    }

    "a second load from the same folder reuses its loader (a native library loads once per JVM)" {
        val folder = BenchCommand.ortPeerFolder()
        val a = Peers.ortFrom(folder, 1)
        val b = Peers.ortFrom(folder, 1)
        a.reason() shouldBe null
        b.reason() shouldBe null
        a.peer().javaClass shouldBe b.peer().javaClass
        a.peer().close()
        b.peer().close()
    }

    "attn bench --workload D1 --peer ort measures ONNX Runtime from the folder" {
        val r = runAttn("bench", "--tiny", "--json", "--workload", "D1", "--backend", "cpu", "--peer", "ort", "--warmup", "0", "--reps", "1")
        r.exit shouldBe 0
        val rows = ObjectMapper().readTree(r.out).toList()
        val ort = rows.single { it["workload"].asText() == "D1" && it["backend"].asText() == "ort" }
        ort["value"].asDouble() shouldBeGreaterThan 0.0
        val cpu = rows.single { it["workload"].asText() == "D1" && it["backend"].asText() == "cpu" }
        cpu["ratio_to_peer"].asDouble() shouldBeGreaterThan 0.0
        r.err shouldContain "peer: onnxruntime"
    }

    "--peer ort without the peer folder is one clear line and exit 2; --peer none does not need it" {
        val empty = Files.createTempDirectory("attn4j-no-peers")
        val before = System.getProperty(BenchCommand.PEERS_PROPERTY)
        System.setProperty(BenchCommand.PEERS_PROPERTY, empty.toString())
        try {
            val r = runAttn("bench", "--tiny", "--workload", "D1", "--peer", "ort", "--warmup", "0", "--reps", "1")
            r.exit shouldBe Attn.EXIT_BAD_INPUT
            r.out shouldBe ""
            r.err.lines().filter { it.isNotBlank() }.size shouldBe 1
            r.err shouldContain "attn: --peer: expected the ONNX Runtime jar in"
            r.err shouldContain "--peer none"
            r.err shouldContain "got none there"

            val none = runAttn("bench", "--tiny", "--json", "--workload", "D1", "--peer", "none", "--warmup", "0", "--reps", "1")
            none.exit shouldBe 0
            ObjectMapper().readTree(none.out).none { it["backend"].asText() == "ort" } shouldBe true
        } finally {
            if (before == null) System.clearProperty(BenchCommand.PEERS_PROPERTY) else System.setProperty(BenchCommand.PEERS_PROPERTY, before)
            Files.deleteIfExists(empty)
        }
    }
})
