package org.attn4j.cli.run;

import org.attn4j.dsl.script.ExpectationResult;
import org.attn4j.dsl.script.ScriptProblem;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Runs {@code .attn.kts} scripts in a child JVM ({@link ScriptWorker}), so that nothing a script does can end or
 * hang {@code attn run}: an exit call ends the child only, a script over its time limit gets the child killed,
 * and either way a new child runs the remaining scripts. In the normal case one child runs all scripts (the
 * Kotlin compiler warms up once). The child is this JVM's java, class path and JVM flags.
 */
public final class IsolatedScriptRunner {
    /** How long a child may take to start and warm its compiler up (not counted against any script). */
    static final Duration STARTUP_LIMIT = Duration.ofSeconds(180);

    /** What the runner tells its caller, in order. */
    public interface Listener {
        void scriptStarted(Path script);

        void expectation(Path script, ExpectationResult result);

        void problem(Path script, ScriptProblem problem);

        /** A line the script printed on its standard output. */
        void printed(Path script, String text);

        void scriptEnded(Path script, ScriptEnd end);
    }

    /** How a script ended. */
    public sealed interface ScriptEnd {
    }

    /** It ran to its end (its expectations and problems were reported). */
    public record Completed() implements ScriptEnd {
    }

    /** It ended the JVM, e.g. with {@code System.exit(status)}. */
    public record Exited(int status) implements ScriptEnd {
    }

    /** It ran longer than the time limit and was stopped. */
    public record TimedOut(Duration limit) implements ScriptEnd {
    }

    /** It never started: the child JVM could not be started or ended before it got to this script. */
    public record NotStarted(String reason) implements ScriptEnd {
    }

    private final Duration timeout;
    private final PrintWriter err;
    /** Why the last child got nowhere, for the scripts it did not run. */
    private String lastStartFailure = "";

    /**
     * @param timeout how long one script may take (compiling, running and checking it)
     * @param err     where the child's standard error goes (a script's {@code System.err}, JVM messages)
     */
    public IsolatedScriptRunner(Duration timeout, PrintWriter err) {
        this.timeout = timeout;
        this.err = err;
    }

    /** Runs [scripts] in order, each reported to [listener] from scriptStarted to scriptEnded. */
    public void run(List<Path> scripts, Listener listener) {
        int next = 0;
        while (next < scripts.size()) {
            int done = runChild(scripts.subList(next, scripts.size()), listener);
            if (done == 0) {
                // The child got nowhere (it did not start): say so for every script left, rather than retry forever.
                for (Path s : scripts.subList(next, scripts.size())) {
                    listener.scriptStarted(s);
                    listener.scriptEnded(s, new NotStarted(lastStartFailure));
                }
                return;
            }
            next += done;
        }
    }

    /** One child over [scripts]; returns how many of them it dealt with (finished, exited in or timed out in). */
    private int runChild(List<Path> scripts, Listener listener) {
        Process child;
        try {
            child = new ProcessBuilder(childCommand(scripts)).redirectInput(ProcessBuilder.Redirect.PIPE).start();
        } catch (IOException e) {
            lastStartFailure = "could not start the script JVM: " + e.getMessage();
            return 0;
        }
        Thread killOnExit = new Thread(() -> kill(child));
        Runtime.getRuntime().addShutdownHook(killOnExit);
        try {
            closeQuietly(child); // a script reading standard input sees its end instead of waiting
            BlockingQueue<Optional<String>> lines = new LinkedBlockingQueue<>();
            Thread stdout = pump("attn-run-stdout", child.getInputStream(), line -> lines.add(Optional.of(line)),
                    () -> lines.add(Optional.empty()));
            Thread stderr = pump("attn-run-stderr", child.getErrorStream(), this::forwardError, () -> { });
            int dealtWith = converse(child, scripts, lines, listener);
            awaitOwnExit(child);
            join(stdout);
            join(stderr);
            return dealtWith;
        } finally {
            kill(child);
            try {
                Runtime.getRuntime().removeShutdownHook(killOnExit);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs anyway
            }
        }
    }

