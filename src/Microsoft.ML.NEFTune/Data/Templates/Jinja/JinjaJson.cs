using System.Globalization;
using System.Text;

namespace Microsoft.ML.NEFTune.Data.Templates.Jinja;

/// <summary>
/// The <c>tojson</c> of transformers' chat templates: Python's <c>json.dumps(value, ensure_ascii=False)</c> with its
/// default separators (<c>", "</c> and <c>": "</c>, or <c>","</c> and <c>": "</c> with an indent), no HTML escaping.
/// </summary>
internal static class JinjaJson
{
    public static string Dumps(object? value, int? indent)
    {
        var sb = new StringBuilder();
        Write(sb, value, indent, 0);
        return sb.ToString();
    }

    private static void Write(StringBuilder sb, object? value, int? indent, int level)
    {
        switch (value)
        {
            case null: sb.Append("null"); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d:
                sb.Append(double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : JinjaOperations.FloatRepr(d));
                break;
            case string s: WriteString(sb, s); break;
            case List<object?> list:
                WriteContainer(sb, '[', ']', list.Count, indent, level, i => Write(sb, list[i], indent, level + 1));
                break;
            case JinjaDict dict:
                var pairs = dict.ToList();
                WriteContainer(sb, '{', '}', pairs.Count, indent, level, i =>
                {
                    WriteString(sb, pairs[i].Key);
                    sb.Append(": ");
                    Write(sb, pairs[i].Value, indent, level + 1);
                });
                break;
            case JinjaUndefined u:
                throw new JinjaRuntimeException($"Object of type Undefined is not JSON serializable ({u.Description})");
            default:
                throw new JinjaRuntimeException($"Object of type {JinjaOperations.TypeName(value)} is not JSON serializable");
        }
    }

    private static void WriteContainer(StringBuilder sb, char open, char close, int count, int? indent, int level, Action<int> item)
    {
        sb.Append(open);
        if (count == 0)
        {
            sb.Append(close);
            return;
        }

        for (int i = 0; i < count; i++)
        {
            if (indent is { } n)
            {
                sb.Append(i == 0 ? "\n" : ",\n").Append(' ', n * (level + 1));
            }
            else if (i > 0)
            {
                sb.Append(", ");
            }

            item(i);
        }

        if (indent is { } m) sb.Append('\n').Append(' ', m * level);
        sb.Append(close);
    }

    private static void WriteString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }

        sb.Append('"');
    }
}
