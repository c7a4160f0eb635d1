using System.Text;

namespace Microsoft.ML.NEFTune.Data.Templates.Jinja;

/// <summary>
/// The Python methods templates call on values: <c>str</c> (strip, split, startswith, replace, upper, title, …),
/// <c>dict</c> (items, keys, values, get). Methods that change a list or dict are refused, as in transformers'
/// immutable sandbox.
/// </summary>
internal static class JinjaMethods
{
    private static readonly HashSet<string> Mutators = new() { "append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "update", "setdefault", "popitem" };

    /// <summary>The bound method <paramref name="name"/> of <paramref name="target"/>, or null when it has none.</summary>
    public static JinjaCallable? Bind(object? target, string name)
    {
        switch (target)
        {
            case string s:
                return StringMethod(s, name);
            case JinjaDict dict:
                return name switch
                {
                    "items" => new JinjaCallable("items", (_, _) => dict.Select(p => (object?)new JinjaTuple(new[] { p.Key, p.Value })).ToList()),
                    "keys" => new JinjaCallable("keys", (_, _) => dict.Keys.Cast<object?>().ToList()),
                    "values" => new JinjaCallable("values", (_, _) => dict.Values.ToList()),
                    "get" => new JinjaCallable("get", (args, kwargs) =>
                    {
                        JinjaArgs.Check("get", args, kwargs, 2);
                        if (args.Count == 0) throw new JinjaRuntimeException("get() needs a key");
                        return args[0] is string key && dict.TryGetValue(key, out var v) ? v : args.Count > 1 ? args[1] : null;
                    }),
                    _ when Mutators.Contains(name) => throw new JinjaRuntimeException($"dict.{name}() would change a dict; chat templates may not change their inputs"),
                    _ => null,
                };
            case List<object?> list:
                if (Mutators.Contains(name)) throw new JinjaRuntimeException($"list.{name}() would change a list; chat templates may not change their inputs");
                return name switch
                {
                    "index" => new JinjaCallable("index", (args, _) =>
                    {
                        int i = args.Count == 1 ? list.FindIndex(x => JinjaOperations.Equals(x, args[0])) : -1;
                        return i >= 0 ? (long)i : throw new JinjaRuntimeException("list.index(x): x not in list");
                    }),
                    "count" => new JinjaCallable("count", (args, _) => (long)list.Count(x => args.Count == 1 && JinjaOperations.Equals(x, args[0]))),
                    _ => null,
                };
            default:
                return null;
        }
    }

    public static bool IsSpace(char c) => char.IsWhiteSpace(c) || (c >= '\x1c' && c <= '\x1f');

    private static JinjaCallable? StringMethod(string s, string name)
    {
        switch (name)
        {
            case "strip": return new(name, (a, k) => Strip(s, Chars(name, a, k), true, true));
            case "lstrip": return new(name, (a, k) => Strip(s, Chars(name, a, k), true, false));
            case "rstrip": return new(name, (a, k) => Strip(s, Chars(name, a, k), false, true));
            case "upper": return new(name, (_, _) => s.ToUpperInvariant());
            case "lower": return new(name, (_, _) => s.ToLowerInvariant());
            case "title": return new(name, (_, _) => PythonTitle(s));
            case "capitalize": return new(name, (_, _) => Capitalize(s));
            case "swapcase": return new(name, (_, _) => string.Concat(s.Select(c => char.IsUpper(c) ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c))));
            case "startswith": return new(name, (a, k) => Affix(s, name, a, k, prefix: true));
            case "endswith": return new(name, (a, k) => Affix(s, name, a, k, prefix: false));
            case "split": return new(name, (a, k) => Split(s, a, k, fromRight: false));
            case "rsplit": return new(name, (a, k) => Split(s, a, k, fromRight: true));
            case "splitlines": return new(name, (_, _) => SplitLines(s));
            case "replace":
                return new(name, (a, k) =>
                {
                    JinjaArgs.Check(name, a, k, 3);
                    if (a.Count < 2 || a[0] is not string old || a[1] is not string replacement) throw new JinjaRuntimeException("replace() takes two strings");
                    long count = a.Count > 2 && a[2] is long c ? c : -1;
                    return Replace(s, old, replacement, count);
                });
            case "find": return new(name, (a, _) => a.Count > 0 && a[0] is string sub ? (long)s.IndexOf(sub, StringComparison.Ordinal) : throw new JinjaRuntimeException("find() takes a string"));
            case "rfind": return new(name, (a, _) => a.Count > 0 && a[0] is string sub ? (long)s.LastIndexOf(sub, StringComparison.Ordinal) : throw new JinjaRuntimeException("rfind() takes a string"));
            case "count": return new(name, (a, _) => a.Count > 0 && a[0] is string sub ? CountOccurrences(s, sub) : throw new JinjaRuntimeException("count() takes a string"));
            case "join": return new(name, (a, _) => a.Count == 1 ? string.Join(s, JinjaOperations.Iterate(a[0]).Select(x => x as string ?? throw new JinjaRuntimeException($"sequence item: expected str instance, {JinjaOperations.TypeName(x)} found"))) : throw new JinjaRuntimeException("join() takes one iterable"));
            case "isdigit": return new(name, (_, _) => s.Length > 0 && s.All(char.IsDigit));
            case "isalpha": return new(name, (_, _) => s.Length > 0 && s.All(char.IsLetter));
            case "isalnum": return new(name, (_, _) => s.Length > 0 && s.All(char.IsLetterOrDigit));
            case "isspace": return new(name, (_, _) => s.Length > 0 && s.All(IsSpace));
            case "islower": return new(name, (_, _) => s.Any(char.IsLetter) && !s.Any(char.IsUpper));
            case "isupper": return new(name, (_, _) => s.Any(char.IsLetter) && !s.Any(char.IsLower));
            case "format": throw new JinjaRuntimeException("str.format() is not supported");
            default: return null;
        }
    }