    /** Reads the child's events until it has dealt with every script, ended, or overran a limit. */
    private int converse(Process child, List<Path> scripts, BlockingQueue<Optional<String>> lines, Listener listener) {
        long deadline = System.nanoTime() + STARTUP_LIMIT.toNanos();
        boolean ready = false;
        int current = -1;      // the script being run, or -1 between scripts
        int finished = 0;
        while (true) {
            Optional<String> line;
            try {
                line = lines.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return Math.max(finished, 1);
            }
            if (line == null) { // the limit passed
                kill(child);
                if (current >= 0) {
                    listener.scriptEnded(scripts.get(current), new TimedOut(timeout));
                    return current + 1;
                }
                lastStartFailure = ready ? "the script JVM stopped answering"
                        : "the script JVM did not start within " + STARTUP_LIMIT.toSeconds() + " s";
                return finished;
            }
            if (line.isEmpty()) { // the child's output ended: it exited
                int status = exitStatus(child);
                if (current >= 0) {
                    listener.scriptEnded(scripts.get(current), new Exited(status));
                    return current + 1;
                }
                lastStartFailure = "the script JVM ended with status " + status + (ready ? "" : " before it was ready");
                return finished;
            }
            Optional<WorkerProtocol.Event> event = WorkerProtocol.parse(line.get());
            if (event.isEmpty()) { // written to the file descriptor directly, by native code
                if (current >= 0) listener.printed(scripts.get(current), line.get());
                else err.println(line.get());
                continue;
            }
            switch (event.get()) {
                case WorkerProtocol.Ready r -> {
                    ready = true;
                    deadline = Long.MAX_VALUE;
                }
                case WorkerProtocol.Started s -> {
                    current = s.index();
                    listener.scriptStarted(scripts.get(current));
                    deadline = System.nanoTime() + timeout.toNanos();
                }
                case WorkerProtocol.Result r -> listener.expectation(scripts.get(current), r.result());
                case WorkerProtocol.Problem p -> listener.problem(scripts.get(current), p.problem());
                case WorkerProtocol.Printed p -> {
                    if (current >= 0) listener.printed(scripts.get(current), p.text());
                }
                case WorkerProtocol.Finished f -> {
                    listener.scriptEnded(scripts.get(current), new Completed());
                    finished = current + 1;
                    current = -1;
                    deadline = Long.MAX_VALUE;
                    if (finished == scripts.size() || f.restart()) return finished;
                }
            }
        }
    }

    /** After its last script the child exits by itself; a script's stuck shutdown hook gets it killed. */
    private static void awaitOwnExit(Process child) {
        try {
            if (!child.waitFor(5, TimeUnit.SECONDS)) kill(child);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            kill(child);
        }
    }

    /** The child's exit status (it closed its output, so it is ending; a stuck shutdown hook gets it killed). */
    private static int exitStatus(Process child) {
        try {
            if (!child.waitFor(10, TimeUnit.SECONDS)) kill(child);
            return child.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    /** The same java, JVM flags and class path as this JVM, running {@link ScriptWorker} on [scripts]. */
    static List<String> childCommand(List<Path> scripts) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String flag : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            // A debugger agent would try to listen on the parent's port again.
            if (flag.startsWith("-agentlib:jdwp") || flag.startsWith("-Xrunjdwp")) continue;
            command.add(flag);
        }
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(ScriptWorker.class.getName());
        for (Path s : scripts) command.add(s.toString());
        return command;
    }

    /** The parent JVM printed this warning already; the child's copy would only repeat it. */
    private void forwardError(String line) {
        if (line.startsWith("WARNING: Using incubator modules")) return;
        err.println(line);
        err.flush();
    }

    private static Thread pump(String name, InputStream in, java.util.function.Consumer<String> onLine, Runnable onEnd) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) onLine.accept(line);
            } catch (IOException e) {
                // the child was killed: its streams end here
            } finally {
                onEnd.run();
            }
        }, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    private static void closeQuietly(Process child) {
        try {
            child.getOutputStream().close();
        } catch (IOException e) {
            // already gone
        }
    }

    private static void join(Thread t) {
        try {
            t.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Kills the child and anything it started, and waits for it to be gone. */
    private static void kill(Process child) {
        if (!child.isAlive()) return;
        child.descendants().forEach(ProcessHandle::destroyForcibly);
        child.destroyForcibly();
        try {
            child.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
