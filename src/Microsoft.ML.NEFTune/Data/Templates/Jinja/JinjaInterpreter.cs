using System.Text;

namespace Microsoft.ML.NEFTune.Data.Templates.Jinja;

/// <summary>
/// Runs a parsed template as Jinja2 does in transformers' sandbox: for loops and macros have their own scope
/// (<c>set</c> inside a loop does not leak; <c>namespace()</c> objects carry state out), <c>if</c> does not; missing
/// names and keys are undefined; globals <c>range</c>, <c>namespace</c>, <c>dict</c>, <c>raise_exception</c> and
/// <c>strftime_now</c>. Nothing reaches .NET objects: values are only the types of <see cref="JinjaOperations"/>.
/// Text written inside <c>{% generation %}</c> blocks is recorded as character spans.
/// </summary>
internal sealed partial class JinjaInterpreter
{
    private enum Flow
    {
        Normal,
        Break,
        Continue,
    }

    private sealed class Scope
    {
        private readonly Dictionary<string, object?> variables = new(StringComparer.Ordinal);

        public Scope(Scope? parent) => Parent = parent;

        public Scope? Parent { get; }

        public bool TryGet(string name, out object? value)
        {
            for (var scope = this; scope is not null; scope = scope.Parent)
            {
                if (scope.variables.TryGetValue(name, out value)) return true;
            }

            value = null;
            return false;
        }

        public void Set(string name, object? value) => variables[name] = value;
    }

    /// <summary>An error the template raised itself with <c>raise_exception</c>.</summary>
    private sealed class RaisedException : Exception
    {
        public RaisedException(string message)
            : base(message)
        {
        }
    }

    private readonly JinjaLimits limits = new();
    private readonly Dictionary<string, object?> globals;
    private readonly List<(int Start, int End)> generationSpans = new();
    private StringBuilder root = new();
    private int callDepth;

