package org.attn4j.bench;

import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * The peer {@code attn bench} compares with (ONNX Runtime), reached only through the {@link Peer} interface and by
 * class name, so that no ONNX Runtime class is loaded unless the peer is asked for. ONNX Runtime is an optional
 * dependency of this module: {@code cli} keeps its jar out of the class path, in a folder of its own, and
 * {@link #ortFrom} loads {@link OrtPeer} together with that jar in a child class loader.
 */
public final class Peers {
    /** The ONNX Runtime peer's name in reports and on the command line. */
    public static final String ORT = "ort";

    /** Compiled in this module against ONNX Runtime; named here as a string so nothing links to it statically. */
    static final String ORT_PEER_CLASS = "org.attn4j.bench.OrtPeer";

    /** One loader per folder: a native library can be loaded by only one class loader in a JVM. */
    private static final Map<Path, ClassLoader> LOADERS = new ConcurrentHashMap<>();

    private Peers() {
    }

    /** A peer implementation, e.g. ONNX Runtime: version, and workloads bound to its sessions. */
    public interface Peer extends AutoCloseable {
        /** The peer library's version, e.g. {@code 1.24.1}. */
        String version();

        /** Binds {@code data} to a session for its workload, ready to run many times. */
        Prepared prepare(BenchData data) throws Exception;

        /** Releases every session and tensor made by this peer. */
        @Override
        void close();
    }

    /** One workload bound to a peer session. */
    public interface Prepared extends AutoCloseable {
        /** One timed call. */
        void run() throws Exception;

        /** One call returning {@code Y [B, Hq, Lq, Dv]} row-major. */
        float[] output() throws Exception;

        @Override
        void close() throws Exception;
    }

    /** Either a working peer or the reason there is none (jar or native library missing, unsupported platform...). */
    public record Availability(Peer peer, String reason) {
        public boolean available() {
            return peer != null;
        }
    }

    /** ONNX Runtime from this module's own class path (bench's tests, an application that has ORT itself). */
    public static Availability ortOnClassPath(int threads) {
        return open(Peers.class.getClassLoader(), threads);
    }

    /**
     * ONNX Runtime from the jars in {@code folder}, in a child class loader; never throws: a folder without an
     * ONNX Runtime jar, or a library that does not load, becomes the reason.
     */
    public static Availability ortFrom(Path folder, int threads) {
        if (!holdsOrt(folder)) return new Availability(null, "no ONNX Runtime jar in " + folder);
        List<Path> jars = jars(folder);
        ClassLoader loader;
        try {
            loader = LOADERS.computeIfAbsent(folder.toAbsolutePath().normalize(), f -> childLoader(jars));
        } catch (IllegalStateException e) {
            return new Availability(null, e.getMessage());
        }
        return open(loader, threads);
    }

    /** Whether {@code folder} holds an ONNX Runtime jar ({@code onnxruntime-VERSION.jar}). */
    public static boolean holdsOrt(Path folder) {
        return jars(folder).stream().anyMatch(j -> j.getFileName().toString().startsWith("onnxruntime"));
    }

    /** The {@code *.jar} files directly in {@code folder}, sorted; empty when the folder does not exist. */
    public static List<Path> jars(Path folder) {
        if (!Files.isDirectory(folder)) return List.of();
        try (Stream<Path> files = Files.list(folder)) {
            return files.filter(p -> p.getFileName().toString().endsWith(".jar") && Files.isRegularFile(p)).sorted().toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    /** {@code OrtPeer.open(threads)} through {@code loader}, by reflection. */
    private static Availability open(ClassLoader loader, int threads) {
        try {
            Object availability = Class.forName(ORT_PEER_CLASS, true, loader).getMethod("open", int.class).invoke(null, threads);
            return (Availability) availability;
        } catch (ReflectiveOperationException | LinkageError e) {
            Throwable cause = e instanceof java.lang.reflect.InvocationTargetException ite ? ite.getCause() : e;
            return new Availability(null, "ONNX Runtime could not be loaded: " + cause);
        }
    }

    /** A loader over the peer jars and this module's own classes, defining {@link OrtPeer} itself. */
    private static ClassLoader childLoader(List<Path> jars) {
        List<URL> urls = new ArrayList<>();
        try {
            for (Path jar : jars) urls.add(jar.toUri().toURL());
            urls.add(Peers.class.getProtectionDomain().getCodeSource().getLocation());
        } catch (MalformedURLException | SecurityException | NullPointerException e) {
            throw new IllegalStateException("cannot build the peer class path: " + e, e);
        }
        return new PeerClassLoader(urls.toArray(URL[]::new), Peers.class.getClassLoader());
    }

    /**
     * Parent first, except for {@link OrtPeer} and its nested classes: those are defined here, so their references to
     * ONNX Runtime resolve against the peer jars, while {@link Peer}, {@link BenchData} and the rest stay the parent's
     * (the same classes the caller sees).
     */
    private static final class PeerClassLoader extends URLClassLoader {
        static {
            registerAsParallelCapable();
        }

        PeerClassLoader(URL[] urls, ClassLoader parent) {
            super("attn4j-peers", urls, parent);
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            if (!name.equals(ORT_PEER_CLASS) && !name.startsWith(ORT_PEER_CLASS + "$")) return super.loadClass(name, resolve);
            synchronized (getClassLoadingLock(name)) {
                Class<?> c = findLoadedClass(name);
                if (c == null) c = findClass(name);
                if (resolve) resolveClass(c);
                return c;
            }
        }
    }
}
