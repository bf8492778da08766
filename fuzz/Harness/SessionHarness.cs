using System.Text;
using TcpStore.Codec;
using TcpStore.Core;

namespace TcpStore.Fuzz.Harness;

/// <summary>
/// Fuzz target (b): a whole connection's protocol state (<see cref="Session"/>: validation,
/// requests, replies, waits) against an in-process <see cref="KeyValueStore"/>, fed the input the
/// way the server's connection loop feeds it.
/// </summary>
/// <remarks>
/// The input is replayed twice: once in one piece, and once cut at pseudo-random points derived
/// from the input (so the fuzzer steers them by mutating the bytes). The transport gates
/// re-parsing on <see cref="SessionResult.BytesNeeded"/>, so the second run also proves that hint is
/// never too large. Checked: no exception escapes (a protocol error is a result, not an
/// exception); the kept tail never exceeds one maximal frame; both runs produce byte-identical
/// replies and the same close reason; a second session waiting on common keys is woken at most
/// once and only with STOP_WAITING; and once both sessions are disposed the wait registry is empty.
/// </remarks>
public static class SessionHarness
{
    private const long OutputBudget = 2048;
    private static readonly byte[][] BystanderKeys = [Encoding.UTF8.GetBytes("init/"), Encoding.UTF8.GetBytes("/a"), []];

    /// <summary>
    /// Runs one input: a stream that opens with VALIDATE under the server's default configuration
    /// (the 1.13 legacy table on, which must not change anything for it); any other stream as a
    /// pre-2.2 client under each legacy table, and with legacy connections refused.
    /// </summary>
    public static void Run(ReadOnlySpan<byte> data)
    {
        if (LegacyCodes.IsLegacyOpening(data) != true)
        {
            Run(data, LegacyProtocol.Torch113);
            return;
        }

        Run(data, LegacyProtocol.Off);
        Run(data, LegacyProtocol.Torch113);
        Run(data, LegacyProtocol.Torch21);
    }

    private static void Run(ReadOnlySpan<byte> data, LegacyProtocol legacy)
    {
        var whole = Replay(data, split: false, outputBudget: long.MaxValue, legacy);
        var pieces = Replay(data, split: true, outputBudget: long.MaxValue, legacy);
        FuzzInvariantException.Check(whole.Error == pieces.Error, $"close reason depends on how the stream is split: {whole.Error} vs {pieces.Error}");
        FuzzInvariantException.Check(whole.Requests == pieces.Requests, $"requests executed depend on the split: {whole.Requests} vs {pieces.Requests}");
        FuzzInvariantException.Check(whole.Replies.AsSpan().SequenceEqual(pieces.Replies), "replies depend on how the stream is split");
        FuzzInvariantException.Check(whole.BystanderReplies.AsSpan().SequenceEqual(pieces.BystanderReplies), "wake-ups depend on how the stream is split");

        // Under a small output budget the same stream either runs identically or is cut off with
        // BufferLimit, having sent a prefix of the same replies and never more than the budget at once.
        var budgeted = Replay(data, split: true, outputBudget: OutputBudget, legacy);
        if (budgeted.Error == SessionFault.BufferLimit)
        {
            FuzzInvariantException.Check(whole.Replies.AsSpan().StartsWith(budgeted.Replies), "replies before a BufferLimit close differ from the unbudgeted run");
        }
        else
        {
            FuzzInvariantException.Check(budgeted.Error == whole.Error && budgeted.Replies.AsSpan().SequenceEqual(whole.Replies), "a budget that was never hit changed the replies");
        }
    }

    /// <summary>What one replay produced.</summary>
    private sealed record Transcript(byte[] Replies, SessionError Error, int Requests, byte[] BystanderReplies);

