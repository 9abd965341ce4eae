using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Qlaud.AspNetCore.Tests.Fuzz;

/// <summary>One malformed request: where it goes, its bytes, and the mutation that made it.</summary>
internal sealed record MalformedCase(string Path, string Route, string Mutation, byte[] Body);

/// <summary>
/// Deterministic mutations of real SDK request bodies that every <c>/v1</c> chat surface must refuse with a 4xx: broken JSON
/// (truncated, trailing data, not an object), invalid UTF-8, lone surrogate escapes, nesting past any sane depth, duplicate
/// members the gateway reads, wrong types and out-of-range numbers in the members the gateway reads (<c>model</c>,
/// <c>stream</c>, <c>stream_options</c>, the token limit, <c>messages</c>, its items and their <c>role</c>, <c>tools</c>,
/// <c>models</c>, <c>provider</c>), a missing <c>model</c>, and, on translated routes, message content the surface's API refuses.
/// </summary>
/// <remarks>What the gateway does not read on a passthrough route (<c>temperature</c>, a message's <c>content</c>, …) is the
/// upstream's to judge, so it is not mutated: a wrong type there is a valid request as far as the gateway is concerned.</remarks>
internal static class MalformedBodies
{
    private static readonly string[] Mutations =
    [
        "truncated", "trailing-data", "not-an-object", "invalid-utf8", "lone-surrogate", "deep-nesting", "duplicate-member",
        "wrong-type", "huge-number", "missing-model", "content-wrong-type",
    ];

    /// <summary>Members of every chat request the gateway reads, with the JSON kind each must have.</summary>
    private static readonly string[] ReadMembers = ["model", "stream", "max_tokens", "messages", "tools", "stream_options", "models", "provider"];

    /// <summary><paramref name="count"/> cases spread evenly over <paramref name="seeds"/> (path, route, seed body) and the mutations.</summary>
    public static List<MalformedCase> Generate(IReadOnlyList<(string Path, string Route, byte[] Body)> seeds, int seed, int count)
    {
        var random = new Random(seed);
        var cases = new List<MalformedCase>(count);
        for (int i = 0; i < count; i++)
        {
            var (path, route, body) = seeds[i % seeds.Count];
            string mutation = Mutations[i / seeds.Count % Mutations.Length];
            if (mutation == "content-wrong-type" && route != "translated")
            {
                // A passthrough route leaves message content to the upstream; only a translating route reads it.
                mutation = "wrong-type";
            }

            cases.Add(new MalformedCase(path, route, mutation, mutation == "content-wrong-type"
                ? ContentWrongType(body, random, anthropic: path == "/v1/messages")
                : Mutate(mutation, body, random)));
        }

        return cases;
    }

    private static byte[] Mutate(string mutation, byte[] body, Random random) => mutation switch
    {
        "truncated" => body[..random.Next(0, body.Length - 1)],
        "trailing-data" => [.. body, .. Encoding.UTF8.GetBytes(Pick(random, ["}", "x", "{\"a\":1}", "[]", "\"s\"", ",", "0"]))],
        "not-an-object" => Encoding.UTF8.GetBytes(Pick(random, ["", " ", "[]", "[{}]", "\"text\"", "42", "null", "true", "{", "}", "{\"model\"}", "\uFEFF", "// c\n{}"])),
        "invalid-utf8" => InvalidUtf8(body, random),
        "lone-surrogate" => LoneSurrogate(body, random),
        "deep-nesting" => Replace(body, random, Pick(random, ["messages", "tools", "stream_options", "provider"]), DeepValue(random)),
        "duplicate-member" => Duplicate(body, random),
        "wrong-type" => WrongType(body, random),
        "huge-number" => Replace(body, random, Pick(random, ["max_tokens", "max_tokens", "stream", "model"]),
            Pick(random, ["1e999", "-1e999", "99999999999999999999999999", "9223372036854775808", "-9223372036854775809", "1.5", "-1", "0", "9223372036854775807", "1E400"])),
        "missing-model" => Remove(body, "model"),
        _ => throw new ArgumentOutOfRangeException(nameof(mutation)),
    };

    private static string Pick(Random random, string[] options) => options[random.Next(options.Length)];

    /// <summary>Byte ranges of string token contents (between the quotes), found with the reader.</summary>
    private static List<(int Start, int Length)> Strings(byte[] body)
    {
        var spans = new List<(int, int)>();
        var reader = new Utf8JsonReader(body);
        while (reader.Read())
        {
            if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName && reader.ValueSpan.Length > 0)
            {
                spans.Add(((int)reader.TokenStartIndex + 1, reader.ValueSpan.Length));
            }
        }

