using System.Text.Json;
using System.Text.Json.Serialization;

namespace Qlaud.Threads;

/// <summary>Source-generated JSON for threads.</summary>
[JsonSerializable(typeof(int))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(Dictionary<string, JsonElement>))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(Dictionary<string, string>[]))]
internal sealed partial class ThreadJsonContext : JsonSerializerContext;
