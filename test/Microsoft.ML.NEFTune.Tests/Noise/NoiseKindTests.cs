using Microsoft.ML.NEFTune.Noise;
using Microsoft.ML.NEFTune.Tests.Cli;
using Microsoft.ML.NEFTune.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.Noise;

/// <summary>
/// Every selectable noise kind against its formula <c>δ = u · s</c>, <c>s = alpha / sqrt(L·d)</c>: mean, variance,
/// support, each packed sequence's own scale and clean padding; selection by name everywhere.
/// </summary>
public class NoiseKindTests
{
    private const long B = 4, T = 64, D = 128;

    /// <summary>A kind of one's own, as docs/noise.md shows: <c>δ = ±s</c> with equal probability (Rademacher).</summary>
    private sealed class SignNoise : INoise
    {
        public string Name => "sign-test";

        public Tensor Sample(Tensor embeddings, Tensor scale, Generator generator)
        {
            using var scope = NewDisposeScope();
            var sign = rand(embeddings.shape, ScalarType.Float32, embeddings.device, generator: generator).lt(0.5).to_type(ScalarType.Float32) * 2 - 1;
            return (sign * scale).MoveToOuterDisposeScope();
        }
    }

    private static readonly INoise Sign = new SignNoise();

    private static INoise Kind(string name)
    {
        NoiseKinds.Register(Sign);                 // registering the same instance again is allowed
        return NoiseKinds.Get(name);
    }

    private static Tensor Draw(string kind, double alpha, Tensor? sequenceIds, long seed = 1)
    {
        using var noise = new NeftuneNoise(new NeftuneOptions { Alpha = alpha }.WithKind(Kind(kind)), seed);
        using var embeds = zeros(B, T, D);
        return noise.Sample(embeds, sequenceIds);
    }

    /// <summary>Per kind: E[u²] and E[u⁴] of the unit draw u (δ = u·s).</summary>
    public static TheoryData<string, double, double> Moments => new()
    {
        { "uniform", 1.0 / 3, 1.0 / 5 },     // U(-1, 1)
        { "gaussian", 1.0, 3.0 },            // N(0, 1)
        { "sign-test", 1.0, 1.0 },           // ±1
    };

    [Theory, MemberData(nameof(Moments))]
    public void EveryKindHasMeanZeroAndTheVarianceOfItsFormula(string kind, double m2, double m4)
    {
        using var delta = Draw(kind, 10, null).to_type(ScalarType.Float64);
        double s = 10 / Math.Sqrt(T * D), n = B * T * D;
        double meanSe = Math.Sqrt(m2 / n) * s;                                      // SE of the sample mean
        Assert.InRange(delta.mean().ToDouble(), -5 * meanSe, 5 * meanSe);
        double varSe = Math.Sqrt((m4 - m2 * m2) / n) * s * s;                       // SE of the sample second moment
        double tolerance = Math.Max(5 * varSe, 1e-6 * m2 * s * s);                  // the sign kind's second moment is exact
        Assert.InRange(delta.pow(2).mean().ToDouble(), m2 * s * s - tolerance, m2 * s * s + tolerance);
    }

    [Fact]
    public void UniformIsSupportedOnMinusSToSAndReachesItsBound()
    {
        using var delta = Draw("uniform", 10, null);
        double s = 10 / Math.Sqrt(T * D);
        Assert.InRange(delta.abs().max().ToDouble(), s * 0.999, s * (1 + 1e-6));
    }

    [Fact]
    public void GaussianIsUnboundedWithANormalTail()
    {
        using var delta = Draw("gaussian", 10, null);
        double s = 10 / Math.Sqrt(T * D), n = B * T * D;
        double p = 0.31731, pse = Math.Sqrt(p * (1 - p) / n);                      // P(|N(0,1)| > 1), binomial SE
        Assert.InRange(delta.abs().gt(s).to_type(ScalarType.Float64).mean().ToDouble(), p - 5 * pse, p + 5 * pse);
        Assert.True(delta.abs().max().ToDouble() > 3.5 * s);                      // 131k draws pass 3.5 s (P ≈ 0.06% each)
    }

