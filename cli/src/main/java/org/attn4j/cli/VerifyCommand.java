package org.attn4j.cli;

import org.attn4j.api.AttentionBackend;
import org.attn4j.api.Backends;
import org.attn4j.conformance.golden.CaseResult;
import org.attn4j.conformance.golden.GoldenRunner;
import org.attn4j.conformance.golden.CaseResult.Status;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code attn verify}: runs golden cases on a backend and prints one line per case. */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Run golden attention cases (attention-golden/1 folders) on a backend.",
                "Prints one line per case and ends with 'N passed, M failed'.",
                "Exit status: 0 all passed (at least one case ran), 1 a case failed, 2 unreadable input or bad options,",
                "3 nothing verified (every case was skipped by the backend)."})
public final class VerifyCommand implements Callable<Integer> {
    @Option(names = {"-b", "--backend"}, defaultValue = "reference", description = "Backend name (default: ${DEFAULT-VALUE}); see 'attn backends'.")
    String backend;

    @Parameters(arity = "1..*", paramLabel = "PATH", description = "Case folders, or folders to search for cases.")
    List<Path> paths;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        for (Path p : paths) {
            if (!Files.exists(p)) {
                err.println(Terminal.line("attn verify: " + p + ": no such file or folder"));
                return Attn.EXIT_BAD_INPUT;
            }
        }
        AttentionBackend b = Backends.byName(backend);
        List<Path> cases = GoldenRunner.discover(paths);
        if (cases.isEmpty()) {
            err.println(Terminal.line("attn verify: no case.json found under " + paths));
            return Attn.EXIT_BAD_INPUT;
        }
        int passed = 0, failed = 0, skipped = 0, unreadable = 0;
        int nameWidth = 24;
        for (Path c : cases) nameWidth = Math.max(nameWidth, Terminal.safe(c.getFileName()).length());
        nameWidth = Math.min(nameWidth, 64);
        for (Path c : cases) {
            CaseResult r = GoldenRunner.run(c, b);
            // Names, features and messages come from the case files: escaped, so they cannot forge or erase lines.
            String line = String.format(Locale.ROOT, "%-" + nameWidth + "s  %-6s  %-28s  %10s  %s", Terminal.safe(r.getName()),
                    Terminal.safe(r.getKind()), Terminal.safe(String.join(",", r.getFeatures())),
                    Double.isNaN(r.getMaxError()) ? "-" : String.format(Locale.ROOT, "%.2e", r.getMaxError()),
                    label(r.getStatus()) + (r.getMessage() == null || r.getStatus() == Status.PASSED ? "" : ": " + Terminal.safe(r.getMessage())));
            out.println(line);
            out.flush();
            switch (r.getStatus()) {
                case PASSED -> passed++;
                case FAILED -> failed++;
                case SKIPPED -> skipped++;
                case ERROR -> { failed++; unreadable++; }
            }
        }
        out.println(passed + " passed, " + failed + " failed" + (skipped > 0 ? ", " + skipped + " skipped" : ""));
        out.flush();
        if (unreadable > 0) return Attn.EXIT_BAD_INPUT;
        if (failed > 0) return Attn.EXIT_FAILED;
        if (passed == 0) {
            // Every case was skipped: a green exit here would claim a verification that did not happen.
            err.println(Terminal.line("attn verify: nothing verified: backend '" + b.name() + "' skipped all " + skipped
                    + (skipped == 1 ? " case" : " cases")));
            err.flush();
            return Attn.EXIT_NOTHING_VERIFIED;
        }
        return Attn.EXIT_OK;
    }

    private static String label(Status s) {
        return switch (s) {
            case PASSED -> "pass";
            case FAILED -> "FAIL";
            case SKIPPED -> "skipped";
            case ERROR -> "ERROR";
        };
    }
}
