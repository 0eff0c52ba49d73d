@file:OptIn(io.kotest.common.ExperimentalKotest::class)

package org.attn4j.conformance.tck

import com.fasterxml.jackson.databind.JsonNode
import com.fasterxml.jackson.databind.ObjectMapper
import com.fasterxml.jackson.databind.node.ArrayNode
import com.fasterxml.jackson.databind.node.JsonNodeFactory
import com.fasterxml.jackson.databind.node.ObjectNode
import io.kotest.assertions.fail
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.ints.shouldBeGreaterThan
import io.kotest.property.Arb
import io.kotest.property.PropTestConfig
import io.kotest.property.RandomSource
import io.kotest.property.Sample
import io.kotest.property.checkAll
import org.attn4j.api.AttentionException
import org.attn4j.api.FloatTensor
import org.attn4j.api.Tensor
import org.attn4j.conformance.golden.GoldenCase
import org.attn4j.conformance.golden.GoldenExport
import org.attn4j.conformance.golden.GoldenFormatException
import org.attn4j.conformance.golden.GoldenRunner
import org.attn4j.conformance.golden.Npy
import org.attn4j.conformance.golden.NpyDtype
import org.attn4j.reference.ReferenceAttention
import org.attn4j.reference.ReferenceBackend
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.file.Files
import java.nio.file.Path
import java.time.Duration
import java.util.concurrent.atomic.AtomicInteger
import kotlin.io.path.exists
import kotlin.random.Random

/**
 * Fuzzes the golden-case readers with corrupted input: mutations (bit flips, truncations, rewritten length fields
 * and versions, junk) of the project's golden `.npy` files, of the seed corpus in `src/test/resources/fuzz/` and of
 * files the project's writer makes; random and hostile `.npy` header dicts (huge shapes, deep nesting, wrong
 * types); and mutated `case.json` documents. Only a successfully read value or a [GoldenFormatException] whose
 * message is one line of bounded length may come out: no other exception, no OutOfMemoryError or
 * StackOverflowError, no hang (every call runs under a timeout).
 *
 * Inputs per reader: `attn4j.fuzz.iterations` (the `fuzz` Maven profile sets 1,000,000); without it,
 * `attn4j.tck.iterations` x 20 (2,000 by default: seconds).
 */
