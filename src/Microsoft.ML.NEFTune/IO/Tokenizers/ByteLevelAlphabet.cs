using System.Text;

namespace Microsoft.ML.NEFTune.IO.Tokenizers;

/// <summary>
/// The GPT-2 byte-level alphabet: each of the 256 byte values is written as one printable character
/// (printable Latin-1 bytes as themselves, the others as U+0100 onwards, so a space is "Ġ").
/// </summary>
internal static class ByteLevelAlphabet
{
    private static readonly char[] ByteToChar = BuildByteToChar();
    private static readonly Dictionary<char, byte> CharToByte = BuildCharToByte();

    /// <summary>Writes the UTF-8 bytes of <paramref name="text"/> in the byte-level alphabet.</summary>
    public static string Encode(string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        return string.Create(bytes.Length, bytes, static (span, source) =>
        {
            for (int i = 0; i < source.Length; i++)
            {
                span[i] = ByteToChar[source[i]];
            }
        });
    }

    /// <summary>
    /// Appends the bytes of a token as the Hugging Face <c>ByteLevel</c> decoder does: the mapped bytes
    /// when every character belongs to the alphabet, otherwise the token's own UTF-8 bytes.
    /// </summary>
    public static void AppendTokenBytes(string token, List<byte> output)
    {
        foreach (char c in token)
        {
            if (!CharToByte.ContainsKey(c))
            {
                output.AddRange(Encoding.UTF8.GetBytes(token));
                return;
            }
        }

        foreach (char c in token)
        {
            output.Add(CharToByte[c]);
        }
    }

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        bool[] printable = new bool[256];
        for (int b = '!'; b <= '~'; b++)
        {
            printable[b] = true;
        }

        for (int b = 0xA1; b <= 0xAC; b++)
        {
            printable[b] = true;
        }

        for (int b = 0xAE; b <= 0xFF; b++)
        {
            printable[b] = true;
        }

        int next = 0;
        for (int b = 0; b < 256; b++)
        {
            map[b] = printable[b] ? (char)b : (char)(256 + next++);
        }

        return map;
    }

    private static Dictionary<char, byte> BuildCharToByte()
    {
        var map = new Dictionary<char, byte>(256);
        for (int b = 0; b < 256; b++)
        {
            map[ByteToChar[b]] = (byte)b;
        }

        return map;
    }
}
