package org.attn4j.cli.compare;

/** A backend's availability as the comparison saw it: measured, or the reason it was not. */
public record BackendStatus(String name, boolean measured, String reason) {
}
