package org.attn4j.kernels.cpu;

import java.lang.reflect.InvocationTargetException;
import java.util.Optional;

/**
 * Chooses the {@link CpuKernelSupport} once per JVM (Lucene's {@code VectorizationProvider.lookup}):
 * the Vector API implementation when it can run well here, otherwise {@link ScalarCpuKernels}, and one
 * log line (System.Logger {@code org.attn4j.kernels.cpu}) saying which and why: INFO for the scalar fallback, which
 * a user should notice, DEBUG for the usual vector choice, so that commands stay quiet.
 * A failing check never crashes: it means scalar plus the reason.
 *
 * <p>{@code -Dattn4j.cpu.vector=false} forces scalar. The vector class is loaded reflectively so that a JVM
 * without {@code --add-modules jdk.incubator.vector} never links against the incubator module.
 */
public final class CpuKernels {
    /** System property: {@code false} forces the scalar kernels. */
    public static final String VECTOR_PROPERTY = "attn4j.cpu.vector";

    static final String VECTOR_MODULE = "jdk.incubator.vector";
    static final String VECTOR_CLASS = "org.attn4j.kernels.cpu.vector.VectorCpuKernels";

    private CpuKernels() {
    }

    /** The outcome of a lookup: the kernels and the reason they were chosen. */
    public record Choice(CpuKernelSupport kernels, String reason) {
        public boolean isVector() {
            return !(kernels instanceof ScalarCpuKernels);
        }
    }

    /** The kernels of this JVM, chosen on first use. */
    public static CpuKernelSupport get() {
        return Holder.CHOICE.kernels();
    }

    /** The choice made for this JVM, with its reason. */
    public static Choice choice() {
        return Holder.CHOICE;
    }

    /** Lazy holder: class initialisation runs the lookup exactly once, without locks that could deadlock. */
    private static final class Holder {
        static final Choice CHOICE = lookup(System.getProperty(VECTOR_PROPERTY));

        static {
            boolean vector = !(CHOICE.kernels() instanceof ScalarCpuKernels);
            System.getLogger("org.attn4j.kernels.cpu").log(vector ? System.Logger.Level.DEBUG : System.Logger.Level.INFO,
                    "attn4j cpu kernels: " + CHOICE.kernels().name() + " (" + CHOICE.reason() + ")");
        }
    }

    /**
     * Runs the checks (visible for tests; does not log).
     *
     * @param vectorProperty the value of {@value #VECTOR_PROPERTY}, or {@code null} when unset
     */
    public static Choice lookup(String vectorProperty) {
        if (vectorProperty != null && vectorProperty.trim().equalsIgnoreCase("false")) {
            return scalar("-D" + VECTOR_PROPERTY + "=false");
        }
        Optional<String> unsuitable = vectorUnsuitableReason();
        if (unsuitable.isPresent()) return scalar(unsuitable.get());
        try {
            Class<?> cls = Class.forName(VECTOR_CLASS);
            CpuKernelSupport k = (CpuKernelSupport) cls.getConstructor().newInstance();
            return new Choice(k, "Vector API available");
        } catch (InvocationTargetException e) {
            return scalar("Vector API unsuitable: " + e.getCause().getMessage());
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            return scalar("Vector API failed to load: " + e);
        }
    }

    private static Choice scalar(String why) {
        return new Choice(ScalarCpuKernels.INSTANCE, "scalar fallback: " + why);
    }

    /** Reasons found without touching the incubator module's classes. */
    private static Optional<String> vectorUnsuitableReason() {
        Optional<Module> module = ModuleLayer.boot().findModule(VECTOR_MODULE);
        if (module.isEmpty()) {
            return Optional.of(VECTOR_MODULE + " is not in the boot layer (start the JVM with --add-modules " + VECTOR_MODULE + ")");
        }
        if (!CpuKernels.class.getModule().canRead(module.get())) {
            return Optional.of(CpuKernels.class.getModule() + " cannot read " + VECTOR_MODULE);
        }
        String vmInfo = System.getProperty("java.vm.info", "");
        if (vmInfo.contains("interpreted mode")) {
            return Optional.of("the JVM runs interpreted (-Xint); the Vector API would be far slower than scalar code");
        }
        return Optional.empty();
    }
}
