package org.attn4j.dsl.script

import kotlin.script.experimental.annotations.KotlinScript
import kotlin.script.experimental.api.ScriptCompilationConfiguration
import kotlin.script.experimental.api.defaultImports
import kotlin.script.experimental.api.implicitReceivers
import kotlin.script.experimental.jvm.dependenciesFromCurrentContext
import kotlin.script.experimental.jvm.jvm

/**
 * The compilation settings of `.attn.kts` scripts: the DSL, the checks and the api are imported by default, and
 * an [AttnScriptScope] is the implicit receiver (so `model`, `expect`, `compare` … need no prefix).
 * The script sees the whole class path of the JVM that runs it (`java -cp …`, as `./attn` starts it).
 */
object AttnScriptCompilation : ScriptCompilationConfiguration({
    defaultImports("org.attn4j.dsl.*", "org.attn4j.dsl.check.*", "org.attn4j.api.*")
    implicitReceivers(AttnScriptScope::class)
    jvm { dependenciesFromCurrentContext(wholeClasspath = true) }
})

/**
 * A spec-by-example script (`*.attn.kts`): it declares attention configs and expectations about them.
 * Run one with `attn run FILE.attn.kts` or [AttnScripts.run].
 */
@KotlinScript(
    displayName = "attn4j spec-by-example script",
    fileExtension = "attn.kts",
    compilationConfiguration = AttnScriptCompilation::class,
)
abstract class AttnScript