class ReaderFuzzTest : FunSpec({
    val config = TckConfig.fromSystemProperties()
    val iterations = System.getProperty(FUZZ_ITERATIONS)?.let {
        it.trim().toIntOrNull()?.takeIf { n -> n > 0 } ?: error("$FUZZ_ITERATIONS: expected a count > 0, got '$it'")
    } ?: config.fuzzInputs
    val timeout = Duration.ofSeconds(20)

    /** Runs [read] under a timeout; anything but a value or a one-line GoldenFormatException fails with [describe]. */
    fun expectCleanOutcome(describe: () -> String, read: () -> Unit) {
        val outcome = PropertyRunner.guarded(timeout) {
            try {
                read()
                CaseOutcome.Ok()
            } catch (e: GoldenFormatException) {
                // the documented way to reject bad input: one line that a terminal shows as it is
                val message = e.message ?: ""
                when {
                    message.any { it == '\n' || it == '\r' } -> CaseOutcome.Bad("message has a line break: ${message.take(300)}")
                    message.length > MAX_MESSAGE -> CaseOutcome.Bad("message of ${message.length} chars: ${message.take(300)}...")
                    else -> CaseOutcome.Ok()
                }
            } catch (e: AttentionException) {
                CaseOutcome.Bad("an AttentionException that is not a GoldenFormatException: $e")
            }
        }
        if (outcome is CaseOutcome.Bad) fail("${outcome.message}\n  input: ${describe()}")
    }

    test("corrupted and hostile .npy files: a tensor or a GoldenFormatException, nothing else") {
        val dir = Files.createTempDirectory("attn4j-npy-fuzz")
        val rejected = AtomicInteger()
        val seeds = NpyFuzz.seeds()
        checkAll(PropTestConfig(seed = config.seedFor("fuzz/npy"), iterations = iterations), NpyFuzz.arb(seeds)) { input ->
            expectCleanOutcome({ input.toString() }) {
                try {
                    if (input.viaFile) {
                        val f = dir.resolve("fuzz.npy")
                        Files.write(f, input.bytes)
                        Npy.read(f)
                    } else {
                        Npy.read(input.bytes, Path.of("fuzz.npy"))
                    }
                } catch (e: AttentionException) {
                    rejected.incrementAndGet()
                    throw e
                }
            }
        }
        // Most inputs are corrupt: a reader that accepted nearly everything would not be strict.
        rejected.get() shouldBeGreaterThan iterations / 2
    }

    test("mutated case.json documents: a case or a GoldenFormatException, nothing else; GoldenRunner never throws") {
        val bases = CaseFuzz.bases(Files.createTempDirectory("attn4j-case-fuzz"))
        val reference = ReferenceBackend()
        val rejected = AtomicInteger()
        val seedDocs = CaseFuzz.seedDocuments()
        checkAll(PropTestConfig(seed = config.seedFor("fuzz/case-json"), iterations = iterations), CaseFuzz.arb(bases, seedDocs)) { input ->
            Files.write(input.base.dir.resolve("case.json"), input.text)
            expectCleanOutcome({ input.toString() }) {
                val case = try {
                    GoldenCase.read(input.base.dir)
                } catch (e: AttentionException) {
                    rejected.incrementAndGet()
                    throw e
                }
                // A case that reads must also run: the runner reports, it never throws.
                if (input.run) GoldenRunner.run(case, reference)
            }
            Files.write(input.base.dir.resolve("case.json"), input.base.original)
        }
        rejected.get() shouldBeGreaterThan iterations / 2
    }
}) {
    companion object {
        const val FUZZ_ITERATIONS = "attn4j.fuzz.iterations"

        /** GoldenFormatException caps the path at 300 and the problem at 1000 characters (plus the cut markers). */
        const val MAX_MESSAGE = 1400
    }
}

/** The committed seed corpus: files of `src/test/resources/fuzz/<folder>`, sorted by name. */
internal fun fuzzCorpus(folder: String): List<Path> {
    val url = ReaderFuzzTest::class.java.getResource("/fuzz/$folder") ?: error("seed corpus /fuzz/$folder not on the test classpath")
    return Files.list(Path.of(url.toURI())).use { s -> s.filter { Files.isRegularFile(it) }.sorted().toList() }
}

/** The project's golden folder (`-Dattn4j.golden.dir`, else found above the working directory), or null. */
internal fun goldenFolder(): Path? {
    System.getProperty("attn4j.golden.dir")?.let { return Path.of(it) }
    var d: Path? = Path.of("").toAbsolutePath()
    while (d != null) {
        if (d.resolve("golden").resolve("FORMAT.md").exists()) return d.resolve("golden")
        d = d.parent
    }
    return null
}

/** One fuzzed `.npy` input: its bytes, how they were made, and whether it is read from a file or from memory. */
class NpyInput(val bytes: ByteArray, val how: List<String>, val viaFile: Boolean) {
    override fun toString(): String {
        val head = bytes.take(160).joinToString("") { b ->
            val c = b.toInt() and 0xff
            if (c in 32..126 && c != '\\'.code) c.toChar().toString() else "\\x%02x".format(c)
        }
        return "${bytes.size} bytes ${if (viaFile) "(file)" else "(memory)"} made by ${how.joinToString(" > ")}: \"$head${if (bytes.size > 160) "..." else ""}\""
    }
}

