using Microsoft.ML.Data;

namespace Microsoft.ML.NEFTune;

/// <summary>A transformer bound to one input schema: where its text columns are and what it outputs.</summary>
internal sealed class GenerationBinding
{
    public GenerationBinding(NeftuneInstructionTuningTransformer parent, DataViewSchema inputSchema)
    {
        Parent = parent;
        InputSchema = inputSchema;
        Instruction = NeftuneSchema.RequireText(inputSchema, parent.InstructionColumnName, "instruction", nameof(NeftuneInstructionTuningOptions.InstructionColumnName));
        Input = parent.InputColumnName is null
            ? null
            : NeftuneSchema.RequireText(inputSchema, parent.InputColumnName, "input", nameof(NeftuneInstructionTuningOptions.InputColumnName));
        OutputSchema = NeftuneSchema.AppendText(inputSchema, parent.OutputColumnName);
        OutputIndex = inputSchema.Count;
    }

    public NeftuneInstructionTuningTransformer Parent { get; }
    public DataViewSchema InputSchema { get; }
    public DataViewSchema OutputSchema { get; }
    public DataViewSchema.Column Instruction { get; }
    public DataViewSchema.Column? Input { get; }
    public int OutputIndex { get; }

    /// <summary>The input columns needed to serve <paramref name="outputColumns"/>; <paramref name="generate"/> tells whether the output column is among them.</summary>
    public List<DataViewSchema.Column> InputColumnsFor(IEnumerable<DataViewSchema.Column> outputColumns, out bool generate)
    {
        generate = false;
        var needed = new SortedDictionary<int, DataViewSchema.Column>();
        foreach (var column in outputColumns)
        {
            if (column.Index == OutputIndex) generate = true;
            else if (column.Index >= 0 && column.Index < OutputIndex) needed[column.Index] = InputSchema[column.Index];
        }
        if (generate)
        {
            needed[Instruction.Index] = Instruction;
            if (Input is { } input) needed[input.Index] = input;
        }
        return needed.Values.ToList();
    }
}

/// <summary>Reads the prompt columns of the current row of an input row or cursor.</summary>
internal sealed class PromptReader
{
    private readonly ValueGetter<ReadOnlyMemory<char>> instruction;
    private readonly ValueGetter<ReadOnlyMemory<char>>? input;
    private ReadOnlyMemory<char> buffer;

    public PromptReader(DataViewRow row, GenerationBinding binding)
    {
        instruction = row.GetGetter<ReadOnlyMemory<char>>(row.Schema[binding.Instruction.Index]);
        if (binding.Input is { } column) input = row.GetGetter<ReadOnlyMemory<char>>(row.Schema[column.Index]);
    }

    public (string Instruction, string? Input) Read()
    {
        instruction(ref buffer);
        var text = buffer.ToString();
        string? context = null;
        if (input is not null)
        {
            input(ref buffer);
            context = buffer.Length == 0 ? null : buffer.ToString();
        }
        return (text, context);
    }
}

/// <summary>The lazy output of <see cref="NeftuneInstructionTuningTransformer.Transform(IDataView)"/>.</summary>
internal sealed class GenerationDataView : IDataView
{
    private readonly GenerationBinding binding;
    private readonly IDataView input;

    public GenerationDataView(GenerationBinding binding, IDataView input)
    {
        this.binding = binding;
        this.input = input;
    }

    public DataViewSchema Schema => binding.OutputSchema;

    public bool CanShuffle => input.CanShuffle;

