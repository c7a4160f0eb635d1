using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.IO;

/// <summary>Maps safetensors dtype names to TorchSharp scalar types and element sizes.</summary>
public static class SafetensorsDType
{
    private static readonly Dictionary<string, (ScalarType Type, int Size)> Known = new()
    {
        ["F64"] = (ScalarType.Float64, 8),
        ["F32"] = (ScalarType.Float32, 4),
        ["F16"] = (ScalarType.Float16, 2),
        ["BF16"] = (ScalarType.BFloat16, 2),
        ["I64"] = (ScalarType.Int64, 8),
        ["I32"] = (ScalarType.Int32, 4),
        ["I16"] = (ScalarType.Int16, 2),
        ["I8"] = (ScalarType.Int8, 1),
        ["U8"] = (ScalarType.Byte, 1),
        ["BOOL"] = (ScalarType.Bool, 1),
    };

    public static bool TryGet(string name, out ScalarType type, out int size)
    {
        var found = Known.TryGetValue(name, out var entry);
        (type, size) = entry;
        return found;
    }

    public static string NameOf(ScalarType type) =>
        Known.FirstOrDefault(kv => kv.Value.Type == type).Key ?? throw new NotSupportedException($"dtype {type} cannot be stored in safetensors");

    public static IEnumerable<string> Names => Known.Keys;
}