/** Generators of corrupt `.npy` files. */
object NpyFuzz {
    private val DTYPES = listOf("<f4", "<f8", "|b1", "<i4", "<i8", ">f4", ">f8", "|O", "O", "<U3", "f4", "<f2", "|u1", "<c8",
        "<i2", "|b1 ", "", "<f4<f4", "\u00e9f4")
    private val HUGE = listOf("2147483647", "2147483648", "4294967296", "9223372036854775807", "9223372036854775808",
        "99999999999999999999999999", "-1", "-2147483648", "1000000000000")

    /** A seed file to mutate: its name (for the failure report) and bytes. */
    class Seed(val name: String, val bytes: ByteArray)

    /** The committed seed corpus (`fuzz/npy/`) and every `.npy` file of the project's golden cases. */
    fun seeds(): List<Seed> {
        val files = fuzzCorpus("npy").toMutableList()
        goldenFolder()?.let { g ->
            Files.walk(g).use { s -> s.filter { it.toString().endsWith(".npy") && Files.isRegularFile(it) }.sorted().forEach { files.add(it) } }
        }
        return files.map { Seed(it.fileName.toString().let { n -> "${it.parent.fileName}/$n" }, Files.readAllBytes(it)) }
    }

    fun arb(seeds: List<Seed> = emptyList()): Arb<NpyInput> = object : Arb<NpyInput>() {
        override fun edgecase(rs: RandomSource): Sample<NpyInput>? = null
        override fun sample(rs: RandomSource): Sample<NpyInput> = Sample(generate(rs.random, seeds))
    }

    fun generate(r: Random, seeds: List<Seed> = emptyList()): NpyInput {
        val how = ArrayList<String>()
        var bytes = when (r.nextInt(10)) {
            0 -> hostileHeader(r, how)
            1 -> ByteArray(r.nextInt(0, 300)).also { r.nextBytes(it); if (r.nextBoolean()) MAGIC.copyInto(it, 0, 0, minOf(6, it.size)) }.also { how += "random bytes" }
            2, 3, 4, 5 -> if (seeds.isEmpty()) valid(r, how) else seeds[r.nextInt(seeds.size)].also { how += "seed ${it.name}" }.bytes
            else -> valid(r, how)
        }
        repeat(r.nextInt(if (how.first().startsWith("valid")) 1 else 0, 4)) { bytes = mutate(r, bytes, how) }
        return NpyInput(bytes, how, r.nextInt(8) == 0)
    }

    private val MAGIC = byteArrayOf(0x93.toByte(), 'N'.code.toByte(), 'U'.code.toByte(), 'M'.code.toByte(), 'P'.code.toByte(), 'Y'.code.toByte())

    /** A valid file of a random supported dtype, shape and version, written by the project's own writer. */
    private fun valid(r: Random, how: MutableList<String>): ByteArray {
        val dtype = NpyDtype.entries[r.nextInt(NpyDtype.entries.size)]
        // int8 keeps a scale per row of its last axis, so it has at least one axis
        val shape = IntArray(r.nextInt(if (dtype == NpyDtype.I1) 1 else 0, 5)) { r.nextInt(0, 5) }
        val n = Tensor.elementCount(*shape)
        val tensor: Tensor = when (dtype) {
            NpyDtype.B1 -> org.attn4j.api.BoolTensor.of(BooleanArray(n) { r.nextBoolean() }, *shape)
            NpyDtype.I4, NpyDtype.I8 -> org.attn4j.api.IntTensor.of(IntArray(n) { r.nextInt() }, *shape)
            NpyDtype.F8 -> org.attn4j.api.DoubleTensor.of(DoubleArray(n) { r.nextDouble() }, *shape)
            NpyDtype.F4 -> FloatTensor.of(FloatArray(n) { r.nextFloat() }, *shape)
            NpyDtype.F2 -> org.attn4j.api.HalfTensor.of(org.attn4j.api.DType.FLOAT16, ShortArray(n) { r.nextInt().toShort() }, *shape)
            NpyDtype.U2 -> org.attn4j.api.HalfTensor.of(org.attn4j.api.DType.BFLOAT16, ShortArray(n) { r.nextInt().toShort() }, *shape)
            NpyDtype.I1 -> org.attn4j.api.Int8Tensor.of(ByteArray(n) { r.nextInt().toByte() },
                FloatArray(Tensor.elementCount(*shape.copyOf(shape.size - 1))) { 1f }, *shape)
        }
        val version = r.nextInt(1, 4)
        how += "valid ${dtype.descr} ${shape.contentToString()} v$version"
        return Npy.toBytes(tensor, dtype, version)
    }

