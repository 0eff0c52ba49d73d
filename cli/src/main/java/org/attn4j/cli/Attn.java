package org.attn4j.cli;

import org.attn4j.api.AttentionException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code attn} command: entry point and shared error handling. */
@Command(name = "attn", mixinStandardHelpOptions = true, version = "attn4j 0.1.0",
        description = "Transformer attention on the JVM: verify backends against golden cases, compare attention variants.",
        subcommands = {CompareCommand.class, RunCommand.class, VerifyCommand.class, CostCommand.class, BackendsCommand.class, BenchCommand.class, CommandLine.HelpCommand.class})
public final class Attn implements Runnable {
    /** Exit status for input that could not be read or understood. */
    public static final int EXIT_BAD_INPUT = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the command line and returns the exit status (for tests). */
    public static int execute(String... args) {
        return commandLine().execute(args);
    }

    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Attn());
        // Bad input is one clear line, never a stack trace.
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            if (ex instanceof AttentionException) {
                commandLine.getErr().println("attn: " + ex.getMessage());
                return EXIT_BAD_INPUT;
            }
            throw ex;
        });
        return cl;
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