    private static string? Chars(string name, List<object?> args, JinjaDict kwargs)
    {
        JinjaArgs.Check(name, args, kwargs, 1);
        return args.Count == 0 || args[0] is null ? null : args[0] as string ?? throw new JinjaRuntimeException($"{name} arg must be None or str");
    }

    public static string Strip(string s, string? chars, bool left, bool right)
    {
        Func<char, bool> strip = chars is null ? IsSpace : c => chars.Contains(c);
        int start = 0, end = s.Length;
        if (left) while (start < end && strip(s[start])) start++;
        if (right) while (end > start && strip(s[end - 1])) end--;
        return s[start..end];
    }

    private static bool Affix(string s, string name, List<object?> args, JinjaDict kwargs, bool prefix)
    {
        JinjaArgs.Check(name, args, kwargs, 1);
        if (args.Count == 0) throw new JinjaRuntimeException($"{name}() takes a string");
        var candidates = args[0] switch
        {
            string one => new[] { one },
            List<object?> many => many.Select(x => x as string ?? throw new JinjaRuntimeException($"{name}() tuple items must be strings")).ToArray(),
            _ => throw new JinjaRuntimeException($"{name}() first arg must be str or a tuple of str, not {JinjaOperations.TypeName(args[0])}"),
        };
        return candidates.Any(c => prefix ? s.StartsWith(c, StringComparison.Ordinal) : s.EndsWith(c, StringComparison.Ordinal));
    }

    private static List<object?> Split(string s, List<object?> args, JinjaDict kwargs, bool fromRight)
    {
        JinjaArgs.Check("split", args, kwargs, 2, "sep", "maxsplit");
        object? sepValue = JinjaArgs.Get(args, kwargs, 0, "sep");
        long max = JinjaArgs.Get(args, kwargs, 1, "maxsplit", -1L) is long m ? m : -1;
        if (sepValue is not null and not string) throw new JinjaRuntimeException("split() separator must be a string or None");
        var sep = sepValue as string;
        if (sep is { Length: 0 }) throw new JinjaRuntimeException("empty separator");
        var result = new List<object?>();
        if (sep is null)
        {
            // Runs of whitespace separate; leading and trailing whitespace give no empty items.
            var words = new List<(int Start, int End)>();
            int i = 0;
            while (i < s.Length)
            {
                while (i < s.Length && IsSpace(s[i])) i++;
                if (i >= s.Length) break;
                int start = i;
                while (i < s.Length && !IsSpace(s[i])) i++;
                words.Add((start, i));
            }

            if (max < 0 || words.Count <= max + 1) return words.Select(w => (object?)s[w.Start..w.End]).ToList();
            if (!fromRight)
            {
                for (int k = 0; k < max; k++) result.Add(s[words[k].Start..words[k].End]);
                result.Add(s[words[(int)max].Start..].TrimEnd(IsSpaceChars));
                return result;
            }

            int firstKept = words.Count - (int)max;
            result.Add(s[..words[firstKept - 1].End].TrimStart(IsSpaceChars));
            for (int k = firstKept; k < words.Count; k++) result.Add(s[words[k].Start..words[k].End]);
            return result;
        }

        var pieces = s.Split(sep);
        if (max < 0 || pieces.Length <= max + 1) return pieces.Select(p => (object?)p).ToList();
        if (!fromRight)
        {
            result.AddRange(pieces.Take((int)max));
            result.Add(string.Join(sep, pieces.Skip((int)max)));
        }
        else
        {
            result.Add(string.Join(sep, pieces.Take(pieces.Length - (int)max)));
            result.AddRange(pieces.Skip(pieces.Length - (int)max));
        }

        return result;
    }

    private static List<object?> SplitLines(string s)
    {
        var lines = s.Replace("\r\n", "\n").Split('\n', '\r').Select(x => (object?)x).ToList();
        if (lines.Count > 0 && (string)lines[^1]! == "") lines.RemoveAt(lines.Count - 1);
        return lines;
    }

    private static readonly char[] IsSpaceChars = Enumerable.Range(0, 0x3001).Select(i => (char)i).Where(IsSpace).ToArray();

    private static string Replace(string s, string old, string replacement, long count)
    {
        if (count < 0) return old.Length == 0 ? InsertBetweenAll(s, replacement) : s.Replace(old, replacement, StringComparison.Ordinal);
        var sb = new StringBuilder();
        int pos = 0;
        for (long n = 0; n < count; n++)
        {
            int i = s.IndexOf(old, pos, StringComparison.Ordinal);
            if (i < 0 || old.Length == 0) break;
            sb.Append(s, pos, i - pos).Append(replacement);
            pos = i + old.Length;
        }

        return sb.Append(s, pos, s.Length - pos).ToString();
    }

    private static string InsertBetweenAll(string s, string insert) =>
        insert + string.Concat(JinjaOperations.StringChars(s).Select(c => (string)c! + insert));

    private static long CountOccurrences(string s, string sub)
    {
        if (sub.Length == 0) return JinjaOperations.StringChars(s).Count + 1;
        long n = 0;
        for (int i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + sub.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    /// <summary>Python's <c>str.title()</c>: a cased letter after an uncased character starts a word.</summary>
    public static string PythonTitle(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool previousCased = false;
        foreach (char c in s)
        {
            sb.Append(previousCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            previousCased = char.IsLetter(c) && (char.IsUpper(c) || char.IsLower(c));
        }

        return sb.ToString();
    }

    public static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();
}
