using Microsoft.Extensions.AI;

namespace Qlaud.Dialects;

/// <summary>A chat request decoded from a wire dialect into the canonical Microsoft.Extensions.AI model.</summary>
/// <param name="Messages">The conversation, system prompt included as <see cref="ChatRole.System"/> messages.</param>
/// <param name="Options">Model id, sampling, tools and every other option; wire fields the canonical model lacks travel in
/// <see cref="ChatOptions.AdditionalProperties"/> under their wire names so nothing the client sent is dropped.</param>
/// <param name="Stream">Whether the client asked for a streamed answer.</param>
internal sealed record CanonicalChatRequest(IList<ChatMessage> Messages, ChatOptions Options, bool Stream);
