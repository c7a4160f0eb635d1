using System.Globalization;
using System.Text;

namespace Microsoft.ML.NEFTune.Data.Templates.Jinja;

/// <summary>Python semantics of the runtime values: truth, printing, equality, ordering, arithmetic and iteration.</summary>
internal static partial class JinjaOperations
{
    public static bool IsTrue(object? value) => value switch
    {
        null => false,
        JinjaUndefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> list => list.Count > 0,
        JinjaDict dict => dict.Count > 0,
        _ => true,
    };

    public static string TypeName(object? value) => value switch
    {
        null => "NoneType",
        JinjaUndefined => "Undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        JinjaTuple => "tuple",
        List<object?> => "list",
        JinjaDict => "dict",
        JinjaNamespace => "Namespace",
        JinjaCallable => "function",
        JinjaLoop => "LoopContext",
        _ => value.GetType().Name,
    };

    public static bool IsNumber(object? value) => value is long or double or bool;

    private static double ToDouble(object? value) => value switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new JinjaRuntimeException($"expected a number, got {TypeName(value)}"),
    };

    private static long ToLong(object? value) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new JinjaRuntimeException($"expected an integer, got {TypeName(value)}"),
    };

    public new static bool Equals(object? a, object? b)
    {
        if (a is JinjaUndefined || b is JinjaUndefined) return a is JinjaUndefined && b is JinjaUndefined;
        if (a is null || b is null) return a is null && b is null;
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a) == ToDouble(b);
            return ToLong(a) == ToLong(b);
        }

        return (a, b) switch
        {
            (string x, string y) => string.Equals(x, y, StringComparison.Ordinal),
            (List<object?> x, List<object?> y) => x.Count == y.Count && x.Zip(y).All(p => Equals(p.First, p.Second)),
            (JinjaDict x, JinjaDict y) => x.Count == y.Count && x.All(p => y.TryGetValue(p.Key, out var v) && Equals(p.Value, v)),
            _ => ReferenceEquals(a, b),
        };
    }

    /// <summary>Python ordering (numbers, strings by code point, lists lexicographically); anything else is a TypeError.</summary>
    public static int Compare(object? a, object? b, string op)
    {
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a).CompareTo(ToDouble(b));
            return ToLong(a).CompareTo(ToLong(b));
        }

        if (a is string x && b is string y) return CompareCodePoints(x, y);
        if (a is List<object?> p && b is List<object?> q)
        {
            for (int i = 0; i < Math.Min(p.Count, q.Count); i++)
            {
                if (!Equals(p[i], q[i])) return Compare(p[i], q[i], op);
            }

            return p.Count.CompareTo(q.Count);
        }

        throw new JinjaRuntimeException($"'{op}' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    public static int CompareCodePoints(string x, string y)
    {
        int i = 0, j = 0;
        while (i < x.Length && j < y.Length)
        {
            int cx = CodePointAt(x, i), cy = CodePointAt(y, j);
            if (cx != cy) return cx.CompareTo(cy);
            i += cx > 0xFFFF ? 2 : 1;
            j += cy > 0xFFFF ? 2 : 1;
        }

        return (x.Length - i).CompareTo(y.Length - j);
    }

    private static int CodePointAt(string s, int i) =>
        char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]) ? char.ConvertToUtf32(s[i], s[i + 1]) : s[i];

    public static bool Contains(object? container, object? item) => container switch
    {
        string s when item is string t => s.Contains(t, StringComparison.Ordinal),
        string => throw new JinjaRuntimeException($"'in <string>' requires string as left operand, not {TypeName(item)}"),
        List<object?> list => list.Any(x => Equals(x, item)),
        JinjaDict dict => item is string key && dict.ContainsKey(key),
        JinjaUndefined => false, // Jinja's Undefined iterates as empty
        _ => throw new JinjaRuntimeException($"argument of type '{TypeName(container)}' is not iterable"),
    };

    public static object? Binary(string op, object? a, object? b, JinjaLimits limits)
    {
        if (op == "~") return ToText(a) + ToText(b);
        if (a is JinjaUndefined ua) throw new JinjaRuntimeException($"{ua.Description}");
        if (b is JinjaUndefined ub) throw new JinjaRuntimeException($"{ub.Description}");
        switch (op)
        {
            case "+":
                if (a is string sa && b is string sb) return limits.CheckLength(sa + sb);
                if (a is List<object?> la && b is List<object?> lb) return limits.CheckCount(la.Concat(lb).ToList());
                break;
            case "*":
                if (a is string s1 && b is long or bool) return Repeat(s1, ToLong(b), limits);
                if (b is string s2 && a is long or bool) return Repeat(s2, ToLong(a), limits);
                if (a is List<object?> l1 && b is long or bool) return RepeatList(l1, ToLong(b), limits);
                break;
            case "%":
                if (a is string) throw new JinjaRuntimeException("printf-style string formatting ('...' % value) is not supported");
                break;
        }

        if (!IsNumber(a) || !IsNumber(b))
            throw new JinjaRuntimeException($"unsupported operand type(s) for {op}: '{TypeName(a)}' and '{TypeName(b)}'");
        bool floats = a is double || b is double;
        switch (op)
        {
            case "+": return floats ? ToDouble(a) + ToDouble(b) : (object)checked(ToLong(a) + ToLong(b));
            case "-": return floats ? ToDouble(a) - ToDouble(b) : (object)checked(ToLong(a) - ToLong(b));
            case "*": return floats ? ToDouble(a) * ToDouble(b) : (object)checked(ToLong(a) * ToLong(b));
            case "/":
                if (ToDouble(b) == 0) throw new JinjaRuntimeException("division by zero");
                return ToDouble(a) / ToDouble(b);
            case "//":
                if (ToDouble(b) == 0) throw new JinjaRuntimeException("integer division or modulo by zero");
                return floats ? Math.Floor(ToDouble(a) / ToDouble(b)) : (object)FloorDiv(ToLong(a), ToLong(b));
            case "%":
                if (ToDouble(b) == 0) throw new JinjaRuntimeException("integer division or modulo by zero");
                if (floats)
                {
                    double x = ToDouble(a), y = ToDouble(b), m = x % y;
                    return (object)(m != 0 && (m < 0) != (y < 0) ? m + y : m);
                }
                else
                {
                    long x = ToLong(a), y = ToLong(b), m = x % y;
                    return (object)(m != 0 && (m < 0) != (y < 0) ? m + y : m);
                }

            case "**":
                if (!floats && ToLong(b) >= 0) return (object)IntPow(ToLong(a), ToLong(b));
                return Math.Pow(ToDouble(a), ToDouble(b));
            default:
                throw new JinjaRuntimeException($"unknown operator '{op}'");
        }
    }

    private static long IntPow(long a, long b)
    {
        long result = 1;
        for (long k = 0; k < b; k++)
        {
            result = checked(result * a);
            if (result == 0 || result == 1) break;
        }

        return result;
    }

    private static long FloorDiv(long a, long b)
    {
        long q = a / b;
        return (a % b != 0) && ((a < 0) != (b < 0)) ? q - 1 : q;
    }

    private static string Repeat(string s, long n, JinjaLimits limits)
    {
        if (n <= 0) return "";
        limits.CheckLength((long)s.Length * n);
        return new StringBuilder(s.Length * (int)n).Insert(0, s, (int)n).ToString();
    }

    private static List<object?> RepeatList(List<object?> list, long n, JinjaLimits limits)
    {
        var result = new List<object?>();
        if (n <= 0) return result;
        limits.CheckCount((long)list.Count * n);
        for (long i = 0; i < n; i++) result.AddRange(list);
        return result;
    }

    public static object? Negate(object? value) => value switch
    {
        long l => (object)checked(-l),
        double d => (object)(-d),
        bool b => (object)(b ? -1L : 0L),
        _ => throw new JinjaRuntimeException($"bad operand type for unary -: '{TypeName(value)}'"),
    };

    /// <summary>The items a for loop visits: list items, string characters, dict keys; undefined is empty.</summary>
    public static List<object?> Iterate(object? value) => value switch
    {
        List<object?> list => list,
        string s => StringChars(s),
        JinjaDict dict => dict.Keys.Cast<object?>().ToList(),
        JinjaUndefined => new List<object?>(),
        _ => throw new JinjaRuntimeException($"'{TypeName(value)}' object is not iterable"),
    };

    /// <summary>The characters of a string as Python sees them (code points, a surrogate pair is one).</summary>
    public static List<object?> StringChars(string s)
    {
        var result = new List<object?>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                result.Add(s.Substring(i, 2));
                i++;
            }
            else
            {
                result.Add(s[i].ToString());
            }
        }

        return result;
    }

    public static long Length(object? value) => value switch
    {
        string s => StringChars(s).Count,
        List<object?> list => list.Count,
        JinjaDict dict => dict.Count,
        JinjaUndefined => 0,
        _ => throw new JinjaRuntimeException($"object of type '{TypeName(value)}' has no len()"),
    };

    /// <summary><c>obj[key]</c>: item first, then attribute (Jinja's getitem); missing gives undefined.</summary>
    public static object? GetItem(object? target, object? key, string description)
    {
        switch (target)
        {
            case JinjaUndefined u:
                throw new JinjaRuntimeException($"{u.Description}");
            case null:
                throw new JinjaRuntimeException($"'None' has no attribute or item {Repr(key)}");
            case JinjaDict dict when key is string k:
                return dict.TryGetValue(k, out var v) ? v : new JinjaUndefined($"{description} is undefined (the dict has no key {StringRepr(k)})");
            case List<object?> list when key is long or bool:
            {
                long i = key is bool b ? (b ? 1 : 0) : (long)key;
                if (i < 0) i += list.Count;
                return i >= 0 && i < list.Count ? list[(int)i] : new JinjaUndefined($"{description} is undefined (list index out of range)");
            }

            case string s when key is long or bool:
            {
                var chars = StringChars(s);
                long i = key is bool b ? (b ? 1 : 0) : (long)key;
                if (i < 0) i += chars.Count;
                return i >= 0 && i < chars.Count ? chars[(int)i] : new JinjaUndefined($"{description} is undefined (string index out of range)");
            }
        }

        return key is string name ? GetAttribute(target, name, description) : new JinjaUndefined($"{description} is undefined");
    }

    /// <summary><c>obj.name</c>: attribute (methods, loop and namespace fields) first, then item (Jinja's getattr).</summary>
    public static object? GetAttribute(object? target, string name, string description)
    {
        if (name.StartsWith("__", StringComparison.Ordinal))
            return new JinjaUndefined($"access to attribute '{name}' is not allowed in chat templates", forbidden: true);
        switch (target)
        {
            case JinjaUndefined u:
                throw new JinjaRuntimeException($"{u.Description}");
            case null:
                throw new JinjaRuntimeException($"'None' has no attribute '{name}'");
            case JinjaNamespace ns:
                return ns.Attributes.TryGetValue(name, out var nv) ? nv : new JinjaUndefined($"{description} is undefined (the namespace has no attribute '{name}')");
            case JinjaLoop loop:
                return loop.Get(name) ?? new JinjaUndefined($"{description} is undefined (loop has no attribute '{name}')");
        }

        if (JinjaMethods.Bind(target, name) is { } method) return method;
        if (target is JinjaDict dict) return dict.TryGetValue(name, out var v) ? v : new JinjaUndefined($"{description} is undefined (the dict has no key '{name}')");
        return new JinjaUndefined($"{description} is undefined ('{TypeName(target)}' object has no attribute '{name}')");
    }

    public static object? Slice(object? target, object? start, object? stop, object? step)
    {
        long stepValue = step is null or JinjaUndefined ? 1 : ToLong(step);
        if (stepValue == 0) throw new JinjaRuntimeException("slice step cannot be zero");
        List<object?> items = target switch
        {
            List<object?> list => list,
            string s => StringChars(s),
            JinjaUndefined u => throw new JinjaRuntimeException($"{u.Description}"),
            _ => throw new JinjaRuntimeException($"'{TypeName(target)}' object is not subscriptable"),
        };
        int n = items.Count;
        long Clamp(object? v, long fallback, bool isStart)
        {
            if (v is null or JinjaUndefined) return fallback;
            long i = ToLong(v);
            if (i < 0) i += n;
            return stepValue > 0 ? Math.Clamp(i, 0, n) : Math.Clamp(i, -1, n - 1);
        }

        long from = Clamp(start, stepValue > 0 ? 0 : n - 1, true);
        long to = Clamp(stop, stepValue > 0 ? n : -1, false);
        var result = new List<object?>();
        for (long i = from; stepValue > 0 ? i < to : i > to; i += stepValue) result.Add(items[(int)i]);
        return target is string ? string.Concat(result.Cast<string>()) : result;
    }
}
