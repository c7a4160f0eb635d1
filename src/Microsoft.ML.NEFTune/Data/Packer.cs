namespace Microsoft.ML.NEFTune.Data;

/// <summary>
/// Packs tokenized examples into rows of at most a maximum length by first-fit decreasing: examples are taken
/// longest first (ties in input order) and each goes into the first row that still has room, else a new row.
/// Within a row, examples keep their tokens and labels, get sequence ids 1..k in placement order, and their first
/// label is ignored.
/// </summary>
public static class Packer
{
    /// <summary>Packs <paramref name="examples"/> into rows of at most <paramref name="maxLength"/> tokens.</summary>
    /// <exception cref="ArgumentException">An example is longer than <paramref name="maxLength"/>.</exception>
    public static IReadOnlyList<PackedRow> Pack(IReadOnlyList<TokenizedExample> examples, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        for (int i = 0; i < examples.Count; i++)
        {
            if (examples[i] is null) throw new ArgumentException($"Example {i} is null.", nameof(examples));
            if (examples[i].Length > maxLength)
                throw new ArgumentException($"Example {i} has {examples[i].Length} tokens, more than the row length {maxLength}; truncate before packing.", nameof(examples));
        }

        var order = Enumerable.Range(0, examples.Count).OrderByDescending(i => examples[i].Length).ThenBy(i => i).ToArray();
        var free = new RemainingCapacity(examples.Count, maxLength);
        var members = new List<List<int>>();
        foreach (int i in order)
        {
            if (examples[i].Length == 0) continue;
            int row = free.FirstWithRoom(examples[i].Length);
            if (row == members.Count) members.Add(new List<int>());
            members[row].Add(i);
            free.Take(row, examples[i].Length);
        }
        return members.Select(m => Build(examples, m)).ToArray();
    }

    private static PackedRow Build(IReadOnlyList<TokenizedExample> examples, List<int> members)
    {
        int length = members.Sum(i => examples[i].Length);
        var ids = new int[length];
        var labels = new int[length];
        var sequenceIds = new int[length];
        int at = 0;
        for (int k = 0; k < members.Count; k++)
        {
            var example = examples[members[k]];
            example.InputIds.CopyTo(ids, at);
            example.Labels.CopyTo(labels, at);
            labels[at] = ExampleTokenizer.LabelIgnoreIndex;
            Array.Fill(sequenceIds, k + 1, at, example.Length);
            at += example.Length;
        }
        return new PackedRow(ids, labels, sequenceIds, members.ToArray());
    }

    /// <summary>A max segment tree over rows' free space: finds the first row with room in O(log n).</summary>
    private sealed class RemainingCapacity
    {
        private readonly int[] tree;
        private readonly int size;

        public RemainingCapacity(int rows, int capacity)
        {
            size = 1;
            while (size < Math.Max(rows, 1)) size *= 2;
            tree = new int[2 * size];
            Array.Fill(tree, capacity);
        }

        public int FirstWithRoom(int length)
        {
            int node = 1;
            while (node < size) node = tree[2 * node] >= length ? 2 * node : 2 * node + 1;
            return node - size;
        }

        public void Take(int row, int length)
        {
            int node = row + size;
            tree[node] -= length;
            for (node /= 2; node >= 1; node /= 2) tree[node] = Math.Max(tree[2 * node], tree[2 * node + 1]);
        }
    }
}
