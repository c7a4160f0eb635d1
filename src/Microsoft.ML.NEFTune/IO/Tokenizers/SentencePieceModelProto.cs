namespace Microsoft.ML.NEFTune.IO.Tokenizers;

/// <summary>
/// The parts of a SentencePiece <c>ModelProto</c> (<c>sentencepiece_model.proto</c>) that encoding and
/// decoding depend on. Field numbers follow that schema:
/// <c>ModelProto { pieces = 1; trainer_spec = 2; normalizer_spec = 3; }</c>,
/// <c>SentencePiece { piece = 1; score = 2; type = 3; }</c>,
/// <c>TrainerSpec { model_type = 3; treat_whitespace_as_suffix = 24; byte_fallback = 35; unk_surface = 44;
/// unk_piece = 45; bos_piece = 46; eos_piece = 47; pad_piece = 48; }</c>,
/// <c>NormalizerSpec { name = 1; precompiled_charsmap = 2; add_dummy_prefix = 3;
/// remove_extra_whitespaces = 4; escape_whitespaces = 5; }</c>.
/// </summary>
internal sealed class SentencePieceModelProto
{
    internal enum PieceType
    {
        Normal = 1,
        Unknown = 2,
        Control = 3,
        UserDefined = 4,
        Unused = 5,
        Byte = 6,
    }

    internal enum ModelType
    {
        Unigram = 1,
        Bpe = 2,
        Word = 3,
        Char = 4,
    }

    internal readonly record struct Piece(string Text, float Score, PieceType Type);

    public List<Piece> Pieces { get; } = new();

    public ModelType Model { get; private set; } = ModelType.Unigram;

    public bool ByteFallback { get; private set; }

    public bool TreatWhitespaceAsSuffix { get; private set; }

    public string? UnkSurface { get; private set; }

    public string UnkPiece { get; private set; } = "<unk>";

    public string BosPiece { get; private set; } = "<s>";

    public string EosPiece { get; private set; } = "</s>";

    public string PadPiece { get; private set; } = "<pad>";

    public string? NormalizerName { get; private set; }

    public int PrecompiledCharsmapLength { get; private set; }

    public bool AddDummyPrefix { get; private set; } = true;

    public bool RemoveExtraWhitespaces { get; private set; } = true;

    public bool EscapeWhitespaces { get; private set; } = true;

