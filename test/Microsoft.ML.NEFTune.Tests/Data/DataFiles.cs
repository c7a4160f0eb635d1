using System.Text;

namespace Microsoft.ML.NEFTune.Tests.Data;

/// <summary>Writes small data files into a temporary folder.</summary>
internal static class DataFiles
{
    public static string Write(TempDirectory dir, string name, string content)
    {
        var path = dir[name];
        File.WriteAllText(path, content, new UTF8Encoding(false));
        return path;
    }

    public static string WriteBytes(TempDirectory dir, string name, byte[] content)
    {
        var path = dir[name];
        File.WriteAllBytes(path, content);
        return path;
    }
}
