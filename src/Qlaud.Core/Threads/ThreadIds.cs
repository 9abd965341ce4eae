using System.Security.Cryptography;

namespace Qlaud.Threads;

/// <summary>Thread and message ids: a prefix and 26 Crockford base32 characters, 48 bits of milliseconds then 80 random bits.</summary>
/// <remarks>Ids made by one process sort in the order they were made (the random part counts up within a millisecond), so
/// lists ordered by creation time and then id keep arrival order.</remarks>
internal static class ThreadIds
{
    private const string Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    private static readonly Lock Gate = new();
    private static long s_lastMs;
    private static UInt128 s_lastRandom;

    /// <summary>The prefix of every thread id.</summary>
    public const string ThreadPrefix = "thr_";

    public static string NewThreadId(TimeProvider time) => New(ThreadPrefix, time);

    public static string NewMessageId(TimeProvider time) => New("msg_", time);

    internal static string New(string prefix, TimeProvider time)
    {
        long ms = time.GetUtcNow().ToUnixTimeMilliseconds();
        UInt128 random;
        lock (Gate)
        {
            if (ms <= s_lastMs)
            {
                ms = s_lastMs;
                random = ++s_lastRandom;
            }
            else
            {
                Span<byte> bytes = stackalloc byte[16];
                RandomNumberGenerator.Fill(bytes);
                random = new UInt128(BitConverter.ToUInt64(bytes) & 0xFFFF, BitConverter.ToUInt64(bytes[8..])) >> 1; // 80 bits, room to count up
                s_lastMs = ms;
            }

            s_lastRandom = random;
        }

        Span<char> chars = stackalloc char[26];
        for (int i = 9; i >= 0; i--)
        {
            chars[i] = Alphabet[(int)(ms & 31)];
            ms >>= 5;
        }

        for (int i = 25; i >= 10; i--)
        {
            chars[i] = Alphabet[(int)(random & 31)];
            random >>= 5;
        }

        return string.Concat(prefix, chars);
    }
}