    /// <summary>Parses a serialized <c>ModelProto</c>; throws <see cref="InvalidDataException"/> when it is malformed.</summary>
    public static SentencePieceModelProto Parse(ReadOnlyMemory<byte> data)
    {
        var model = new SentencePieceModelProto();
        var reader = new ProtobufReader(data);
        while (!reader.AtEnd)
        {
            (int field, int wire) = reader.ReadKey();
            switch (field)
            {
                case 1:
                    ProtobufReader.Expect("pieces", wire, ProtobufReader.WireLengthDelimited);
                    model.Pieces.Add(ParsePiece(reader.ReadLengthDelimited(), model.Pieces.Count));
                    break;
                case 2:
                    ProtobufReader.Expect("trainer_spec", wire, ProtobufReader.WireLengthDelimited);
                    model.ParseTrainerSpec(reader.ReadLengthDelimited());
                    break;
                case 3:
                    ProtobufReader.Expect("normalizer_spec", wire, ProtobufReader.WireLengthDelimited);
                    model.ParseNormalizerSpec(reader.ReadLengthDelimited());
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        return model;
    }

    private static Piece ParsePiece(ReadOnlyMemory<byte> data, int index)
    {
        var reader = new ProtobufReader(data);
        string? text = null;
        float score = 0;
        var type = PieceType.Normal;
        while (!reader.AtEnd)
        {
            (int field, int wire) = reader.ReadKey();
            switch (field)
            {
                case 1:
                    ProtobufReader.Expect("piece", wire, ProtobufReader.WireLengthDelimited);
                    text = reader.ReadString();
                    break;
                case 2:
                    ProtobufReader.Expect("score", wire, ProtobufReader.WireFixed32);
                    score = reader.ReadFloat();
                    break;
                case 3:
                    ProtobufReader.Expect("type", wire, ProtobufReader.WireVarint);
                    ulong value = reader.ReadVarint();
                    if (value < 1 || value > 6)
                    {
                        throw new InvalidDataException($"piece {index} has unknown type {value}");
                    }

                    type = (PieceType)value;
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        if (string.IsNullOrEmpty(text))
        {
            throw new InvalidDataException($"piece {index} is empty");
        }

        return new Piece(text, score, type);
    }

    private void ParseTrainerSpec(ReadOnlyMemory<byte> data)
    {
        var reader = new ProtobufReader(data);
        while (!reader.AtEnd)
        {
            (int field, int wire) = reader.ReadKey();
            switch (field)
            {
                case 3:
                    ProtobufReader.Expect("trainer_spec.model_type", wire, ProtobufReader.WireVarint);
                    Model = (ModelType)reader.ReadInt32();
                    break;
                case 24:
                    ProtobufReader.Expect("trainer_spec.treat_whitespace_as_suffix", wire, ProtobufReader.WireVarint);
                    TreatWhitespaceAsSuffix = reader.ReadBool();
                    break;
                case 35:
                    ProtobufReader.Expect("trainer_spec.byte_fallback", wire, ProtobufReader.WireVarint);
                    ByteFallback = reader.ReadBool();
                    break;
                case 44:
                    ProtobufReader.Expect("trainer_spec.unk_surface", wire, ProtobufReader.WireLengthDelimited);
                    UnkSurface = reader.ReadString();
                    break;
                case 45:
                    UnkPiece = ReadNonEmptyString(ref reader, wire, "trainer_spec.unk_piece", UnkPiece);
                    break;
                case 46:
                    BosPiece = ReadNonEmptyString(ref reader, wire, "trainer_spec.bos_piece", BosPiece);
                    break;
                case 47:
                    EosPiece = ReadNonEmptyString(ref reader, wire, "trainer_spec.eos_piece", EosPiece);
                    break;
                case 48:
                    PadPiece = ReadNonEmptyString(ref reader, wire, "trainer_spec.pad_piece", PadPiece);
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }
    }

    private void ParseNormalizerSpec(ReadOnlyMemory<byte> data)
    {
        var reader = new ProtobufReader(data);
        while (!reader.AtEnd)
        {
            (int field, int wire) = reader.ReadKey();
            switch (field)
            {
                case 1:
                    ProtobufReader.Expect("normalizer_spec.name", wire, ProtobufReader.WireLengthDelimited);
                    NormalizerName = reader.ReadString();
                    break;
                case 2:
                    ProtobufReader.Expect("normalizer_spec.precompiled_charsmap", wire, ProtobufReader.WireLengthDelimited);
                    PrecompiledCharsmapLength = reader.ReadLengthDelimited().Length;
                    break;
                case 3:
                    ProtobufReader.Expect("normalizer_spec.add_dummy_prefix", wire, ProtobufReader.WireVarint);
                    AddDummyPrefix = reader.ReadBool();
                    break;
                case 4:
                    ProtobufReader.Expect("normalizer_spec.remove_extra_whitespaces", wire, ProtobufReader.WireVarint);
                    RemoveExtraWhitespaces = reader.ReadBool();
                    break;
                case 5:
                    ProtobufReader.Expect("normalizer_spec.escape_whitespaces", wire, ProtobufReader.WireVarint);
                    EscapeWhitespaces = reader.ReadBool();
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }
    }

    private static string ReadNonEmptyString(ref ProtobufReader reader, int wire, string name, string fallback)
    {
        ProtobufReader.Expect(name, wire, ProtobufReader.WireLengthDelimited);
        string value = reader.ReadString();
        return value.Length == 0 ? fallback : value;
    }
}
