using Microsoft.ML.NEFTune.Modeling;

namespace Microsoft.ML.NEFTune.IO;

/// <summary>Loads a model from a Hugging Face directory or a llama2.c <c>.bin</c> file.</summary>
public static class ModelLoader
{
    public static LlamaForCausalLM Load(string path, ModelLoadOptions? options = null)
    {
        if (Directory.Exists(path)) return HuggingFaceCheckpoint.Load(path, options);
        if (!File.Exists(path)) throw new FileNotFoundException($"Model not found: {path} (expected a Hugging Face model directory or a llama2.c .bin file)", path);
        if (Path.GetFileName(path) == "config.json") return HuggingFaceCheckpoint.Load(Path.GetDirectoryName(Path.GetFullPath(path))!, options);
        if (LooksPickled(path))
            throw new ModelFormatException(path, "this is a PyTorch pickle checkpoint; pickle files are never loaded (they can run code). Convert it to safetensors first.");
        return Llama2cCheckpoint.Load(path, options);
    }

    private static bool LooksPickled(string path)
    {
        Span<byte> head = stackalloc byte[2];
        using var s = File.OpenRead(path);
        if (s.Read(head) < 2) return false;
        return (head[0] == (byte)'P' && head[1] == (byte)'K') || head[0] == 0x80;   // zip archive (torch.save) or pickle protocol 2+
    }
}