    /** A header from a grammar of hostile values (huge and negative sizes, deep nesting, wrong types, bad syntax). */
    private fun hostileHeader(r: Random, how: MutableList<String>): ByteArray {
        fun dim(): String = when (r.nextInt(6)) {
            0 -> HUGE[r.nextInt(HUGE.size)]
            1 -> "${r.nextInt(0, 4)}.0"
            2 -> "'3'"
            3 -> "True"
            else -> r.nextInt(0, 70000).toString()
        }
        val shape = when (r.nextInt(9)) {
            0 -> "(" + List(r.nextInt(0, 6)) { dim() }.joinToString(", ") + ",)"
            1 -> "(" + List(r.nextInt(1, 4)) { HUGE[r.nextInt(HUGE.size)] }.joinToString(", ") + ",)"
            2 -> "(5)"                                          // not a tuple
            3 -> "[2, 3]"                                       // a list
            4 -> "()"
            5 -> "(" + "(".repeat(r.nextInt(1, 200_000)) + ")".repeat(r.nextInt(0, 10)) // deep nesting, unbalanced
            6 -> "(" + "[".repeat(r.nextInt(1, 50_000)) + "1" + "]".repeat(r.nextInt(0, 50_000)) + ",)"
            7 -> "(65536, 65536, 65536)"
            else -> "(${r.nextInt(0, 4)}, ${r.nextInt(0, 4)})"
        }
        val descr = if (r.nextInt(5) == 0) listOf("5", "None", "('<f4',)", "[('a', '<f4')]", "'<f4").random(r) else "'${DTYPES.random(r)}'"
        val fortran = listOf("False", "True", "0", "'no'", "None", "false").random(r)
        val entries = mutableListOf("'descr': $descr", "'fortran_order': $fortran", "'shape': $shape")
        if (r.nextInt(6) == 0) entries += "'extra': 1"
        if (r.nextInt(6) == 0) entries.removeAt(r.nextInt(entries.size))
        if (r.nextInt(8) == 0) entries += entries[0]           // duplicate key
        entries.shuffle(r)
        var dict = "{" + entries.joinToString(if (r.nextBoolean()) ", " else ",") + (if (r.nextBoolean()) ", }" else "}")
        if (r.nextInt(10) == 0) dict = dict.dropLast(1)          // unterminated
        val major = if (dict.length > 60_000 || r.nextInt(3) == 0) 2 + r.nextInt(2) else 1
        val header = (dict + " ".repeat(r.nextInt(0, 64)) + "\n").toByteArray(if (major == 3) Charsets.UTF_8 else Charsets.ISO_8859_1)
        val lenBytes = if (major == 1) 2 else 4
        val dataLen = r.nextInt(0, 200)
        val buf = ByteBuffer.allocate(8 + lenBytes + header.size + dataLen).order(ByteOrder.LITTLE_ENDIAN)
        buf.put(MAGIC).put(major.toByte()).put(0)
        if (major == 1) buf.putShort(header.size.toShort()) else buf.putInt(header.size)
        buf.put(header)
        how += "hostile header v$major \"${dict.take(120)}${if (dict.length > 120) "...(${dict.length} chars)" else ""}\" + $dataLen data bytes"
        return buf.array()
    }

