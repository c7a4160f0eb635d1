using System.Reflection;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.NEFTune;

/// <summary>
/// Whether an ML.NET host was cancelled (<c>MLContext.CancelExecution</c>, used by AutoML and Model Builder). ML.NET keeps
/// the flag behind its internal <c>ICancelable</c> interface, so it is read through reflection; hosts without it never cancel.
/// </summary>
internal static class HostCancellation
{
    private static readonly Type? Cancelable = typeof(IHostEnvironment).Assembly.GetType("Microsoft.ML.Runtime.ICancelable");
    private static readonly PropertyInfo? IsCanceledProperty = Cancelable?.GetProperty("IsCanceled");

    public static bool IsCanceled(IHostEnvironment host) =>
        IsCanceledProperty is not null && Cancelable!.IsInstanceOfType(host) && IsCanceledProperty.GetValue(host) is true;
}
