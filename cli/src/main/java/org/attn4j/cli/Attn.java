package org.attn4j.cli;

import org.attn4j.api.AttentionException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.URLClassLoader;
import java.util.function.Function;

/** The {@code attn} command: entry point and shared error handling. */
@Command(name = "attn", mixinStandardHelpOptions = true, version = "attn4j 0.1.0",
        description = "Transformer attention on the JVM: verify backends against golden cases, compare attention variants.",
        subcommands = {CompareCommand.class, RunCommand.class, VerifyCommand.class, CostCommand.class, BackendsCommand.class, BenchCommand.class, MatrixCommand.class, CommandLine.HelpCommand.class})
public final class Attn implements Runnable {
    /** Exit status: everything checked passed (or the command had nothing to check, as {@code cost}). */
    public static final int EXIT_OK = 0;
    /** Exit status: a check failed (a case, an expectation, a tolerance). */
    public static final int EXIT_FAILED = 1;
    /** Exit status for input that could not be read or understood (bad options, unreadable files). */
    public static final int EXIT_BAD_INPUT = 2;
    /** Exit status of {@code attn verify} when no case was verified (every one skipped by the backend). */
    public static final int EXIT_NOTHING_VERIFIED = 3;
    /** Exit status for an unexpected error inside attn4j (a bug): one line on stderr, no stack trace. */
    public static final int EXIT_INTERNAL_ERROR = 4;
    /** Set this system property to {@code true} to get the stack trace of an internal error. */
    public static final String DEBUG_PROPERTY = "attn4j.debug";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.Option(names = "--backend-path", paramLabel = "DIR_OR_JAR[:...]",
            description = {"Third-party backends: jars, or folders of jars, separated by ':' (default: $ATTN_BACKEND_PATH).",
                    "Their backends (ServiceLoader, META-INF/services/org.attn4j.api.AttentionBackend) join the built-in ones",
                    "for backends, verify, compare and bench."})
    String backendPath;

    /** Where {@code ATTN_BACKEND_PATH} is read (tests replace it). */
    static Function<String, String> environment = System::getenv;

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the command line and returns the exit status (for tests). */
    public static int execute(String... args) {
        return commandLine().execute(args);
    }

    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Attn());
        // Bad input is one clear line, never a stack trace; values the user typed are escaped and cut to length.
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            PrintWriter err = commandLine.getErr();
            if (ex instanceof AttentionException) {
                err.println(Terminal.line("attn: " + ex.getMessage()));
                err.flush();
                return EXIT_BAD_INPUT;
            }
            if (Boolean.getBoolean(DEBUG_PROPERTY)) ex.printStackTrace(err);
            err.println(Terminal.line("attn: internal error (a bug in attn4j; -D" + DEBUG_PROPERTY + "=true shows where): "
                    + ex.getClass().getName() + ": " + ex.getMessage()));
            err.flush();
            return EXIT_INTERNAL_ERROR;
        });
        // An option picocli cannot parse: the error and where to look, instead of the whole usage text.
        cl.setParameterExceptionHandler((ex, args) -> {
            CommandLine failed = ex.getCommandLine();
            PrintWriter err = failed.getErr();
            err.println(Terminal.line("attn: " + ex.getMessage()));
            err.println("Try '" + failed.getCommandSpec().qualifiedName() + " --help' for the options.");
            err.flush();
            return EXIT_BAD_INPUT;
        });
        cl.setExecutionStrategy(Attn::executeWithBackendPath);
        return cl;
    }

    /**
     * Runs the subcommand with the third-party backends of {@code --backend-path} (else {@code ATTN_BACKEND_PATH})
     * visible to {@link org.attn4j.api.Backends}, which looks them up through the thread's context class loader.
     * A path that is not there or not a jar is bad input: one line naming it, exit 2, nothing run.
     */
    private static int executeWithBackendPath(CommandLine.ParseResult parseResult) {
        CommandLine top = parseResult.commandSpec().commandLine();
        Attn attn = top.getCommand();
        String path = attn.backendPath != null ? attn.backendPath : environment.apply(BackendPath.ENV);
        if (path == null || (attn.backendPath == null && path.isBlank())) return new CommandLine.RunLast().execute(parseResult);
        URLClassLoader loader;
        try {
            loader = BackendPath.loader(path, Attn.class.getClassLoader());
        } catch (AttentionException e) {
            top.getErr().println(Terminal.line("attn: " + e.getMessage()
                    + (attn.backendPath == null ? " (from " + BackendPath.ENV + ")" : "")));
            top.getErr().flush();
            return EXIT_BAD_INPUT;
        }
        Thread thread = Thread.currentThread();
        ClassLoader previous = thread.getContextClassLoader();
        thread.setContextClassLoader(loader);
        try {
            return new CommandLine.RunLast().execute(parseResult);
        } finally {
            thread.setContextClassLoader(previous);
            try {
                loader.close();
            } catch (IOException e) {
                // the command is over; a jar that cannot be closed changes nothing for it
            }
        }
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
