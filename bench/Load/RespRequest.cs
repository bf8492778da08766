using System.Buffers;
using System.Globalization;
using System.Text;

namespace TcpStore.Bench.Load;

/// <summary>The protocol a server speaks, and so which requests the generator sends and how it reads replies.</summary>
public enum RequestWire
{
    /// <summary>PyTorch's c10d TCPStore protocol (ours, the floor, libuv, legacy).</summary>
    TcpStore,

    /// <summary>Redis's RESP2: GET, SET and INCRBY as arrays of bulk strings.</summary>
    Resp,
}

/// <summary>Encodes a RESP2 command (an array of bulk strings), once, when the catalog is built.</summary>
public static class RespRequest
{
    /// <summary>The command as Redis expects it on the wire: <c>*N\r\n</c> then <c>$len\r\narg\r\n</c> per argument.</summary>
    public static byte[] Encode(params ReadOnlySpan<byte[]> arguments)
    {
        var writer = new ArrayBufferWriter<byte>();
        Write(writer, string.Create(CultureInfo.InvariantCulture, $"*{arguments.Length}\r\n"));
        foreach (var argument in arguments)
        {
            Write(writer, string.Create(CultureInfo.InvariantCulture, $"${argument.Length}\r\n"));
            writer.Write(argument);
            Write(writer, "\r\n");
        }

        return writer.WrittenSpan.ToArray();
    }

    private static void Write(ArrayBufferWriter<byte> writer, string ascii) => writer.Write(Encoding.ASCII.GetBytes(ascii));
}
