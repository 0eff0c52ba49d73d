package org.attn4j.cli.compare;

/** Prefill or decode. */
public enum Phase {
    PREFILL, DECODE
}
