package org.attn4j.cli;

import org.attn4j.api.AttentionException;
import org.attn4j.cli.run.IsolatedScriptRunner;
import org.attn4j.cli.run.IsolatedScriptRunner.Completed;
import org.attn4j.cli.run.IsolatedScriptRunner.Exited;
import org.attn4j.cli.run.IsolatedScriptRunner.NotStarted;
import org.attn4j.cli.run.IsolatedScriptRunner.ScriptEnd;
import org.attn4j.cli.run.IsolatedScriptRunner.TimedOut;
import org.attn4j.dsl.script.ExpectationResult;
import org.attn4j.dsl.script.ScriptProblem;
import org.attn4j.dsl.script.Status;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code attn run}: evaluates {@code .attn.kts} spec-by-example scripts and checks their expectations. The scripts
 * run in a child JVM ({@link IsolatedScriptRunner}), so an exit call, an endless loop or an exhausted heap in a
 * script is reported as that script's failure and the remaining scripts still run.
 */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Run .attn.kts spec-by-example scripts: prints each expectation with pass or FAIL, then a summary.",
                "Compile errors and invalid configs are reported as file:line: message.",
                "The scripts run one after another in a separate JVM: a script that calls System.exit, runs longer "
                        + "than --timeout or runs out of memory fails, and the remaining scripts still run.",
                "Exit status: 0 every expectation passed; 1 an expectation failed (or, with --strict, could not run), "
                        + "a script threw outside an expectation, called exit, timed out or declared no expectation, "
                        + "or nothing was verified at all; 2 a script could not be read or compiled, or declared an "
                        + "invalid config (bad input; wins over 1).", ""})
public final class RunCommand implements Callable<Integer> {
    @Parameters(arity = "1..*", paramLabel = "FILE.attn.kts", description = "Scripts to run, in order (one JVM: later scripts start faster).")
    List<Path> scripts;

    @Option(names = "--strict", description = "Also fail when an expectation could not run (backend missing or declining a feature).")
    boolean strict;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "60",
            description = "Time limit of one script (compiling, running and checking it), in seconds; default ${DEFAULT-VALUE}.")
    int timeoutSeconds;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        AttentionException.require(timeoutSeconds >= 1, "--timeout", ">= 1 second", timeoutSeconds);
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Tally tally = new Tally(out, err);
        new IsolatedScriptRunner(Duration.ofSeconds(timeoutSeconds), err).run(scripts, tally);
        return tally.finish(strict);
    }

    /** Prints what the runner reports and counts it for the summary and the exit status. */
    private static final class Tally implements IsolatedScriptRunner.Listener {
        private final PrintWriter out;
        private final PrintWriter err;
        private int passed, failed, notRun;
        private int expectationsOfScript;
        private boolean problemOfScript;
        private boolean badInput;
        private final List<String> failedScripts = new ArrayList<>();

        Tally(PrintWriter out, PrintWriter err) {
            this.out = out;
            this.err = err;
        }

        @Override
        public void scriptStarted(Path script) {
            expectationsOfScript = 0;
            problemOfScript = false;
            out.println(script);
            out.flush();
        }

        @Override
        public void expectation(Path script, ExpectationResult r) {
            expectationsOfScript++;
            switch (r.getStatus()) {
                case PASSED -> passed++;
                case FAILED -> failed++;
                case NOT_RUN -> notRun++;
            }
            out.println(line(script, r));
            out.flush();
        }

        @Override
        public void problem(Path script, ScriptProblem p) {
            problemOfScript = true;
            if (p.getBadInput()) {
                badInput = true;
            } else {
                failedScripts.add(script + " (" + p.getMessage() + ")");
            }
            err.println(p);
            err.flush();
        }

        @Override
        public void printed(Path script, String text) {
            out.println(text);
            out.flush();
        }

        @Override
        public void scriptEnded(Path script, ScriptEnd end) {
            String why = switch (end) {
                case Completed c -> problemOfScript || expectationsOfScript > 0 ? null : "no expectations: nothing verified";
                case Exited e -> "EXIT called with status " + e.status();
                case TimedOut t -> "TIMEOUT after " + t.limit().toSeconds() + " s";
                case NotStarted n -> "not run: " + n.reason();
            };
            if (why == null) return;
            failedScripts.add(script + " (" + why + ")");
            out.println("  FAIL     " + script + ": " + why);
            out.flush();
        }

        int finish(boolean strict) {
            boolean nothingVerified = passed == 0;
            StringBuilder summary = new StringBuilder().append(passed).append(" passed, ").append(failed).append(" failed");
            if (notRun > 0) summary.append(", ").append(notRun).append(" not run");
            if (badInput) summary.append("; a script did not compile or declared an invalid config");
            if (!failedScripts.isEmpty()) summary.append("; failed scripts: ").append(String.join(", ", failedScripts));
            else if (nothingVerified && !badInput) summary.append("; nothing verified");
            out.println(summary);
            out.flush();
            if (badInput) return Attn.EXIT_BAD_INPUT;
            return failed > 0 || !failedScripts.isEmpty() || nothingVerified || (strict && notRun > 0) ? 1 : 0;
        }

        /** {@code   pass  description (12 ms)}, with the detail, and {@code file:line} for a failure. */
        private static String line(Path script, ExpectationResult r) {
            String label = switch (r.getStatus()) {
                case PASSED -> "pass   ";
                case FAILED -> "FAIL   ";
                case NOT_RUN -> "not run";
            };
            StringBuilder sb = new StringBuilder("  ").append(label).append("  ").append(r.getDescription());
            // A check that threw: the exception is the reason, on the FAIL line itself.
            if (r.getThrown() != null) sb.append(": ").append(r.getThrown());
            sb.append(" (").append(r.getMillis()).append(" ms)");
            if (!r.getDetail().isEmpty()) sb.append("\n           ").append(r.getDetail());
            if (r.getStatus() == Status.FAILED && r.getLine() != null) sb.append("\n           at ").append(script).append(':').append(r.getLine());
            return sb.toString();
        }
    }
}
