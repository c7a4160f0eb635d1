namespace Microsoft.ML.NEFTune.Data;

/// <summary>The field names a format uses, after applying a <see cref="FieldMapping"/>.</summary>
internal sealed record FieldNames(string Instruction, string Input, string Output, string Text, string Messages, string Role, string Content, string System)
{
    public static FieldNames For(DataFormat format, FieldMapping? mapping)
    {
        var m = mapping ?? new FieldMapping();
        bool dolly = format == DataFormat.Dolly, shareGpt = format == DataFormat.ShareGPT;
        return new FieldNames(
            m.Instruction ?? "instruction",
            m.Input ?? (dolly ? "context" : "input"),
            m.Output ?? (dolly ? "response" : "output"),
            m.Text ?? "text",
            m.Messages ?? (shareGpt ? "conversations" : "messages"),
            m.Role ?? (shareGpt ? "from" : "role"),
            m.Content ?? (shareGpt ? "value" : "content"),
            m.System ?? "system");
    }
}
