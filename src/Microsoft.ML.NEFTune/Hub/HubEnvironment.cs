namespace Microsoft.ML.NEFTune.Hub;

/// <summary>
/// The Hugging Face environment variables, read in one place as <c>huggingface_hub</c> reads them: <c>HF_ENDPOINT</c>,
/// <c>HF_TOKEN</c> (or the older <c>HUGGING_FACE_HUB_TOKEN</c>), <c>HF_HUB_CACHE</c>, <c>HF_HOME</c>,
/// <c>XDG_CACHE_HOME</c> and <c>HF_HUB_OFFLINE</c>. An empty or blank value counts as unset.
/// </summary>
public static class HubEnvironment
{
    private static readonly AsyncLocal<IReadOnlyDictionary<string, string?>?> Overrides = new();

    /// <summary>The Hub address: <c>HF_ENDPOINT</c>, else <see cref="HubClient.DefaultEndpoint"/>.</summary>
    public static string Endpoint => Variable("HF_ENDPOINT") ?? HubClient.DefaultEndpoint;

    /// <summary>The access token for gated or private repositories: <c>HF_TOKEN</c>, else <c>HUGGING_FACE_HUB_TOKEN</c>; null without one.</summary>
    public static string? Token => Variable("HF_TOKEN") ?? Variable("HUGGING_FACE_HUB_TOKEN");

    /// <summary>The value of <paramref name="name"/>, or null when it is unset, empty or blank.</summary>
    internal static string? Variable(string name)
    {
        string? value = Overrides.Value is { } values ? values.GetValueOrDefault(name) : Environment.GetEnvironmentVariable(name);
        return string.IsNullOrWhiteSpace(value) ? null : value;
    }

    /// <summary>
    /// For the calling asynchronous flow only, until disposed: the variables read are <paramref name="values"/> (a name
    /// missing there is unset), never the process's. Lets tests try variables without changing the process environment
    /// that other threads read.
    /// </summary>
    internal static IDisposable Use(IReadOnlyDictionary<string, string?> values)
    {
        var previous = Overrides.Value;
        Overrides.Value = values;
        return new Restore(() => Overrides.Value = previous);
    }

    private sealed class Restore(Action restore) : IDisposable
    {
        public void Dispose() => restore();
    }
}
