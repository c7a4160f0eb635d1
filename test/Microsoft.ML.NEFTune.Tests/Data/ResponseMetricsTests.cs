using Microsoft.ML.NEFTune.Data;

namespace Microsoft.ML.NEFTune.Tests.Data;

[Collection(DataTestCollection.Name)]
public class ResponseMetricsTests
{
    [Fact]
    public void RepetitionAndDiversityMatchHandComputedValues()
    {
        // "a b a b a": bigrams ab ba ab ba (2 unique of 4), trigrams aba bab aba (2 of 3), 4-grams abab baba (2 of 2).
        // "c d": one bigram. No n-gram spans the two responses.
        var metrics = ResponseMetrics.Compute(new[] { "a b a b a", "c d" });

        Assert.Equal(1 - 3.0 / 5, metrics.Repetition2, 12);
        Assert.Equal(1 - 2.0 / 3, metrics.Repetition3, 12);
        Assert.Equal(0, metrics.Repetition4, 12);
        Assert.Equal(0.6 * (2.0 / 3), metrics.Diversity, 12);
        Assert.Equal(-Math.Log(0.6), metrics.LogDiversity, 12);
    }

    [Fact]
    public void RepeatedWordHasLowDiversity()
    {
        var metrics = ResponseMetrics.Compute(new[] { "a  a\na a a" });

        Assert.Equal(0.75, metrics.Repetition2, 12);
        Assert.Equal(2.0 / 3, metrics.Repetition3, 12);
        Assert.Equal(0.5, metrics.Repetition4, 12);
        Assert.Equal(1.0 / 24, metrics.Diversity, 12);
        Assert.Equal(-Math.Log(23.0 / 24), metrics.LogDiversity, 12);
    }

    [Fact]
    public void PrefixDropsShortResponsesAndCutsTheOthers()
    {
        var metrics = ResponseMetrics.Compute(new[] { "x y z w x y", "x y", "p q r s t u" }, prefixWords: 4);

        Assert.Equal(2, metrics.DiversityResponseCount);
        Assert.Equal(0, metrics.Repetition2);
        Assert.Equal(1, metrics.Diversity);
        Assert.Equal(20, metrics.LogDiversity, 12);
        Assert.Equal(14.0 / 3, metrics.AverageWords, 12);
    }

    [Fact]
    public void LengthsCountCodePointsAndTokens()
    {
        var metrics = ResponseMetrics.Compute(new[] { "\U0001F916ab", "abcde" }, new CharTokenizer());

        Assert.Equal(2, metrics.ResponseCount);
        Assert.Equal(4, metrics.AverageCharacters);
        Assert.Equal(4.5, metrics.AverageTokens);
    }

    [Fact]
    public void NoNGramsGiveNaN()
    {
        var metrics = ResponseMetrics.Compute(new[] { "one" });

        Assert.True(double.IsNaN(metrics.Repetition2));
        Assert.True(double.IsNaN(metrics.Diversity));
    }
}