    private fun mutate(r: Random, b: ByteArray, how: MutableList<String>): ByteArray = when (r.nextInt(7)) {
        0, 1 -> {
            // Flip bits, mostly in the header region where the parser lives.
            val out = b.clone()
            val flips = r.nextInt(1, 6)
            repeat(flips) {
                if (out.isNotEmpty()) {
                    val at = if (r.nextInt(4) != 0) r.nextInt(minOf(out.size, 128)) else r.nextInt(out.size)
                    out[at] = (out[at].toInt() xor (1 shl r.nextInt(8))).toByte()
                }
            }
            how += "flip $flips bits"
            out
        }
        2 -> {
            val n = if (b.isEmpty()) 0 else r.nextInt(b.size)
            how += "truncate to $n"
            b.copyOf(n)
        }
        3 -> {
            val extra = ByteArray(r.nextInt(1, 100)).also { r.nextBytes(it) }
            how += "append ${extra.size} bytes"
            b + extra
        }
        4 -> {
            // Rewrite the header length field (version 1: 2 bytes, else 4).
            val out = b.clone()
            val v = listOf(0L, 1L, 0xffffL, 0x7fffffffL, 0xffffffffL, r.nextLong(0, 0x100000000L)).random(r)
            if (out.size >= 12) ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putInt(8, v.toInt())
            how += "header length := $v"
            out
        }
        5 -> {
            val out = b.clone()
            if (out.size >= 8) {
                out[6] = r.nextInt(0, 6).toByte()
                out[7] = (if (r.nextBoolean()) 0 else r.nextInt(1, 3)).toByte()
            }
            how += "version := ${if (out.size >= 8) "${out[6]}.${out[7]}" else "?"}"
            out
        }
        else -> {
            // Overwrite a run of header bytes with printable junk (quotes, brackets, digits).
            val out = b.clone()
            if (out.size > 10) {
                val at = r.nextInt(10, out.size)
                val junk = "{}()[]'\":,0123456789-TrueFalseNone \n\t"
                for (i in at until minOf(out.size, at + r.nextInt(1, 12))) out[i] = junk[r.nextInt(junk.length)].code.toByte()
            }
            how += "junk in header"
            out
        }
    }
}

/** A base case folder for case.json fuzzing: its folder (with the .npy files) and its original case.json. */
class CaseBase(val dir: Path, val original: ByteArray)

/** One fuzzed case.json: the text written over a base case's, how it was made, whether to run it. */
class CaseInput(val base: CaseBase, val text: ByteArray, val how: List<String>, val run: Boolean) {
    override fun toString(): String =
        "case ${base.dir.fileName} made by ${how.joinToString(" > ")}: ${String(text, Charsets.UTF_8).take(600)}"
}

/** Generators of mutated case.json documents. */
object CaseFuzz {
    private val MAPPER = ObjectMapper()
    private val NODES = JsonNodeFactory.instance

