package org.attn4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.attn4j.api.AttentionException;
import org.attn4j.api.DType;
import org.attn4j.dsl.KvCacheBuilder;
import org.attn4j.reference.cost.CostConfig;
import org.attn4j.reference.cost.CostModel;
import org.attn4j.reference.cost.CostReport;
import org.attn4j.reference.cost.MlaDims;
import org.attn4j.reference.cost.VariantCost;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code attn cost}: parameters per layer and KV-cache bytes per token of each attention variant. */
@Command(name = "cost", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Parameters per layer and KV-cache bytes per token for MHA, MQA, GQA and MLA, with the formulas.",
                "Without sizing options: the default configurations (the design's article table and DeepSeek-V2).",
                "With --hidden and --heads: that configuration (MLA when --kv-lora-rank is given)."})
public final class CostCommand implements Callable<Integer> {
    @Option(names = "--hidden", description = "Model width d.") Integer hidden;
    @Option(names = "--heads", description = "Query heads h.") Integer heads;
    @Option(names = "--kv-heads", description = "KV heads g of the GQA variant (default: h/4 when divisible, else 1).") Integer kvHeads;
    @Option(names = "--head-dim", description = "Per-head width d_h (default: hidden/heads).") Integer headDim;
    @Option(names = "--bias", description = "MHA/MQA/GQA projections carry biases.") boolean bias;
    @Option(names = "--q-lora-rank", defaultValue = "0", description = "MLA query latent width c_q (0 = plain query projection).") int qLoraRank;
    @Option(names = "--kv-lora-rank", description = "MLA latent width c (enables the MLA column).") Integer kvLoraRank;
    @Option(names = "--nope", description = "MLA qk_nope_head_dim n (default: head_dim).") Integer nope;
    @Option(names = "--rope", defaultValue = "0", description = "MLA qk_rope_head_dim r (even).") int rope;
    @Option(names = "--v-head-dim", description = "MLA v_head_dim (default: head_dim).") Integer vHeadDim;
    @Option(names = "--bytes", defaultValue = "2", description = "Bytes per cached element (default ${DEFAULT-VALUE}: fp16/bf16).") int bytes;
    @Option(names = "--kv-dtype", paramLabel = "f32|f16|bf16|int8",
            description = "Storage type of the KV cache: sets the bytes per element (instead of --bytes); int8 adds a 4-byte "
                    + "scale per token and KV head.") String kvDtype;
    @Option(names = "--layers", defaultValue = "1", description = "Layers, for the whole-model KV figure.") int layers;
    @Option(names = "--context", defaultValue = "1", description = "Tokens per sequence, for the whole-model KV figure.") long context;
    @Option(names = "--json", description = "Print JSON instead of tables.") boolean json;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        List<CostReport> reports = new ArrayList<>();
        try {
            DType storage = storage();
            for (CostConfig c : configs()) reports.add(CostModel.report(storage == null ? c : c.withKvDtype(storage)));
        } catch (AttentionException e) {
            throw withFlag(e);
        }
        if (json) {
            ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            out.println(mapper.writeValueAsString(reports));
            return 0;
        }
        for (CostReport r : reports) print(out, r);
        return 0;
    }

    /** The cost model's argument names and the options that set them. */
    private static final Map<String, String> FLAGS = Map.ofEntries(
            Map.entry("hidden", "--hidden"), Map.entry("heads", "--heads"), Map.entry("headDim", "--head-dim"),
            Map.entry("kvGroups", "--kv-heads"), Map.entry("bytesPerElement", "--bytes"), Map.entry("layers", "--layers"),
            Map.entry("contextLength", "--context"), Map.entry("qLoraRank", "--q-lora-rank"),
            Map.entry("kvLoraRank", "--kv-lora-rank"), Map.entry("qkNopeHeadDim", "--nope"), Map.entry("qkRopeHeadDim", "--rope"),
            Map.entry("qkNopeHeadDim + qkRopeHeadDim", "--nope + --rope"), Map.entry("vHeadDim", "--v-head-dim"),
            Map.entry("config", "--hidden, --heads, --head-dim, --kv-heads and the MLA widths"));

    /** {@code e} led by the option the user typed, so the one error line says what to change. */
    private static AttentionException withFlag(AttentionException e) {
        String flag = e.argument() == null ? null : FLAGS.get(e.argument());
        return flag == null ? e : new AttentionException(flag + ": " + e.getMessage(), e);
    }

    /** The --kv-dtype type, or null; with --bytes as well it is bad input (they say the same thing twice). */
    private DType storage() {
        if (kvDtype == null) return null;
        DType d = KvCacheBuilder.parse(kvDtype);
        if (d == null) throw AttentionException.invalid("--kv-dtype", "f32, f16, bf16 or int8", "'" + kvDtype + "'");
        if (spec.commandLine().getParseResult().hasMatchedOption("--bytes")) {
            throw AttentionException.invalid("--bytes", "not given with --kv-dtype (the type sets the bytes)", bytes);
        }
        return d;
    }

    private List<CostConfig> configs() {
        if (hidden == null && heads == null) {
            if (kvHeads != null || headDim != null || kvLoraRank != null) {
                throw new AttentionException("--hidden and --heads: expected both with sizing options, got neither");
            }
            return CostModel.defaults();
        }
        if (hidden == null || heads == null) {
            throw AttentionException.invalid(hidden == null ? "--hidden" : "--heads", "a value (both --hidden and --heads are needed)", "none");
        }
        AttentionException.require(heads >= 1, "--heads", ">= 1", heads);
        int dh = headDim != null ? headDim : hidden / heads;
        if (headDim == null) {
            AttentionException.require(hidden % heads == 0, "--head-dim", "given, since hidden=" + hidden + " is not divisible by heads=" + heads, "none");
        }
        int g = kvHeads != null ? kvHeads : (heads % 4 == 0 ? heads / 4 : 1);
        MlaDims mla = kvLoraRank == null ? null
                : new MlaDims(qLoraRank, kvLoraRank, nope != null ? nope : dh, rope, vHeadDim != null ? vHeadDim : dh);
        return List.of(new CostConfig("custom", hidden, heads, dh, g, bias, mla, bytes, layers, context, "command line"));
    }

    private static void print(PrintWriter out, CostReport r) {
        CostConfig c = r.config();
        out.printf(Locale.ROOT, "%s: hidden %d, %d heads of %d, GQA %d KV heads%s, %s, %d layers, context %d%n",
                c.name(), c.hidden(), c.heads(), c.headDim(), c.kvGroups(),
                c.mla() == null ? "" : String.format(Locale.ROOT, ", MLA c_q %d c %d n %d r %d v %d", c.mla().qLoraRank(),
                        c.mla().kvLoraRank(), c.mla().qkNopeHeadDim(), c.mla().qkRopeHeadDim(), c.mla().vHeadDim()),
                c.kvDtype() == null ? c.bytesPerElement() + " B/element"
                        : KvCacheBuilder.shortName(c.kvDtype()) + " KV cache (" + c.bytesPerElement() + " B/element"
                        + (c.kvDtype() == DType.INT8 ? " + a 4 B scale per token and KV head)" : ")"),
                c.layers(), c.contextLength());
        if (!c.source().isBlank()) out.println("  source: " + c.source());
        out.printf(Locale.ROOT, "  %-8s %14s %8s %16s %14s %8s %16s%n", "variant", "params/layer", "vs MHA", "KV elems/token",
                "KV B/token", "vs MHA", "KV total");
        for (VariantCost v : r.variants()) {
            out.printf(Locale.ROOT, "  %-8s %,14d %8.4f %,16d %,14d %8.4f %16s%n", v.label(), v.params(), v.paramsVsMha(),
                    v.kvElementsPerToken(), v.kvBytesPerToken(), v.kvVsMha(), human(v.kvBytesTotal()));
        }
        out.println("  formulas (" + r.legend() + "):");
        for (VariantCost v : r.variants()) {
            out.println("    " + v.paramsFormula());
            out.println("    " + v.kvElementsFormula());
            if (c.kvDtype() != null) out.println("    " + v.kvBytesFormula());
            out.println("    " + v.kvTotalFormula());
        }
        out.println();
    }

    static String human(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        double x = bytes;
        int u = 0;
        while (x >= 1024 && u < units.length - 1) {
            x /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, u == 0 ? "%.0f %s" : "%.2f %s", x, units[u]);
    }
}
