using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Microsoft.ML.NEFTune.Tests.Reliability;

/// <summary>
/// Runs seeded fuzz cases through a loader: each case must load or throw one of the product's own exception types.
/// Always the same fixed number of cases, whatever the machine's speed or load, with an outcome histogram.
/// </summary>
internal sealed class Fuzzer
{
    /// <summary>Managed bytes one case may allocate; a header that claims a huge size must not be believed.</summary>
    public const long AllocationLimit = 256L << 20;

    private readonly string name;
    private readonly Type[] expected;
    private readonly Dictionary<string, int> outcomes = new();
    private readonly Dictionary<string, int> problems = new();
    private readonly List<string> failures = new();

    public Fuzzer(string name, params Type[] expected)
    {
        this.name = name;
        this.expected = expected;
    }

    public int Cases { get; private set; }
    public int Loaded => outcomes.GetValueOrDefault("loaded");
    public IReadOnlyList<string> Failures => failures;
    public IReadOnlyDictionary<string, int> Outcomes => outcomes;

    /// <summary>Runs exactly <paramref name="cases"/> cases, each built from its own seeded generator.</summary>
    public void Run(int seed, int cases, Action<Random, int> fuzzCase)
    {
        for (int i = 0; i < cases; i++)
        {
            var random = new Random(unchecked(seed * 1_000_003 + i));
            long before = GC.GetAllocatedBytesForCurrentThread();
            string outcome;
            try
            {
                fuzzCase(random, i);
                outcome = "loaded";
            }
            catch (Exception e) when (expected.Any(t => t.IsInstanceOfType(e)))
            {
                outcome = e.GetType().Name;
                var problem = Normalize(e.Message);
                problems[problem] = problems.GetValueOrDefault(problem) + 1;
            }
            catch (Exception e)
            {
                outcome = "UNEXPECTED " + e.GetType().Name;
                if (failures.Count < 20) failures.Add($"{name} case {i} (seed {seed}): {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            if (allocated > AllocationLimit && failures.Count < 20)
                failures.Add($"{name} case {i} (seed {seed}): allocated {allocated >> 20} MB of managed memory ({outcome})");
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
            Cases++;
        }
    }

    /// <summary>The summary printed by the tests: cases run, outcome histogram, most frequent problems.</summary>
    public string Summary()
    {
        var text = new StringBuilder();
        text.AppendLine($"fuzz {name}: {Cases} inputs");
        foreach (var (outcome, count) in outcomes.OrderByDescending(kv => kv.Value))
            text.AppendLine($"  {count,6}  {outcome}");
        text.AppendLine("  most frequent problems:");
        foreach (var (problem, count) in problems.OrderByDescending(kv => kv.Value).Take(12))
            text.AppendLine($"  {count,6}  {problem}");
        return text.ToString();
    }

    /// <summary>A message with paths, numbers and quoted names replaced, so that messages of one kind count together.</summary>
    private static string Normalize(string message)
    {
        var text = Regex.Replace(message, @"(/[^\s:']+)+", "PATH");
        text = Regex.Replace(text, @"'[^']*'", "'…'");
        text = Regex.Replace(text, @"-?\d+(\.\d+)?(E[+-]?\d+)?", "N");
        return text.Length > 140 ? text[..140] + "…" : text;
    }
}

/// <summary>Seeded mutations of bytes and JSON documents.</summary>
internal static class Mutate
{
    public static readonly long[] InterestingIntegers =
    {
        0, 1, -1, 2, 3, 7, 8, 16, 255, 256, 4095, 65535, 65536, int.MaxValue, int.MinValue, int.MaxValue - 1, (long)int.MaxValue + 1,
        1L << 32, 1L << 40, long.MaxValue, long.MinValue, 100_000_000_000L, -100_000_000_000L, 1 << 20, 1 << 30,
    };

    public static long Integer(Random r) => r.Next(3) == 0 ? r.Next(-100, 1000) : InterestingIntegers[r.Next(InterestingIntegers.Length)];

    /// <summary>A random JSON value of a random kind.</summary>
    public static JsonNode? Value(Random r, int depth = 0)
    {
        switch (r.Next(depth > 2 ? 8 : 10))
        {
            case 0: return null;
            case 1: return JsonValue.Create(r.Next(2) == 0);
            case 2: return JsonValue.Create(Integer(r));
            case 3: return JsonValue.Create(new[] { 0.5, -1.5, 1e300, -1e-300, 3.0, 1e20, 2.5e9 }[r.Next(7)]);
            case 4: return JsonValue.Create(String(r));
            case 5: return JsonValue.Create("");
            case 6: return new JsonArray();
            case 7: return new JsonObject();
            case 8: return new JsonArray(Enumerable.Range(0, r.Next(1, 4)).Select(_ => Value(r, depth + 1)).ToArray());
            default:
                var o = new JsonObject();
                for (int i = r.Next(1, 4); i > 0; i--) o[String(r)] = Value(r, depth + 1);
                return o;
        }
    }

    public static string String(Random r)
    {
        string[] samples = { "F32", "BF16", "F8_E4M3", "I64", "text", "instruction", "output", "user", "assistant", "gpt", "human", "<unk>", "Ġ", "\u2581", "é", "😀", "\0", " ", "a b", "..", "/etc/passwd" };
        if (r.Next(3) > 0) return samples[r.Next(samples.Length)];
        var chars = new char[r.Next(0, 12)];
        for (int i = 0; i < chars.Length; i++) chars[i] = (char)r.Next(0, 0x3000);
        return new string(chars);
    }

    /// <summary>Applies one structural change to a copy of <paramref name="document"/>: replace, delete, add or duplicate a node.</summary>
    public static JsonNode? Structure(Random r, JsonNode? document)
    {
        var root = document?.DeepClone();
        if (root is null) return Value(r);
        var nodes = new List<JsonNode>();
        Collect(root, nodes);
        var target = nodes[r.Next(nodes.Count)];
        var parent = target.Parent;
        switch (r.Next(6))
        {
            case 0 when parent is not null:
                Replace(target, Value(r));
                break;
            case 1 when parent is JsonObject po:
                po.Remove(target.GetPropertyName());
                break;
            case 1 when parent is JsonArray pa:
                pa.Remove(target);
                break;
            case 2 when target is JsonObject o:
                o[String(r)] = Value(r);
                break;
            case 2 when target is JsonArray a:
                a.Insert(r.Next(a.Count + 1), a.Count > 0 && r.Next(2) == 0 ? a[r.Next(a.Count)]?.DeepClone() : Value(r));
                break;
            case 3 when target is JsonValue v && v.TryGetValue<double>(out var number):
                Replace(target, JsonValue.Create(r.Next(5) switch { 0 => -number, 1 => number * 2, 2 => number + 1, 3 => number - 1, _ => (double)Integer(r) }));
                break;
            case 4 when parent is not null:
                Replace(target, new JsonArray(target.DeepClone()));
                break;
            default:
                if (parent is null) return Value(r);
                Replace(target, Value(r));
                break;
        }
        return root;
    }

    private static void Collect(JsonNode node, List<JsonNode> nodes)
    {
        nodes.Add(node);
        if (node is JsonObject o) foreach (var (_, child) in o) { if (child is not null) Collect(child, nodes); }
        else if (node is JsonArray a) foreach (var child in a) { if (child is not null) Collect(child, nodes); }
    }

    private static void Replace(JsonNode target, JsonNode? value)
    {
        switch (target.Parent)
        {
            case JsonObject o: o[target.GetPropertyName()] = value; break;
            case JsonArray a: a[target.GetElementIndex()] = value; break;
        }
    }

    /// <summary>One text-level change: a duplicated key, deep nesting, a cut, a stray character, a non-UTF-8 byte sequence is left to <see cref="Bytes"/>.</summary>
    public static string Text(Random r, string text)
    {
        switch (r.Next(7))
        {
            case 6:
                int open = text.IndexOf('{');
                if (open < 0) goto default;
                return text.Insert(open + 1, r.Next(2) == 0 ? "\"\\ud800\": 1," : "\"k\": \"\\udc00\",");
            case 0:
                var keys = Regex.Matches(text, "\"([^\"\\\\]{1,40})\"\\s*:");
                int brace = text.IndexOf('{');
                if (keys.Count == 0 || brace < 0) goto default;
                return text.Insert(brace + 1, $"{keys[r.Next(keys.Count)].Value} {Value(r)?.ToJsonString() ?? "null"},");
            case 1:
                int depth = r.Next(2) == 0 ? 70 : 2000;
                int at = r.Next(text.Length + 1);
                return text[..at] + new string('[', depth) + new string(']', depth) + text[at..];
            case 2:
                return text[..r.Next(text.Length + 1)];
            case 3:
                int where = r.Next(text.Length + 1);
                return text.Insert(where, "{}[]\",:0-e.\\ntf\u00e9"[r.Next(16)].ToString());
            case 4:
                int start = r.Next(text.Length + 1), length = r.Next(Math.Min(64, text.Length - start) + 1);
                return text.Remove(start, length);
            default:
                int from = r.Next(text.Length + 1), count = r.Next(Math.Min(64, text.Length - from) + 1);
                return text.Insert(r.Next(text.Length + 1), text.Substring(from, count));
        }
    }

    /// <summary>One to a few byte-level changes: flips, overwrites with 0x00/0xFF/0x80, inserts, deletes, truncation.</summary>
    public static byte[] Bytes(Random r, byte[] data, int focusStart = 0, int focusLength = -1)
    {
        var list = new List<byte>(data);
        if (focusLength < 0) focusLength = data.Length - focusStart;
        int Pick() => list.Count == 0 ? 0 : Math.Clamp(focusStart + r.Next(Math.Max(1, focusLength)), 0, list.Count - 1);
        for (int n = r.Next(1, 4); n > 0; n--)
        {
            switch (r.Next(7))
            {
                case 0 when list.Count > 0: list[Pick()] ^= (byte)(1 << r.Next(8)); break;
                case 1 when list.Count > 0: list[Pick()] = new byte[] { 0x00, 0xFF, 0x80, 0x7F, 0xC0, 0xFE }[r.Next(6)]; break;
                case 2: list.InsertRange(Pick(), Enumerable.Range(0, r.Next(1, 9)).Select(_ => (byte)r.Next(256))); break;
                case 3 when list.Count > 0:
                    int at = Pick();
                    list.RemoveRange(at, Math.Min(r.Next(1, 33), list.Count - at));
                    break;
                case 4 when list.Count > 0:
                    int cut = Pick();
                    list.RemoveRange(cut, list.Count - cut);
                    break;
                case 5 when list.Count >= 4:
                    int p = Math.Min(Pick(), list.Count - 4);
                    var v = BitConverter.GetBytes((int)Integer(r));
                    for (int i = 0; i < 4; i++) list[p + i] = v[i];
                    break;
                default:
                    if (list.Count > 0) list[Pick()] = (byte)r.Next(256);
                    break;
            }
        }
        return list.ToArray();
    }
}