    public JinjaInterpreter(DateTime now)
    {
        globals = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["range"] = new JinjaCallable("range", Range),
            ["namespace"] = new JinjaCallable("namespace", (args, kwargs) =>
            {
                var ns = new JinjaNamespace();
                foreach (var arg in args)
                {
                    if (arg is not JinjaDict d) throw new JinjaRuntimeException("namespace() takes keyword arguments or a dict");
                    foreach (var p in d) ns.Attributes[p.Key] = p.Value;
                }

                foreach (var p in kwargs) ns.Attributes[p.Key] = p.Value;
                return ns;
            }),
            ["dict"] = new JinjaCallable("dict", (args, kwargs) =>
            {
                var d = new JinjaDict();
                if (args.Count > 0) throw new JinjaRuntimeException("dict() takes keyword arguments only");
                foreach (var p in kwargs) d[p.Key] = p.Value;
                return d;
            }),
            ["raise_exception"] = new JinjaCallable("raise_exception", (args, _) =>
                throw new RaisedException(args.Count > 0 ? JinjaOperations.ToText(args[0]) : "raise_exception() was called")),
            ["strftime_now"] = new JinjaCallable("strftime_now", (args, _) =>
                args.Count == 1 && args[0] is string format ? JinjaStrftime.Format(now, format) : throw new JinjaRuntimeException("strftime_now() takes one format string")),
        };
    }

    /// <summary>The spans of text written inside <c>{% generation %}</c> blocks during the last <see cref="Render"/>.</summary>
    public IReadOnlyList<(int Start, int End)> GenerationSpans => generationSpans;

    public string Render(IReadOnlyList<JinjaNode> template, IReadOnlyDictionary<string, object?> variables)
    {
        var scope = new Scope(null);
        foreach (var p in variables) scope.Set(p.Key, p.Value);
        root = new StringBuilder();
        generationSpans.Clear();
        var flow = Execute(template, scope, root);
        if (flow != Flow.Normal) throw new ChatTemplateException("'break' or 'continue' outside a for loop", 1);
        return root.ToString();
    }

    private Flow Execute(IReadOnlyList<JinjaNode> nodes, Scope scope, StringBuilder output)
    {
        foreach (var node in nodes)
        {
            Flow flow;
            try
            {
                flow = ExecuteNode(node, scope, output);
            }
            catch (JinjaRuntimeException ex)
            {
                throw new ChatTemplateException(ex.Message, node.Line);
            }
            catch (RaisedException ex)
            {
                throw new ChatTemplateException(ex.Message, node.Line, raisedByTemplate: true);
            }
            catch (OverflowException)
            {
                throw new ChatTemplateException("integer overflow", node.Line);
            }

            if (flow != Flow.Normal) return flow;
            limits.CheckLength(output.Length);
        }

        return Flow.Normal;
    }

    private Flow ExecuteNode(JinjaNode node, Scope scope, StringBuilder output)
    {
        switch (node)
        {
            case TextNode text:
                output.Append(text.Text);
                return Flow.Normal;
            case OutputNode o:
                output.Append(JinjaOperations.ToText(Eval(o.Value, scope)));
                return Flow.Normal;
            case IfNode i:
                foreach (var (condition, body) in i.Branches)
                {
                    if (JinjaOperations.IsTrue(Eval(condition, scope))) return Execute(body, scope, output);
                }

                return i.Else is null ? Flow.Normal : Execute(i.Else, scope, output);
            case ForNode f:
                return ExecuteFor(f, scope, output);
            case SetNode s:
            {
                var value = Eval(s.Value, scope);
                if (s.Attribute is not null)
                {
                    if (!scope.TryGet(s.Targets[0], out var target) || target is not JinjaNamespace ns)
                        throw new JinjaRuntimeException($"cannot assign attribute '{s.Attribute}' on '{s.Targets[0]}': only namespace() objects can be changed");
                    ns.Attributes[s.Attribute] = value;
                }
                else
                {
                    Assign(scope, s.Targets, value);
                }

                return Flow.Normal;
            }

            case SetBlockNode b:
            {
                var captured = new StringBuilder();
                var flow = Execute(b.Body, scope, captured);
                scope.Set(b.Target, captured.ToString());
                return flow;
            }

            case MacroNode m:
                scope.Set(m.Name, MakeMacro(m, scope));
                return Flow.Normal;
            case FilterBlockNode fb:
            {
                var captured = new StringBuilder();
                var flow = Execute(fb.Body, scope, captured);
                var (args, kwargs) = EvalArguments(fb.Filter.Args, fb.Filter.Kwargs, scope);
                output.Append(JinjaOperations.ToText(JinjaFilters.Apply(fb.Filter.Name, captured.ToString(), args, kwargs, limits)));
                return flow;
            }

            case GenerationNode g:
            {
                int start = output.Length;
                var flow = Execute(g.Body, scope, output);
                if (ReferenceEquals(output, root) && output.Length > start) generationSpans.Add((start, output.Length));
                return flow;
            }

            case LoopControlNode l:
                return l.IsBreak ? Flow.Break : Flow.Continue;
            case DoNode d:
                Eval(d.Value, scope);
                return Flow.Normal;
            default:
                throw new JinjaRuntimeException($"unknown statement {node.GetType().Name}");
        }
    }

    private static void Assign(Scope scope, IReadOnlyList<string> targets, object? value)
    {
        if (targets.Count == 1)
        {
            scope.Set(targets[0], value);
            return;
        }

        var items = JinjaOperations.Iterate(value);
        if (items.Count != targets.Count)
            throw new JinjaRuntimeException($"cannot unpack {items.Count} values into {targets.Count} names");
        for (int k = 0; k < targets.Count; k++) scope.Set(targets[k], items[k]);
    }

    private Flow ExecuteFor(ForNode f, Scope scope, StringBuilder output)
    {
        var items = JinjaOperations.Iterate(Eval(f.Iterable, scope));
        if (f.Filter is not null)
        {
            var kept = new List<object?>();
            foreach (var item in items)
            {
                limits.CountIteration();
                var probe = new Scope(scope);
                Assign(probe, f.Targets, item);
                if (JinjaOperations.IsTrue(Eval(f.Filter, probe))) kept.Add(item);
            }

            items = kept;
        }

        if (items.Count == 0) return f.Else is null ? Flow.Normal : Execute(f.Else, scope, output);
        var loop = new JinjaLoop(items);
        for (int i = 0; i < items.Count; i++)
        {
            limits.CountIteration();
            var iteration = new Scope(scope);
            Assign(iteration, f.Targets, items[i]);
            loop.Index0 = i;
            iteration.Set("loop", loop);
            var flow = Execute(f.Body, iteration, output);
            if (flow == Flow.Break) break;
        }

        return Flow.Normal;
    }

    private JinjaCallable MakeMacro(MacroNode m, Scope definition) => new(m.Name, (args, kwargs) =>
    {
        if (args.Count > m.Parameters.Count) throw new JinjaRuntimeException($"macro '{m.Name}' takes {m.Parameters.Count} argument(s), {args.Count} given");
        if (++callDepth > JinjaLimits.MaxCallDepth) throw new JinjaRuntimeException($"macro calls nested deeper than {JinjaLimits.MaxCallDepth}");
        try
        {
            var scope = new Scope(definition);
            for (int k = 0; k < m.Parameters.Count; k++)
            {
                var (name, fallback) = m.Parameters[k];
                object? value = k < args.Count ? args[k]
                    : kwargs.TryGetValue(name, out var kw) ? kw
                    : fallback is not null ? Eval(fallback, scope)
                    : new JinjaUndefined($"'{name}' is undefined (macro '{m.Name}' parameter)");
                scope.Set(name, value);
            }

            foreach (var key in kwargs.Keys)
            {
                if (!m.Parameters.Any(p => p.Name == key)) throw new JinjaRuntimeException($"macro '{m.Name}' takes no keyword argument '{key}'");
            }

            var output = new StringBuilder();
            if (Execute(m.Body, scope, output) != Flow.Normal) throw new JinjaRuntimeException("'break' or 'continue' outside a for loop");
            return output.ToString();
        }
        finally
        {
            callDepth--;
        }
    });

    private object? Range(List<object?> args, JinjaDict kwargs)
    {
        if (kwargs.Count > 0 || args.Count is < 1 or > 3 || args.Any(a => a is not long)) throw new JinjaRuntimeException("range() takes one to three integers");
        long start = args.Count > 1 ? (long)args[0]! : 0, stop = args.Count > 1 ? (long)args[1]! : (long)args[0]!, step = args.Count > 2 ? (long)args[2]! : 1;
        if (step == 0) throw new JinjaRuntimeException("range() arg 3 must not be zero");
        long count = step > 0 ? Math.Max(0, (stop - start + step - 1) / step) : Math.Max(0, (start - stop - step - 1) / -step);
        limits.CheckCount(count);
        var result = new List<object?>((int)count);
        for (long k = 0; k < count; k++) result.Add(start + k * step);
        return result;
    }
}
