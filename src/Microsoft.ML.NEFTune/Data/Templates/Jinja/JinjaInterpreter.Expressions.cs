namespace Microsoft.ML.NEFTune.Data.Templates.Jinja;

/// <summary>Evaluating expressions: names and literals, operators with Python semantics, filters, tests, attribute and item access, calls.</summary>
internal sealed partial class JinjaInterpreter
{
    private (List<object?> Args, JinjaDict Kwargs) EvalArguments(IReadOnlyList<JinjaExpr> args, IReadOnlyList<(string Name, JinjaExpr Value)> kwargs, Scope scope)
    {
        var values = args.Select(a => Eval(a, scope)).ToList();
        var named = new JinjaDict();
        foreach (var (name, value) in kwargs) named[name] = Eval(value, scope);
        return (values, named);
    }

    private static string Describe(JinjaExpr e) => e switch
    {
        NameExpr n => n.Name,
        AttributeExpr a => Describe(a.Target) + "." + a.Name,
        IndexExpr i => Describe(i.Target) + "[" + (i.Index is LiteralExpr l ? JinjaOperations.Repr(l.Value) : "…") + "]",
        _ => "expression",
    };

    private object? Eval(JinjaExpr e, Scope scope)
    {
        switch (e)
        {
            case LiteralExpr l:
                return l.Value;
            case NameExpr n:
                if (scope.TryGet(n.Name, out var value)) return value;
                return globals.TryGetValue(n.Name, out var global) ? global : new JinjaUndefined($"'{n.Name}' is undefined");
            case ListExpr list:
                var items = list.Items.Select(x => Eval(x, scope));
                return list.IsTuple ? new JinjaTuple(items) : items.ToList();
            case DictExpr dict:
            {
                var d = new JinjaDict();
                foreach (var (key, v) in dict.Pairs)
                {
                    if (Eval(key, scope) is not string k) throw new JinjaRuntimeException("dict keys must be strings in chat templates");
                    d[k] = Eval(v, scope);
                }

                return d;
            }

            case AttributeExpr a:
                return JinjaOperations.GetAttribute(Eval(a.Target, scope), a.Name, Describe(a));
            case IndexExpr i:
                return JinjaOperations.GetItem(Eval(i.Target, scope), Eval(i.Index, scope), Describe(i));
            case SliceExpr s:
                return JinjaOperations.Slice(Eval(s.Target, scope), s.Start is null ? null : Eval(s.Start, scope), s.Stop is null ? null : Eval(s.Stop, scope), s.Step is null ? null : Eval(s.Step, scope));
            case CallExpr c:
            {
                var callee = Eval(c.Callee, scope);
                var (args, kwargs) = EvalArguments(c.Args, c.Kwargs, scope);
                return callee switch
                {
                    JinjaCallable callable => callable.Invoke(args, kwargs),
                    JinjaUndefined u => throw new JinjaRuntimeException($"{u.Description}, so it cannot be called (supported functions: {string.Join(", ", globals.Keys)})"),
                    _ => throw new JinjaRuntimeException($"'{JinjaOperations.TypeName(callee)}' object is not callable"),
                };
            }

            case FilterExpr f:
            {
                var subject = Eval(f.Value!, scope);
                var (args, kwargs) = EvalArguments(f.Args, f.Kwargs, scope);
                return JinjaFilters.Apply(f.Name, subject, args, kwargs, limits);
            }

            case TestExpr t:
            {
                var subject = Eval(t.Value, scope);
                var args = t.Args.Select(x => Eval(x, scope)).ToList();
                return JinjaFilters.Test(t.Name, subject, args) != t.Negated;
            }

            case UnaryExpr u:
            {
                var operand = Eval(u.Operand, scope);
                return u.Operator switch
                {
                    "not" => !JinjaOperations.IsTrue(operand),
                    "-" => JinjaOperations.Negate(operand),
                    _ => JinjaOperations.IsNumber(operand) ? operand : throw new JinjaRuntimeException($"bad operand type for unary +: '{JinjaOperations.TypeName(operand)}'"),
                };
            }

            case BinaryExpr b when b.Operator == "and":
            {
                var left = Eval(b.Left, scope);
                return JinjaOperations.IsTrue(left) ? Eval(b.Right, scope) : left;
            }

            case BinaryExpr b when b.Operator == "or":
            {
                var left = Eval(b.Left, scope);
                return JinjaOperations.IsTrue(left) ? left : Eval(b.Right, scope);
            }

            case BinaryExpr b:
                return JinjaOperations.Binary(b.Operator, Eval(b.Left, scope), Eval(b.Right, scope), limits);
            case CompareExpr c:
            {
                var left = Eval(c.First, scope);
                foreach (var (op, operandExpr) in c.Rest)
                {
                    var right = Eval(operandExpr, scope);
                    bool ok = op switch
                    {
                        "==" => JinjaOperations.Equals(left, right),
                        "!=" => !JinjaOperations.Equals(left, right),
                        "<" => JinjaOperations.Compare(left, right, op) < 0,
                        "<=" => JinjaOperations.Compare(left, right, op) <= 0,
                        ">" => JinjaOperations.Compare(left, right, op) > 0,
                        ">=" => JinjaOperations.Compare(left, right, op) >= 0,
                        "in" => JinjaOperations.Contains(right, left),
                        _ => !JinjaOperations.Contains(right, left),
                    };
                    if (!ok) return false;
                    left = right;
                }

                return true;
            }

            case ConditionalExpr c:
                return JinjaOperations.IsTrue(Eval(c.Condition, scope)) ? Eval(c.Then, scope)
                    : c.Else is null ? new JinjaUndefined("the conditional expression without else is undefined") : Eval(c.Else, scope);
            default:
                throw new JinjaRuntimeException($"unknown expression {e.GetType().Name}");
        }
    }
}
