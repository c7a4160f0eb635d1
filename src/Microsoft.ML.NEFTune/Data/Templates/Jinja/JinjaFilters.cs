using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Microsoft.ML.NEFTune.Data.Templates.Jinja;

/// <summary>Jinja2's built-in filters and tests that chat templates use, plus transformers' <c>tojson</c>.</summary>
internal static partial class JinjaFilters
{
    public static readonly IReadOnlyList<string> FilterNames = new[]
    {
        "abs", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first", "float", "indent", "int", "items", "join", "last", "length",
        "list", "lower", "map", "max", "min", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "sort", "string",
        "sum", "title", "tojson", "trim", "unique", "upper", "wordcount",
    };

    public static readonly IReadOnlyList<string> TestNames = new[]
    {
        "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "even", "false", "float", "ge", "gt", "in", "integer", "iterable", "le",
        "lower", "lt", "mapping", "ne", "none", "number", "odd", "sameas", "sequence", "string", "true", "undefined", "upper", "==", "!=", "<", "<=", ">", ">=",
    };

    [GeneratedRegex(@"([-\s({\[<]+)")]
    private static partial Regex WordBeginningSplit();

    public static object? Apply(string name, object? value, List<object?> args, JinjaDict kwargs, JinjaLimits limits)
    {
        if (value is JinjaUndefined undefined && name is not ("default" or "d" or "length" or "count" or "list" or "string" or "tojson" or "safe"))
        {
            // Jinja's Undefined is an empty string or an empty iterable to most filters.
            if (name is "trim" or "upper" or "lower" or "title" or "capitalize" or "replace" or "e" or "escape" or "indent") return Apply(name, "", args, kwargs, limits);
            if (name is "first" or "last" or "join" or "map" or "select" or "reject" or "selectattr" or "rejectattr" or "unique" or "reverse" or "sort" or "sum" or "items")
                return Apply(name, new List<object?>(), args, kwargs, limits);
            throw new JinjaRuntimeException($"{undefined.Description}");
        }

        switch (name)
        {
            case "trim":
                JinjaArgs.Check(name, args, kwargs, 1, "chars");
                return JinjaMethods.Strip(JinjaOperations.ToText(value), JinjaArgs.Get(args, kwargs, 0, "chars") as string, true, true);
            case "upper": return JinjaOperations.ToText(value).ToUpperInvariant();
            case "lower": return JinjaOperations.ToText(value).ToLowerInvariant();
            case "capitalize": return JinjaMethods.Capitalize(JinjaOperations.ToText(value));
            case "title":
                return string.Concat(WordBeginningSplit().Split(JinjaOperations.ToText(value)).Where(w => w.Length > 0)
                    .Select(w => char.ToUpperInvariant(w[0]) + w[1..].ToLowerInvariant()));
            case "length":
            case "count":
                return JinjaOperations.Length(value);
            case "string": return JinjaOperations.ToText(value);
            case "safe": return value;
            case "e":
            case "escape":
                return JinjaOperations.ToText(value).Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&#34;").Replace("'", "&#39;");
            case "wordcount": return (long)Regex.Matches(JinjaOperations.ToText(value), @"\w+").Count;
            case "default":
            case "d":
            {
                JinjaArgs.Check(name, args, kwargs, 2, "default_value", "boolean");
                var fallback = JinjaArgs.Get(args, kwargs, 0, "default_value", "");
                bool boolean = JinjaOperations.IsTrue(JinjaArgs.Get(args, kwargs, 1, "boolean", false));
                return value is JinjaUndefined || (boolean && !JinjaOperations.IsTrue(value)) ? fallback : value;
            }

            case "first":
            {
                var items = JinjaOperations.Iterate(value);
                return items.Count > 0 ? items[0] : new JinjaUndefined("first of an empty sequence is undefined");
            }

            case "last":
            {
                var items = JinjaOperations.Iterate(value);
                return items.Count > 0 ? items[^1] : new JinjaUndefined("last of an empty sequence is undefined");
            }

            case "list": return value is JinjaUndefined ? new List<object?>() : new List<object?>(JinjaOperations.Iterate(value));
            case "join":
            {
                JinjaArgs.Check(name, args, kwargs, 2, "d", "attribute");
                string separator = JinjaOperations.ToText(JinjaArgs.Get(args, kwargs, 0, "d", ""));
                var items = JinjaOperations.Iterate(value);
                if (JinjaArgs.Get(args, kwargs, 1, "attribute") is string attribute) items = items.Select(x => Attribute(x, attribute)).ToList();
                return limits.CheckLength(string.Join(separator, items.Select(JinjaOperations.ToText)));
            }

            case "replace":
            {
                JinjaArgs.Check(name, args, kwargs, 3, "old", "new", "count");
                var method = JinjaMethods.Bind(JinjaOperations.ToText(value), "replace")!;
                return method.Invoke(args, kwargs);
            }

            case "int":
            {
                JinjaArgs.Check(name, args, kwargs, 2, "default", "base");
                var fallback = JinjaArgs.Get(args, kwargs, 0, "default", 0L);
                return value switch
                {
                    long l => l,
                    bool b => b ? 1L : 0L,
                    double d => (long)Math.Truncate(d),
                    string s when long.TryParse(s.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l) => l,
                    string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) => (long)Math.Truncate(d),
                    _ => fallback,
                };
            }

