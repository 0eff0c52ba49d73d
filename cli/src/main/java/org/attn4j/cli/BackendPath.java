package org.attn4j.cli;

import org.attn4j.api.AttentionException;

import java.io.File;
import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.ZipFile;

/**
 * {@code --backend-path} / {@code ATTN_BACKEND_PATH}: third-party backends for {@code attn}. Each entry of the
 * {@code :}-separated list is a jar, or a folder whose jars are all taken (sorted by name); a folder that holds no
 * jar but a {@code META-INF/services} folder is taken as a class folder (a build's {@code target/classes}). The
 * backends in them are found by {@link java.util.ServiceLoader} like the built-in ones (a jar registers its
 * backend in {@code META-INF/services/org.attn4j.api.AttentionBackend}); attn4j's own classes come first.
 */
final class BackendPath {
    /** The environment variable read when {@code --backend-path} is not given. */
    static final String ENV = "ATTN_BACKEND_PATH";

    private BackendPath() {
    }

    /**
     * The class path entries of {@code path}, checked: every entry must exist and be a jar (a zip file) or a folder
     * of jars or classes. Fails with an {@link AttentionException} naming the entry at fault.
     */
    static List<Path> entries(String path) {
        AttentionException.require(path != null && !path.isBlank(), "--backend-path", "jars or folders separated by '"
                + File.pathSeparator + "'", "''");
        List<Path> out = new ArrayList<>();
        for (String part : path.split(File.pathSeparator)) {
            if (part.isBlank()) continue;
            Path p;
            try {
                p = Path.of(part).toAbsolutePath().normalize();
            } catch (InvalidPathException e) {
                throw AttentionException.invalid("--backend-path", "a jar or a folder", "'" + Terminal.safe(part) + "' (" + e.getReason() + ")");
            }
            if (Files.isDirectory(p)) {
                List<Path> jars = jarsIn(p);
                if (!jars.isEmpty()) out.addAll(jars);
                else if (Files.isDirectory(p.resolve("META-INF/services"))) out.add(p);
                else throw AttentionException.invalid("--backend-path", "a folder holding jars (or classes with META-INF/services)",
                        "'" + Terminal.safe(part) + "', which holds neither");
            } else if (Files.isRegularFile(p)) {
                requireJar(p, part);
                out.add(p);
            } else {
                throw AttentionException.invalid("--backend-path", "an existing jar or folder", "'" + Terminal.safe(part) + "' (no such file or folder)");
            }
        }
        AttentionException.require(!out.isEmpty(), "--backend-path", "at least one jar or folder", "'" + Terminal.safe(path) + "'");
        return out;
    }

    /** A class loader over {@code path}'s entries, delegating to {@code parent} (attn4j's own) first. */
    static URLClassLoader loader(String path, ClassLoader parent) {
        List<Path> entries = entries(path);
        URL[] urls = new URL[entries.size()];
        for (int i = 0; i < urls.length; i++) {
            try {
                urls[i] = entries.get(i).toUri().toURL();
            } catch (MalformedURLException e) {
                throw AttentionException.invalid("--backend-path", "a jar or a folder", "'" + Terminal.safe(entries.get(i)) + "' (" + e.getMessage() + ")");
            }
        }
        return new URLClassLoader("attn-backend-path", urls, parent);
    }

    private static List<Path> jarsIn(Path dir) {
        try (Stream<Path> files = Files.list(dir)) {
            List<Path> jars = files.filter(f -> f.getFileName().toString().endsWith(".jar") && Files.isRegularFile(f)).sorted().toList();
            for (Path j : jars) requireJar(j, j.toString());
            return jars;
        } catch (IOException e) {
            throw AttentionException.invalid("--backend-path", "a readable folder", "'" + Terminal.safe(dir) + "' (" + e.getMessage() + ")");
        }
    }

    /** Opens {@code jar} as a zip once, so that a wrong file fails here, naming it, and not later inside ServiceLoader. */
    private static void requireJar(Path jar, String shown) {
        try (ZipFile ignored = new ZipFile(jar.toFile())) {
            // readable as a zip: fine
        } catch (IOException e) {
            throw AttentionException.invalid("--backend-path", "a jar (zip) file", "'" + Terminal.safe(shown) + "' (" + e.getMessage() + ")");
        }
    }
}
