using System.Numerics;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.IO.Tokenizers;
using Microsoft.ML.NEFTune.Modeling;
using Microsoft.ML.NEFTune.Tests.Data;
using Microsoft.ML.NEFTune.Tests.Tokenizers;
using Xunit.Abstractions;

namespace Microsoft.ML.NEFTune.Tests.Reliability;

/// <summary>
/// Seeded fuzzing, a fixed number of cases per loader, of every loader with random and mutated inputs. Each input must either load (and then
/// work) or fail with the product's own exception type — never a NullReference, IndexOutOfRange, InvalidCast,
/// Overflow or OutOfMemory from inside, and never by allocating what a header claims.
/// </summary>
public class LoaderFuzzTests(ITestOutputHelper output)
{
    private const int Seed = 20240607;

    private void Report(Fuzzer fuzzer)
    {
        output.WriteLine(fuzzer.Summary());
        Assert.True(fuzzer.Failures.Count == 0, string.Join("\n\n", fuzzer.Failures));
    }

    // ---- safetensors ----

    private static readonly (string Name, int Size)[] DTypes = { ("F32", 4), ("F16", 2), ("BF16", 2), ("F64", 8), ("I64", 8), ("I32", 4), ("I8", 1), ("U8", 1), ("BOOL", 1) };

