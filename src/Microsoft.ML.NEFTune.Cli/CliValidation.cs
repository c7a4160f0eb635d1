using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Microsoft.ML.NEFTune.Cli;

using Command = System.CommandLine.Command;

/// <summary>Parse-time checks of option values; a failed check is a usage error naming the option.</summary>
public static class CliValidation
{
    public static Option<int> Positive(this Option<int> option)
    {
        option.Validators.Add(r => Check(r, option, v => v > 0, "must be a positive integer"));
        return option;
    }

    public static Option<int> NonNegative(this Option<int> option)
    {
        option.Validators.Add(r => Check(r, option, v => v >= 0, "must be zero or a positive integer"));
        return option;
    }

    public static Option<int?> Positive(this Option<int?> option)
    {
        option.Validators.Add(r => Check(r, option, v => v is null || v > 0, "must be a positive integer"));
        return option;
    }

    public static Option<double> InRange(this Option<double> option, Func<double, bool> valid, string requirement)
    {
        option.Validators.Add(r => Check(r, option, valid, requirement));
        return option;
    }

    private static void Check<T>(OptionResult result, Option<T> option, Func<T, bool> valid, string requirement)
    {
        if (result.Implicit || result.Errors.Any()) return;
        T? value;
        try { value = result.GetValueOrDefault<T>(); }
        catch (Exception) { return; }
        if (!valid(value!))
            result.AddError($"{option.Name} {requirement}, got {Format(value)}");
    }

    private static string Format(object? value) => value switch
    {
        null => "nothing",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>In a command validator: the option's value when given on the command line, else <paramref name="fallback"/>.</summary>
    public static T ValueOr<T>(this CommandResult result, Option<T> option, T fallback) =>
        result.GetResult(option) is { Implicit: false } given ? given.GetValueOrDefault<T>() : fallback;

    /// <summary>Adds an error when more than one of the options is given, or (when <paramref name="required"/>) none.</summary>
    public static void OneOf(this Command command, bool required, params Option[] options)
    {
        command.Validators.Add(r =>
        {
            var given = options.Where(o => r.GetResult(o) is { Implicit: false }).ToList();
            var names = string.Join(" or ", options.Select(o => o.Name));
            if (given.Count > 1) r.AddError($"{string.Join(" and ", given.Select(o => o.Name))} cannot be used together; give one of {names}");
            else if (given.Count == 0 && required) r.AddError($"give one of {names}");
        });
    }
}
