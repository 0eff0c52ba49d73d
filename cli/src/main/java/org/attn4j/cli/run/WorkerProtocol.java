package org.attn4j.cli.run;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.attn4j.dsl.script.ExpectationResult;
import org.attn4j.dsl.script.ScriptProblem;
import org.attn4j.dsl.script.Status;

import java.io.UncheckedIOException;
import java.util.Optional;

/**
 * The lines a {@link ScriptWorker} writes on its standard output for the parent {@code attn run}: one JSON
 * object per line after {@link #PREFIX}. Any other line on that stream (a native library writing to the file
 * descriptor directly) is passed through as the script's output.
 */
final class WorkerProtocol {
    /** Marks a protocol line; nothing a script prints through {@code System.out} can start with it (see ScriptWorker). */
    static final String PREFIX = "@attn4j-run ";

    private static final ObjectMapper JSON = new ObjectMapper();

    private WorkerProtocol() {
    }

    /** One decoded line. */
    sealed interface Event {
    }

    /** The worker is up and its Kotlin script compiler warmed: time limits may start. */
    record Ready() implements Event {
    }

    /** The worker starts script number {@code index} of its list. */
    record Started(int index) implements Event {
    }

    /** One checked expectation of the current script. */
    record Result(ExpectationResult result) implements Event {
    }

    /** A compile error or exception of the current script. */
    record Problem(ScriptProblem problem) implements Event {
    }

    /** A line the script printed. */
    record Printed(String text) implements Event {
    }

    /** The current script is done; {@code restart}: the worker's JVM may be unusable (it ran out of memory) and ends now. */
    record Finished(int index, boolean restart) implements Event {
    }

    static String ready() {
        return line(JSON.createObjectNode().put("type", "ready"));
    }

    static String started(int index) {
        return line(JSON.createObjectNode().put("type", "started").put("index", index));
    }

    static String result(ExpectationResult r) {
        ObjectNode n = JSON.createObjectNode().put("type", "result").put("description", r.getDescription())
                .put("status", r.getStatus().name()).put("detail", r.getDetail()).put("millis", r.getMillis());
        if (r.getLine() != null) n.put("line", r.getLine());
        if (r.getThrown() != null) n.put("thrown", r.getThrown());
        return line(n);
    }

    static String problem(ScriptProblem p) {
        ObjectNode n = JSON.createObjectNode().put("type", "problem").put("file", p.getFile()).put("message", p.getMessage())
                .put("badInput", p.getBadInput());
        if (p.getLine() != null) n.put("line", p.getLine());
        return line(n);
    }

    static String printed(String text) {
        return line(JSON.createObjectNode().put("type", "printed").put("text", text));
    }

    static String finished(int index, boolean restart) {
        return line(JSON.createObjectNode().put("type", "finished").put("index", index).put("restart", restart));
    }

    /** The event on a line of the worker's output, or empty when the line is not a protocol line. */
    static Optional<Event> parse(String line) {
        if (!line.startsWith(PREFIX)) return Optional.empty();
        JsonNode n;
        try {
            n = JSON.readTree(line.substring(PREFIX.length()));
        } catch (JsonProcessingException e) {
            return Optional.empty();
        }
        Integer lineNo = n.hasNonNull("line") ? n.get("line").asInt() : null;
        return Optional.ofNullable(switch (n.path("type").asText()) {
            case "ready" -> new Ready();
            case "started" -> new Started(n.path("index").asInt());
            case "result" -> new Result(new ExpectationResult(n.path("description").asText(),
                    Status.valueOf(n.path("status").asText()), n.path("detail").asText(), lineNo, n.path("millis").asLong(),
                    n.hasNonNull("thrown") ? n.get("thrown").asText() : null));
            case "problem" -> new Problem(new ScriptProblem(n.path("file").asText(), lineNo, n.path("message").asText(),
                    n.path("badInput").asBoolean()));
            case "printed" -> new Printed(n.path("text").asText());
            case "finished" -> new Finished(n.path("index").asInt(), n.path("restart").asBoolean());
            default -> null;
        });
    }

    private static String line(ObjectNode n) {
        try {
            return PREFIX + JSON.writeValueAsString(n);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }
}
