using System.Buffers;
using System.Text.Json;
using Qlaud.Dialects;
using Qlaud.Forwarding;
using Qlaud.Storage;

namespace Qlaud.Batches;

/// <summary>Runs one batch request through the request engine (<see cref="ChatForwarder"/>): routing, translation, fallbacks,
/// and metering (reserve, settle) for the batch's submitter, exactly like an interactive request of that key.</summary>
internal sealed class BatchRequestRunner(ChatForwarder forwarder)
{
    /// <summary>Sends <paramref name="request"/> and returns its result; expected failures (over the cap, no route, an upstream
    /// error) come back as an error envelope in the batch's surface.</summary>
    public async Task<(BatchRequestState State, int Status, byte[] Body)> RunAsync(BatchEntity batch, QlaudCaller caller, BatchRequestEntity request, string requestId,
        CancellationToken cancellationToken)
    {
        var surface = SurfaceOf(batch.Endpoint);
        bool embeddings = batch.Endpoint == QlaudBatchEndpoint.Embeddings;
        if (InboundCheck.Check(request.Body, embeddings, out var info, out var routing) is { } invalid)
        {
            return Error(surface, invalid);
        }

        var inbound = new InboundChat
        {
            Surface = surface,
            Body = request.Body,
            Info = info,
            Caller = caller,
            RequestId = requestId,
            Routing = routing,
            Embeddings = embeddings,
            BatchId = batch.Id,
        };
        var sink = new CaptureSink();
        var outcome = await forwarder.ForwardAsync(inbound, sink, cancellationToken).ConfigureAwait(false);
        if (outcome.Error is { } error && !outcome.ResponseWritten)
        {
            return Error(surface, error);
        }

        byte[] body = await sink.ToArrayAsync().ConfigureAwait(false);
        if (!IsJson(body))
        {
            return Error(surface, new QlaudError(QlaudErrorKind.UpstreamError, "The provider answered with a body that is not JSON.", "invalid_upstream_body")
            {
                UpstreamStatus = sink.StatusCode >= 400 ? sink.StatusCode : null,
            });
        }

        return (sink.StatusCode is >= 200 and < 300 ? BatchRequestState.Succeeded : BatchRequestState.Errored, sink.StatusCode, body);
    }

    /// <summary>The wire dialect of an endpoint's bodies.</summary>
    public static IChatDialect SurfaceOf(string endpoint) => DialectRegistry.Get(endpoint == QlaudBatchEndpoint.Messages ? "anthropic" : "openai");

    /// <summary>An errored result: <paramref name="error"/> in <paramref name="surface"/>'s envelope with its status.</summary>
    public static (BatchRequestState State, int Status, byte[] Body) Error(IChatDialect surface, QlaudError error)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            surface.WriteError(writer, error);
        }

        return (BatchRequestState.Errored, error.StatusCode, buffer.WrittenSpan.ToArray());
    }

    private static bool IsJson(byte[] body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            reader.Read();
            reader.Skip();
            return reader.TokenType is JsonTokenType.EndObject or JsonTokenType.EndArray && !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
