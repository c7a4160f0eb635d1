namespace Microsoft.ML.NEFTune.Data.Templates.Jinja;

/// <summary>The <c>loop</c> variable of a for loop: index, index0, revindex, revindex0, first, last, length, previtem, nextitem, cycle, depth.</summary>
internal sealed class JinjaLoop
{
    private readonly List<object?> items;

    public JinjaLoop(List<object?> items) => this.items = items;

    public int Index0 { get; set; }

    public object? Get(string name) => name switch
    {
        "index" => (long)(Index0 + 1),
        "index0" => (long)Index0,
        "revindex" => (long)(items.Count - Index0),
        "revindex0" => (long)(items.Count - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == items.Count - 1,
        "length" => (long)items.Count,
        "depth" => 1L,
        "depth0" => 0L,
        "previtem" => Index0 > 0 ? items[Index0 - 1] : new JinjaUndefined("loop.previtem is undefined (first iteration)"),
        "nextitem" => Index0 < items.Count - 1 ? items[Index0 + 1] : new JinjaUndefined("loop.nextitem is undefined (last iteration)"),
        "cycle" => new JinjaCallable("loop.cycle", (args, _) =>
            args.Count == 0 ? throw new JinjaRuntimeException("loop.cycle() needs at least one argument") : args[Index0 % args.Count]),
        _ => null,
    };
}