    /**
     * Base cases: a few of the project's golden cases (a kernel case with a mask, layer cases with a key padding
     * mask, cross-attention and chunks) and exported ones covering every optional kernel input and MLA.
     */
    fun bases(work: Path): List<CaseBase> {
        val out = ArrayList<CaseBase>()
        val golden = goldenFolder()
        for (name in listOf("seed003-gqa-kernel-mask", "seed003-gqa-keypad", "seed004-gqa-cross-g1-verbatim", "seed004-gqa-kvcache-decode-fixed")) {
            val src = golden?.resolve("cases")?.resolve(name) ?: continue
            if (!src.exists()) continue
            val dst = Files.createDirectories(work.resolve(name))
            Files.list(src).use { files -> files.forEach { Files.copy(it, dst.resolve(it.fileName)) } }
        }
        // Exported cases: every optional kernel input; MLA with and without q LoRA.
        val kernel = KernelCase(2, 4, 2, 5, 3, 3, 6, 0.5, true, org.attn4j.api.Alignment.TOP_LEFT, org.attn4j.api.Window(2, 1), 5.0,
            Broadcast("1HQK"), 1.0, Broadcast("B11K"), MaskFill.DENSE, true, true, KvLensMode.RANDOM, 1.0, 1.0, Layout.CONTIGUOUS, 9)
        GoldenExport.write(work.resolve("kernel-all-inputs"), "kernel-all-inputs", "fuzz base", kernel.spec, kernel.inputs,
            ReferenceAttention.attend(kernel.spec, kernel.inputs))
        for ((i, qLora) in listOf(0, 3).withIndex()) {
            val m = MlaLayerCase(1, 8, 2, qLora, 4, 2, 4, 3, 10000.0, i == 1, 1, true, org.attn4j.api.Alignment.BOTTOM_RIGHT, 0.0, null, 3,
                false, org.attn4j.api.PlanOptions.MlaPath.NAIVE, Chunking.ONE, 5)
            val y = ReferenceBackend().planLayer(m.config, m.weights, org.attn4j.api.PlanOptions.defaults()).forward(m.activations.x, null, null)
            GoldenExport.write(work.resolve("mla-$qLora"), "mla-$qLora", "fuzz base", m.config, m.weights, m.activations.x, null, null, y,
                intArrayOf(2, 1))
        }
        Files.list(work).use { dirs -> dirs.sorted().forEach { d -> out += CaseBase(d, Files.readAllBytes(d.resolve("case.json"))) } }
        return out
    }

    /** The committed case.json seeds (`fuzz/case/`): name and text. They are run in the `kernel-all-inputs` base. */
    fun seedDocuments(): List<Pair<String, ByteArray>> = fuzzCorpus("case").map { it.fileName.toString() to Files.readAllBytes(it) }

    fun arb(bases: List<CaseBase>, seedDocs: List<Pair<String, ByteArray>> = emptyList()): Arb<CaseInput> = object : Arb<CaseInput>() {
        override fun edgecase(rs: RandomSource): Sample<CaseInput>? = null
        override fun sample(rs: RandomSource): Sample<CaseInput> = Sample(generate(rs.random, bases, seedDocs))
    }

    fun generate(r: Random, bases: List<CaseBase>, seedDocs: List<Pair<String, ByteArray>> = emptyList()): CaseInput {
        val how = ArrayList<String>()
        val kernelBase = bases.firstOrNull { it.dir.fileName.toString() == "kernel-all-inputs" }
        if (seedDocs.isNotEmpty() && kernelBase != null && r.nextInt(5) == 0) {
            // A committed seed: as it is, or mutated as text (a seed need not be JSON Jackson can write back).
            val (name, seed) = seedDocs[r.nextInt(seedDocs.size)]
            how += "seed $name"
            val text = if (r.nextBoolean()) seed else mutateText(r, seed, how)
            return CaseInput(kernelBase, text, how, r.nextInt(4) == 0)
        }
        val base = bases[r.nextInt(bases.size)]
        val root = MAPPER.readTree(base.original) as ObjectNode
        repeat(r.nextInt(1, 4)) { mutateTree(r, root, how) }
        var text = MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(root)
        if (r.nextInt(5) == 0) text = mutateText(r, text, how)
        return CaseInput(base, text, how, r.nextInt(4) == 0)
    }

