namespace Microsoft.ML.NEFTune.Data;

/// <summary>Record layouts that <see cref="DatasetReader"/> understands (field names are the defaults; see <see cref="FieldMapping"/>).</summary>
public enum DataFormat
{
    /// <summary><c>{"instruction", "input", "output"}</c>; <c>input</c> is optional.</summary>
    Alpaca,

    /// <summary><c>{"instruction", "context", "response"}</c> (Databricks Dolly); <c>context</c> is optional.</summary>
    Dolly,

    /// <summary><c>{"conversations": [{"from", "value"}]}</c> with <c>from</c> one of human, user, gpt, assistant, system; optional top-level <c>system</c>.</summary>
    ShareGPT,

    /// <summary><c>{"messages": [{"role", "content"}]}</c> with <c>role</c> one of system, user, assistant; optional top-level <c>system</c>.</summary>
    Messages,

    /// <summary><c>{"text"}</c> records, or a <c>.txt</c> file with one document per line.</summary>
    Text,
}
