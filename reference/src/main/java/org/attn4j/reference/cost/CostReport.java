package org.attn4j.reference.cost;

import java.util.List;

/**
 * The costs of every variant for one configuration, MHA first.
 *
 * @param config   what was costed
 * @param variants MHA, MQA, GQA and (when configured) MLA
 * @param legend   what the formulas' symbols stand for
 */
public record CostReport(CostConfig config, List<VariantCost> variants, String legend) {
    public CostReport {
        variants = List.copyOf(variants);
    }
}
