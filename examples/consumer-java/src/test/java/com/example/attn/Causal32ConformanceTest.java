package com.example.attn;

import org.attn4j.conformance.AttnGolden;
import org.attn4j.conformance.AttnTck;
import org.attn4j.conformance.tck.TckConfig;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.stream.Stream;

/** attn4j's conformance suite on this project's backend: one JUnit test per TCK check and per golden case. */
class Causal32ConformanceTest {
    @TestFactory
    Stream<DynamicTest> tck() {
        // -Dattn4j.tck.seed / .checks / ... still apply; 25 cases per check instead of 100, to stay quick
        TckConfig config = TckConfig.fromSystemProperties().toBuilder().iterations(25).build();
        return AttnTck.forBackend(new Causal32Backend()).config(config).dynamicTests();
    }

    @TestFactory
    Stream<DynamicTest> goldenCases() {
        return AttnGolden.dynamicTests(new Causal32Backend());
    }
}
