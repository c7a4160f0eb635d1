namespace Microsoft.ML.NEFTune.IO.Tokenizers;

/// <summary>An entry of <c>added_tokens</c> in a Hugging Face <c>tokenizer.json</c>.</summary>
internal sealed record HuggingFaceAddedToken(int Id, string Content, bool Special, bool LStrip, bool RStrip, bool SingleWord);
