package org.attn4j.api;

/**
 * The common opening of every backend's {@code support}/{@code plan}/{@code planLayer}, so that a backend writes only
 * what is its own: null checks, declining with {@link Support#orThrow}, the layer weights validated once (at plan
 * time, here) and the dispatch by layer kind. A subclass answers {@link #supportOf}, {@link #layerSupportOf} and
 * builds its plans in {@link #newPlan}, {@link #newStandardLayer} and {@link #newMlaLayer}, which receive checked
 * arguments: weights that passed {@link LayerWeights#validate} for the config they come with.
 */
public abstract class AbstractAttentionBackend implements AttentionBackend {

    /** The reasons this backend declines {@code problem} (never null), or {@link Support#ok()}. */
    protected abstract Support supportOf(AttentionProblem problem);

    /** The reasons this backend declines a layer of {@code config}; every layer by default. */
    protected Support layerSupportOf(LayerConfig config) {
        return Support.ok();
    }

    /** A plan for a supported {@code problem}. */
    protected abstract AttentionPlan newPlan(AttentionProblem problem, PlanOptions options);

    /** An MHA/MQA/GQA layer; {@code weights} are valid for {@code config}. */
    protected abstract LayerPlan newStandardLayer(StandardLayerConfig config, StandardLayerWeights weights, PlanOptions options);

    /** An MLA layer; {@code weights} are valid for {@code config}. */
    protected abstract LayerPlan newMlaLayer(MlaLayerConfig config, MlaLayerWeights weights, PlanOptions options);

    @Override
    public final Support support(AttentionProblem problem) {
        AttentionException.require(problem != null, "problem", "a problem", "null");
        return supportOf(problem);
    }

    @Override
    public final AttentionPlan plan(AttentionProblem problem, PlanOptions options) {
        AttentionException.require(problem != null, "problem", "a problem", "null");
        AttentionException.require(options != null, "options", "plan options", "null");
        supportOf(problem).orThrow(name(), problem);
        return newPlan(problem, options);
    }

    @Override
    public final Support supportLayer(LayerConfig config) {
        AttentionException.require(config != null, "config", "a layer config", "null");
        return layerSupportOf(config);
    }

    @Override
    public final LayerPlan planLayer(LayerConfig config, LayerWeights weights, PlanOptions options) {
        AttentionException.require(config != null, "config", "a layer config", "null");
        AttentionException.require(weights != null, "weights", "layer weights", "null");
        AttentionException.require(options != null, "options", "plan options", "null");
        layerSupportOf(config).orThrow(name(), config);
        weights.validate(config); // also rejects weights of the other layer kind
        return switch (config) {
            case StandardLayerConfig c -> newStandardLayer(c, (StandardLayerWeights) weights, options);
            case MlaLayerConfig c -> newMlaLayer(c, (MlaLayerWeights) weights, options);
        };
    }
}
