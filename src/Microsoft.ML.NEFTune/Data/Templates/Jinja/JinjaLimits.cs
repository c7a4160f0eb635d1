namespace Microsoft.ML.NEFTune.Data.Templates.Jinja;

/// <summary>
/// Bounds that keep a hostile or broken template from running forever or exhausting memory: loop iterations in all,
/// macro call depth, and the size of the output and of any string or list built.
/// </summary>
internal sealed class JinjaLimits
{
    public const long MaxIterations = 1_000_000;
    public const int MaxCallDepth = 64;
    public const long MaxLength = 64L * 1024 * 1024;

    private long iterations;

    public void CountIteration()
    {
        if (++iterations > MaxIterations) throw new JinjaRuntimeException($"the template ran more than {MaxIterations:N0} loop iterations");
    }

    public string CheckLength(string value)
    {
        CheckLength(value.Length);
        return value;
    }

    public void CheckLength(long length)
    {
        if (length > MaxLength) throw new JinjaRuntimeException($"the template built a string longer than {MaxLength:N0} characters");
    }

    public List<object?> CheckCount(List<object?> list)
    {
        CheckCount(list.Count);
        return list;
    }

    public void CheckCount(long count)
    {
        if (count > MaxIterations) throw new JinjaRuntimeException($"the template built a list longer than {MaxIterations:N0} items");
    }
}
