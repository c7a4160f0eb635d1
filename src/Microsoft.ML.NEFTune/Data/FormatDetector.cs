using System.Text.Json;

namespace Microsoft.ML.NEFTune.Data;

/// <summary>
/// Infers a <see cref="DataFormat"/> from the fields of a record, in this order: Messages (a turn list whose first
/// turn has role/content), ShareGPT (from/value), Dolly (instruction + response), Alpaca (instruction + output), Text.
/// When both Dolly and Alpaca fields are present, the one whose input field is present wins, else Alpaca.
/// </summary>
internal static class FormatDetector
{
    public static DataFormat? Detect(JsonElement record, FieldMapping? mapping)
    {
        if (record.ValueKind != JsonValueKind.Object) return null;
        foreach (var format in new[] { DataFormat.Messages, DataFormat.ShareGPT })
        {
            var f = FieldNames.For(format, mapping);
            if (record.TryGetProperty(f.Messages, out var turns) && turns.ValueKind == JsonValueKind.Array
                && (turns.GetArrayLength() == 0 || IsTurn(turns[0], f)))
                return format;
        }
        var alpaca = FieldNames.For(DataFormat.Alpaca, mapping);
        var dolly = FieldNames.For(DataFormat.Dolly, mapping);
        bool isAlpaca = Has(record, alpaca.Instruction) && Has(record, alpaca.Output);
        bool isDolly = Has(record, dolly.Instruction) && Has(record, dolly.Output);
        if (isAlpaca && isDolly) return Has(record, dolly.Input) && !Has(record, alpaca.Input) ? DataFormat.Dolly : DataFormat.Alpaca;
        if (isAlpaca) return DataFormat.Alpaca;
        if (isDolly) return DataFormat.Dolly;
        if (Has(record, FieldNames.For(DataFormat.Text, mapping).Text)) return DataFormat.Text;
        return null;
    }

    /// <summary>What the formats expect, for error messages.</summary>
    public static string Expected(FieldMapping? mapping)
    {
        var a = FieldNames.For(DataFormat.Alpaca, mapping);
        var d = FieldNames.For(DataFormat.Dolly, mapping);
        var s = FieldNames.For(DataFormat.ShareGPT, mapping);
        var m = FieldNames.For(DataFormat.Messages, mapping);
        return $"Alpaca {{{a.Instruction}, {a.Input}, {a.Output}}}, Dolly {{{d.Instruction}, {d.Input}, {d.Output}}}, "
             + $"ShareGPT {{{s.Messages}: [{{{s.Role}, {s.Content}}}]}}, Messages {{{m.Messages}: [{{{m.Role}, {m.Content}}}]}}, Text {{{a.Text}}}";
    }

    private static bool IsTurn(JsonElement turn, FieldNames f)
        => turn.ValueKind == JsonValueKind.Object && Has(turn, f.Role) && Has(turn, f.Content);

    private static bool Has(JsonElement record, string field) => record.TryGetProperty(field, out _);
}
