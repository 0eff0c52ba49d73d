package org.attn4j.cli;

import kotlin.Unit;
import org.attn4j.dsl.script.AttnScripts;
import org.attn4j.dsl.script.ExpectationResult;
import org.attn4j.dsl.script.ScriptProblem;
import org.attn4j.dsl.script.ScriptReport;
import org.attn4j.dsl.script.Status;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code attn run}: evaluates {@code .attn.kts} spec-by-example scripts and checks their expectations. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Run .attn.kts spec-by-example scripts: prints each expectation with pass or FAIL.",
                "Compile errors and invalid configs are reported as file:line: message.",
                "Exit status: 0 every expectation passed, 1 one failed (or, with --strict, could not run), "
                        + "2 a script did not compile or run.", ""})
public final class RunCommand implements Callable<Integer> {
    @Parameters(arity = "1..*", paramLabel = "FILE.attn.kts", description = "Scripts to run, in order (one JVM: later scripts start faster).")
    List<Path> scripts;

    @Option(names = "--strict", description = "Also fail when an expectation could not run (backend missing or declining a feature).")
    boolean strict;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        int passed = 0, failed = 0, notRun = 0;
        boolean broken = false;
        for (Path script : scripts) {
            out.println(script);
            out.flush();
            ScriptReport report = AttnScripts.INSTANCE.run(script, r -> {
                out.println(line(script, r));
                out.flush();
                return Unit.INSTANCE;
            });
            for (ScriptProblem p : report.getProblems()) err.println(p);
            err.flush();
            broken |= !report.getProblems().isEmpty();
            passed += report.getPassed();
            failed += report.getFailed();
            notRun += report.getNotRun();
        }
        out.println(passed + " passed, " + failed + " failed" + (notRun > 0 ? ", " + notRun + " not run" : "")
                + (broken ? "; a script did not compile or run" : ""));
        out.flush();
        if (broken) return Attn.EXIT_BAD_INPUT;
        return failed > 0 || (strict && notRun > 0) ? 1 : 0;
    }

    /** {@code   pass  description (12 ms)}, with the detail, and {@code file:line} for a failure. */
    private static String line(Path script, ExpectationResult r) {
        String label = switch (r.getStatus()) {
            case PASSED -> "pass   ";
            case FAILED -> "FAIL   ";
            case NOT_RUN -> "not run";
        };
        StringBuilder sb = new StringBuilder("  ").append(label).append("  ").append(r.getDescription())
                .append(" (").append(r.getMillis()).append(" ms)");
        if (!r.getDetail().isEmpty()) sb.append("\n           ").append(r.getDetail());
        if (r.getStatus() == Status.FAILED && r.getLine() != null) sb.append("\n           at ").append(script).append(':').append(r.getLine());
        return sb.toString();
    }
}