        return spans;
    }

    private static byte[] InvalidUtf8(byte[] body, Random random)
    {
        var strings = Strings(body);
        var (start, length) = strings[random.Next(strings.Count)];
        byte[][] bad = [[0xFF], [0xFE], [0xC0, 0x80], [0x80], [0xC3], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82]];
        int at = start + random.Next(length);
        return [.. body[..at], .. bad[random.Next(bad.Length)], .. body[at..]];
    }

    private static byte[] LoneSurrogate(byte[] body, Random random)
    {
        var strings = Strings(body);
        var (start, length) = strings[random.Next(strings.Count)];
        int at = start + random.Next(length);
        while (at > start && body[at - 1] == (byte)'\\')
        {
            at--; // never split an escape
        }

        string escape = Pick(random, ["\\ud800", "\\udfff", "\\udbff\\u0041", "\\ud83d", "\\ude00\\ud83d"]);
        return [.. body[..at], .. Encoding.UTF8.GetBytes(escape), .. body[at..]];
    }

    private static string DeepValue(Random random)
    {
        int depth = random.Next(4) switch { 0 => 300, 1 => 1_000, 2 => 10_000, _ => 100_000 };
        return random.Next(2) == 0
            ? new string('[', depth) + new string(']', depth)
            : string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth);
    }

    private static byte[] Duplicate(byte[] body, Random random)
    {
        var root = JsonNode.Parse(body)!.AsObject();
        string[] present = [.. ReadMembers.Where(root.ContainsKey).Where(static m => m is "model" or "stream" or "max_tokens" or "messages")];
        string name = present[random.Next(present.Length)];
        string other = name switch
        {
            "model" => "\"fake-" + (random.Next(2) == 0 ? "claude" : "gpt") + "-other\"",
            "stream" => root[name]!.GetValue<bool>() ? "false" : "true",
            "max_tokens" => "1000000",
            _ => "[{\"role\":\"user\",\"content\":\"other\"}]",
        };

        // Stripe-style ambiguity: a second member with the same name, before or after the first.
        string text = Encoding.UTF8.GetString(body);
        string member = "\"" + name + "\":" + other;
        return Encoding.UTF8.GetBytes(random.Next(2) == 0 ? "{" + member + "," + text[1..] : text[..^1] + "," + member + "}");
    }

    private static byte[] WrongType(byte[] body, Random random)
    {
        var root = JsonNode.Parse(body)!.AsObject();
        string target = Pick(random, ["model", "stream", "max_tokens", "messages", "message-item", "role", "tools", "stream_options", "models", "provider"]);
        string[] values = ["1", "-1", "true", "false", "null", "\"x\"", "[]", "{}", "[1]", "{\"a\":1}", "1.5", "[[]]"];
        string value = values[random.Next(values.Length)];
        switch (target)
        {
            case "message-item" or "role":
                var messages = root["messages"]!.AsArray();
                int index = random.Next(messages.Count);
                if (target == "message-item")
                {
                    messages[index] = JsonNode.Parse(Pick(random, ["1", "true", "null", "\"hi\"", "[]", "[1]"]));
                }
                else
                {
                    messages[index]!.AsObject()["role"] = JsonNode.Parse(Pick(random, ["1", "true", "null", "[]", "{}"]));
                }

                return Encoding.UTF8.GetBytes(root.ToJsonString());
        }

        // Values of the member's own kind are not mutations: pick another kind.
        string kind = target switch
        {
            "model" => "\"",
            "stream" => "bool",
            "max_tokens" => "int",
            "messages" or "tools" or "models" => "[",
            _ => "{",
        };
        while (Kind(value) == kind || (target == "max_tokens" && value == "null") || (target == "stream" && value == "null")
            || (target is "stream_options" or "tools" or "models" or "provider" && value == "null") || (target == "tools" && value == "[]"))
        {
            value = values[random.Next(values.Length)];
        }

        root[target] = JsonNode.Parse(value);
        return Encoding.UTF8.GetBytes(root.ToJsonString());
    }

    /// <summary>A message's <c>content</c> the surface's own API reference refuses: a wrong type, or a part of a type it defines
    /// without the fields that type requires. Parts of types the surface does not define are not used: a translating route
    /// keeps those as they are, for the upstream to judge.</summary>
    private static byte[] ContentWrongType(byte[] body, Random random, bool anthropic)
    {
        var root = JsonNode.Parse(body)!.AsObject();
        var messages = root["messages"]!.AsArray();
        string[] common = ["1", "true", "{}", "[1]", "[\"x\"]", "[{}]", "[null]", "[{\"type\":1}]", "[{\"type\":\"text\"}]", "[{\"type\":\"text\",\"text\":1}]", "[{\"type\":\"text\",\"text\":[]}]"];
        string[] own = anthropic
            ? ["[{\"type\":\"image\"}]", "[{\"type\":\"image\",\"source\":1}]", "[{\"type\":\"tool_use\",\"input\":1}]", "[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"n\",\"input\":[]}]", "[{\"type\":\"tool_result\"}]"]
            : ["[{\"type\":\"image_url\"}]", "[{\"type\":\"image_url\",\"image_url\":1}]", "[{\"type\":\"image_url\",\"image_url\":{}}]"];
        string[] values = [.. common, .. own];
        messages[random.Next(messages.Count)]!.AsObject()["content"] = JsonNode.Parse(Pick(random, values));
        return Encoding.UTF8.GetBytes(root.ToJsonString());
    }

    private static string Kind(string value) => value switch
    {
        "true" or "false" => "bool",
        "1" or "-1" => "int",
        _ => value[..1],
    };

    /// <summary>The body with <paramref name="member"/> set to the raw JSON <paramref name="rawValue"/> (added when absent).</summary>
    private static byte[] Replace(byte[] body, Random random, string member, string rawValue)
    {
        _ = random;
        var root = JsonNode.Parse(body)!.AsObject();
        root.Remove(member);
        string text = root.ToJsonString();
        return Encoding.UTF8.GetBytes(text[..^1] + (root.Count > 0 ? "," : "") + "\"" + member + "\":" + rawValue + "}");
    }

    private static byte[] Remove(byte[] body, string member)
    {
        var root = JsonNode.Parse(body)!.AsObject();
        root.Remove(member);
        return Encoding.UTF8.GetBytes(root.ToJsonString());
    }
}