            case "float":
            {
                JinjaArgs.Check(name, args, kwargs, 1, "default");
                var fallback = JinjaArgs.Get(args, kwargs, 0, "default", 0.0);
                return value switch
                {
                    long l => (double)l,
                    bool b => b ? 1.0 : 0.0,
                    double d => d,
                    string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) => d,
                    _ => fallback,
                };
            }

            case "abs":
                return value switch
                {
                    long l => (object)Math.Abs(l),
                    double d => (object)Math.Abs(d),
                    bool b => (object)(b ? 1L : 0L),
                    _ => throw new JinjaRuntimeException($"bad operand type for abs(): '{JinjaOperations.TypeName(value)}'"),
                };
            case "round":
            {
                JinjaArgs.Check(name, args, kwargs, 2, "precision", "method");
                int precision = JinjaArgs.Get(args, kwargs, 0, "precision", 0L) is long p ? (int)p : 0;
                string method = JinjaArgs.Get(args, kwargs, 1, "method", "common") as string ?? "common";
                double x = value is long l ? l : value is double d ? d : throw new JinjaRuntimeException("round expects a number");
                double scale = Math.Pow(10, precision);
                return method switch
                {
                    "common" => Math.Round(x * scale, MidpointRounding.AwayFromZero) / scale,
                    "floor" => Math.Floor(x * scale) / scale,
                    "ceil" => Math.Ceiling(x * scale) / scale,
                    _ => throw new JinjaRuntimeException("round method must be 'common', 'ceil' or 'floor'"),
                };
            }

            case "items":
                if (value is JinjaDict dict) return dict.Select(p => (object?)new JinjaTuple(new[] { p.Key, p.Value })).ToList();
                if (value is List<object?> { Count: 0 }) return new List<object?>();
                throw new JinjaRuntimeException($"items expects a mapping, got {JinjaOperations.TypeName(value)}");
            case "tojson":
            {
                JinjaArgs.Check(name, args, kwargs, 1, "indent", "ensure_ascii", "separators", "sort_keys");
                if (kwargs.ContainsKey("separators") || JinjaOperations.IsTrue(kwargs.GetValueOrDefault("sort_keys")) || JinjaOperations.IsTrue(kwargs.GetValueOrDefault("ensure_ascii")))
                    throw new JinjaRuntimeException("tojson supports only the 'indent' argument");
                var indent = JinjaArgs.Get(args, kwargs, 0, "indent");
                return limits.CheckLength(JinjaJson.Dumps(value, indent switch { null => null, long n => (int)n, _ => throw new JinjaRuntimeException("tojson indent must be an integer") }));
            }

