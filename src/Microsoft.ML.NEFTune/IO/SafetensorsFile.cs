using System.Numerics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.IO;

/// <summary>
/// Reads a <c>.safetensors</c> file after validating its header: every tensor lies inside the data section,
/// its byte length equals shape × dtype size, and no two tensors overlap. Nothing large is allocated before
/// the header has been checked against the file's real size.
/// </summary>
public sealed class SafetensorsFile
{
    /// <summary>Largest header accepted (the format's own limit is 100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>Most dimensions a tensor may have (libtorch's limit).</summary>
    public const int MaxDimensions = 64;

    private SafetensorsFile(string path, long dataStart, IReadOnlyDictionary<string, SafetensorsEntry> entries, IReadOnlyDictionary<string, string> metadata)
    {
        Path = path; DataStart = dataStart; Entries = entries; Metadata = metadata;
    }

    public string Path { get; }
    public long DataStart { get; }
    public IReadOnlyDictionary<string, SafetensorsEntry> Entries { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public static SafetensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Safetensors file not found: {path}", path);
        using var stream = File.OpenRead(path);
        long fileLength = stream.Length;
        if (fileLength < 8) throw new ModelFormatException(path, $"truncated: {fileLength} bytes, shorter than the 8-byte header length");
        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        ulong headerLength = BitConverter.ToUInt64(lengthBytes);
        if (headerLength > (ulong)MaxHeaderBytes) throw new ModelFormatException(path, $"header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit");
        if ((long)headerLength > fileLength - 8) throw new ModelFormatException(path, $"truncated: header claims {headerLength} bytes but the file has {fileLength - 8} after the length field");
        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        long dataStart = 8 + (long)headerLength;
        return Parse(path, headerBytes, fileLength - dataStart, dataStart);
    }

