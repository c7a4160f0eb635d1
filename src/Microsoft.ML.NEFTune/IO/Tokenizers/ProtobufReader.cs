using System.Buffers.Binary;
using System.Text;

namespace Microsoft.ML.NEFTune.IO.Tokenizers;

/// <summary>
/// A bounds-checked reader of the protocol-buffer wire format, enough to read a SentencePiece
/// <c>ModelProto</c>. Every malformed or truncated input raises <see cref="InvalidDataException"/>.
/// </summary>
internal struct ProtobufReader
{
    public const int WireVarint = 0;
    public const int WireFixed64 = 1;
    public const int WireLengthDelimited = 2;
    public const int WireFixed32 = 5;

    private readonly ReadOnlyMemory<byte> _data;
    private int _position;

    public ProtobufReader(ReadOnlyMemory<byte> data)
    {
        _data = data;
        _position = 0;
    }

    public readonly bool AtEnd => _position >= _data.Length;

    /// <summary>Reads the next field key.</summary>
    public (int Field, int WireType) ReadKey()
    {
        ulong key = ReadVarint();
        int field = (int)Math.Min(key >> 3, int.MaxValue);
        int wireType = (int)(key & 7);
        if (field == 0)
        {
            throw new InvalidDataException($"invalid protobuf field number 0 at byte {_position}");
        }

        return (field, wireType);
    }

    public ulong ReadVarint()
    {
        ReadOnlySpan<byte> span = _data.Span;
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_position >= span.Length)
            {
                throw new InvalidDataException("truncated protobuf varint");
            }

            byte b = span[_position++];
            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return result;
            }
        }

        throw new InvalidDataException("malformed protobuf varint (more than 10 bytes)");
    }

    /// <summary>Reads an <c>int32</c> field; negative values are sign-extended to 64 bits on the wire.</summary>
    public int ReadInt32() => unchecked((int)ReadVarint());

    public bool ReadBool() => ReadVarint() != 0;

    public float ReadFloat()
    {
        ReadOnlySpan<byte> bytes = Take(4).Span;
        return BinaryPrimitives.ReadSingleLittleEndian(bytes);
    }

    public ReadOnlyMemory<byte> ReadLengthDelimited()
    {
        ulong length = ReadVarint();
        if (length > (ulong)(_data.Length - _position))
        {
            throw new InvalidDataException(
                $"truncated protobuf: a field of {length} bytes at byte {_position} runs past the end of the data ({_data.Length - _position} bytes left)");
        }

        return Take((int)length);
    }

    public string ReadString()
    {
        ReadOnlyMemory<byte> bytes = ReadLengthDelimited();
        try
        {
            return StrictUtf8.GetString(bytes.Span);
        }
        catch (DecoderFallbackException ex)
        {
            throw new InvalidDataException("a protobuf string is not valid UTF-8", ex);
        }
    }

    /// <summary>Skips a field of the given wire type.</summary>
    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case WireVarint:
                ReadVarint();
                break;
            case WireFixed64:
                Take(8);
                break;
            case WireLengthDelimited:
                ReadLengthDelimited();
                break;
            case WireFixed32:
                Take(4);
                break;
            default:
                throw new InvalidDataException($"unsupported protobuf wire type {wireType} at byte {_position}");
        }
    }

    /// <summary>Throws unless <paramref name="actual"/> is the wire type the field requires.</summary>
    public static void Expect(string field, int actual, int expected)
    {
        if (actual != expected)
        {
            throw new InvalidDataException($"field '{field}' has wire type {actual}, expected {expected}");
        }
    }

    private ReadOnlyMemory<byte> Take(int count)
    {
        if (count > _data.Length - _position)
        {
            throw new InvalidDataException($"truncated protobuf: needed {count} bytes at byte {_position}, {_data.Length - _position} left");
        }

        ReadOnlyMemory<byte> slice = _data.Slice(_position, count);
        _position += count;
        return slice;
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
