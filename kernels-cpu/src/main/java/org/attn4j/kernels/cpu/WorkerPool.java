package org.attn4j.kernels.cpu;

import org.attn4j.api.AttentionException;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The threads a plan owns: {@code threads - 1} daemon workers plus the calling thread. Work is a range of
 * independent items handed out through one counter; each participating thread takes its scratch once per
 * call, never per item, and hands it back when it runs out of items. Items write disjoint outputs, so which thread runs an item does not change results.
 * Safe for concurrent calls: a caller always works through the items itself and never waits for a worker
 * that has not started (so calls cannot deadlock on a busy pool).
 */
final class WorkerPool implements AutoCloseable {
    /** One item of work with the calling thread's scratch. */
    @FunctionalInterface
    interface Body<S> {
        void run(int item, S scratch);
    }

    private static final AtomicInteger POOLS = new AtomicInteger();

    private final int threads;
    private final ExecutorService executor;
    private volatile boolean closed;

    WorkerPool(int threads) {
        this.threads = threads;
        if (threads > 1) {
            int id = POOLS.incrementAndGet();
            AtomicInteger n = new AtomicInteger();
            this.executor = new ThreadPoolExecutor(threads - 1, threads - 1, 0, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
                Thread t = new Thread(r, "attn4j-cpu-" + id + "-" + n.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
        } else {
            this.executor = null;
        }
    }

    void ensureOpen() {
        if (closed) throw new AttentionException("the plan is closed");
    }

    /** Runs {@code body} for items {@code 0 .. items-1}, in parallel, and returns when all are done. */
    <S> void forEach(int items, Supplier<S> scratch, Body<S> body) {
        forEach(items, scratch, unused -> { }, body);
    }

    /**
     * As {@link #forEach(int, Supplier, Body)}; each thread that took a scratch from {@code scratch} passes it to
     * {@code release} after its last item (also when an item failed), so that scratch can be reused by later calls.
     */
    <S> void forEach(int items, Supplier<S> scratch, Consumer<S> release, Body<S> body) {
        ensureOpen();
        if (items <= 0) return;
        Call<S> call = new Call<>(items, scratch, release, body);
        int helpers = executor == null ? 0 : Math.min(threads - 1, items - 1);
        for (int i = 0; i < helpers; i++) {
            try {
                executor.execute(call::help);
            } catch (RejectedExecutionException e) {
                break; // closed concurrently: the caller does the work alone
            }
        }
        call.work();
        call.awaitHelpers();
        Throwable failure = call.failure.get();
        if (failure instanceof RuntimeException re) throw re;
        if (failure instanceof Error er) throw er;
        if (failure != null) throw new IllegalStateException(failure);
    }

    /**
     * One parallel call. A helper registers in {@code active} before it claims its first item and leaves after
     * its last, so once the caller has seen every item claimed, {@code active == 0} means every item is done.
     * A helper that starts late finds no item and leaves at once.
     */
    private static final class Call<S> {
        final int items;
        final Supplier<S> scratch;
        final Consumer<S> release;
        final Body<S> body;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger active = new AtomicInteger();
        final AtomicReference<Throwable> failure = new AtomicReference<>();

        Call(int items, Supplier<S> scratch, Consumer<S> release, Body<S> body) {
            this.items = items;
            this.scratch = scratch;
            this.release = release;
            this.body = body;
        }

        void help() {
            active.incrementAndGet();
            try {
                work();
            } finally {
                if (active.decrementAndGet() == 0) {
                    synchronized (this) {
                        notifyAll();
                    }
                }
            }
        }

        void work() {
            S s = null;
            try {
                for (int it; (it = next.getAndIncrement()) < items; ) {
                    if (s == null) s = scratch.get();
                    body.run(it, s);
                }
            } catch (RuntimeException | Error e) {
                failure.compareAndSet(null, e);
                next.set(items); // stop the others early
            } finally {
                if (s != null) release.accept(s);
            }
        }

        /** Waits, uninterruptibly (the outputs are still being written), until no helper holds an item. */
        synchronized void awaitHelpers() {
            boolean interrupted = false;
            while (active.get() > 0) {
                try {
                    wait();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        closed = true;
        if (executor != null) executor.shutdownNow();
    }
}