    private static JsonObject ValidSafetensorsHeader(Random r, out long dataLength)
    {
        var header = new JsonObject();
        if (r.Next(2) == 0) header["__metadata__"] = new JsonObject { ["format"] = "pt" };
        long offset = 0;
        for (int i = r.Next(1, 5); i > 0; i--)
        {
            var (dtype, size) = DTypes[r.Next(DTypes.Length)];
            var shape = Enumerable.Range(0, r.Next(0, 4)).Select(_ => (long)r.Next(0, 6)).ToArray();
            long bytes = shape.Aggregate((long)size, (a, b) => a * b);
            header[$"model.layers.{i}.weight"] = new JsonObject
            {
                ["dtype"] = dtype,
                ["shape"] = new JsonArray(shape.Select(s => (JsonNode)s).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        dataLength = offset;
        return header;
    }

    [Fact]
    public void SafetensorsHeaders()
    {
        using var dir = new TempDirectory();
        var fuzzer = new Fuzzer("safetensors", typeof(ModelFormatException));
        fuzzer.Run(Seed, 400, (r, i) =>
        {
            var valid = ValidSafetensorsHeader(r, out long dataLength);
            JsonNode? node = valid;
            for (int n = r.Next(0, 4); n > 0; n--) node = Mutate.Structure(r, node);
            var text = node?.ToJsonString() ?? "null";
            if (r.Next(4) == 0) text = Mutate.Text(r, text);
            var header = Encoding.UTF8.GetBytes(text);
            if (r.Next(5) == 0) header = Mutate.Bytes(r, header);
            if (r.Next(40) == 0) header = Enumerable.Range(0, r.Next(64)).Select(_ => (byte)r.Next(256)).ToArray();

            if (r.Next(3) > 0)
            {
                long claimed = r.Next(4) == 0 ? Mutate.Integer(r) : dataLength;
                SafetensorsFile.Parse("fuzz.safetensors", header, claimed);
                return;
            }
            var path = dir[$"f{i % 8}.safetensors"];
            using (var stream = File.Create(path))
            {
                ulong length = r.Next(5) switch { 0 => (ulong)Mutate.Integer(r), 1 => (ulong)header.Length + (ulong)r.Next(-8, 9), _ => (ulong)header.Length };
                stream.Write(BitConverter.GetBytes(length));
                stream.Write(header);
                long data = Math.Clamp(dataLength + (r.Next(3) == 0 ? r.Next(-16, 17) : 0), 0, 1 << 16);
                var bytes = new byte[data];
                r.NextBytes(bytes);
                stream.Write(bytes);
            }
            var file = SafetensorsFile.Open(path);
            foreach (var name in file.Entries.Keys) file.Read(name).Dispose();
        });
        Report(fuzzer);
    }

    // ---- llama2.c ----

    /// <summary>The file length a llama2.c header implies, or null when the header is not self-consistent.</summary>
    private static long? Llama2cLength(int[] h)
    {
        int dim = h[0], hidden = h[1], layers = h[2], heads = h[3], kvHeads = h[4], vocab = Math.Abs(h[5]), seq = h[6];
        if (heads <= 0 || dim % heads != 0) return null;
        BigInteger hs = dim / heads, kv = (BigInteger)kvHeads * hs, L = layers, d = dim, f = hidden;
        BigInteger total = vocab * d + L * d + L * d * d + 2 * L * kv * d + L * d * d + L * d + 3 * L * f * d + d + seq * hs + (h[5] > 0 ? 0 : vocab * d);
        var bytes = 28 + 4 * total;
        return bytes > 0 && bytes <= 8 << 20 ? (long)bytes : null;
    }

    [Fact]
    public void Llama2cHeaders()
    {
        using var dir = new TempDirectory();
        var original = File.ReadAllBytes(Fixtures.StoriesBin);
        var fuzzer = new Fuzzer("llama2.c", typeof(ModelFormatException), typeof(FileNotFoundException));
        fuzzer.Run(Seed, 80, (r, i) =>
        {
            var header = new int[7];
            Buffer.BlockCopy(original, 0, header, 0, 28);
            switch (r.Next(4))
            {
                case 0:
                case 1:
                    for (int n = r.Next(1, 3); n > 0; n--)
                    {
                        int field = r.Next(7);
                        header[field] = r.Next(6) switch
                        {
                            0 => -header[field], 1 => header[field] * 2, 2 => header[field] / 2, 3 => header[field] + r.Next(-2, 3),
                            4 => header[field] * r.Next(2, 5), _ => (int)Mutate.Integer(r),
                        };
                    }
                    break;
                case 2:
                    var bytes = new byte[28];
                    Buffer.BlockCopy(header, 0, bytes, 0, 28);
                    bytes = Mutate.Bytes(r, bytes, 0, 28);
                    Array.Resize(ref bytes, 28);
                    Buffer.BlockCopy(bytes, 0, header, 0, 28);
                    break;
                default:
                    for (int k = 0; k < 7; k++) header[k] = r.Next(3) == 0 ? (int)Mutate.Integer(r) : header[k];
                    break;
            }
            var headerBytes = new byte[28];
            Buffer.BlockCopy(header, 0, headerBytes, 0, 28);
            long bodyLength = r.Next(6) switch
            {
                0 => r.Next(0, 64),
                1 or 2 => 4096,
                3 or 4 => (Llama2cLength(header) ?? 4124) - 28,
                _ => original.Length - 28,
            };
            if (r.Next(8) == 0) bodyLength += r.Next(-8, 9);
            bodyLength = Math.Max(0, bodyLength);
            var path = dir[$"m{i % 8}.bin"];
            using (var stream = File.Create(path))
            {
                stream.Write(r.Next(30) == 0 ? headerBytes.AsSpan(0, r.Next(28)) : headerBytes);
                long written = 0;
                while (written < bodyLength)
                {
                    int n = (int)Math.Min(original.Length - 28, bodyLength - written);
                    stream.Write(original, 28, n);
                    written += n;
                }
            }
            using var model = ModelLoader.Load(path);
        });
        Report(fuzzer);
    }

    // ---- tokenizers ----

    private static readonly string[] Samples = { "Hello world", "  leading  spaces\tand\nnewlines ", "数字 123 émoji 😀", "<|endoftext|>[NOTE]<s></s>", "" };

    private static void Exercise(TextTokenizer tokenizer)
    {
        foreach (var text in Samples)
        {
            var ids = tokenizer.Encode(text);
            Assert.All(ids, id => Assert.InRange(id, 0, tokenizer.VocabularySize - 1));
            tokenizer.Decode(ids);
            foreach (var id in ids.Take(8)) tokenizer.IdToPiece(id);
        }
    }

    [Fact]
    public void SentencePieceModels()
    {
        using var dir = new TempDirectory();
        var original = File.ReadAllBytes(Fixtures.LlamaTokenizer);
        var fuzzer = new Fuzzer("tokenizer.model", typeof(TokenizerFormatException), typeof(FileNotFoundException));
        fuzzer.Run(Seed, 60, (r, i) =>
        {
            var bytes = r.Next(4) switch
            {
                0 => Mutate.Bytes(r, original, 0, 2048),                               // the first pieces
                1 => Mutate.Bytes(r, original, original.Length - 4096, 4096),          // trainer and normalizer specs
                2 => Mutate.Bytes(r, original),
                _ => r.Next(8) == 0 ? Enumerable.Range(0, r.Next(256)).Select(_ => (byte)r.Next(256)).ToArray() : original[..r.Next(original.Length)],
            };
            var sub = Directory.CreateDirectory(dir[$"s{i % 8}"]).FullName;
            var path = Path.Combine(sub, "tokenizer.model");
            File.WriteAllBytes(path, bytes);
            Exercise(TextTokenizer.Load(path));
        });
        Report(fuzzer);
    }

    [Fact]
    public void TokenizerJsonFiles()
    {
        using var dir = new TempDirectory();
        var baseJson = TinyByteLevelTokenizerJson.Build();
        var baseConfig = new JsonObject { ["add_bos_token"] = true, ["bos_token"] = "<|endoftext|>", ["eos_token"] = new JsonObject { ["content"] = "<|endoftext|>" }, ["chat_template"] = "{{ x }}" };
        var fuzzer = new Fuzzer("tokenizer.json", typeof(TokenizerFormatException), typeof(FileNotFoundException));
        fuzzer.Run(Seed, 150, (r, i) =>
        {
            JsonNode? json;
            if (r.Next(4) == 0)
            {
                json = baseJson;
                for (int n = r.Next(1, 4); n > 0; n--) json = Mutate.Structure(r, json);
            }
            else
            {
                var rest = baseJson.DeepClone().AsObject();
                var vocab = rest["model"]!["vocab"]!;
                rest["model"]!.AsObject().Remove("vocab");
                json = rest;
                for (int n = r.Next(1, 4); n > 0; n--) json = Mutate.Structure(r, json);
                if (json is JsonObject root && root["model"] is JsonObject model && !model.ContainsKey("vocab")) model["vocab"] = vocab;
            }
            var text = json?.ToJsonString() ?? "null";
            if (r.Next(4) == 0) text = Mutate.Text(r, text);
            var bytes = Encoding.UTF8.GetBytes(text);
            if (r.Next(6) == 0) bytes = Mutate.Bytes(r, bytes);
            var sub = Directory.CreateDirectory(dir[$"j{i % 8}"]).FullName;
            File.WriteAllBytes(Path.Combine(sub, "tokenizer.json"), bytes);
            var configPath = Path.Combine(sub, "tokenizer_config.json");
            if (r.Next(3) == 0) File.WriteAllText(configPath, Mutate.Structure(r, baseConfig)?.ToJsonString() ?? "null");
            else File.Delete(configPath);
            Exercise(TextTokenizer.Load(Path.Combine(sub, "tokenizer.json")));
        });
        Report(fuzzer);
    }

    // ---- config.json ----

    [Fact]
    public void ModelConfigs()
    {
        using var dir = new TempDirectory();
        var baseConfig = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.StoriesHf, "config.json")))!;
        var modelDir = Directory.CreateDirectory(dir["model"]).FullName;
        File.Copy(Path.Combine(Fixtures.StoriesHf, "model.safetensors"), Path.Combine(modelDir, "model.safetensors"));
        var fields = baseConfig.AsObject().Select(kv => kv.Key).Concat(new[] { "head_dim", "rope_scaling", "pad_token_id", "attention_bias" }).ToArray();
        var fuzzer = new Fuzzer("config.json", typeof(ModelFormatException), typeof(FileNotFoundException));
        fuzzer.Run(Seed, 300, (r, i) =>
        {
            var json = baseConfig.DeepClone().AsObject();
            for (int n = r.Next(1, 4); n > 0; n--)
            {
                var field = fields[r.Next(fields.Length)];
                json[field] = r.Next(3) switch
                {
                    0 => JsonValue.Create(Mutate.Integer(r)),
                    1 when field == "rope_scaling" => new JsonObject { ["rope_type"] = r.Next(2) == 0 ? "llama3" : Mutate.String(r), ["factor"] = Mutate.Value(r) },
                    _ => Mutate.Value(r),
                };
                if (r.Next(6) == 0) json.Remove(field);
            }
            var text = r.Next(3) == 0 ? Mutate.Structure(r, json)?.ToJsonString() ?? "null" : json.ToJsonString();
            if (r.Next(5) == 0) text = Mutate.Text(r, text);
            var bytes = Encoding.UTF8.GetBytes(text);
            if (r.Next(8) == 0) bytes = Mutate.Bytes(r, bytes);
            var path = Path.Combine(modelDir, "config.json");
            File.WriteAllBytes(path, bytes);
            if (r.Next(4) == 0)
            {
                using var model = HuggingFaceCheckpoint.Load(modelDir);
            }
            else
            {
                LlamaConfig.Load(path);
            }
        });
        Report(fuzzer);
    }

