package org.attn4j.cli

import java.io.PrintWriter
import java.io.StringWriter

/** The result of one in-process `attn` run. */
data class CliRun(val exit: Int, val out: String, val err: String) {
    val outLines: List<String> get() = out.lines().filter { it.isNotBlank() }
}

/** Runs `attn ARGS` in this JVM with captured output. */
fun runAttn(vararg args: String): CliRun {
    val out = StringWriter()
    val err = StringWriter()
    val cl = Attn.commandLine()
    cl.out = PrintWriter(out, true)
    cl.err = PrintWriter(err, true)
    val exit = cl.execute(*args)
    return CliRun(exit, out.toString(), err.toString())
}
