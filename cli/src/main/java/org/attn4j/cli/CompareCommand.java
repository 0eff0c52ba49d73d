package org.attn4j.cli;

import org.attn4j.api.AttentionBackend;
import org.attn4j.api.AttentionException;
import org.attn4j.api.Backends;
import org.attn4j.cli.report.CompareTables;
import org.attn4j.cli.report.ConsoleProgress;
import org.attn4j.cli.report.HtmlReport;
import org.attn4j.dsl.ModelConfig;
import org.attn4j.dsl.Presets;
import org.attn4j.dsl.compare.CompareSettings;
import org.attn4j.dsl.compare.Comparator;
import org.attn4j.dsl.compare.ComparisonResult;
import org.attn4j.dsl.script.AttnScripts;
import org.attn4j.dsl.script.ScriptEvaluation;
import org.attn4j.dsl.script.ScriptProblem;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code attn compare}: MHA, MQA, GQA and MLA side by side (or the configs of a script): parameters and KV cache
 * from the cost model, measured kernel speed on the optimized backends, and the error against the float64
 * reference; as terminal tables and, with {@code --report}, a self-contained HTML page with charts.
 */
@Command(name = "compare", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Compare attention variants: parameters per layer, KV-cache size, measured prefill and decode speed "
                + "on the optimized backends, and the error against the float64 reference.",
                "Without --config: MHA, MQA, GQA (8 KV heads) and MLA (DeepSeek-V2 latents) at hidden 4096, 32 heads of 128.",
                "Exit status: 0 done, 1 a backend's error exceeded FORMAT.md's tolerance, 2 bad input.", ""})
public final class CompareCommand implements Callable<Integer> {
    @Option(names = "--config", paramLabel = "FILE.attn.kts",
            description = "Compare the configs this script defines (its compare(...) list, else every model { } it declares).")
    Path config;

    @Option(names = "--report", paramLabel = "FILE.html", description = "Also write a self-contained HTML report with charts.")
    Path report;

    @Option(names = "--context", defaultValue = "32768", paramLabel = "TOKENS",
            description = "Context length for the whole-model KV-cache column (default: ${DEFAULT-VALUE}).")
    long context;

    @Option(names = "--layers", defaultValue = "32", paramLabel = "N", description = "Layers of the default configs (default: ${DEFAULT-VALUE}).")
    int layers;

    @Option(names = {"-b", "--backend"}, paramLabel = "NAME",
            description = "Backend to measure (repeatable; default: every available backend except the reference).")
    List<String> backends;

    @Option(names = "--prefill-len", defaultValue = "512", paramLabel = "L",
            description = "Prefill: B=1, L queries over L keys (default: ${DEFAULT-VALUE}).")
    int prefillLen;

    @Option(names = "--decode-kv", defaultValue = "4096", paramLabel = "N",
            description = "Decode: B=1, one query over N cached keys (default: ${DEFAULT-VALUE}).")
    int decodeKv;

    @Option(names = "--reps", defaultValue = "3", paramLabel = "N", description = "Timed runs per kernel after one warm-up (default: ${DEFAULT-VALUE}).")
    int reps;

    @Option(names = "--no-measure", description = "Only the cost model's figures: no timing, no error measurement.")
    boolean noMeasure;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (context < 1) return bad(err, "--context: expected >= 1, got " + context);
        if (layers < 1) return bad(err, "--layers: expected >= 1, got " + layers);
        if (context > Integer.MAX_VALUE) return bad(err, "--context: expected at most " + Integer.MAX_VALUE + ", got " + context);

        if (backends != null) {
            List<String> known = Backends.all().stream().map(AttentionBackend::name).toList();
            for (String b : backends) {
                if (!known.contains(b)) throw AttentionException.invalid("backend", "one of " + known, "'" + b + "'");
            }
        }

        List<ModelConfig> models;
        String title;
        if (config != null) {
            if (!Files.isRegularFile(config)) return bad(err, config + ": no such file");
            ScriptEvaluation evaluation = AttnScripts.INSTANCE.evaluate(config);
            if (!evaluation.getOk()) {
                for (ScriptProblem p : evaluation.getProblems()) err.println(p);
                return Attn.EXIT_BAD_INPUT;
            }
            models = evaluation.getConfigs();
            if (models.isEmpty()) return bad(err, config + ": the script defines no model { } to compare");
            title = config.getFileName().toString();
        } else {
            models = Presets.INSTANCE.representative((int) context, layers);
            title = "MHA, MQA, GQA and MLA at hidden 4096, 32 heads of 128, " + layers + " layers";
        }

        CompareSettings settings = new CompareSettings(context, prefillLen, decodeKv, reps, 1500L,
                noMeasure ? List.of() : backends, 29, Runtime.getRuntime().availableProcessors());
        ConsoleProgress progress = new ConsoleProgress(err, System.console() != null);
        ComparisonResult result = Comparator.INSTANCE.run(models, settings, progress, title);

        out.println("attn compare: " + result.getTitle());
        out.println();
        out.println("Parameters and KV cache per layer (cost model; vs MHA = relative to an MHA layer with the same heads; "
                + "KV cache in " + cacheDtypes(models) + "):");
        out.print(CompareTables.cost(result).render());
        if (!CompareTables.measuredBackends(result).isEmpty()) {
            out.println();
            out.println("Speed and error (" + CompareTables.method(result) + "):");
            out.print(CompareTables.speed(result).render());
            out.println();
            out.println("Measured shapes:");
            for (String s : CompareTables.shapes(result)) out.println("  " + s);
        }
        List<String> notes = CompareTables.notes(result);
        if (!notes.isEmpty() && !noMeasure) {
            out.println();
            out.println("Notes (not measured, or measured another way):");
            for (String n : notes) out.println("  " + n);
        }
        out.println();
        out.println(String.format(Locale.ROOT, "Took %.1f s. %s", result.getMillis() / 1000.0, result.getEnvironment()));
        if (report != null) {
            HtmlReport.write(result, report);
            out.println("Report: " + report.toAbsolutePath().normalize());
        }
        out.flush();
        boolean outside = result.getRows().stream().flatMap(r -> r.getErrors().stream())
                .anyMatch(o -> o instanceof org.attn4j.dsl.check.Agreement a && !a.getWithinTolerance());
        return outside ? 1 : 0;
    }

    private static String cacheDtypes(List<ModelConfig> models) {
        return models.stream().map(m -> m.getBytesPerElement() + " B/element").distinct().reduce((a, b) -> a + ", " + b).orElse("");
    }

    private static int bad(PrintWriter err, String message) {
        err.println("attn compare: " + message);
        return Attn.EXIT_BAD_INPUT;
    }
}
