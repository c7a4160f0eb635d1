using Microsoft.ML.NEFTune.Generation;
using Microsoft.ML.NEFTune.IO.Tokenizers;

namespace Microsoft.ML.NEFTune.Tests.Generation;

public sealed class StreamingTextDecoderTests
{
    private static readonly TextTokenizer Llama = TextTokenizer.Load(Fixtures.LlamaTokenizer);

    /// <summary>Feeds the ids of <paramref name="text"/> one by one; returns the pieces and, last, what Finish adds.</summary>
    private static List<string> Pieces(string text, IReadOnlyList<string> stops, bool trim)
    {
        var decoder = new StreamingTextDecoder(Llama, stops, trim);
        var pieces = Llama.Encode(text).Select(decoder.Add).ToList();
        pieces.Add(decoder.Finish());
        return pieces;
    }

    [Fact]
    public void TheStartOfAStopStringIsHeldBackUntilSettled()
    {
        var stops = new[] { "### Instruction:" };
        var text = "Use sunscreen daily.\n\n### Instruction:\nMore";

        var pieces = Pieces(text, stops, trim: true);

        Assert.Equal("Use sunscreen daily.", string.Concat(pieces));
        Assert.DoesNotContain(pieces, p => p.Contains('#'));
        Assert.True(pieces.Count(p => p.Length > 0) >= 3, string.Join("|", pieces));
    }

    [Fact]
    public void AHalfStartedStopStringThatDoesNotFollowIsEmitted()
    {
        var pieces = Pieces("Rank ### first", new[] { "### Instruction:" }, trim: false);

        Assert.Equal(Llama.Decode(Llama.Encode("Rank ### first")), string.Concat(pieces));
    }

    [Fact]
    public void ByteTokensOfOneCharacterAreEmittedTogether()
    {
        var text = "Llamas 🦙 hum";
        var ids = Llama.Encode(text);
        Assert.True(ids.Count(i => Llama.IdToPiece(i) == "\uFFFD") >= 2, "the emoji should be spelled in byte tokens");

        var pieces = Pieces(text, Array.Empty<string>(), trim: false);

        Assert.Equal(Llama.Decode(ids), string.Concat(pieces));
        Assert.Contains(pieces, p => p.Contains("🦙"));
        Assert.DoesNotContain(pieces, p => p.Contains('\uFFFD'));
    }

    [Fact]
    public void TrimmingHoldsBackSpacesThatMayEndTheAnswer()
    {
        var pieces = Pieces("  Done.  \n", Array.Empty<string>(), trim: true);

        Assert.Equal("Done.", string.Concat(pieces));
    }
}