    public long? GetRowCount() => input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        binding.Parent.ThrowIfDisposed();
        var inputColumns = binding.InputColumnsFor(columnsNeeded, out bool generate);
        int batchSize = binding.Parent.Settings.GenerationBatchSize;
        if (!generate || batchSize <= 1 || rand is not null)
            return new GenerationCursor(binding, input.GetRowCursor(inputColumns, rand), generate, null);
        var lookahead = new Lookahead(binding, input.GetRowCursor(binding.InputColumnsFor(new[] { binding.OutputSchema[binding.OutputIndex] }, out _)), batchSize);
        return new GenerationCursor(binding, input.GetRowCursor(inputColumns), generate, lookahead);
    }

    /// <summary>Parallel cursors when the output column is not read; otherwise one cursor, as generation uses the model alone.</summary>
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
    {
        binding.Parent.ThrowIfDisposed();
        var inputColumns = binding.InputColumnsFor(columnsNeeded, out bool generate);
        if (generate) return new[] { GetRowCursor(columnsNeeded, rand) };
        return input.GetRowCursorSet(inputColumns, n, rand).Select(c => (DataViewRowCursor)new GenerationCursor(binding, c, false, null)).ToArray();
    }
}

/// <summary>A cursor over the input that serves the input columns as they are and generates the output column on demand.</summary>
internal sealed class GenerationCursor : DataViewRowCursor
{
    private readonly GenerationBinding binding;
    private readonly DataViewRowCursor input;
    private readonly bool generate;
    private readonly PromptReader? reader;
    private readonly Lookahead? lookahead;
    private readonly ValueGetter<DataViewRowId>? idGetter;
    private long cachedPosition = -1;
    private string cached = "";
    private bool disposed;

    public GenerationCursor(GenerationBinding binding, DataViewRowCursor input, bool generate, Lookahead? lookahead)
    {
        this.binding = binding;
        this.input = input;
        this.generate = generate;
        this.lookahead = lookahead;
        if (generate) reader = new PromptReader(input, binding);
        if (lookahead is not null) idGetter = input.GetIdGetter();
    }

    public override DataViewSchema Schema => binding.OutputSchema;
    public override long Position => input.Position;
    public override long Batch => input.Batch;
    public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();
    public override bool MoveNext() => input.MoveNext();

    public override bool IsColumnActive(DataViewSchema.Column column) =>
        column.Index == binding.OutputIndex ? generate : input.IsColumnActive(input.Schema[column.Index]);

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
    {
        if (column.Index != binding.OutputIndex) return input.GetGetter<TValue>(input.Schema[column.Index]);
        if (!generate) throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor was created.");
        if (typeof(TValue) != typeof(ReadOnlyMemory<char>))
            throw new InvalidOperationException($"Column '{column.Name}' is text: read it as ReadOnlyMemory<char>, not {typeof(TValue).Name}.");
        ValueGetter<ReadOnlyMemory<char>> getter = (ref ReadOnlyMemory<char> value) => value = Current().AsMemory();
        return (ValueGetter<TValue>)(Delegate)getter;
    }

    private string Current()
    {
        long position = input.Position;
        if (position < 0) throw new InvalidOperationException("The cursor is not on a row: call MoveNext first.");
        if (position != cachedPosition)
        {
            string? text = null;
            if (lookahead is not null)
            {
                DataViewRowId id = default;
                idGetter!(ref id);
                text = lookahead.TryGet(position, id);
            }
            cached = text ?? binding.Parent.Generate(new[] { reader!.Read() })[0];
            cachedPosition = position;
        }
        return cached;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposed) return;
        disposed = true;
        if (disposing)
        {
            input.Dispose();
            lookahead?.Dispose();
        }
        base.Dispose(disposing);
    }
}

/// <summary>
/// A second cursor over the same input that reads the prompts of the next rows so that they can be generated as one
/// batch. A row is served from the batch only when its row id matches the main cursor's; otherwise it is generated alone.
/// </summary>
internal sealed class Lookahead : IDisposable
{
    private readonly GenerationBinding binding;
    private readonly DataViewRowCursor cursor;
    private readonly PromptReader reader;
    private readonly ValueGetter<DataViewRowId> idGetter;
    private readonly int batchSize;
    private readonly Dictionary<long, (DataViewRowId Id, string Text)> ready = new();
    private long position = -1;
    private bool exhausted;

