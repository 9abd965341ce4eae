namespace Qlaud.FakeProvider;

/// <summary>The command line of the fake provider process: the server's options and an optional failure pattern.</summary>
/// <param name="Options">How the server listens and answers.</param>
/// <param name="FailEvery">When set, one chat request in this many (1, 1 + N, 1 + 2N, …) fails with <paramref name="FailStatus"/>.</param>
/// <param name="FailStatus">The HTTP status of the failing requests (default 503), with an error body in the request's dialect.</param>
internal sealed record ProcessArguments(FakeProviderOptions Options, int? FailEvery = null, int FailStatus = 503);
