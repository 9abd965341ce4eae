namespace Qlaud.Search;

/// <summary>A message that matched a search.</summary>
/// <param name="ThreadId">The message's thread.</param>
/// <param name="MessageId">The message, <c>msg_…</c>.</param>
/// <param name="Role"><c>user</c> or <c>assistant</c>.</param>
/// <param name="Snippet">A passage of the message's text around its matches, each matched word wrapped in
/// <c>&lt;mark&gt;</c>…<c>&lt;/mark&gt;</c> (the text itself is not HTML-escaped); the message's opening words when no query
/// word occurs in it (a semantic hit).</param>
/// <param name="Score">Higher is better: the BM25 score (keyword), the cosine similarity (semantic) or the reciprocal-rank
/// fusion score (hybrid). Scores compare within one search only.</param>
/// <param name="CreatedAtMs">When the message was created, Unix milliseconds.</param>
public sealed record SearchHit(string ThreadId, string MessageId, string Role, string Snippet, double Score, long CreatedAtMs);
