namespace Microsoft.ML.NEFTune.Data.Templates.Jinja;

// Runtime values. Python's types map to: None -> null, bool, int -> long, float -> double, str -> string,
// list/tuple -> List<object?>, dict -> JinjaDict (insertion-ordered, string keys), plus the types below.

/// <summary>Jinja's <c>Undefined</c>: what a missing variable, key or attribute gives. It prints as "" and is false.</summary>
internal sealed class JinjaUndefined
{
    public JinjaUndefined(string description, bool forbidden = false)
    {
        Description = description;
        Forbidden = forbidden;
    }

    /// <summary>What was looked up, for error messages ("'tools' is undefined").</summary>
    public string Description { get; }

    /// <summary>True for an attribute the sandbox refuses (Python internals such as <c>__class__</c>): it is not defined, and printing it is an error.</summary>
    public bool Forbidden { get; }
}

/// <summary>A Python dict with string keys, kept in insertion order.</summary>
internal sealed class JinjaDict : OrderedDictionary<string, object?>
{
    public JinjaDict()
        : base(StringComparer.Ordinal)
    {
    }
}

/// <summary>A Python tuple (from <c>items()</c>, <c>dictsort</c> or a <c>(a, b)</c> literal): a list that prints with parentheses.</summary>
internal sealed class JinjaTuple : List<object?>
{
    public JinjaTuple(IEnumerable<object?> items)
        : base(items)
    {
    }
}

/// <summary>The object <c>namespace(...)</c> returns: attributes that <c>{% set ns.attr = … %}</c> may change from any scope.</summary>
internal sealed class JinjaNamespace
{
    public JinjaDict Attributes { get; } = new();
}

/// <summary>Something callable from a template: a global function, a macro or a bound method of a value.</summary>
internal sealed class JinjaCallable
{
    public JinjaCallable(string name, Func<List<object?>, JinjaDict, object?> invoke)
    {
        Name = name;
        Invoke = invoke;
    }

    public string Name { get; }

    public Func<List<object?>, JinjaDict, object?> Invoke { get; }
}

/// <summary>Reading the positional and keyword arguments of a call.</summary>
internal static class JinjaArgs
{
    /// <summary>The argument at <paramref name="index"/> or keyword <paramref name="name"/>, or <paramref name="fallback"/>.</summary>
    public static object? Get(List<object?> args, JinjaDict kwargs, int index, string name, object? fallback = null)
    {
        if (index < args.Count) return args[index];
        return kwargs.TryGetValue(name, out var value) ? value : fallback;
    }

    /// <summary>Fails when more positional arguments than <paramref name="max"/> or unknown keywords were given.</summary>
    public static void Check(string function, List<object?> args, JinjaDict kwargs, int max, params string[] keywords)
    {
        if (args.Count > max) throw new JinjaRuntimeException($"{function}() takes at most {max} positional argument(s), {args.Count} given");
        foreach (var key in kwargs.Keys)
        {
            if (Array.IndexOf(keywords, key) < 0) throw new JinjaRuntimeException($"{function}() got an unexpected keyword argument '{key}'");
        }
    }
}

/// <summary>A runtime error without a line; the interpreter adds the line of the node being evaluated.</summary>
internal sealed class JinjaRuntimeException : Exception
{
    public JinjaRuntimeException(string message)
        : base(message)
    {
    }
}
