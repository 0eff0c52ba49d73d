package org.attn4j.cli.run;

import org.attn4j.dsl.script.AttnScripts;
import org.attn4j.dsl.script.ScriptProblem;
import org.attn4j.dsl.script.ScriptReport;

import java.io.ByteArrayOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The child JVM of {@code attn run}: evaluates the scripts named on its command line one after another (one
 * Kotlin compiler warm-up for all of them) and reports each expectation as a {@link WorkerProtocol} line on its
 * standard output. A script that calls {@code System.exit}, loops forever or wrecks the heap ends or hangs this
 * JVM only; the parent ({@link IsolatedScriptRunner}) notices, reports it and starts another worker.
 */
public final class ScriptWorker {
    private final PrintStream protocol;

    private ScriptWorker(PrintStream protocol) {
        this.protocol = protocol;
    }

    public static void main(String[] args) {
        // The protocol owns the real standard output; what scripts print goes through it as "printed" events.
        PrintStream protocol = new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);
        ScriptWorker worker = new ScriptWorker(protocol);
        LineCollector scriptOutput = new LineCollector(worker);
        System.setOut(new PrintStream(scriptOutput, true, StandardCharsets.UTF_8));
        worker.warmUp();
        worker.send(WorkerProtocol.ready());
        for (int i = 0; i < args.length; i++) {
            worker.send(WorkerProtocol.started(i));
            ScriptReport report = AttnScripts.INSTANCE.run(Path.of(args[i]), ConformanceChecker.INSTANCE, r -> {
                worker.send(WorkerProtocol.result(r));
                return kotlin.Unit.INSTANCE;
            });
            scriptOutput.flushPartialLine();
            for (ScriptProblem p : report.getProblems()) worker.send(WorkerProtocol.problem(p));
            worker.send(WorkerProtocol.finished(i, report.getOutOfMemory()));
            if (report.getOutOfMemory()) break; // the parent starts a fresh JVM for the rest
        }
        // exit, not return: a script may have left non-daemon threads running
        System.exit(0);
    }

    /** Compiles an empty script, so the compiler's warm-up is not counted against the first script's time limit. */
    private void warmUp() {
        try {
            Path empty = Files.createTempFile("attn-warm-up", ".attn.kts");
            try {
                AttnScripts.INSTANCE.evaluate(empty, ConformanceChecker.INSTANCE);
            } finally {
                Files.deleteIfExists(empty);
            }
        } catch (IOException | RuntimeException e) {
            // Only a warm-up: the first script then pays for the compiler's start instead.
        }
    }

    private synchronized void send(String line) {
        protocol.println(line);
        protocol.flush();
    }

    /** Turns what a script writes to {@code System.out} into one "printed" event per line. */
    private static final class LineCollector extends OutputStream {
        private final ScriptWorker worker;
        private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

        LineCollector(ScriptWorker worker) {
            this.worker = worker;
        }

        @Override
        public synchronized void write(int b) {
            if (b == '\n') {
                emit();
            } else {
                pending.write(b);
            }
        }

        @Override
        public synchronized void write(byte[] bytes, int offset, int length) {
            for (int i = offset; i < offset + length; i++) write(bytes[i]);
        }

        synchronized void flushPartialLine() {
            if (pending.size() > 0) emit();
        }

        private void emit() {
            String text = pending.toString(StandardCharsets.UTF_8);
            pending.reset();
            if (text.endsWith("\r")) text = text.substring(0, text.length() - 1);
            worker.send(WorkerProtocol.printed(text));
        }
    }
}