    // ---- data files ----

    private static JsonObject Record(Random r, DataFormat format) => format switch
    {
        DataFormat.Alpaca => new JsonObject { ["instruction"] = Mutate.String(r) + "Add.", ["input"] = "1 2", ["output"] = Mutate.String(r) + "3" },
        DataFormat.Dolly => new JsonObject { ["instruction"] = "Add.", ["context"] = Mutate.String(r), ["response"] = "3", ["category"] = "math" },
        DataFormat.ShareGPT => new JsonObject
        {
            ["system"] = r.Next(2) == 0 ? "Be brief." : null,
            ["conversations"] = new JsonArray(new JsonObject { ["from"] = "human", ["value"] = "Add 1 2." }, new JsonObject { ["from"] = "gpt", ["value"] = Mutate.String(r) + "3" }),
        },
        DataFormat.Messages => new JsonObject
        {
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "system", ["content"] = "Be brief." }, new JsonObject { ["role"] = "user", ["content"] = "Add." },
                new JsonObject { ["role"] = "assistant", ["content"] = Mutate.String(r) + new string('x', r.Next(200)) }),
        },
        _ => new JsonObject { ["text"] = Mutate.String(r) + " One plus two is three." },
    };

    [Fact]
    public void DataFiles()
    {
        using var dir = new TempDirectory();
        var formats = Enum.GetValues<DataFormat>();
        var fuzzer = new Fuzzer("data records", typeof(DataFormatException), typeof(FileNotFoundException));
        fuzzer.Run(Seed, 400, (r, i) =>
        {
            var format = formats[r.Next(formats.Length)];
            var records = new JsonArray(Enumerable.Range(0, r.Next(1, 6)).Select(_ => (JsonNode)Record(r, format)).ToArray());
            JsonNode? document = records;
            for (int n = r.Next(0, 4); n > 0; n--) document = Mutate.Structure(r, document);
            int layout = r.Next(3);
            string extension = layout switch { 0 => ".json", 1 => ".jsonl", _ => ".txt" };
            string text = layout switch
            {
                0 => document?.ToJsonString() ?? "null",
                1 => document is JsonArray a ? string.Join(r.Next(2) == 0 ? "\n" : "\r\n\n", a.Select(x => x?.ToJsonString() ?? "null")) : document?.ToJsonString() ?? "",
                _ => string.Join("\n", Enumerable.Range(0, r.Next(0, 5)).Select(_ => Mutate.String(r))),
            };
            if (r.Next(4) == 0) text = Mutate.Text(r, text);
            var bytes = Encoding.UTF8.GetBytes(text);
            if (r.Next(5) == 0) bytes = Mutate.Bytes(r, bytes);
            if (r.Next(20) == 0) bytes = "\uFEFF"u8.ToArray().Concat(bytes).ToArray();
            var path = dir[$"d{i % 8}{extension}"];
            File.WriteAllBytes(path, bytes);

            DataFormat? asked = r.Next(2) == 0 ? null : formats[r.Next(formats.Length)];
            var dataset = DatasetReader.Read(path, asked, skipUnusableRecords: r.Next(4) > 0);
            Assert.True(dataset.Count > 0);
            Assert.Equal(dataset.RecordCount, dataset.Count + dataset.Skipped.Count);

            var options = new ExampleTokenizerOptions { MaxLength = r.Next(2, 80), Truncation = r.Next(2) == 0 ? TruncationMode.Drop : TruncationMode.TruncateResponse };
            var tokenizer = new ExampleTokenizer(new CharTokenizer(), PromptTemplate.Get(PromptTemplate.BuiltInNames[r.Next(PromptTemplate.BuiltInNames.Count)]), options);
            var result = dataset.Format == DataFormat.Text ? tokenizer.TokenizeDocuments(dataset.Documents) : tokenizer.Tokenize(dataset.Examples);
            Assert.Equal(dataset.Count, result.Report.Total);
            Assert.Equal(result.Report.Total, result.Report.Kept + result.Report.Dropped);
            Assert.All(result.Examples, e => Assert.InRange(e.Length, 1, options.MaxLength));
        });
        Report(fuzzer);
    }
}
