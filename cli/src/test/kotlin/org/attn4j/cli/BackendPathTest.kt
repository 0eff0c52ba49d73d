package org.attn4j.cli

import io.kotest.core.spec.style.StringSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldNotContain
import io.kotest.matchers.string.shouldStartWith
import org.attn4j.api.AttentionBackend
import org.attn4j.reference.ReferenceBackend
import java.io.File
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths
import java.util.function.Function
import java.util.jar.JarOutputStream
import java.util.zip.ZipEntry
import javax.tools.ToolProvider
import kotlin.io.path.writeText

/** A third party's backend, compiled here from source against attn4j-api and packed in its own jar, as another project would ship it. */
private val mineJar: Path by lazy {
    val dir = Files.createTempDirectory("attn-backend-path")
    val src = dir.resolve("src/com/example/mine/MineBackend.java")
    Files.createDirectories(src.parent)
    // A "third-party" backend: the reference's numbers under another name (what matters here is how it is found).
    src.writeText("""
        package com.example.mine;
        import org.attn4j.api.*;
        public final class MineBackend implements AttentionBackend {
            private final AttentionBackend ref = new org.attn4j.reference.ReferenceBackend();
            public String name() { return "mine"; }
            public Precision precision() { return ref.precision(); }
            public Support support(AttentionProblem p) { return ref.support(p); }
            public AttentionPlan plan(AttentionProblem p, PlanOptions o) { return ref.plan(p, o); }
            public Support supportLayer(LayerConfig c) { return ref.supportLayer(c); }
            public LayerPlan planLayer(LayerConfig c, LayerWeights w, PlanOptions o) { return ref.planLayer(c, w, o); }
        }
    """.trimIndent())
    val classes = Files.createDirectories(dir.resolve("classes"))
    // Compiled against the jars (or class folders) that hold the api and the reference, wherever surefire put them.
    val cp = listOf(AttentionBackend::class.java, ReferenceBackend::class.java)
        .joinToString(File.pathSeparator) { Paths.get(it.protectionDomain.codeSource.location.toURI()).toString() }
    val javac = ToolProvider.getSystemJavaCompiler()
    val status = javac.run(null, null, null, "-d", classes.toString(), "-cp", cp, src.toString())
    check(status == 0) { "javac failed ($status)" }
    val jar = dir.resolve("mine-backend.jar")
    JarOutputStream(Files.newOutputStream(jar)).use { out ->
        fun put(name: String, bytes: ByteArray) { out.putNextEntry(ZipEntry(name)); out.write(bytes); out.closeEntry() }
        put("META-INF/services/org.attn4j.api.AttentionBackend", "com.example.mine.MineBackend\n".toByteArray())
        put("com/example/mine/MineBackend.class", Files.readAllBytes(classes.resolve("com/example/mine/MineBackend.class")))
    }
    jar
}

class BackendPathTest : StringSpec({
    afterEach { Attn.environment = Function { System.getenv(it) } }

    "without --backend-path the third-party backend is unknown" {
        runAttn("backends").out shouldNotContain "mine"
        val r = runAttn("verify", "--backend", "mine", "../golden/cases")
        r.exit shouldBe Attn.EXIT_BAD_INPUT
        r.err shouldContain "'mine'"
    }

    "attn --backend-path JAR backends lists it next to the built-in ones" {
        val r = runAttn("--backend-path", mineJar.toString(), "backends")
        r.exit shouldBe 0
        r.out shouldContain "mine         float64   available"
        r.out shouldContain "reference    float64   available"
    }

    "attn --backend-path JAR verify --backend mine golden runs every golden case on it" {
        val r = runAttn("--backend-path", mineJar.toString(), "verify", "--backend", "mine", "../golden")
        r.err shouldBe ""
        r.exit shouldBe 0
        // mine does not declare the reduced storage types (supportStorage), so it declines golden/reduced
        r.outLines.last() shouldBe "83 passed, 0 failed, 10 skipped"
    }

    "a folder of jars, and ATTN_BACKEND_PATH when the option is absent" {
        runAttn("--backend-path", mineJar.parent.toString(), "backends").out shouldContain "mine "
        Attn.environment = Function { if (it == "ATTN_BACKEND_PATH") mineJar.toString() else null }
        runAttn("backends").out shouldContain "mine "
        // compare sees it too (--no-measure: the names are checked, nothing is timed)
        runAttn("compare", "--no-measure", "--backend", "mine").exit shouldBe 0
    }

    "a path that is not there, or not a jar, is exit 2 with one line naming it" {
        val missing = runAttn("--backend-path", "/no/such/backend.jar", "backends")
        missing.exit shouldBe Attn.EXIT_BAD_INPUT
        missing.out shouldBe ""
        missing.err.trim() shouldBe "attn: --backend-path: expected an existing jar or folder, got '/no/such/backend.jar' (no such file or folder)"
        val notJar = Files.createTempFile("not-a-jar", ".jar").also { it.writeText("hello") }
        val bad = runAttn("--backend-path", "$mineJar:$notJar", "backends")
        bad.exit shouldBe Attn.EXIT_BAD_INPUT
        bad.err.lines().filter { it.isNotBlank() }.size shouldBe 1
        bad.err shouldStartWith "attn: --backend-path: expected a jar (zip) file, got '$notJar'"
        val empty = Files.createTempDirectory("no-jars")
        runAttn("--backend-path", empty.toString(), "backends").err shouldContain "'$empty', which holds neither"
        Attn.environment = Function { if (it == "ATTN_BACKEND_PATH") "/nowhere" else null }
        runAttn("backends").err.trim() shouldBe "attn: --backend-path: expected an existing jar or folder, got '/nowhere' (no such file or folder) (from ATTN_BACKEND_PATH)"
    }
})
