using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>
/// Parses JSON into nodes after checking what <see cref="JsonNode"/> only finds later, on first access: a key that
/// appears twice in one object, and escapes that are not valid UTF-16 (a lone surrogate such as <c>"\ud800"</c>).
/// Every problem is a <see cref="JsonException"/>.
/// </summary>
internal static class StrictJson
{
    public static JsonNode? Parse(string text) => Parse(Encoding.UTF8.GetBytes(text));

    public static JsonNode? Parse(byte[] utf8)
    {
        var reader = new Utf8JsonReader(utf8);
        var keys = new Stack<HashSet<string>?>();
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject:
                    keys.Push(new HashSet<string>(StringComparer.Ordinal));
                    break;
                case JsonTokenType.StartArray:
                    keys.Push(null);
                    break;
                case JsonTokenType.EndObject:
                case JsonTokenType.EndArray:
                    keys.Pop();
                    break;
                case JsonTokenType.PropertyName:
                    var name = Text(ref reader);
                    if (!keys.Peek()!.Add(name)) throw new JsonException($"the key '{name}' appears twice in one object");
                    break;
                case JsonTokenType.String:
                    Text(ref reader);
                    break;
            }
        }
        return JsonNode.Parse(utf8);
    }

    private static string Text(ref Utf8JsonReader reader)
    {
        try { return reader.GetString()!; }
        catch (InvalidOperationException e) { throw new JsonException($"a string is not valid UTF-16 text ({e.Message})", e); }
    }
}
