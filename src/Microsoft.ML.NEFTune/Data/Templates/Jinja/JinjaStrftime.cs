using System.Globalization;
using System.Text;

namespace Microsoft.ML.NEFTune.Data.Templates.Jinja;

/// <summary>Python's <c>datetime.strftime</c> in the C locale, for <c>strftime_now</c>.</summary>
internal static class JinjaStrftime
{
    public static string Format(DateTime time, string format)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                sb.Append(format[i]);
                continue;
            }

            char code = format[++i];
            bool noPad = false;
            if (code == '-' && i + 1 < format.Length)
            {
                noPad = true;
                code = format[++i];
            }

            string Pad(int value, int width) => noPad ? value.ToString(c) : value.ToString(new string('0', width), c);
            sb.Append(code switch
            {
                'a' => time.ToString("ddd", c),
                'A' => time.ToString("dddd", c),
                'b' or 'h' => time.ToString("MMM", c),
                'B' => time.ToString("MMMM", c),
                'd' => Pad(time.Day, 2),
                'e' => time.Day.ToString(c).PadLeft(2),
                'm' => Pad(time.Month, 2),
                'y' => Pad(time.Year % 100, 2),
                'Y' => time.Year.ToString(c),
                'H' => Pad(time.Hour, 2),
                'I' => Pad(time.Hour % 12 == 0 ? 12 : time.Hour % 12, 2),
                'M' => Pad(time.Minute, 2),
                'S' => Pad(time.Second, 2),
                'p' => time.Hour < 12 ? "AM" : "PM",
                'j' => Pad(time.DayOfYear, 3),
                'f' => ((time.Ticks % TimeSpan.TicksPerSecond) / 10).ToString("000000", c),
                'w' => ((int)time.DayOfWeek).ToString(c),
                'u' => (time.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)time.DayOfWeek).ToString(c),
                'F' => time.ToString("yyyy-MM-dd", c),
                'D' => time.ToString("MM/dd/yy", c),
                'T' => time.ToString("HH:mm:ss", c),
                'R' => time.ToString("HH:mm", c),
                '%' => "%",
                _ => throw new JinjaRuntimeException($"strftime_now: the format code '%{code}' is not supported"),
            });
        }

        return sb.ToString();
    }
}