            case "indent":
            {
                JinjaArgs.Check(name, args, kwargs, 3, "width", "first", "blank");
                var widthValue = JinjaArgs.Get(args, kwargs, 0, "width", 4L);
                string pad = widthValue is string w ? w : new string(' ', (int)(widthValue as long? ?? 4));
                bool first = JinjaOperations.IsTrue(JinjaArgs.Get(args, kwargs, 1, "first", false));
                bool blank = JinjaOperations.IsTrue(JinjaArgs.Get(args, kwargs, 2, "blank", false));
                var lines = JinjaOperations.ToText(value).Split('\n');
                var sb = new StringBuilder();
                for (int i = 0; i < lines.Length; i++)
                {
                    if (i > 0) sb.Append('\n');
                    bool indentThis = (i > 0 || first) && (blank || lines[i].Trim().Length > 0);
                    if (indentThis) sb.Append(pad);
                    sb.Append(lines[i]);
                }

                return sb.ToString();
            }

            case "reverse":
                if (value is string text) return string.Concat(Enumerable.Reverse(JinjaOperations.StringChars(text)).Cast<string>());
                return Enumerable.Reverse(JinjaOperations.Iterate(value)).ToList();
            case "unique":
            {
                var result = new List<object?>();
                foreach (var item in JinjaOperations.Iterate(value))
                {
                    if (!result.Any(x => JinjaOperations.Equals(x, item))) result.Add(item);
                }

                return result;
            }

            case "sort":
            {
                JinjaArgs.Check(name, args, kwargs, 3, "reverse", "case_sensitive", "attribute");
                bool reverse = JinjaOperations.IsTrue(JinjaArgs.Get(args, kwargs, 0, "reverse", false));
                bool caseSensitive = JinjaOperations.IsTrue(JinjaArgs.Get(args, kwargs, 1, "case_sensitive", false));
                var attribute = JinjaArgs.Get(args, kwargs, 2, "attribute") as string;
                var items = JinjaOperations.Iterate(value).ToList();
                object? Key(object? x)
                {
                    var k = attribute is null ? x : Attribute(x, attribute);
                    return !caseSensitive && k is string s ? s.ToLowerInvariant() : k;
                }

                var sorted = items.Select((x, i) => (x, i)).OrderBy(p => Key(p.x), Comparer<object?>.Create((a, b) => JinjaOperations.Compare(a, b, "<"))).ThenBy(p => p.i).Select(p => p.x).ToList();
                if (reverse) sorted.Reverse();
                return sorted;
            }

            case "dictsort":
            {
                if (value is not JinjaDict sortedDict) throw new JinjaRuntimeException("dictsort expects a mapping");
                return sortedDict.OrderBy(p => p.Key.ToLowerInvariant(), Comparer<string>.Create(JinjaOperations.CompareCodePoints))
                    .Select(p => (object?)new JinjaTuple(new[] { p.Key, p.Value })).ToList();
            }

            case "sum":
            {
                JinjaArgs.Check(name, args, kwargs, 2, "attribute", "start");
                var attribute = JinjaArgs.Get(args, kwargs, 0, "attribute") as string;
                object? total = JinjaArgs.Get(args, kwargs, 1, "start", 0L);
                foreach (var item in JinjaOperations.Iterate(value)) total = JinjaOperations.Binary("+", total, attribute is null ? item : Attribute(item, attribute), limits);
                return total;
            }

            case "min":
            case "max":
            {
                var items = JinjaOperations.Iterate(value);
                if (items.Count == 0) return new JinjaUndefined($"{name}() of an empty sequence is undefined");
                var best = items[0];
                foreach (var item in items.Skip(1))
                {
                    int c = JinjaOperations.Compare(item is string s ? s.ToLowerInvariant() : item, best is string t ? t.ToLowerInvariant() : best, "<");
                    if (name == "min" ? c < 0 : c > 0) best = item;
                }

                return best;
            }

            case "map":
            {
                var items = JinjaOperations.Iterate(value);
                if (kwargs.TryGetValue("attribute", out var attributeValue))
                {
                    string attribute = attributeValue as string ?? throw new JinjaRuntimeException("map attribute must be a string");
                    bool hasDefault = kwargs.TryGetValue("default", out var fallback);
                    return items.Select(x =>
                    {
                        var v = Attribute(x, attribute);
                        return v is JinjaUndefined && hasDefault ? fallback : v;
                    }).ToList();
                }

                if (args.Count == 0 || args[0] is not string filter) throw new JinjaRuntimeException("map needs a filter name or attribute=");
                var rest = args.Skip(1).ToList();
                return items.Select(x => Apply(filter, x, rest, kwargs, limits)).ToList();
            }

