package org.attn4j.cli;

import org.attn4j.api.AttentionBackend;
import org.attn4j.api.Backends;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code attn backends}: the backends found on the class path, with availability and reasons. */
@Command(name = "backends", mixinStandardHelpOptions = true,
        description = "List attention backends (found by ServiceLoader) with their precision and availability.")
public final class BackendsCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        out.println(String.format(Locale.ROOT, "%-12s %-9s %s", "backend", "precision", "status"));
        for (AttentionBackend b : Backends.all()) {
            String status = b.unavailableReason().map(r -> "unavailable: " + r).orElse("available");
            out.println(String.format(Locale.ROOT, "%-12s %-9s %s", b.name(), b.precision().name().toLowerCase(Locale.ROOT), status));
        }
        return 0;
    }
}