    private static Transcript Replay(ReadOnlySpan<byte> data, bool split, long outputBudget, LegacyProtocol legacy)
    {
        var limits = FuzzLimits.Small;
        var maxFrame = FuzzLimits.MaxFrameBytes(limits);
        var store = new KeyValueStore();
        var bystanderWakes = 0;
        var idleWakes = 0;
        using var bystander = new Session(store, limits, _ => bystanderWakes++);
        using var session = new Session(store, limits, _ => idleWakes++) { MaxPendingOutputBytes = outputBudget, LegacyProtocol = legacy };
        using var taken = new PooledBufferWriter();
        StartBystander(bystander, limits);

        var replies = new MemoryStream();
        var pending = new List<byte>();
        long needed = 0;
        var error = SessionError.None;
        var requests = 0;
        var chunks = new Chunker(data, split);
        while (error == ProtocolError.None && chunks.Next(out var chunk))
        {
            foreach (var b in chunk)
            {
                pending.Add(b);
            }

            if (pending.Count < needed)
            {
                continue;
            }

            var input = pending.ToArray();
            var result = session.Process(input);
            FuzzInvariantException.Check(result.Consumed >= 0 && result.Consumed <= input.Length, $"consumed {result.Consumed} of {input.Length}");
            requests += result.Requests;
            error = result.Error;
            var before = replies.Length;
            Drain(session, taken, replies);
            // Wake-ups (one byte each, at most one per request) are the only output outside the budget.
            FuzzInvariantException.Check(replies.Length - before - result.Requests - 1 <= outputBudget, $"one read produced {replies.Length - before} bytes of replies, budget {outputBudget}");
            FuzzInvariantException.Check(session.PendingOutputBytes == 0, "output remained after it was taken");
            pending.RemoveRange(0, result.Consumed);
            needed = result.BytesNeeded;
            if (error == ProtocolError.None && pending.Count > 0)
            {
                FuzzInvariantException.Check(needed > pending.Count, $"needs {needed} bytes but {pending.Count} are pending and were not parsed");
                FuzzInvariantException.Check(needed <= maxFrame, $"asks to buffer {needed} bytes, more than the largest frame {maxFrame}");
            }

            FuzzInvariantException.Check(error != ProtocolError.None || pending.Count <= maxFrame, $"kept {pending.Count} bytes, more than the largest frame {maxFrame}");
        }

        FuzzInvariantException.Check(idleWakes == 0, "a session was woken as idle while only its own thread runs");
        var bystanderReplies = new MemoryStream();
        Drain(bystander, taken, bystanderReplies);
        FuzzInvariantException.Check(bystanderWakes == bystanderReplies.Length, $"{bystanderWakes} idle wake-ups but {bystanderReplies.Length} bytes");
        FuzzInvariantException.Check(bystanderReplies.Length <= 1, "one WAIT was answered more than once");
        FuzzInvariantException.Check(bystanderReplies.Length == 0 || bystanderReplies.GetBuffer()[0] == Protocol.StopWaiting, "a wake-up that is not STOP_WAITING");

        // The connection goes away (EOF or protocol close): nothing of it may stay registered.
        session.Dispose();
        bystander.Dispose();
        FuzzInvariantException.Check(store.AwaitedKeyCount == 0, $"{store.AwaitedKeyCount} keys still awaited after every session was disposed");
        FuzzInvariantException.Check(store.KeyObserver is not KeyWatchers watchers || watchers.KeyCount == 0, "a WATCH_KEY registration outlived its session");
        FuzzInvariantException.Check(legacy != LegacyProtocol.Off || session.DetectedLegacyProtocol == LegacyProtocol.Off, "a legacy table was used with legacy clients refused");
        return new Transcript(replies.ToArray(), error, requests, bystanderReplies.ToArray());
    }

    private static void StartBystander(Session bystander, CodecLimits limits)
    {
        var writer = new System.Buffers.ArrayBufferWriter<byte>();
        RequestWriter.WriteValidate(writer);
        RequestWriter.WriteMultiHeader(writer, QueryType.Wait, BystanderKeys.Length);
        foreach (var key in BystanderKeys)
        {
            writer.WriteBlob(key);
        }

        var result = bystander.Process(writer.WrittenSpan);
        FuzzInvariantException.Check(result.Error == ProtocolError.None && result.Requests == 2 && limits.MaxKeysPerRequest >= BystanderKeys.Length, "bystander could not start waiting");
        FuzzInvariantException.Check(bystander.PendingOutputBytes == 0 && bystander.IsWaiting, "bystander's WAIT on an empty store was answered");
    }

    private static void Drain(Session session, PooledBufferWriter taken, MemoryStream into)
    {
        if (session.TakeOutput(taken))
        {
            into.Write(taken.WrittenSpan);
            taken.Clear();
        }
    }

    /// <summary>Cuts the input into pieces whose sizes come from a hash of the input itself.</summary>
    private ref struct Chunker
    {
        private readonly ReadOnlySpan<byte> _data;
        private readonly bool _split;
        private int _offset;
        private ulong _state;

        public Chunker(ReadOnlySpan<byte> data, bool split)
        {
            _data = data;
            _split = split;
            _offset = 0;
            // FNV-1a: cheap, and any mutation of the input moves the cut points.
            _state = 14695981039346656037UL;
            foreach (var b in data)
            {
                _state = (_state ^ b) * 1099511628211UL;
            }

            _state |= 1;
        }

        public bool Next(out ReadOnlySpan<byte> chunk)
        {
            if (_offset >= _data.Length)
            {
                chunk = default;
                return false;
            }

            var size = _data.Length - _offset;
            if (_split)
            {
                // xorshift64: mostly tiny pieces (splitting lengths and magic), sometimes larger ones.
                _state ^= _state << 13;
                _state ^= _state >> 7;
                _state ^= _state << 17;
                var roll = (int)(_state % 1024);
                size = Math.Min(size, roll < 896 ? 1 + (roll % 9) : 1 + roll);
            }

            chunk = _data.Slice(_offset, size);
            _offset += size;
            return true;
        }
    }
}
