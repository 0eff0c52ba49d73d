package org.attn4j.cli;

import org.attn4j.api.AttentionException;
import org.attn4j.api.DType;
import org.attn4j.bench.Timing;
import org.attn4j.cli.compare.CompareSettings;
import org.attn4j.cli.compare.Comparator;
import org.attn4j.cli.compare.ComparisonResult;
import org.attn4j.cli.report.CompareTables;
import org.attn4j.cli.report.ConsoleProgress;
import org.attn4j.cli.report.Formats;
import org.attn4j.cli.report.HtmlReport;
import org.attn4j.cli.run.ConformanceChecker;
import org.attn4j.dsl.KvCacheBuilder;
import org.attn4j.dsl.ModelConfig;
import org.attn4j.dsl.Presets;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code attn compare}: MHA, MQA, GQA and MLA side by side (or the configs of a script): parameters and KV cache
 * from the cost model, measured kernel speed on the optimized backends in steady state, and the error against the
 * float64 reference; as terminal tables and, with {@code --report}, a self-contained HTML page with charts. The
 * measuring is {@link Comparator}'s; the timing is bench's {@link Timing#steady}.
 */
@Command(name = "compare", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Compare attention variants: parameters per layer, KV-cache size, measured prefill and decode speed "
                + "on the optimized backends, and the error against the float64 reference.",
                "Without --config: MHA, MQA, GQA (8 KV heads) and MLA (DeepSeek-V2 latents) at hidden 4096, 32 heads of 128.",
                "Kernels are timed in steady state (warm-up until the times settle, then the median of many calls, min-max "
                        + "beside it); decode rows show the KV bytes each step reads and the speed-up over MHA, and flag any "
                        + "ordering the bytes contradict.",
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

    @Option(names = "--reps", defaultValue = "10", paramLabel = "N",
            description = "Timed calls per kernel at least, after the warm-up has settled (fewer only when the budget runs out; "
                    + "default: ${DEFAULT-VALUE}).")
    int reps;

    @Option(names = "--budget", defaultValue = "10", paramLabel = "SECONDS",
            description = "Time budget of each backend's kernels; a slow backend times fewer calls, and kernels left when it is "
                    + "spent are not timed (the notes say so; default: ${DEFAULT-VALUE}).")
    double budget;

    @Option(names = "--threads", defaultValue = "0", paramLabel = "N",
            description = "Threads each kernel may use (default: all available processors).")
    int threads;

    @Option(names = "--kv-dtypes", paramLabel = "[CONFIG:]DTYPE,...",
            description = "The KV-cache dtype axis: extra rows of a config with its cache stored as f32, f16, bf16 or int8 "
                    + "(CONFIG = a variant label such as GQA-8 or MLA, or a config name; without it, every config). Default: "
                    + "GQA-8:bf16,MLA:int8 for the default configs, none with --config; 'none' for none.")
    String kvDtypes;

    @Option(names = "--no-measure", description = "Only the cost model's figures: no timing, no error measurement.")
    boolean noMeasure;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** The one line for a model whose KV cache at --context does not fit a 64-bit byte count. */
    private String tooLarge(String model, int modelLayers) {
        return String.format(Locale.ROOT, "--context %d and %d layers: the KV cache of one sequence of %s does not fit "
                + "in a 64-bit byte count (bytes/token/layer x %d tokens x %d layers > 2^63 - 1); use a smaller --context or --layers",
                context, modelLayers, model, context, modelLayers);
    }

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (context < 1) return bad(err, "--context: expected >= 1, got " + context);
        if (context > Integer.MAX_VALUE) return bad(err, "--context: expected at most " + Integer.MAX_VALUE + ", got " + context);
        if (layers < 1) return bad(err, "--layers: expected >= 1, got " + layers);
        if (prefillLen < 1) return bad(err, "--prefill-len: expected >= 1, got " + prefillLen);
        if (decodeKv < 1) return bad(err, "--decode-kv: expected >= 1, got " + decodeKv);
        if (reps < 1) return bad(err, "--reps: expected >= 1, got " + reps);
        if (threads < 0) return bad(err, "--threads: expected >= 1 (or 0 = all processors), got " + threads);
        if (!(budget > 0) || !Double.isFinite(budget)) return bad(err, "--budget: expected a number of seconds > 0, got " + budget);
        if (report != null) {
            String why = HtmlReport.unwritableReason(report);
            if (why != null) return bad(err, "--report " + report + ": " + why);
        }

        Timing.Steady defaults = Timing.Steady.defaults();
        Timing.Steady timing = new Timing.Steady(defaults.batchCalls(), defaults.batchSeconds(), defaults.settleTolerance(),
                defaults.warmupBudgetSeconds(), reps, defaults.minSeconds(), defaults.budgetSeconds());
        CompareSettings settings = CompareSettings.defaults().withContext(context).withShapes(prefillLen, decodeKv)
                .withTiming(timing, budget).withBackends(backends)
                .withThreads(threads == 0 ? Runtime.getRuntime().availableProcessors() : threads);
        Comparator.backendStatuses(settings); // an unknown --backend is bad input, before a script is compiled
        if (noMeasure) settings = settings.withBackends(List.of());

        List<ModelConfig> models;
        String title;
        if (config != null) {
            if (!Files.isRegularFile(config)) return bad(err, config + ": no such file");
            ScriptEvaluation evaluation = AttnScripts.INSTANCE.evaluate(config, ConformanceChecker.INSTANCE);
            if (!evaluation.getOk()) {
                for (ScriptProblem p : evaluation.getProblems()) err.println(p);
                return Attn.EXIT_BAD_INPUT;
            }
            models = evaluation.getConfigs();
            if (models.isEmpty()) return bad(err, config + ": the script defines no model { } to compare");
            title = config.getFileName().toString();
        } else {
            try {
                models = Presets.INSTANCE.representative((int) context, layers);
            } catch (ArithmeticException | AttentionException e) {
                return bad(err, tooLarge("MHA", layers));
            }
            title = "MHA, MQA, GQA and MLA at hidden 4096, 32 heads of 128, " + layers + " layers";
        }
        // Sizes first (a dtype row is labelled through the cost model), then again with the dtype rows.
        for (int pass = 0; pass < 2; pass++) {
            for (ModelConfig m : models) {
                try {
                    m.getCost();
                    m.kvCacheBytes(context);
                } catch (ArithmeticException | AttentionException e) {
                    return bad(err, tooLarge(m.getName(), m.getLayers()));
                }
            }
            if (pass == 1) break;
            try {
                models = withKvDtypes(models, kvDtypes != null ? kvDtypes : config == null ? DEFAULT_KV_DTYPES : "none");
            } catch (IllegalArgumentException e) {
                return bad(err, "--kv-dtypes: " + e.getMessage());
            }
        }

        ConsoleProgress progress = new ConsoleProgress(err, System.console() != null);
        ComparisonResult result = Comparator.run(models, settings, progress, title);

        out.println("attn compare: " + result.title());
        out.println();
        out.println("Parameters and KV cache per layer (cost model; vs MHA = relative to an MHA layer with the same heads; "
                + "KV cache in " + cacheDtypes(models) + "):");
        out.print(CompareTables.cost(result).render());
        if (!result.measuredBackends().isEmpty()) {
            out.println();
            out.println("How measured: " + CompareTables.method(result) + ".");
            out.println();
            out.println("Decode, B=1, one query over " + Formats.count(decodeKv) + " cached tokens:");
            out.print(CompareTables.decode(result).render());
            for (String f : CompareTables.flags(result)) out.println(f);
            out.println();
            out.println("Prefill, B=1, " + Formats.count(prefillLen) + " queries over as many keys:");
            out.print(CompareTables.prefill(result).render());
            out.println();
            out.println("Error against the float64 reference:");
            out.print(CompareTables.errors(result).render());
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
        out.println(String.format(Locale.ROOT, "Took %.1f s. %s", result.millis() / 1000.0, result.environment()));
        if (report != null) {
            try {
                HtmlReport.write(result, report);
            } catch (IOException e) {
                out.flush();
                return bad(err, "--report " + report + ": could not be written (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")");
            }
            out.println("Report: " + report.toAbsolutePath().normalize());
        }
        out.flush();
        return result.anyErrorOutsideTolerance() ? 1 : 0;
    }

    private static String cacheDtypes(List<ModelConfig> models) {
        return models.stream().map(ModelConfig::getKvStorage).distinct().reduce((a, b) -> a + ", " + b).orElse("");
    }

    /** The dtype rows of the default comparison: GQA-8 with a bf16 cache and MLA with an int8 one. */
    static final String DEFAULT_KV_DTYPES = "GQA-8:bf16,MLA:int8";

    /**
     * {@code models} followed by the dtype axis {@code spec} asks for: for each item {@code [CONFIG:]DTYPE}, a copy of every
     * config CONFIG names (its variant label or its name, ignoring case; all when absent) with its KV cache stored as
     * DTYPE, named "name dtype". {@code none} adds nothing. An item that names no config or no type is bad input.
     */
    static List<ModelConfig> withKvDtypes(List<ModelConfig> models, String spec) {
        if (spec.isBlank() || spec.trim().equalsIgnoreCase("none")) return models;
        List<ModelConfig> out = new ArrayList<>(models);
        for (String item : spec.split(",")) {
            String it = item.trim();
            int colon = it.lastIndexOf(':');
            String which = colon < 0 ? null : it.substring(0, colon).trim();
            String typeName = colon < 0 ? it : it.substring(colon + 1).trim();
            DType dtype = KvCacheBuilder.parse(typeName);
            if (dtype == null) throw new IllegalArgumentException("expected f32, f16, bf16 or int8 in '" + it + "', got '" + typeName + "'");
            List<ModelConfig> matched = models.stream()
                    .filter(m -> which == null || m.getLabel().equalsIgnoreCase(which) || m.getName().equalsIgnoreCase(which)).toList();
            if (matched.isEmpty()) {
                throw new IllegalArgumentException("'" + which + "' names no config (labels and names: "
                        + models.stream().map(m -> m.getLabel() + "/" + m.getName()).distinct().toList() + ")");
            }
            for (ModelConfig m : matched) {
                if (dtype == m.getKvDtype()) continue;   // that row is already there
                out.add(m.withKvDtype(dtype, m.getName() + " " + KvCacheBuilder.shortName(dtype)));
            }
        }
        return out;
    }

    private static int bad(PrintWriter err, String message) {
        err.println("attn compare: " + message);
        return Attn.EXIT_BAD_INPUT;
    }
}
