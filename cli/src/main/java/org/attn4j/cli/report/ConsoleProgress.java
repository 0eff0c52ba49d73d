package org.attn4j.cli.report;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.DelegatingProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarConsumer;
import me.tongfei.progressbar.ProgressBarStyle;
import org.attn4j.cli.compare.CompareProgress;

import java.io.PrintStream;
import java.io.PrintWriter;

/**
 * Progress bars (me.tongfei progressbar) for {@code attn compare}'s measurements, one per backend, on standard
 * error so the tables on standard output stay clean. On a terminal the bar redraws in place; otherwise (CI logs,
 * tests) it prints a line every few seconds and a final one.
 */
public final class ConsoleProgress implements CompareProgress {
    private final PrintWriter err;
    private final boolean terminal;
    private ProgressBar bar;

    /** {@code err}: where lines go when standard error is not a terminal. */
    public ConsoleProgress(PrintWriter err, boolean terminal) {
        this.err = err;
        this.terminal = terminal;
    }

    @Override
    public void begin(String task, long steps) {
        end();
        ProgressBarConsumer consumer = terminal
                ? new ConsoleProgressBarConsumer(new PrintStream(System.err, true))
                : new DelegatingProgressBarConsumer(line -> { err.println(line); err.flush(); }, 100);
        bar = new ProgressBarBuilder().setTaskName("measuring on " + task).setInitialMax(steps)
                .setStyle(terminal ? ProgressBarStyle.COLORFUL_UNICODE_BLOCK : ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(terminal ? 200 : 5000).setConsumer(consumer).build();
    }

    @Override
    public void step(String message) {
        if (bar == null) return;
        bar.setExtraMessage(message);
        bar.step();
    }

    @Override
    public void end() {
        if (bar != null) {
            bar.close();
            bar = null;
        }
    }
}