    [Fact]
    public void TheUserKindTakesExactlyPlusOrMinusS()
    {
        using var delta = Draw("sign-test", 5, null);
        double s = 5 / Math.Sqrt(T * D);
        Assert.True(delta.abs().sub(s).abs().max().ToDouble() < 1e-6 * s);
        Assert.Contains("sign-test", NoiseKinds.Names);
    }

    [Theory, MemberData(nameof(Moments))]
    public void EveryKindUsesEachPackedSequencesOwnLengthAndLeavesPaddingClean(string kind, double m2, double m4)
    {
        _ = m4;
        // Each row: a 40-token example, an 8-token example, then 16 padding positions.
        using var row = cat(new[] { ones(40, ScalarType.Int64), full(8, 2L, ScalarType.Int64), zeros(16, ScalarType.Int64) });
        using var seq = row.unsqueeze(0).expand(B, T).contiguous();
        using var delta = Draw(kind, 5, seq).to_type(ScalarType.Float64);
        foreach (var (start, length) in new[] { (0L, 40L), (40L, 8L) })
        {
            double s = 5 / Math.Sqrt(length * D);
            using var part = delta.narrow(1, start, length);
            Assert.InRange(part.pow(2).mean().ToDouble(), m2 * s * s * 0.9, m2 * s * s * 1.1);   // ≥ 4096 draws: well within 10%
        }
        Assert.Equal(0.0, delta.narrow(1, 48, 16).abs().max().ToDouble());
    }

    [Fact]
    public void SymNoiseIsRefusedWithTheReasonInTheLibraryTheCliAndMlNet()
    {
        var e = Assert.Throws<ArgumentException>(() => NoiseKinds.Get("SymNoise"));
        Assert.Contains("could not be confirmed", e.Message);
        var cli = CliRunner.Run("train", "--model", "m", "--data", "d", "--noise", "symnoise", "--out", "o");
        Assert.Equal(2, cli.ExitCode);
        Assert.Contains("SymNoise", cli.Error);
        Assert.Throws<ArgumentException>(() => new NeftuneInstructionTuningOptions { NoiseKind = "symnoise" });
        Assert.Throws<ArgumentException>(() => NoiseKinds.Register(new NamedNoise("symnoise")));
    }

    [Fact]
    public void AnUnknownKindNamesTheKnownOnesAndANameIsTakenOnce()
    {
        var e = Assert.Throws<ArgumentException>(() => NoiseKinds.Get("laplace"));
        Assert.Contains("uniform", e.Message);
        Assert.Contains("gaussian", e.Message);
        Assert.Throws<ArgumentException>(() => NoiseKinds.Register(new NamedNoise("gaussian")));
        Assert.Throws<ArgumentException>(() => NoiseKinds.Register(new NamedNoise("Not Lower")));
    }

    [Fact]
    public void ARegisteredKindIsSelectedByNameTheSameWayFromTheCliTheLibraryAndMlNet()
    {
        var kind = Kind("sign-test");
        using var temp = new TempDirectory();
        var model = temp["model"];
        Directory.CreateDirectory(model);
        var data = temp["data.json"];
        File.WriteAllText(data, "[]");
        var library = new TrainingOptions { OutputDirectory = temp["out"], Noise = new NeftuneOptions { Kind = kind } };
        var cli = CliRunner.Run("train", "--model", model, "--data", data, "--out", temp["out"], "--print-settings", "--noise", "sign-test");
        Assert.True(cli.ExitCode == 0, cli.Error);
        var mlnet = new NeftuneInstructionTuningOptions { ModelPath = model, OutputDirectory = temp["out"], NoiseKind = "sign-test", PromptTemplate = "model" };
        Assert.Equal(library.ToJson(), cli.Out.Trim());
        Assert.Same(kind, mlnet.ToTrainingOptions().Noise.EffectiveKind);
        Assert.Equal("sign-test", mlnet.NoiseKind);
        Assert.Contains("\"KindName\": \"sign-test\"", library.ToJson());
    }

    private sealed class NamedNoise(string name) : INoise
    {
        public string Name => name;
        public Tensor Sample(Tensor embeddings, Tensor scale, Generator generator) => zeros_like(embeddings);
    }
}
