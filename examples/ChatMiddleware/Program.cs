// Chats with a model through Microsoft.Extensions.AI middleware: a usage meter and a house-style step wrapped around
// the model's IChatClient with ChatClientBuilder. Arguments: MODEL_DIR (a Hugging Face folder with its tokenizer, such
// as the --out of `neftune train`) and an optional question.
using Microsoft.ML.NEFTune.Examples;
using Microsoft.ML.NEFTune.Generation;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.IO.Tokenizers;

if (args.Length < 1)
{
    Console.Error.WriteLine("usage: ChatMiddleware MODEL_DIR [QUESTION]");
    return 2;
}

using var model = ModelLoader.Load(args[0]);
var tokenizer = TextTokenizer.Load(args[0]);
using var client = new NeftuneChatClient(model, tokenizer);   // the model's own chat template, else Alpaca
var question = args.Length > 1 ? args[1] : "Give three tips for staying healthy.";
await ChatMiddlewareSample.RunAsync(client, question, maxOutputTokens: 128, Console.Out);
return 0;