    public Lookahead(GenerationBinding binding, DataViewRowCursor cursor, int batchSize)
    {
        this.binding = binding;
        this.cursor = cursor;
        this.batchSize = batchSize;
        reader = new PromptReader(cursor, binding);
        idGetter = cursor.GetIdGetter();
    }

    public string? TryGet(long row, DataViewRowId id)
    {
        if (!ready.TryGetValue(row, out var entry))
        {
            Fill(row);
            if (!ready.TryGetValue(row, out entry)) return null;
        }
        ready.Remove(row);
        return entry.Id.Equals(id) ? entry.Text : null;
    }

    private void Fill(long row)
    {
        ready.Clear();
        while (!exhausted && position < row) Advance();
        if (exhausted || position != row) return;
        var batch = new List<(long Row, DataViewRowId Id, (string, string?) Prompt)>();
        while (true)
        {
            DataViewRowId id = default;
            idGetter(ref id);
            batch.Add((position, id, reader.Read()));
            if (batch.Count == batchSize) break;
            Advance();
            if (exhausted) break;
        }
        var texts = binding.Parent.Generate(batch.Select(b => b.Prompt).ToList());
        for (int i = 0; i < batch.Count; i++) ready[batch[i].Row] = (batch[i].Id, texts[i]);
    }

    private void Advance()
    {
        if (cursor.MoveNext()) position++;
        else exhausted = true;
    }

    public void Dispose() => cursor.Dispose();
}

/// <summary>The row-to-row mapper behind <see cref="PredictionEngine{TSrc, TDst}"/>.</summary>
internal sealed class GenerationRowMapper : IRowToRowMapper
{
    private readonly GenerationBinding binding;

    public GenerationRowMapper(GenerationBinding binding) => this.binding = binding;

    public DataViewSchema InputSchema => binding.InputSchema;
    public DataViewSchema OutputSchema => binding.OutputSchema;

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns) =>
        binding.InputColumnsFor(dependingColumns, out _);

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(activeColumns);
        binding.Parent.ThrowIfDisposed();
        binding.InputColumnsFor(activeColumns, out bool generate);
        return new GenerationRow(binding, input, generate);
    }
}

/// <summary>A mapped row: the input row's columns plus the output column, generated once per input position.</summary>
internal sealed class GenerationRow : DataViewRow
{
    private readonly GenerationBinding binding;
    private readonly DataViewRow input;
    private readonly bool generate;
    private readonly PromptReader? reader;
    private long cachedPosition = -1;
    private string cached = "";
    private bool disposed;

    public GenerationRow(GenerationBinding binding, DataViewRow input, bool generate)
    {
        this.binding = binding;
        this.input = input;
        this.generate = generate;
        if (generate) reader = new PromptReader(input, binding);
    }

    public override DataViewSchema Schema => binding.OutputSchema;
    public override long Position => input.Position;
    public override long Batch => input.Batch;
    public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();

    public override bool IsColumnActive(DataViewSchema.Column column) =>
        column.Index == binding.OutputIndex ? generate : input.IsColumnActive(input.Schema[column.Index]);

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
    {
        if (column.Index != binding.OutputIndex) return input.GetGetter<TValue>(input.Schema[column.Index]);
        if (!generate) throw new InvalidOperationException($"Column '{column.Name}' was not requested when the row was created.");
        if (typeof(TValue) != typeof(ReadOnlyMemory<char>))
            throw new InvalidOperationException($"Column '{column.Name}' is text: read it as ReadOnlyMemory<char>, not {typeof(TValue).Name}.");
        ValueGetter<ReadOnlyMemory<char>> getter = (ref ReadOnlyMemory<char> value) =>
        {
            if (input.Position != cachedPosition)
            {
                cached = binding.Parent.Generate(new[] { reader!.Read() })[0];
                cachedPosition = input.Position;
            }
            value = cached.AsMemory();
        };
        return (ValueGetter<TValue>)(Delegate)getter;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposed) return;
        disposed = true;
        if (disposing) input.Dispose();
        base.Dispose(disposing);
    }
}