            case "select":
            case "reject":
            case "selectattr":
            case "rejectattr":
            {
                bool byAttribute = name.EndsWith("attr", StringComparison.Ordinal);
                bool keep = name.StartsWith("select", StringComparison.Ordinal);
                int offset = 0;
                string? attribute = null;
                if (byAttribute)
                {
                    attribute = args.Count > 0 && args[0] is string a ? a : throw new JinjaRuntimeException($"{name} needs an attribute name");
                    offset = 1;
                }

                string? test = args.Count > offset ? args[offset] as string ?? throw new JinjaRuntimeException($"{name} test name must be a string") : null;
                var testArgs = args.Skip(offset + 1).ToList();
                return JinjaOperations.Iterate(value).Where(x =>
                {
                    var subject = attribute is null ? x : Attribute(x, attribute);
                    bool passed = test is null ? JinjaOperations.IsTrue(subject) : Test(test, subject, testArgs);
                    return passed == keep;
                }).ToList();
            }

            default:
                throw new JinjaRuntimeException($"the filter '{name}' is not supported (supported: {string.Join(", ", FilterNames)})");
        }
    }

    /// <summary>An attribute of an item for <c>map</c>, <c>sort</c>, <c>selectattr</c> (dotted paths allowed).</summary>
    private static object? Attribute(object? item, string path)
    {
        object? current = item;
        foreach (var part in path.Split('.'))
        {
            if (current is JinjaUndefined) return current;
            current = long.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out long index)
                ? JinjaOperations.GetItem(current, index, part)
                : JinjaOperations.GetItem(current, part, part);
        }

        return current;
    }

    public static bool Test(string name, object? value, List<object?> args)
    {
        object? Arg() => args.Count > 0 ? args[0] : throw new JinjaRuntimeException($"the test '{name}' needs an argument");
        return name switch
        {
            "defined" => value is not JinjaUndefined,
            "undefined" => value is JinjaUndefined,
            "none" => value is null,
            "boolean" => value is bool,
            "true" => value is true,
            "false" => value is false,
            "integer" => value is long,
            "float" => value is double,
            "number" => value is long or double or bool,
            "string" => value is string,
            "mapping" => value is JinjaDict,
            "iterable" => value is string or List<object?> or JinjaDict or JinjaUndefined,
            "sequence" => value is string or List<object?> or JinjaDict,
            "callable" => value is JinjaCallable,
            "odd" => value is long l1 ? Math.Abs(l1 % 2) == 1 : throw new JinjaRuntimeException("odd expects an integer"),
            "even" => value is long l2 ? l2 % 2 == 0 : throw new JinjaRuntimeException("even expects an integer"),
            "divisibleby" => value is long l3 && Arg() is long d ? d != 0 ? l3 % d == 0 : throw new JinjaRuntimeException("integer division or modulo by zero") : throw new JinjaRuntimeException("divisibleby expects integers"),
            "eq" or "equalto" or "==" => JinjaOperations.Equals(value, Arg()),
            "ne" or "!=" => !JinjaOperations.Equals(value, Arg()),
            "lt" or "lessthan" or "<" => JinjaOperations.Compare(value, Arg(), "<") < 0,
            "le" or "<=" => JinjaOperations.Compare(value, Arg(), "<=") <= 0,
            "gt" or "greaterthan" or ">" => JinjaOperations.Compare(value, Arg(), ">") > 0,
            "ge" or ">=" => JinjaOperations.Compare(value, Arg(), ">=") >= 0,
            "in" => JinjaOperations.Contains(Arg(), value),
            "sameas" => ReferenceEquals(value, Arg()) || (value is bool or null && JinjaOperations.Equals(value, Arg()) && value?.GetType() == Arg()?.GetType()),
            "lower" => value is string s1 && s1 == s1.ToLowerInvariant(),
            "upper" => value is string s2 && s2 == s2.ToUpperInvariant(),
            _ => throw new JinjaRuntimeException($"the test '{name}' is not supported (supported: {string.Join(", ", TestNames)})"),
        };
    }
}
