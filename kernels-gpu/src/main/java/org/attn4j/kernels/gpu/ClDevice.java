package org.attn4j.kernels.gpu;

import org.lwjgl.PointerBuffer;
import org.lwjgl.opencl.CL;
import org.lwjgl.system.Configuration;
import org.lwjgl.system.MemoryStack;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.lwjgl.opencl.CL10.*;

/**
 * One OpenCL device and the limits the kernels are sized from (all queried, none assumed).
 *
 * @param index          {@code platform:device}, as {@code ATTN4J_OPENCL_DEVICE} accepts it
 * @param localMemSize   {@code CL_DEVICE_LOCAL_MEM_SIZE} in bytes
 * @param maxWorkGroup   {@code CL_DEVICE_MAX_WORK_GROUP_SIZE}
 * @param maxWorkItems   {@code CL_DEVICE_MAX_WORK_ITEM_SIZES}
 * @param maxAlloc       {@code CL_DEVICE_MAX_MEM_ALLOC_SIZE} in bytes
 * @param fp64           whether {@code cl_khr_fp64} is present (the float64 path)
 */
record ClDevice(long platform, long device, String index, String platformName, String name, String type,
                String openclC, int computeUnits, long localMemSize, long maxWorkGroup, long[] maxWorkItems,
                long maxAlloc, int maxParameterSize, boolean fp64) {

    @Override
    public String toString() {
        return index + " '" + name + "' [" + type + "] on '" + platformName + "'";
    }

    /** A selected device, or why there is none. Never throws. */
    record Discovery(ClDevice device, String reason) {
    }

    private static final Pattern INDEX = Pattern.compile("\\s*(\\d+)\\s*:\\s*(\\d+)\\s*");

    /**
     * Finds the device to use. {@code selector} is {@code "p:d"} (platform and device index), a case-insensitive
     * substring of "platform name device name", or {@code null}/blank: then the first GPU, else the first CPU,
     * else the first device of any type.
     */
    static Discovery discover(String selector) {
        quietLoaderMessages();
        try {
            CL.getFunctionProvider(); // loads libOpenCL (LWJGL initialises it in CL's static initialiser)
        } catch (Throwable t) {
            return new Discovery(null, "the OpenCL library could not be loaded (" + t
                    + "); install an ICD loader with libOpenCL.so (Debian: ocl-icd-opencl-dev) and a driver (e.g. pocl-opencl-icd)");
        }
        List<ClDevice> all;
        try {
            all = listDevices();
        } catch (Throwable t) {
            return new Discovery(null, "listing OpenCL devices failed: " + t);
        }
        if (all.isEmpty()) {
            return new Discovery(null, "no OpenCL platform or device found (install a driver/ICD, e.g. pocl-opencl-icd)");
        }
        ClDevice chosen = null;
        if (selector != null && !selector.isBlank()) {
            Matcher m = INDEX.matcher(selector);
            String want = m.matches() ? Integer.parseInt(m.group(1)) + ":" + Integer.parseInt(m.group(2)) : null;
            String needle = selector.trim().toLowerCase(Locale.ROOT);
            for (ClDevice d : all) {
                boolean hit = want != null ? d.index.equals(want)
                        : (d.platformName + " " + d.name).toLowerCase(Locale.ROOT).contains(needle);
                if (hit) {
                    chosen = d;
                    break;
                }
            }
            if (chosen == null) {
                return new Discovery(null, "no OpenCL device matches '" + selector + "' (devices: " + all + ")");
            }
        } else {
            for (String type : new String[]{"GPU", "CPU"}) {
                for (ClDevice d : all) {
                    if (chosen == null && d.type.contains(type)) chosen = d;
                }
            }
            if (chosen == null) chosen = all.getFirst();
        }
        if (!supportsOpenClC12(chosen.openclC)) {
            return new Discovery(null, "device " + chosen + " offers " + chosen.openclC + "; the kernels need OpenCL C 1.2");
        }
        warnWithoutSignalChaining(chosen);
        return new Discovery(chosen, null);
    }

    /**
     * PoCL compiles kernels with LLVM, which installs its own crash handlers for SIGSEGV, SIGILL, SIGUSR2 and others
     * (with SA_RESETHAND), replacing the JVM's. The JVM takes SIGSEGV on purpose (safepoint polls, implicit null
     * checks), so a JVM running PoCL can die with a bare "Segmentation fault" when several threads fault at once
     * (seen in CI). HotSpot's signal-chaining library keeps the JVM's handlers first:
     * {@code LD_PRELOAD=$JAVA_HOME/lib/libjsig.so}. The {@code attn} launcher and the build's test JVMs set it; an
     * application that embeds this backend gets this warning once when it is missing.
     */
    private static void warnWithoutSignalChaining(ClDevice d) {
        String platform = d.platformName.toLowerCase(Locale.ROOT);
        if (!platform.contains("portable computing language") && !platform.contains("pocl")) return;
        if (signalChainingLoaded() || WARNED_SIGNALS.getAndSet(true)) return;
        System.getLogger(ClDevice.class.getName()).log(System.Logger.Level.WARNING,
                "OpenCL runs on PoCL, whose LLVM replaces the JVM's signal handlers; start the JVM with "
                        + "LD_PRELOAD=$JAVA_HOME/lib/libjsig.so (HotSpot signal chaining) or it may crash with SIGSEGV");
    }

    private static final java.util.concurrent.atomic.AtomicBoolean WARNED_SIGNALS = new java.util.concurrent.atomic.AtomicBoolean();

    /** Whether HotSpot's libjsig is mapped into this process (Linux: /proc/self/maps; elsewhere: assume yes). */
    static boolean signalChainingLoaded() {
        java.nio.file.Path maps = java.nio.file.Path.of("/proc/self/maps");
        if (!java.nio.file.Files.isReadable(maps)) return true;
        try (var lines = java.nio.file.Files.lines(maps)) {
            return lines.anyMatch(l -> l.endsWith("/libjsig.so"));
        } catch (java.io.IOException | java.io.UncheckedIOException e) {
            return true;
        }
    }

    /**
     * LWJGL prints a multi-line "[LWJGL] Failed to load a library. Possible solutions: ..." block on stderr when
     * libOpenCL is missing, on every command that looks for backends. The reason reaches the user once, in
     * {@code unavailableReason()}; so unless LWJGL's debug modes are on, its debug stream is dropped. This must run
     * before LWJGL's APIUtil is initialised (it reads the setting once).
     */
    private static void quietLoaderMessages() {
        if (Boolean.getBoolean("org.lwjgl.util.Debug") || Boolean.getBoolean("org.lwjgl.util.DebugLoader")) return;
        if (Configuration.DEBUG_STREAM.get() == null) {
            Configuration.DEBUG_STREAM.set(new PrintStream(OutputStream.nullOutputStream()));
        }
    }

    static boolean supportsOpenClC12(String version) {
        Matcher m = Pattern.compile("OpenCL C (\\d+)\\.(\\d+)").matcher(version);
        if (!m.find()) return false;
        int major = Integer.parseInt(m.group(1));
        int minor = Integer.parseInt(m.group(2));
        return major > 1 || (major == 1 && minor >= 2);
    }

    /** Every device of every platform, in platform then device order. */
    static List<ClDevice> listDevices() {
        List<ClDevice> out = new ArrayList<>();
        try (MemoryStack stack = MemoryStack.stackPush()) {
            IntBuffer count = stack.mallocInt(1);
            int status = clGetPlatformIDs(null, count);
            if (status == -1001 || count.get(0) == 0) return out; // CL_PLATFORM_NOT_FOUND_KHR: no ICD installed
            ClError.check(status, "clGetPlatformIDs");
            PointerBuffer platforms = stack.mallocPointer(count.get(0));
            ClError.check(clGetPlatformIDs(platforms, (IntBuffer) null), "clGetPlatformIDs");
            for (int p = 0; p < platforms.capacity(); p++) {
                long platform = platforms.get(p);
                String platformName = platformString(platform, CL_PLATFORM_NAME);
                IntBuffer n = stack.mallocInt(1);
                status = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, null, n);
                if (status == CL_DEVICE_NOT_FOUND || n.get(0) == 0) continue;
                ClError.check(status, "clGetDeviceIDs");
                PointerBuffer devices = stack.mallocPointer(n.get(0));
                ClError.check(clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, devices, (IntBuffer) null), "clGetDeviceIDs");
                for (int d = 0; d < devices.capacity(); d++) {
                    out.add(describe(platform, devices.get(d), p + ":" + d, platformName));
                }
            }
        }
        return out;
    }

    private static ClDevice describe(long platform, long device, String index, String platformName) {
        long typeBits = deviceLong(device, CL_DEVICE_TYPE);
        List<String> types = new ArrayList<>();
        if ((typeBits & CL_DEVICE_TYPE_GPU) != 0) types.add("GPU");
        if ((typeBits & CL_DEVICE_TYPE_CPU) != 0) types.add("CPU");
        if ((typeBits & CL_DEVICE_TYPE_ACCELERATOR) != 0) types.add("ACCELERATOR");
        if (types.isEmpty()) types.add("OTHER");
        String extensions = deviceString(device, CL_DEVICE_EXTENSIONS);
        long[] items;
        try (MemoryStack stack = MemoryStack.stackPush()) {
            IntBuffer dims = stack.mallocInt(1);
            ClError.check(clGetDeviceInfo(device, CL_DEVICE_MAX_WORK_ITEM_DIMENSIONS, dims, null), "clGetDeviceInfo");
            PointerBuffer sizes = stack.mallocPointer(dims.get(0));
            ClError.check(clGetDeviceInfo(device, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizes, null), "clGetDeviceInfo");
            items = new long[dims.get(0)];
            for (int i = 0; i < items.length; i++) items[i] = sizes.get(i);
        }
        return new ClDevice(platform, device, index, platformName.trim(), deviceString(device, CL_DEVICE_NAME).trim(),
                String.join("|", types), deviceString(device, 0x103D /* CL_DEVICE_OPENCL_C_VERSION */).trim(),
                deviceInt(device, CL_DEVICE_MAX_COMPUTE_UNITS), deviceLong(device, CL_DEVICE_LOCAL_MEM_SIZE),
                devicePointer(device, CL_DEVICE_MAX_WORK_GROUP_SIZE), items, deviceLong(device, CL_DEVICE_MAX_MEM_ALLOC_SIZE),
                (int) devicePointer(device, CL_DEVICE_MAX_PARAMETER_SIZE),
                (" " + extensions + " ").contains(" cl_khr_fp64 "));
    }

    private static String platformString(long platform, int param) {
        try (MemoryStack stack = MemoryStack.stackPush()) {
            PointerBuffer size = stack.mallocPointer(1);
            ClError.check(clGetPlatformInfo(platform, param, (ByteBuffer) null, size), "clGetPlatformInfo");
            ByteBuffer b = stack.malloc((int) size.get(0));
            ClError.check(clGetPlatformInfo(platform, param, b, null), "clGetPlatformInfo");
            return cString(b);
        }
    }

    private static String deviceString(long device, int param) {
        try (MemoryStack stack = MemoryStack.stackPush()) {
            PointerBuffer size = stack.mallocPointer(1);
            ClError.check(clGetDeviceInfo(device, param, (ByteBuffer) null, size), "clGetDeviceInfo");
            ByteBuffer b = stack.malloc((int) size.get(0));
            ClError.check(clGetDeviceInfo(device, param, b, null), "clGetDeviceInfo");
            return cString(b);
        }
    }

    private static String cString(ByteBuffer b) {
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        int n = 0;
        while (n < bytes.length && bytes[n] != 0) n++;
        return new String(bytes, 0, n, java.nio.charset.StandardCharsets.UTF_8);
    }

    private static int deviceInt(long device, int param) {
        try (MemoryStack stack = MemoryStack.stackPush()) {
            IntBuffer b = stack.mallocInt(1);
            ClError.check(clGetDeviceInfo(device, param, b, null), "clGetDeviceInfo");
            return b.get(0);
        }
    }

    private static long deviceLong(long device, int param) {
        try (MemoryStack stack = MemoryStack.stackPush()) {
            LongBuffer b = stack.mallocLong(1);
            ClError.check(clGetDeviceInfo(device, param, b, null), "clGetDeviceInfo");
            return b.get(0);
        }
    }

    private static long devicePointer(long device, int param) {
        try (MemoryStack stack = MemoryStack.stackPush()) {
            PointerBuffer b = stack.mallocPointer(1);
            ClError.check(clGetDeviceInfo(device, param, b, null), "clGetDeviceInfo");
            return b.get(0);
        }
    }
}
