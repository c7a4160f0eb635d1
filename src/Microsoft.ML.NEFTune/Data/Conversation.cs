namespace Microsoft.ML.NEFTune.Data;

/// <summary>An example as an optional system prompt and (user, assistant) turns; the last assistant may be null.</summary>
internal sealed record Conversation(string? System, IReadOnlyList<(string User, string? Assistant)> Turns)
{
    public static Conversation From(InstructionExample example)
    {
        var messages = example.ToMessages();
        string? system = null;
        var turns = new List<(string, string?)>();
        foreach (var message in messages)
        {
            switch (message.Role)
            {
                case ChatRole.System: system = message.Content; break;
                case ChatRole.User: turns.Add((message.Content, null)); break;
                default: turns[^1] = (turns[^1].Item1, message.Content); break;
            }
        }
        return new Conversation(system, turns);
    }
}
