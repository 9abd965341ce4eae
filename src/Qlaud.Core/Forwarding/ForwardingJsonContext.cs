using System.Text.Json.Serialization;

namespace Qlaud.Forwarding;

/// <summary>Source-generated JSON for the few values the forwarding path serializes itself.</summary>
[JsonSerializable(typeof(string))]
internal sealed partial class ForwardingJsonContext : JsonSerializerContext;
