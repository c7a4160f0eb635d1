using System.Globalization;
using System.Text;

namespace Microsoft.ML.NEFTune.Data.Templates.Jinja;

/// <summary>How values print: Python's <c>str()</c> as Jinja outputs a value, and <c>repr()</c> inside lists and dicts.</summary>
internal static partial class JinjaOperations
{
    /// <summary>Python's <c>str()</c> as Jinja prints a value; undefined prints as "".</summary>
    public static string ToText(object? value) => value switch
    {
        string s => s,
        JinjaUndefined { Forbidden: true } u => throw new JinjaRuntimeException(u.Description),
        JinjaUndefined => "",
        _ => Repr(value),
    };

    /// <summary>Python's <c>repr()</c> (strings quoted), used inside printed lists and dicts.</summary>
    public static string Repr(object? value)
    {
        switch (value)
        {
            case null: return "None";
            case JinjaUndefined: return "";
            case bool b: return b ? "True" : "False";
            case long l: return l.ToString(CultureInfo.InvariantCulture);
            case double d: return FloatRepr(d);
            case string s: return StringRepr(s);
            case JinjaTuple tuple: return "(" + string.Join(", ", tuple.Select(Repr)) + (tuple.Count == 1 ? ",)" : ")");
            case List<object?> list: return "[" + string.Join(", ", list.Select(Repr)) + "]";
            case JinjaDict dict: return "{" + string.Join(", ", dict.Select(p => StringRepr(p.Key) + ": " + Repr(p.Value))) + "}";
            case JinjaNamespace: return "<Namespace>";
            case JinjaCallable c: return $"<function {c.Name}>";
            case JinjaLoop: return "<LoopContext>";
            default: return value.ToString() ?? "";
        }
    }

    public static string StringRepr(string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var sb = new StringBuilder().Append(quote);
        foreach (char c in s)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c == quote) sb.Append('\\').Append(c);
                    else if (c < 0x20 || c == 0x7F) sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }

        return sb.Append(quote).ToString();
    }

    /// <summary>Python's <c>repr(float)</c>: the shortest round-trip digits, fixed notation for exponents -4..15, else scientific.</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0) return double.IsNegative(d) ? "-0.0" : "0.0";
        string r = Math.Abs(d).ToString("E16", CultureInfo.InvariantCulture);
        // Shortest round-trip digits: try increasing precision.
        for (int precision = 0; precision <= 16; precision++)
        {
            string candidate = Math.Abs(d).ToString("E" + precision, CultureInfo.InvariantCulture);
            if (double.Parse(candidate, CultureInfo.InvariantCulture) == Math.Abs(d))
            {
                r = candidate;
                break;
            }
        }

        int e = r.IndexOf('E');
        string digits = r[..e].Replace(".", "").TrimEnd('0');
        if (digits.Length == 0) digits = "0";
        int exponent = int.Parse(r[(e + 1)..], CultureInfo.InvariantCulture);
        string sign = d < 0 ? "-" : "";
        if (exponent >= -4 && exponent < 16)
        {
            string text;
            if (exponent >= 0)
            {
                string intPart = digits.Length > exponent + 1 ? digits[..(exponent + 1)] : digits.PadRight(exponent + 1, '0');
                string frac = digits.Length > exponent + 1 ? digits[(exponent + 1)..] : "0";
                text = intPart + "." + frac;
            }
            else
            {
                text = "0." + new string('0', -exponent - 1) + digits;
            }

            return sign + text;
        }

        string mantissa = digits.Length == 1 ? digits : digits[0] + "." + digits[1..];
        return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + Math.Abs(exponent).ToString("00", CultureInfo.InvariantCulture);
    }
}
