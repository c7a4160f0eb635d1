// `x.add(y)` is `add(y, alpha: 1)`: TorchSharp converts 1 to a Scalar object that nothing references once its native
// handle has been passed to libtorch. A garbage collection caused by another thread during the call lets the finalizer
// thread free that native Scalar while libtorch still reads it. This program adds two small tensors in a loop while a
// second thread forces collections, and reports the first failure. With --held the same loop passes a Scalar held in
// a local (`using Scalar one = 1`), the library's mitigation, and does not fail.
// Usage: dotnet run -c Release -- [seconds, default 30] [--held]
using static TorchSharp.torch;

bool held = args.Contains("--held");
args = args.Where(a => a != "--held").ToArray();
double seconds = args.Length > 0 ? double.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 30;
using var x = randn(64, 64);
using var y = randn(64, 64);
using TorchSharp.Scalar one = 1;
var stop = false;
long collections = 0, adds = 0;
var collector = new Thread(() =>
{
    while (!Volatile.Read(ref stop)) { GC.Collect(); GC.WaitForPendingFinalizers(); Interlocked.Increment(ref collections); }
});
collector.Start();
var end = DateTime.UtcNow.AddSeconds(seconds);
try
{
    while (DateTime.UtcNow < end) { using var z = held ? x.add(y, one) : x.add(y); adds++; }
    Console.WriteLine($"no failure{(held ? " (held Scalar)" : "")}: {adds} additions, {collections} collections in {seconds} s");
}
catch (Exception e)
{
    Console.WriteLine($"failed after {adds} additions and {collections} collections: {e.Message.Split('\n')[0]}");
    Environment.ExitCode = 1;
}
Volatile.Write(ref stop, true);
collector.Join();