    private fun randomValue(r: Random, files: List<String>): JsonNode = when (r.nextInt(16)) {
        0 -> NODES.numberNode(-1)
        1 -> NODES.numberNode(0)
        2 -> NODES.numberNode(Int.MAX_VALUE.toLong() + 1)
        3 -> NODES.numberNode(Long.MAX_VALUE)
        4 -> NODES.numberNode(1e308)
        5 -> NODES.numberNode(1.5)
        6 -> NODES.booleanNode(r.nextBoolean())
        7 -> NODES.nullNode()
        8 -> NODES.arrayNode().also { a -> repeat(r.nextInt(0, 5)) { a.add(r.nextInt(-3, 10)) } }
        9 -> NODES.objectNode()
        10 -> NODES.textNode(listOf("../../../../etc/passwd", "", "/", ".", "nonexistent.npy", "case.json", "x".repeat(5000)).random(r))
        11 -> NODES.textNode(files.randomOrNull(r) ?: "q.npy")     // another real file: a shape or dtype mismatch
        12 -> NODES.textNode(listOf("kernel", "layer", "mla", "mha", "gqa", "bottom_right", "top_left", "attention-golden/1").random(r))
        13 -> NODES.numberNode(r.nextInt(-5, 70000))
        14 -> deep(r.nextInt(10, 900))            // Jackson writes at most 1000 levels; deeper nesting comes from mutateText
        else -> NODES.numberNode(r.nextDouble(-10.0, 10.0))
    }

    /** Nested arrays, deep enough to trip a recursive reader. */
    private fun deep(depth: Int): JsonNode {
        var n: JsonNode = NODES.numberNode(1)
        repeat(depth) { n = NODES.arrayNode().add(n) }
        return n
    }

    private fun objects(n: JsonNode, into: MutableList<ObjectNode>) {
        if (n is ObjectNode) into += n
        if (n.isContainerNode && into.size < 200) n.forEach { objects(it, into) }
    }

    private fun mutateTree(r: Random, root: ObjectNode, how: MutableList<String>) {
        val objs = ArrayList<ObjectNode>().also { objects(root, it) }
        val files = listOfNotNull(root.get("inputs"), root.get("expected")).flatMap { o -> o.properties().map { it.value.asText() } }
        val o = objs[r.nextInt(objs.size)]
        val keys = o.properties().map { it.key }
        when (r.nextInt(6)) {
            0 -> if (keys.isNotEmpty()) keys.random(r).let { o.remove(it); how += "remove '$it'" }
            1 -> { val k = listOf("unknown", "q_heads", "window", "chunks", "tolerance", "kv_lens", "mask", "bias", "lse").random(r); o.set<JsonNode>(k, randomValue(r, files)); how += "set '$k'" }
            2, 3 -> if (keys.isNotEmpty()) keys.random(r).let { o.set<JsonNode>(it, randomValue(r, files)); how += "replace '$it'" }
            4 -> {
                // A numeric spec value pushed to an edge.
                val spec = root.get("spec") as? ObjectNode ?: return
                val k = spec.properties().map { it.key }.randomOrNull(r) ?: return
                spec.put(k, listOf(0, -1, 1, 2, 7, 65536, Int.MAX_VALUE).random(r)); how += "spec.$k := ${spec.get(k)}"
            }
            else -> {
                val chunks = NODES.arrayNode()
                repeat(r.nextInt(0, 8)) { chunks.add(r.nextInt(-2, 8)) }
                root.set<ArrayNode>("chunks", chunks); how += "chunks := $chunks"
            }
        }
    }

    private fun mutateText(r: Random, text: ByteArray, how: MutableList<String>): ByteArray = when (r.nextInt(4)) {
        0 -> text.copyOf(r.nextInt(text.size)).also { how += "truncate to ${it.size}" }
        1 -> text.clone().also { t -> repeat(r.nextInt(1, 5)) { val at = r.nextInt(t.size); t[at] = (t[at].toInt() xor (1 shl r.nextInt(8))).toByte() }; how += "flip bits" }
        2 -> ("[".repeat(r.nextInt(1000, 100_000)) + String(text, Charsets.UTF_8)).toByteArray().also { how += "deeply nested prefix" }
        else -> String(text, Charsets.UTF_8).replaceFirst("{", "{\"format\": \"attention-golden/1\", ").toByteArray().also { how += "duplicate key" }
    }
}