    /// <summary>Validates a header (the JSON bytes) against the size of the data section that follows it.</summary>
    public static SafetensorsFile Parse(string path, byte[] headerBytes, long dataLength, long dataStart = 0)
    {
        JsonObject header;
        try
        {
            header = StrictJson.Parse(Encoding.UTF8.GetString(headerBytes).TrimEnd(' ', '\0')) as JsonObject
                ?? throw new ModelFormatException(path, "the header is not a JSON object");
        }
        catch (JsonException e) { throw new ModelFormatException(path, $"the header is not valid JSON: {e.Message}"); }
        catch (ArgumentException e) { throw new ModelFormatException(path, $"the header is not valid JSON: {e.Message}"); }

        var entries = new Dictionary<string, SafetensorsEntry>();
        var metadata = new Dictionary<string, string>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                if (node is JsonObject meta)
                    foreach (var (k, v) in meta) metadata[k] = v is JsonValue jv && jv.TryGetValue<string>(out var s) ? s : v?.ToJsonString() ?? "";
                continue;
            }
            entries[name] = ParseEntry(path, name, node, dataLength);
        }
        long previousEnd = 0;
        string? previous = null;
        foreach (var e in entries.Values.Where(e => e.ByteLength > 0).OrderBy(e => e.Begin))
        {
            if (e.Begin < previousEnd) throw new ModelFormatException(path, $"tensor '{e.Name}' overlaps tensor '{previous}'");
            previousEnd = e.End; previous = e.Name;
        }
        return new SafetensorsFile(path, dataStart, entries, metadata);
    }

    private static SafetensorsEntry ParseEntry(string path, string name, JsonNode? node, long dataLength)
    {
        if (node is not JsonObject o) throw new ModelFormatException(path, $"tensor '{name}': entry is not an object");
        try
        {
            var dtype = o["dtype"] switch
            {
                null => throw new ModelFormatException(path, $"tensor '{name}': missing 'dtype'"),
                JsonValue v when v.TryGetValue<string>(out var text) => text,
                var other => throw new ModelFormatException(path, $"tensor '{name}': 'dtype' must be a string, got {Shorten(other.ToJsonString())}"),
            };
            if (!SafetensorsDType.TryGet(dtype, out _, out int size))
                throw new ModelFormatException(path, $"tensor '{name}': unsupported dtype '{dtype}' (supported: {string.Join(", ", SafetensorsDType.Names)})");
            var shape = Integers(path, name, "shape", o["shape"] as JsonArray ?? throw new ModelFormatException(path, $"tensor '{name}': missing 'shape'"));
            if (shape.Length > MaxDimensions) throw new ModelFormatException(path, $"tensor '{name}': shape has {shape.Length} dimensions, more than {MaxDimensions}");
            if (shape.Any(s => s < 0)) throw new ModelFormatException(path, $"tensor '{name}': negative dimension in shape [{string.Join(", ", shape)}]");
            var offsets = o["data_offsets"] as JsonArray;
            if (offsets is null || offsets.Count != 2) throw new ModelFormatException(path, $"tensor '{name}': 'data_offsets' must be [begin, end]");
            var range = Integers(path, name, "data_offsets", offsets);
            long begin = range[0], end = range[1];
            if (begin < 0 || end < begin || end > dataLength)
                throw new ModelFormatException(path, $"tensor '{name}': data_offsets [{begin}, {end}] lie outside the {dataLength}-byte data section");
            BigInteger expected = shape.Aggregate(new BigInteger(size), (acc, s) => acc * s);
            if (expected != end - begin)
                throw new ModelFormatException(path, $"tensor '{name}': shape [{string.Join(", ", shape)}] × {dtype} needs {expected} bytes but data_offsets span {end - begin}");
            return new SafetensorsEntry(name, dtype, shape, begin, end);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or NullReferenceException)
        {
            throw new ModelFormatException(path, $"tensor '{name}': malformed entry ({e.Message})");
        }
    }

    private static long[] Integers(string path, string name, string field, JsonArray array) =>
        array.Select(x => x is JsonValue v && v.TryGetValue<long>(out var n) ? n
            : throw new ModelFormatException(path, $"tensor '{name}': '{field}' must be a list of integers, got {Shorten(array.ToJsonString())}")).ToArray();

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "…";

    /// <summary>Reads one tensor into CPU memory with its stored dtype.</summary>
    public Tensor Read(string name)
    {
        var entry = Entries.TryGetValue(name, out var e) ? e : throw new KeyNotFoundException($"{Path}: no tensor named '{name}'");
        SafetensorsDType.TryGet(entry.DType, out var type, out _);
        var result = empty(entry.Shape, type);
        if (entry.ByteLength == 0) return result;
        using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        stream.Seek(DataStart + entry.Begin, SeekOrigin.Begin);
        TensorBytes.ReadInto(result, stream, entry.ByteLength);
        return result;
    }

    /// <summary>
    /// Reads one tensor straight into <paramref name="destination"/>'s storage when it is a contiguous CPU tensor of
    /// the stored dtype and shape (no intermediate copy); returns false, reading nothing, otherwise.
    /// </summary>
    public bool TryReadInto(string name, Tensor destination)
    {
        var entry = Entries.TryGetValue(name, out var e) ? e : throw new KeyNotFoundException($"{Path}: no tensor named '{name}'");
        SafetensorsDType.TryGet(entry.DType, out var type, out _);
        if (destination.dtype != type || destination.device_type != TorchSharp.DeviceType.CPU || !destination.is_contiguous()
            || !destination.shape.SequenceEqual(entry.Shape) || entry.ByteLength >= int.MaxValue) return false;
        if (entry.ByteLength == 0) return true;
        using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        stream.Seek(DataStart + entry.Begin, SeekOrigin.Begin);
        TensorBytes.ReadInto(destination, stream, entry.ByteLength);
        return true;
    }

    /// <summary>Writes tensors (any device, any layout) as one safetensors file, atomically.</summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
            header["__metadata__"] = new JsonObject(metadata.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        long offset = 0;
        foreach (var (name, t) in list)
        {
            long bytes = t.numel() * t.ElementSize;
            header[name] = new JsonObject
            {
                ["dtype"] = SafetensorsDType.NameOf(t.dtype),
                ["shape"] = new JsonArray(t.shape.Select(s => (JsonNode)s).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        var headerBytes = new byte[padded];
        Array.Fill(headerBytes, (byte)' ');
        json.CopyTo(headerBytes, 0);
        AtomicFile.Write(path, stream =>
        {
            stream.Write(BitConverter.GetBytes((ulong)padded));
            stream.Write(headerBytes);
            foreach (var (_, t) in list) TensorBytes.Write(t, stream);
        });
    }
}

/// <summary>One tensor described by a safetensors header; offsets are relative to the start of the data section.</summary>
public sealed record SafetensorsEntry(string Name, string DType, long[] Shape, long Begin, long End)
{
    public long ByteLength => End - Begin;
}
