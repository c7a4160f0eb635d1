using Microsoft.ML.Data;

namespace Microsoft.ML.NEFTune;

/// <summary>Checks of the text columns a NEFTune step reads, and the schema it produces.</summary>
internal static class NeftuneSchema
{
    /// <summary>The column named <paramref name="name"/>; throws naming it when it is missing or not scalar text.</summary>
    public static DataViewSchema.Column RequireText(DataViewSchema schema, string name, string role, string option)
    {
        var column = schema.GetColumnOrNull(name);
        if (column is null)
            throw Missing(name, role, option, schema.Where(c => !c.IsHidden).Select(c => c.Name));
        if (column.Value.Type is not TextDataViewType)
            throw WrongType(name, role, option, column.Value.Type.ToString() ?? column.Value.Type.GetType().Name);
        return column.Value;
    }

    /// <summary>Throws naming the column when <paramref name="shape"/> lacks it or it is not scalar text.</summary>
    public static void RequireText(SchemaShape shape, string name, string role, string option)
    {
        var found = shape.Where(c => c.Name == name).ToList();
        if (found.Count == 0)
            throw Missing(name, role, option, shape.Select(c => c.Name));
        var column = found[^1];
        if (column.Kind != SchemaShape.Column.VectorKind.Scalar || column.IsKey || column.ItemType is not TextDataViewType)
            throw WrongType(name, role, option, Describe(column));
    }

    /// <summary>The input schema with a text column <paramref name="name"/> appended (hiding an input column of that name).</summary>
    public static DataViewSchema AppendText(DataViewSchema input, string name)
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(input);
        builder.AddColumn(name, TextDataViewType.Instance);
        return builder.ToSchema();
    }

    /// <summary>
    /// The input shape with a scalar text column <paramref name="name"/> added. <see cref="SchemaShape.Column"/> cannot be
    /// constructed outside ML.NET, so the shape comes from a custom mapping estimator that declares such a column.
    /// </summary>
    public static SchemaShape AppendText(MLContext mlContext, SchemaShape input, string name)
    {
        var output = SchemaDefinition.Create(typeof(NeftunePlaceholderOutput), SchemaDefinition.Direction.Write);
        output[0].ColumnName = name;
        var estimator = mlContext.Transforms.CustomMapping<NeftunePlaceholderInput, NeftunePlaceholderOutput>(
            (_, _) => { }, contractName: null, inputSchemaDefinition: null, outputSchemaDefinition: output);
        return estimator.GetOutputSchema(input);
    }

    private static ArgumentOutOfRangeException Missing(string name, string role, string option, IEnumerable<string> available) =>
        new("inputSchema",
            $"Schema mismatch: the {role} column '{name}' ({nameof(NeftuneInstructionTuningOptions)}.{option}) was not found in the input data. " +
            $"Available columns: {string.Join(", ", available.Distinct().Select(n => $"'{n}'"))}.");

    private static ArgumentOutOfRangeException WrongType(string name, string role, string option, string actual) =>
        new("inputSchema",
            $"Schema mismatch: the {role} column '{name}' ({nameof(NeftuneInstructionTuningOptions)}.{option}) must be a text column (String), but it is {actual}.");

    private static string Describe(SchemaShape.Column column)
    {
        var item = column.IsKey ? $"Key<{column.ItemType}>" : column.ItemType.ToString() ?? column.ItemType.GetType().Name;
        return column.Kind switch
        {
            SchemaShape.Column.VectorKind.Vector => $"Vector<{item}>",
            SchemaShape.Column.VectorKind.VariableVector => $"VarVector<{item}>",
            _ => item,
        };
    }
}
