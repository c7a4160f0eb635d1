using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>
/// The OPT decoder stack (HF <c>OPTModel</c>, whose only child is <c>decoder</c>, so every key starts with
/// <c>model.decoder.</c>): token embedding of size <c>word_embed_proj_dim</c>, <c>project_in</c> to
/// <c>hidden_size</c> when they differ (OPT-350m), learned positions offset by 2, the blocks, a final LayerNorm
/// (pre-norm models) and <c>project_out</c> back to the embedding size for the tied head.
/// </summary>
public sealed class OptModel : DecoderModel
{
    private readonly OptDecoder decoder;

    public OptModel(LlamaConfig config, ScalarType dtype = ScalarType.Float32) : base(nameof(OptModel), config)
    {
        if (config.Opt is null) throw new ArgumentException("The config does not describe an OPT model (model_type 'opt').", nameof(config));
        decoder = new OptDecoder(config, dtype);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override nn.Module<Tensor, Tensor> EmbedTokens => decoder.embed_tokens;

    /// <summary>Gradient checkpointing is not implemented for OPT; turning it on is refused by name.</summary>
    public override bool GradientCheckpointing
    {
        get => false;
        set { if (value) throw new NotSupportedException("Gradient checkpointing is not supported for OPT models yet; train without it."); }
    }

    /// <inheritdoc/>
    public override bool SupportsGradientCheckpointing => false;

    /// <inheritdoc/>
    public override Tensor ForwardEmbeddings(Tensor inputsEmbeds, Tensor? sequenceIds = null, KVCache? cache = null)
        => decoder.forward(inputsEmbeds, sequenceIds, cache);

    protected override void SetEmbedding(nn.Module<Tensor, Tensor> embedding)
    {
        decoder.embed_tokens = embedding;
        ModuleReplacement.ReplaceRegistered(decoder, "embed_tokens", embedding);
    }

    /// <summary>HF <c>OPTDecoder</c>; its field names are the state-dict keys under <c>model.decoder.</c>.</summary>
    private sealed class OptDecoder : nn.Module
    {
        /// <summary>Position p of a sequence reads row p + 2 of <c>embed_positions</c> (fairseq's padding offset).</summary>
        public const long PositionOffset = 2;

        internal nn.Module<Tensor, Tensor> embed_tokens;
        private readonly Embedding embed_positions;
        private readonly Linear? project_in;
        private readonly ModuleList<OptDecoderLayer> layers;
        private readonly LayerNorm? final_layer_norm;
        private readonly Linear? project_out;
        private readonly long maxPositions;

        public OptDecoder(LlamaConfig config, ScalarType dtype) : base(nameof(OptDecoder))
        {
            var opt = config.Opt!;
            int C = config.HiddenSize, E = config.EmbeddingSize;
            maxPositions = config.MaxPositionEmbeddings;
            embed_tokens = nn.Embedding(config.VocabSize, E, dtype: dtype);
            embed_positions = nn.Embedding(config.MaxPositionEmbeddings + PositionOffset, C, dtype: dtype);
            if (E != C)
            {
                project_out = nn.Linear(C, E, hasBias: false, dtype: dtype);
                project_in = nn.Linear(E, C, hasBias: false, dtype: dtype);
            }
            layers = nn.ModuleList(Enumerable.Range(0, config.NumHiddenLayers).Select(i => new OptDecoderLayer(config, i, dtype)).ToArray());
            if (opt.HasFinalLayerNorm)
                final_layer_norm = nn.LayerNorm(C, OptSettings.LayerNormEps, elementwise_affine: opt.LayerNormElementwiseAffine, dtype: dtype);
            RegisterComponents();
        }

        /// <param name="inputsEmbeds">(B, T, E) token embeddings.</param>
        /// <param name="sequenceIds">null, or (B, S) sequence ids as in <see cref="DecoderModel.forward"/>.</param>
        /// <param name="cache">KV cache for incremental decoding, or null.</param>
        /// <returns>(B, T, E) hidden states for the head.</returns>
        public Tensor forward(Tensor inputsEmbeds, Tensor? sequenceIds, KVCache? cache)
        {
            using var scope = NewDisposeScope();
            long B = inputsEmbeds.shape[0], T = inputsEmbeds.shape[1], past = cache?.Length ?? 0;
            if (past + T > maxPositions)
                throw new ArgumentException($"OPT learns positions only up to max_position_embeddings = {maxPositions}; got {past + T} positions.");
            var positions = AttentionMasks.Positions(B, T, sequenceIds, past, inputsEmbeds.device);      // (B, T)
            var h = project_in is null ? inputsEmbeds : project_in.call(inputsEmbeds);                   // (B, T, C)
            h = h.Plus(embed_positions.call(positions + PositionOffset));                                 // x + P[pos + 2]
            var mask = AttentionMasks.Build(sequenceIds, T, past, h.device);                             // (B, 1, T, S) or null
            foreach (var layer in layers)
                h = layer.forward(h, mask, cache);
            cache?.Advance(T);
            if (final_layer_norm is not null) h = final_layer_norm.call(h);
            if (project_out is not null) h = project_out.call(h);                                         // (B, T, E)
            return h.MoveToOuterDisposeScope();
        }
    }
}
